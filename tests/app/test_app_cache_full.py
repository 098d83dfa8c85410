"""The app on a full cache disk: the load goes on in a private directory, and the table reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from core.store.disk_full import NOTICE
from tests.app.applogs import big_log
from tests.apputil import opened, sync, wait_for
from tests.stores import disk_full_after
from tui.app import EvtxApp


@sync
async def test_a_full_cache_disk_shows_every_row_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the cache database's third batch fails with SQLite's disk-full error.
    The cache build deletes its partial database and loads again into a private directory
    (a new `db_path`). Before: the table stayed on the deleted cache path and showed the rows
    of the first two batches; now it reads the new store and the status line says why."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(cache_dir))
    log = big_log(tmp_path / "big.xml", 5000)  # batches of 200, 800, 3200, 800 rows
    calls = disk_full_after(monkeypatch, cache_dir)

    app = EvtxApp([str(log)], jobs=1)
    async with opened(app, (120, 30)) as pilot:
        await wait_for(pilot, lambda: app.workspace.loaded and app.table.total == 5000, timeout=30)
        await pilot.pause(0.1)
        assert calls["n"] > 2
        assert app.table.row_at(0) is not None
        await pilot.press("G")  # the last row: written after the disk filled up
        await wait_for(pilot, lambda: app.table.cursor == 4999 and app.table.row_at(4999) is not None)
        last = app.selected_event()
        # the latest event (00:59:59, record 3600) was written after the disk filled up;
        # before, the table's last row was record 1000, the last one the deleted cache held
        assert last is not None and last.event.record_id == 3600
        status = str(app.query_one("#status-text", Static).render())
        assert "5,000 events" in status
        assert NOTICE in status
        assert app.workspace.store_path is not None and cache_dir not in app.workspace.store_path.parents
