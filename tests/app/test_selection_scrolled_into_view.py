"""The selected row is on screen after the view grows: a filter widened (the table's scrollbar
comes with the next layout, after the cursor's move) or a jump that cleared the filter."""

from __future__ import annotations

from typing import Any

from core.store.store import Store
from tests.app.applogs import count
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.event_table import EventTable
from tui.nav_tree import NavTree


async def hidden_node_selected(pilot: Any, app: EvtxApp) -> int:
    """`c` on the selected 4690, the tree's cursor on the last node naming an event that is no
    4690 (so the filter `4690` hides it, far down the unfiltered table); its store id."""
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
    tree = app.screen.query_one(NavTree)
    await wait_for(pilot, lambda: tree.last_line > 2)
    assert app.workspace.store_path is not None
    found: tuple[int, int] | None = None
    with Store(app.workspace.store_path, readonly=True) as store:
        for line in range(tree.last_line + 1):
            node = tree.get_node_at_line(line)
            sid = node.data.store_id if node is not None and node.data is not None else None
            stored = store.get(sid) if sid is not None else None
            if sid is not None and stored is not None and stored.event.event_id != 4690:
                found = line, sid
    assert found is not None
    tree.cursor_line = found[0]
    await pilot.pause(0.05)
    return found[1]


def row_on_screen(table: EventTable) -> bool:
    top = int(table.scroll_y)
    return top <= table.cursor < top + table.visible_rows


@sync
async def test_widening_the_filter_scrolls_to_the_event_kept_selected() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("slash", *"4690", "enter")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        await pilot.press("j")
        kept = app.table.selected_row()
        assert kept is not None and kept.event.event_id == 4690
        await pilot.press("slash", "ctrl+u", "enter")
        await wait_for(pilot, lambda: app.table.total == count(app, "")
                       and (r := app.table.selected_row()) is not None and r.id == kept.id)
        await pilot.pause(0.1)
        assert app.table.cursor >= app.table.visible_rows  # far enough down to need a scroll
        assert row_on_screen(app.table)
        assert f" {kept.event.record_id} " in screen_text(app)


@sync
async def test_a_jump_that_clears_the_filter_scrolls_to_the_event() -> None:
    from tui.jump import JumpPrompt

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("4690")
        await wait_for(pilot, lambda: app.table.total == count(app, "4690"))
        await pilot.press("down")
        await pilot.pause(0.1)
        target = await hidden_node_selected(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpPrompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == target)
        await pilot.pause(0.1)
        assert app.table.cursor >= app.table.visible_rows
        assert row_on_screen(app.table)
