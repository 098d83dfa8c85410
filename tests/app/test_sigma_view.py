"""The Findings view with Sigma rules: matches grouped by level then rule, with counts per rule
and host and the rule's author (Detection Rule License), what ran and what was skipped; a hint
when no Sigma rules are installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.apputil import opened, screen_text, sync, wait_for
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events
from tui.app import EvtxApp
from tui.findings_view import FindingsScreen


def _log(tmp_path: Path) -> Path:
    return write_events(tmp_path / "log.xml", [
        event_xml(1102, 1, "2024-01-01T00:00:00Z", {"SubjectUserName": "mallory"}),
        event_xml(1102, 2, "2024-01-01T00:01:00Z", {"SubjectUserName": "mallory"}, computer="DC01"),
        event_xml(4624, 3, "2024-01-01T00:02:00Z", {"TargetUserName": "bob"}),
    ])


@sync
async def test_findings_view_shows_sigma_matches_by_level_and_rule(tmp_path: Path) -> None:
    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"  # set by tests/conftest.py
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and "Sigma high" in screen_text(app))
        text = screen_text(app)
        assert "Sigma high (2)" in text
        line = next(x for x in text.splitlines() if "Security Log Cleared" in x)
        assert "(2)" in line and "DC01: 1" in line and "by Jane Doe" in line and "Defense Evasion" in line
        assert "stable" in line
        assert "Sigma: 1 rules over" in text


@sync
async def test_findings_view_hints_without_sigma_rules(tmp_path: Path) -> None:
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: "rules update" in screen_text(app))


@sync
async def test_big_stores_run_sigma_in_a_child_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.findings.sigma as sigma
    import tui.findings_view as view

    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    monkeypatch.setattr(view, "CHILD_SIGMA_EVENTS", 1)
    # The app's own process only reads the child's result from the store's cache.
    monkeypatch.setattr(sigma, "compile_dirs", lambda *a, **k: pytest.fail("computed in the app's process"))
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: "Security Log Cleared" in screen_text(app), timeout=30)


@sync
async def test_sigma_matches_mark_the_table_and_show_in_the_detail_pane(tmp_path: Path) -> None:
    from tests.app.selected_event import findings_node_labels, markers, select, store_id_of

    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.table.findings) == 2)
        await select(pilot, app, store_id_of(app, 2))
        assert markers(app) == " !"
        await wait_for(pilot, lambda: "Jane Doe" in " ".join(findings_node_labels(app)))
        await select(pilot, app, store_id_of(app, 3))
        assert markers(app) == "  "
