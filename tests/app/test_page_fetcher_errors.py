"""The event table's reader opens a new connection after a failed query (`tui.page_fetcher`).

A connection that failed may stay failed: when the table's reader had made its own write-ahead
log (tests/store/test_wal_names.py), every later page failed with the same "disk I/O error" and
the table stayed stuck for the rest of the session. One failed page is now all it costs."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from textual.message_pump import MessagePump

from core.store.store import Store
from tests.app.fetch_target import Target
from tui.page_fetcher import PageFetcher


def test_a_failed_connection_is_replaced_for_the_next_page(demo_store: Path) -> None:
    target = Target()
    fetcher = PageFetcher(demo_store, cast(MessagePump, target))
    counted: list[int] = []
    try:
        def broken(store: Store) -> int:
            store.conn.close()  # as a connection whose files went wrong under it
            return store.count()

        fetcher.submit(0, broken, counted.append)
        fetcher.submit(0, Store.count, counted.append)
        first, second = target.messages.get(timeout=10), target.messages.get(timeout=10)
    finally:
        fetcher.close()
    assert first.error is not None and first.deliver is None
    assert second.error is None and second.deliver is not None  # was: "Cannot operate on a closed database"
    second.deliver()
    with Store(demo_store, readonly=True) as store:
        assert counted == [store.count()] and counted[0] > 0


def test_a_store_that_cannot_be_opened_fails_the_job_not_the_reader(demo_store: Path, tmp_path: Path) -> None:
    """Opening the store is part of the job: a file gone (or not there yet) fails that page, and
    the reader answers the next one (before, the exception ended its thread: no page ever again)."""
    import shutil

    target = Target()
    missing = tmp_path / "not yet.db"
    fetcher = PageFetcher(missing, cast(MessagePump, target))
    counted: list[int] = []
    try:
        fetcher.submit(0, Store.count, counted.append)
        failed = target.messages.get(timeout=10)
        fetcher.when_idle(0, lambda store: False)  # idle work opens the store too: it fails alike
        fetcher.submit(0, Store.count, counted.append)
        failed_again = [target.messages.get(timeout=10), target.messages.get(timeout=10)]
        shutil.copy(demo_store, missing)
        fetcher.submit(0, Store.count, counted.append)
        answered = target.messages.get(timeout=10)
    finally:
        fetcher.close()
    assert failed.error is not None and all(m.error is not None for m in failed_again)
    assert answered.error is None and answered.deliver is not None
    answered.deliver()
    assert counted and counted[0] > 0
