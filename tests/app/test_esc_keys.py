"""`esc` goes back from where the keys go. In the filter bar it abandons the edit: the view
follows a query as it is typed, and `/46` on the way to `4688` left "0 of 71 events" behind. In
the detail pane it leaves the pane: it used to stop the load first (39,344 of 60,000 events read)."""

from __future__ import annotations

from pathlib import Path

from tests.app.applogs import big_log
from tests.apputil import DEMO, opened, screen_text, settle, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree


@sync
async def test_esc_in_the_filter_bar_brings_back_the_filter_in_force_before() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("slash", "4", "6")
        await wait_for(pilot, lambda: app.table.total == 0)  # the live filter applied "46"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.table.total == 71)
        assert app.filter_bar.applied_query == "" and app.focused is app.table
        await pilot.press("slash", *"4688", "enter")  # kept
        await wait_for(pilot, lambda: app.filter_bar.applied_query == "4688" and app.table.total not in (None, 71))
        kept = app.table.total
        await pilot.press("slash", "space", "x", "y", "z")
        await wait_for(pilot, lambda: app.table.total == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.table.total == kept)
        assert app.filter_bar.applied_query == "4688"
        await settle(pilot)
        assert "4688" in app.filter_bar.input.value


@sync
async def test_esc_in_the_detail_pane_while_loading_leaves_the_pane_and_loads_on(tmp_path: Path) -> None:
    log = big_log(tmp_path / "big.xml", 60_000)
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (100, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(0) is not None, timeout=30)
        assert not app.workspace.loaded
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.focused, FieldTree))
        await pilot.press("escape")
        assert app.focused is app.table
        await wait_for(pilot, lambda: app.workspace.loaded, timeout=60)
        await wait_for(pilot, lambda: app.table.total == 60_000, timeout=30)
        assert "loading stopped" not in screen_text(app)
