"""Counts of one read in the singular: "(1 root process)", "1 computer", "1 event", "1 value",
"1 handle duplication", "Around: ±1 minute" (the screens wrote "1 computers" and the like).
The Marks view's "1 mark" is in `test_marks_ui`."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandList, CommandPalette

from tests.app.applogs import event_xml, write_log
from tests.apputil import opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.timeline_strip import TimelineStrip
from tui.words import plural


def one_of_each(tmp_path: Path) -> Path:
    """One computer, one process started by System (one root), one 4690, three events."""
    return write_log(tmp_path / "one.xml", [
        event_xml(1, 4688, "2024-01-01T00:00:00.0000000Z",
                  {"NewProcessId": "0x100", "NewProcessName": "C:\\x\\a.exe", "ProcessId": "0x4",
                   "SubjectLogonId": "0x3e7"}),
        event_xml(2, 4690, "2024-01-01T00:00:01.0000000Z",
                  {"SourceHandleId": "0x44", "SourceProcessId": "0x100", "TargetHandleId": "0x48",
                   "TargetProcessId": "0x4"}),
        event_xml(3, 4689, "2024-01-01T00:00:02.0000000Z", {"ProcessId": "0x100", "ProcessName": "C:\\x\\a.exe"}),
    ])


def test_plural_writes_the_singular_for_one() -> None:
    assert plural(1, "root process", "root processes") == "1 root process"
    assert plural(2, "root process", "root processes") == "2 root processes"
    assert plural(0, "event") == "0 events" and plural(1_000, "event") == "1,000 events"


@sync
async def test_the_views_count_one_in_the_singular(tmp_path: Path) -> None:
    app = EvtxApp([str(one_of_each(tmp_path))])
    async with opened(app, (120, 36)) as pilot:
        await pilot.press("2")  # Processes
        await wait_for(pilot, lambda: "1 computer, 1 root process" in screen_text(app))
        assert "WS01  (1 root process)" in screen_text(app)
        await pilot.press("escape", "3")  # Handles
        await wait_for(pilot, lambda: "1 handle duplication (4690)" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.set_filter("record:2")
        await wait_for(pilot, lambda: app.table.total == 1)
        await pilot.press("s")  # stack the EventID of one event
        await wait_for(pilot, lambda: "1 value in 1 event " in screen_text(app))
        await pilot.press("escape", "h")
        strip = app.query_one(TimelineStrip)
        await wait_for(pilot, lambda: strip.result is not None)
        await wait_for(pilot, lambda: "UTC: 1 event ·" in screen_text(app))


@sync
async def test_the_palette_offers_around_one_minute(tmp_path: Path) -> None:
    app = EvtxApp([str(one_of_each(tmp_path))])
    async with opened(app, (120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Around:")

        def prompts() -> list[str]:
            options = app.screen.query_one(CommandList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await wait_for(pilot, lambda: any("±15" in p for p in prompts()))
        assert any("±1 minute" in p and "±1 minutes" not in p for p in prompts())
        assert any("±5 minutes" in p for p in prompts())
