"""The Sessions list at 80x24: its nine columns do not fit, and `left`/`right` bring each
column into view a column at a time (a row-cursor table otherwise scrolls a cell per key:
the End column was 80 presses away). The status line says so."""

from __future__ import annotations

from pathlib import Path

from tests.app.story import Harness
from tests.apputil import opened, screen_text, sync, wait_for
from tui.sessions import COLUMNS, SessionsScreen, SessionsTable


def _rows_shown(text: str) -> list[str]:
    """The list's lines as drawn (inside its border), header first."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    bottom = next(i for i in range(top + 1, len(lines)) if lines[i].startswith("╰"))
    return [line[1:-1] for line in lines[top + 1:bottom]]


@sync
async def test_every_column_of_the_list_is_a_few_keys_away_at_80x24(demo_store: Path) -> None:
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (80, 24)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        assert "End (UTC)" not in screen_text(app)  # cut at 80 columns
        seen: set[str] = set()
        for _ in range(len(COLUMNS)):
            seen |= {h for h, _w in COLUMNS if h in _rows_shown(screen_text(app))[0]}
            await pilot.press("right")
            await pilot.pause(0.05)
        assert seen == {h for h, _w in COLUMNS}
        shown = _rows_shown(screen_text(app))
        assert "End (UTC)" in shown[0] and any("still open" in line for line in shown)
        for _ in range(len(COLUMNS)):
            await pilot.press("left")
        await pilot.pause(0.05)
        assert _rows_shown(screen_text(app))[0].lstrip().startswith("Start (UTC)")
        assert table.cursor_row == 0  # sideways keys never move the row
        assert "left/right: columns" in screen_text(app)  # the status says how to see the rest


@sync
async def test_no_scroll_hint_when_the_list_fits(demo_store: Path) -> None:
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (170, 40)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count > 0 and "enter: to the tree" in screen_text(app))
        await pilot.pause(0.1)
        assert "End (UTC)" in screen_text(app)
        assert "left/right" not in screen_text(app)
