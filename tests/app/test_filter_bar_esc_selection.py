"""`esc` in the filter bar brings back the filter in force before `/` and the event selected
then: the live preview's keep-place had moved the cursor (to the top of an empty view, to the
preview's nearest event), and the abandoned edit must not leave that move behind."""

from __future__ import annotations

from typing import Any

from tests.app.applogs import count
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.filter_bar import DEBOUNCE


async def typed_then_esc(pilot: Any, app: EvtxApp, typed: str) -> None:
    """In the `4688` view with its 13th row selected: `/`, `typed` (the preview moves the
    selection), `esc`: the 13th row is selected again."""
    app.set_filter("4688")
    await wait_for(pilot, lambda: app.table.total == count(app, "4688"))
    await pilot.press("g", *["j"] * 12)
    await pilot.pause(0.1)
    before = app.table.selected_row()
    assert before is not None and app.table.cursor == 12
    await pilot.press("slash", "ctrl+u", *[c if c != " " else "space" for c in typed])
    await wait_for(pilot, lambda: app.workspace.query == typed)
    await pilot.pause(DEBOUNCE)
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)
    moved = app.table.selected_row()
    assert moved is None or moved.id != before.id  # the preview moved the selection
    await pilot.press("escape")
    await wait_for(pilot, lambda: app.workspace.query == "4688"
                   and (r := app.table.selected_row()) is not None and r.id == before.id)
    await pilot.pause(0.3)
    after = app.table.selected_row()
    assert after is not None and after.id == before.id, typed


@sync
async def test_esc_brings_back_the_event_selected_before_the_bar_opened() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        for typed in ("zzzz", "4689", "4688 user:alice"):
            await typed_then_esc(pilot, app, typed)


@sync
async def test_esc_after_typing_back_the_same_filter_still_restores_the_selection() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        app.set_filter("4688")
        await wait_for(pilot, lambda: app.table.total == count(app, "4688"))
        await pilot.press("g", *["j"] * 12)
        await pilot.pause(0.1)
        before = app.table.selected_row()
        assert before is not None
        await pilot.press("slash", "end", "backspace", "9")  # the preview shows 4689
        await wait_for(pilot, lambda: app.workspace.query == "4689")
        await pilot.pause(0.3)
        await pilot.press("backspace", "8")  # and 4688 again, its selection the preview's
        await wait_for(pilot, lambda: app.workspace.query == "4688")
        await pilot.pause(0.3)
        moved = app.table.selected_row()
        assert moved is not None and moved.id != before.id
        await pilot.press("escape")
        await wait_for(pilot, lambda: (r := app.table.selected_row()) is not None and r.id == before.id)
        assert app.workspace.query == "4688"
