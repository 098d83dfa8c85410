"""A view (Handles, Sessions, Process access; Processes, Findings) opens again on the line the
analyst left it at (after `enter` jumped to an event, or `esc`): it opened at its top every time."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.findings_view import FindingsScreen
from tui.handles import HandlesScreen
from tui.nav_tree import NavTree
from tui.process_access import ProcessAccessScreen
from tui.processes import ProcessesScreen
from tui.sessions import SessionsScreen


@pytest.mark.parametrize(("key", "screen_type", "moves"), [
    ("3", HandlesScreen, 1), ("4", SessionsScreen, 3), ("7", ProcessAccessScreen, 2),
])
@sync
async def test_a_list_view_opens_again_where_it_was_left(key: str, screen_type: type, moves: int) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type)
                       and app.screen.query_one(DataTable).row_count > moves)
        await pilot.press(*["down"] * moves)
        await pilot.pause(0.1)
        left = app.selected_event()
        assert left is not None and app.screen.query_one(DataTable).cursor_row == moves
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await pilot.press("g")  # the table elsewhere
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type)
                       and app.screen.query_one(DataTable).row_count > moves)
        await pilot.pause(0.3)
        assert app.screen.query_one(DataTable).cursor_row == moves
        shown = app.selected_event()
        assert shown is not None and shown.id == left.id
        screen = app.screen
        assert isinstance(screen, (HandlesScreen, SessionsScreen, ProcessAccessScreen))
        assert screen._shown in (left.id, moves)  # the tree beside (Sessions: by line) follows it


@pytest.mark.parametrize(("key", "screen_type", "moves"), [("2", ProcessesScreen, 8), ("5", FindingsScreen, 2)])
@sync
async def test_a_tree_view_opens_again_on_the_line_it_was_left_at(key: str, screen_type: type, moves: int) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type)
                       and app.screen.query_one(NavTree).last_line > moves)
        await app.workers.wait_for_complete()
        await pilot.press(*["down"] * moves)
        await pilot.pause(0.1)
        tree = app.screen.query_one(NavTree)
        left = tree.cursor_node
        assert left is not None and tree.cursor_line == moves
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, screen_type)
                       and app.screen.query_one(NavTree).cursor_line == moves)
        back = app.screen.query_one(NavTree).cursor_node
        assert back is not None and str(back.label) == str(left.label)
