"""Progress while the Sigma rules run: the app's status line and the waiting Findings view say
how far loading and evaluating are (typed messages from the worker), the child process relays
its own, and the CLI writes it to stderr on a terminal only."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from core.findings.sigma.progress import EVALUATING, LOADING, SigmaProgress, read_file, write_file
from tests.apputil import opened, screen_text, sync, wait_for
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events
from tui.app import EvtxApp
from tui.findings_view import FindingsScreen


def _log(tmp_path: Path) -> Path:
    return write_events(tmp_path / "log.xml", [
        event_xml(1102, 1, "2024-01-01T00:00:00Z", {"SubjectUserName": "mallory"}),
        event_xml(1102, 2, "2024-01-01T00:01:00Z", {"SubjectUserName": "mallory"}),
        event_xml(4624, 3, "2024-01-01T00:02:00Z", {"TargetUserName": "bob"}),
    ])


def _rules() -> Path:
    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"  # set by tests/conftest.py
    rules.mkdir(exist_ok=True)
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    return rules


def test_progress_texts_and_their_file_round_trip(tmp_path: Path) -> None:
    loading = SigmaProgress(LOADING, 1200, 3008)
    evaluating = SigmaProgress(EVALUATING, 400_000, 1_000_000, 2450, 37)
    assert loading.text() == "Sigma: loading rules 1,200 of 3,008"
    assert evaluating.text() == "Sigma: 2,450 rules, 400,000 of 1,000,000 events evaluated, 37 matches"
    write_file(tmp_path / "p", evaluating)
    assert read_file(tmp_path / "p") == evaluating
    (tmp_path / "p").write_text("evaluating 1 x\n")
    assert read_file(tmp_path / "p") is None and read_file(tmp_path / "none") is None


def test_run_sigma_reports_loading_then_evaluating(tmp_path: Path) -> None:
    from core.findings.sigma import run_sigma
    from core.store.ingest import load_paths
    from core.store.store import Store

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    heard: list[str] = []
    with Store(tmp_path / "s.db") as store:
        load_paths([str(_log(tmp_path))], store, jobs=1)
        run_sigma(store, [rules], progress=lambda p: heard.append(p.text()))
    assert heard[0] == "Sigma: loading rules 1 of 1"
    assert heard[1] == "Sigma: 1 rules, 0 of 2 events evaluated, 0 matches"


@sync
async def test_app_shows_sigma_progress_while_the_rules_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.findings.sigma.engine import run_compiled as real

    _rules()
    release = threading.Event()

    def slow(candidates: Any, compiled: Any, progress: Any = None, star_ids: Any = None) -> Any:
        rows = list(candidates)
        # The engine holds here, reporting one event evaluated and one match, until the test
        # has seen the progress (as a long run reports every few thousand events).
        while not release.wait(0.05):
            if progress is not None:
                progress(1, 1)
        return real(iter(rows), compiled, None, star_ids)

    monkeypatch.setattr("core.findings.sigma.run_compiled", slow)  # what run_sigma calls
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40), ready=False) as pilot:
        expected = "Sigma: 1 rules, 1 of 2 events evaluated, 1 matches"

        def view_status() -> str:
            return str(app.screen.query_one("#view-status", Static).render())

        def app_status() -> str:
            return str(app.screen_stack[0].query_one("#status-text", Static).render())

        try:
            await wait_for(pilot, lambda: expected in app_status(), timeout=20)
            await pilot.press("5")
            await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and expected in view_status())
        finally:
            release.set()
        await wait_for(pilot, lambda: "Security Log Cleared" in screen_text(app), timeout=20)
        await wait_for(pilot, lambda: "Sigma:" not in app_status(), timeout=20)  # cleared once it has ended


def test_child_relays_its_progress(tmp_path: Path) -> None:
    from core.findings.sigma.child import sigma_in_child
    from core.store.ingest import load_paths
    from core.store.store import Store

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    db = tmp_path / "s.db"
    with Store(db) as store:
        load_paths([str(_log(tmp_path))], store, jobs=1)
    heard: list[SigmaProgress] = []
    sigma_in_child(db, [rules], poll=0.01, progress=heard.append)
    assert heard, "no progress relayed from the child"
    assert heard[-1].phase in (LOADING, EVALUATING)


def test_cli_writes_progress_to_stderr_on_a_terminal_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from contextlib import redirect_stdout

    from cli.main import main

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    log = _log(tmp_path)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for err, shown in ((Tty(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", err)
        with redirect_stdout(io.StringIO()) as out:
            assert main(["findings", str(log), "--sigma", str(rules), "--no-cache", "--json"]) == 0
        assert ("Sigma: 1 rules, 0 of 2 events evaluated" in err.getvalue()) is shown
        assert "Sigma: loading" not in out.getvalue()
