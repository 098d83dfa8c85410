"""The Findings view's tactic (`a`) and status (`s`) filters over Sigma rules: each key cycles the
values of the rules that fired, the status line says what is shown, and they combine with the
level filter (`l`)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Static

from tests.apputil import opened, screen_text, sync, wait_for
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events
from tui.app import EvtxApp
from tui.findings_view import FindingsScreen

LOGON = """title: Odd Logon
id: 88888888-8888-8888-8888-888888888888
status: test
level: medium
author: John Roe
tags:
    - attack.lateral-movement
    - attack.t1021
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
"""




def _rules() -> None:
    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "sigma"  # set by tests/conftest.py
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    (rules / "logon.yml").write_text(LOGON, encoding="utf-8")


def _log(tmp_path: Path) -> Path:
    return write_events(tmp_path / "log.xml", [
        event_xml(1102, 1, "2024-01-01T00:00:00Z", {"SubjectUserName": "mallory"}),
        event_xml(4624, 2, "2024-01-01T00:02:00Z", {"TargetUserName": "bob"}),
        event_xml(4624, 3, "2024-01-01T00:03:00Z", {"TargetUserName": "eve"}),
    ])


@sync
async def test_tactic_and_status_filters_combine_with_the_level_filter(tmp_path: Path) -> None:
    _rules()
    app = EvtxApp([str(_log(tmp_path))])
    async with opened(app, (160, 40)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and "Odd Logon" in screen_text(app))

        def status() -> str:
            return str(app.screen.query_one("#view-status", Static).render())

        async def press_until(key: str, wanted: str) -> None:
            for _ in range(6):
                if wanted in status():
                    return
                await pilot.press(key)
                await pilot.pause()
            assert wanted in status()

        async def press_until_gone(key: str) -> None:
            for _ in range(6):
                if f"({key})" not in status():
                    return
                await pilot.press(key)
                await pilot.pause()
            assert f"({key})" not in status()

        text = screen_text(app)
        assert "Security Log Cleared" in text and "Odd Logon" in text
        await press_until("a", "tactic Lateral Movement (a)")
        text = screen_text(app)
        assert "Odd Logon" in text and "Security Log Cleared" not in text and "Sigma medium (2)" in text
        assert "built-in rules hidden" in status()
        await press_until("a", "tactic Defense Evasion (a)")
        assert "Security Log Cleared" in screen_text(app) and "Odd Logon" not in screen_text(app)
        # Combined with a status: Defense Evasion and test is nothing; and stable is the cleared log.
        await press_until("s", "status test (s)")
        assert "Security Log Cleared" not in screen_text(app) and "Odd Logon" not in screen_text(app)
        await press_until("s", "status stable (s)")
        assert "Security Log Cleared" in screen_text(app)
        # Back to every tactic: the status alone keeps the stable rule; the level filter combines.
        await press_until_gone("a")
        assert "status stable (s)" in status()
        assert "Security Log Cleared" in screen_text(app) and "Odd Logon" not in screen_text(app)
        await press_until_gone("s")
        assert "built-in rules hidden" not in status()
        for _ in range(3):  # low, medium, high
            await pilot.press("l")
        await pilot.pause()
        assert "showing high and up (l)" in status()
        assert "Security Log Cleared" in screen_text(app) and "Odd Logon" not in screen_text(app)
