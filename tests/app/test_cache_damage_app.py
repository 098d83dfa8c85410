"""The app on a cache database damaged inside: it says so (not "query failed") and the log is
parsed again when it is next opened (`core.store.cache_damage`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.store import cache_damage
from core.store.cache import cache_dir
from tests.apputil import opened, screen_text, sync, wait_for
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events
from tui.app import EvtxApp


def _damaged_cache(tmp_path: Path) -> tuple[Path, Path]:
    """A log of 2,000 events loaded into the cache, then a leaf page of its events overwritten."""
    events = [event_xml(4688, n, f"2024-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                        {"NewProcessName": f"C:\\p{n}.exe", "CommandLine": "x" * 200}) for n in range(1, 2001)]
    log = write_events(tmp_path / "log.xml", events)
    assert run_cli("stats", str(log))[0] == 0
    (db,) = [p for p in cache_dir().glob("*.sqlite") if not p.is_symlink()]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [n for (n,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'")]
    with open(db, "r+b") as fh:
        fh.seek((leaves[len(leaves) // 2] - 1) * page_size)
        fh.write(b"\x07" * 16)
    return log, db


@sync
async def test_a_damaged_cache_is_said_and_marked_for_the_next_open(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_damage, "_opened", [])
    log, db = _damaged_cache(tmp_path)
    app = EvtxApp([str(log)])
    async with opened(app, (120, 30), notifications=True) as pilot:
        for key in ("G", "g", *["pagedown"] * 10):  # (the findings read every 4688 first)
            await pilot.press(key)
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: "the cached copy of the log is damaged" in screen_text(app))
        assert app.is_running
    assert cache_damage.is_marked(db)
