"""A worker's last message reaching the app as it closes (its main screen's widgets already
gone) is dropped: the model built ahead posts its end (`ModelAhead(None)`) when the app's closing
stops it, and the status line it refreshed was no longer there, so the app ended on an error
(`NoMatches: EventTable`), once in a CI run of the suite."""

from __future__ import annotations

from tests.apputil import DEMO, opened, sync
from tui.app import EvtxApp
from tui.messages import FindingsComputed, ModelAhead


@sync
async def test_a_progress_message_after_the_table_is_gone_is_dropped() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        path = app.workspace.store_path
        assert path is not None
        await app.table.remove()
        app.post_message(ModelAhead((1, 2)))
        app.post_message(ModelAhead(None))
        app.post_message(FindingsComputed(path, None, {}, "closing"))
        await pilot.pause(0.2)
        assert app.is_running


@sync
async def test_a_progress_message_after_the_status_text_is_gone_is_dropped() -> None:
    """The status bar's own text went first once (CI: `NoMatches: #status-text`), the table still there."""
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await app.query_one("#status-text").remove()
        app.post_message(ModelAhead((1, 2)))
        app.post_message(ModelAhead(None))
        await pilot.pause(0.2)
        assert app.is_running


@sync
async def test_worker_messages_are_dropped_once_the_app_stops_running() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app._showing
        app._running = False  # as `App._shutdown` sets it before closing the screens one by one
        try:
            assert not app._showing
            note = app._ahead
            app.on_model_ahead(ModelAhead((1, 2)))
            assert app._ahead == note
        finally:
            app._running = True
        await pilot.pause(0.05)
