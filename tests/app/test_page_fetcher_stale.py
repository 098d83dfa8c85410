"""A statement of a view the user has replaced stops (`tui.page_fetcher`, `Store.abort_when`):
the new view's first page does not wait for the old view's count or the old selected row's
position (1.4 s in a compound view of 10M events), and the reader keeps its connection (its id
sets and marks). A time-limited read (`core.store.time_limit.within`) keeps that watch."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import cast

import pytest
from textual.message_pump import MessagePump

from core.store.store import Store
from core.store.time_limit import within
from tests.app.fetch_target import Target
from tui.page_fetcher import PageFetcher

#: A statement that runs for many seconds unless stopped.
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)"
        " SELECT count(*) FROM c")


def test_a_replaced_views_statement_stops_for_the_new_views_first_page(demo_store: Path) -> None:
    target = Target()
    fetcher = PageFetcher(demo_store, cast(MessagePump, target))
    started = threading.Event()
    connections: list[int] = []

    def slow(store: Store) -> int:
        connections.append(id(store))
        started.set()
        return int(store.conn.execute(SLOW).fetchone()[0])

    def quick(store: Store) -> int:
        connections.append(id(store))
        return store.count()

    try:
        fetcher.submit(0, slow, lambda _: None)
        assert started.wait(10)
        time.sleep(0.05)
        at = time.monotonic()
        fetcher.generation = 1  # the user replaced the view
        fetcher.submit(1, quick, lambda _: None)
        answer = target.messages.get(timeout=10)
        waited = time.monotonic() - at
    finally:
        fetcher.close()
    assert answer.generation == 1 and answer.error is None  # the stopped job posted nothing
    assert waited < 1.0
    assert connections[0] == connections[1]  # the same connection


def test_a_view_still_shown_is_not_stopped(demo_store: Path) -> None:
    target = Target()
    fetcher = PageFetcher(demo_store, cast(MessagePump, target))
    try:
        fetcher.submit(0, lambda store: int(store.conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)"
            " SELECT count(*) FROM c").fetchone()[0]), lambda _: None)
        answer = target.messages.get(timeout=30)
    finally:
        fetcher.close()
    assert answer.generation == 0 and answer.error is None


def test_a_time_limit_keeps_the_connections_watch(demo_store: Path) -> None:
    with Store(demo_store, readonly=True) as store:
        stop = threading.Event()
        store.abort_when(stop.is_set, 1000)
        assert within(store, 0.0, lambda: store.conn.execute(SLOW).fetchone()) is None  # out of time
        assert within(store, 60.0, lambda: store.count()) == store.count()
        stop.set()
        with pytest.raises(sqlite3.OperationalError, match="interrupt"):  # stopped: not "out of time"
            within(store, 60.0, lambda: store.conn.execute(SLOW).fetchone())
        with pytest.raises(sqlite3.OperationalError, match="interrupt"):  # watched again after it
            store.conn.execute(SLOW).fetchone()
        stop.clear()
        assert store.count() > 0
