"""The app loading a log into a provisional cache entry that is renamed when complete
(`core.store.cache_commit`): the table keeps its place and everything reads the final entry."""

from __future__ import annotations

from pathlib import Path

from core.store.cache import CacheEntry
from tests.app.applogs import big_log
from tests.apputil import opened, settle, sync, wait_for
from tui.app import EvtxApp


@sync
async def test_the_cursor_keeps_its_event_when_the_entry_is_committed(tmp_path: Path) -> None:
    log = big_log(tmp_path / "big.xml", 60_000)
    app = EvtxApp([str(log)], prebuild=False)  # (the cache's commit: no model to build ahead of a view)
    async with opened(app, (100, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(6) is not None, timeout=30)
        assert not app.workspace.loaded and app.workspace.store_path is not None
        assert app.workspace.store_path.name.startswith("build-")  # provisional while it loads
        for _ in range(5):
            await pilot.press("down")
        chosen = app.selected_event()
        assert chosen is not None
        await settle(pilot, 60)
        final = app.workspace.store_path
        assert final is not None and final.exists() and not final.name.startswith("build-")
        assert app.table.fetcher is not None and app.table.fetcher.db_path == final
        selected = app.selected_event()
        assert selected is not None and selected.id == chosen.id
    entry = CacheEntry([str(log)])
    try:
        assert entry.db_path == final and entry.ready()
    finally:
        entry.close()
