"""Findings of big stores come from a child process (`core.findings.child`): the same findings
as computed in the app's own thread, a bad rules file reported the same way, a child killed
when the app ends, and a child that fails replaced by the thread."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.findings import child as findings_child
from core.findings.engine import store_findings
from core.findings.rules import load_rules
from core.query.compile import compile_query
from core.store import child_process
from core.store.ingest import load_paths
from core.store.store import Store
from tests.apputil import DEMO
from tui import model_cache


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))  # the built-in rules
    st = Store(tmp_path / "demo.db")
    infos = load_paths([str(DEMO)], st)
    assert not infos[0].error
    yield st
    st.close()


def test_the_child_finds_what_the_thread_finds(store: Store) -> None:
    expected = store_findings(store, load_rules(None))
    assert len(expected.findings) >= 3  # the demo's story fires several rules
    assert findings_child.findings_in_child(store.path) == expected


def test_big_stores_use_the_child_small_ones_the_thread(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real = findings_child.findings_in_child

    def spy(db: Path, stop: threading.Event | None = None, poll: float = 0.1) -> object:
        calls.append(db)
        return real(db, stop, poll)

    monkeypatch.setattr(model_cache, "findings_in_child", spy)
    expected = store_findings(store, load_rules(None))
    assert model_cache.build_findings(store) == expected
    assert calls == []
    read = store.count(compile_query("4688,4689"))  # what the built-in rules read
    assert 0 < read < store.size()
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", read + 1)
    assert model_cache.build_findings(store) == expected
    assert calls == []
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", read)
    assert model_cache.build_findings(store) == expected
    assert calls == [store.path]


def test_a_bad_rules_file_is_reported_either_way(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "rules.toml").write_text("[restricted-substring]\nseverity = 'dire'\n", encoding="utf-8")
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", 1)
    with pytest.raises(model_cache.ViewDataError, match="rules not loaded"):
        model_cache.build_findings(store)
    # The child itself refuses it with its own status, naming the file.
    with pytest.raises(child_process.ChildFailed, match=f"status {findings_child.BAD_RULES}: rules not loaded"):
        findings_child.findings_in_child(store.path)


def test_stop_kills_the_child_at_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[float] = []

    def sleeper(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
        started.append(time.monotonic())
        return [sys.executable, "-c", "import time; time.sleep(60)"], {}

    monkeypatch.setattr(child_process, "module_command", sleeper)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(child_process.ChildFailed, match="stopped"):
        findings_child.findings_in_child(store.path, stop)
    assert time.monotonic() - started[0] < 5
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", 1)
    with pytest.raises(model_cache.ViewDataError, match="stopped"):
        model_cache.build_findings(store, stop)  # the app is ending: no second try in the thread


def test_a_failing_child_is_replaced_by_the_thread(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", "import sys; sys.stdout.write('junk'); sys.exit(0)"], {}

    monkeypatch.setattr(child_process, "module_command", broken)
    with pytest.raises(child_process.ChildFailed):
        findings_child.findings_in_child(store.path)
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", 1)
    assert model_cache.build_findings(store) == store_findings(store, load_rules(None))
