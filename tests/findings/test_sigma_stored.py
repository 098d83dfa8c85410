"""Sigma results kept with the store: a reopened log shows them without starting the Sigma child
(a process and the rules' imports), and a store given more events runs the rules again instead
of showing the matches of the events it had."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.findings.sigma import child as sigma_child
from core.findings.sigma import run_sigma
from core.store.cache import open_inputs
from core.store.ingest import load_paths
from core.store.store import Store
from tests.apputil import DEMO
from tui import findings_view
from tui.workspace import Workspace

#: Fires on every process creation of the demo log.
RULE = """title: Process Created
id: 77777777-7777-7777-7777-777777777777
status: stable
level: high
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4688
    condition: selection
"""


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo log's cached store (complete, as a reopened log's)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    return path


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "sigma"
    folder.mkdir()
    (folder / "created.yml").write_text(RULE, encoding="utf-8")
    return folder


def test_a_reopened_store_shows_its_sigma_matches_without_a_child(
    demo: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[Path] = []
    real = sigma_child.sigma_in_child

    def counted(db: Path, dirs: Sequence[Path], *args: Any, **kwargs: Any) -> None:
        children.append(db)
        real(db, dirs, *args, **kwargs)

    monkeypatch.setattr(findings_view, "sigma_in_child", counted)
    monkeypatch.setattr(findings_view, "rule_dirs", lambda _named: [rules])
    monkeypatch.setattr(findings_view, "CHILD_SIGMA_EVENTS", 0)  # a big store's: in a child
    first = findings_view.workspace_sigma(Workspace(store_path=demo, loaded=True))
    assert first is not None and len(first.matches) >= 3
    assert children == [demo]
    again = findings_view.workspace_sigma(Workspace(store_path=demo, loaded=True))  # the app started again
    assert again is not None and again.matches == first.matches
    assert children == [demo]


def test_a_store_given_more_events_runs_the_sigma_rules_again(demo: Path, rules: Path) -> None:
    with Store(demo) as store:
        before = run_sigma(store, [rules])
        load_paths([str(DEMO)], store)  # the same log merged in again: run again, its copies matched once
        after = run_sigma(store, [rules])
    assert len(after.matches) == len(before.matches) > 0
    assert (before.copies, after.copies) == (0, len({m.store_id for m in before.matches}))
