"""A stack row's `enter` narrows the view it was counted over (the view's filter AND the
value): the table then shows as many events as the row said. It replaced the filter, so in
the `4688` view "mk64.exe 1" gave 10 events (every event naming that image)."""

from __future__ import annotations

from tests.app.applogs import count
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.stack_panel import StackScreen


@sync
async def test_enter_on_a_stack_row_shows_the_events_it_counted() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("4688")
        await wait_for(pilot, lambda: app.table.total == count(app, "4688"))
        app.table.field_column = "image"
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen) and app.screen.result is not None)
        screen = app.screen
        assert isinstance(screen, StackScreen) and screen.result is not None
        rows = screen.result.rows
        # a value that other events of the log name too (the case that went wrong)
        at = next(i for i, r in enumerate(rows) if count(app, f'image:"{r.value}"') > r.count)
        for _ in range(at):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        query = app.workspace.query
        assert query.startswith("4688 image:")
        await wait_for(pilot, lambda: app.table.total == rows[at].count)
        assert count(app, query) == rows[at].count
