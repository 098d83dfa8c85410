"""Pages of the store come back exactly as the rows are stored, in the order asked for.

`Store.select` returns a page (up to PACKED_ROWS rows) as one JSON value built by SQLite, so a
fetcher thread gets it in one step of the statement instead of one GIL round trip per row
(see its docstring). These tests hold that path to the plain row-by-row one: every value
(NULLs, huge integers, empty and hostile data, non-BMP text), every order, every offset.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.query import view
from core.query.compile import compile_query
from core.query.view import View
from core.store.filter import Filter, Order
from core.store.store import PACKED_ROWS, Store
from tests.stores import odd_events, statements


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    st = Store(Path(tmp_path_factory.mktemp("pages")) / "events.db")
    st.add_source("/logs/odd.xml", "xml")
    st.add_events(odd_events())
    st.build_indexes()
    yield st
    st.close()


@pytest.mark.parametrize("walk", [False, True])
@pytest.mark.parametrize("order", list(Order))
@pytest.mark.parametrize("query", ["", "4689", "-4689", "Value:*"])
def test_pages_equal_the_rows_in_order(store: Store, query: str, order: Order, walk: bool) -> None:
    where = compile_query(query)
    everything = store.select(where, order=order)  # no limit: row by row
    assert len(everything) > 50
    for offset, limit in [(0, 64), (1, 1), (17, 64), (len(everything) - 5, 64), (len(everything), 10), (0, 1000)]:
        page = store.select(where, offset=offset, limit=limit, order=order, by_time_index=walk)
        assert page == everything[offset : offset + limit], (offset, limit)


def test_large_views_are_paged_by_walking_the_time_index(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fetch_page` walks the time index for views holding a large share of the store (here
    made small enough to reach) and gets the same rows, from either end."""
    plans: list[str] = []
    store.conn.set_trace_callback(plans.append)
    monkeypatch.setattr(view, "SCAN_MIN", 10)
    where = compile_query("4689")
    total = store.count(where)
    everything = store.select(where)
    v = View(where, by_time=True)
    try:
        assert view.fetch_page(store, v, 0, None, counted=total) == everything[:64]
        assert view.fetch_page(store, v, total - 10, total) == everything[-10:]
        assert sum("INDEXED BY events_time" in sql for sql in plans) == 2
        plans.clear()
        view.fetch_page(store, View(where, by_time=True), 0, None)  # count unknown: SQLite's plan
        view.fetch_page(store, View(compile_query("1"), by_time=True), 0, 0)  # a small view
        view.fetch_page(store, View(where, by_time=False), 0, total)  # file order, while loading
        assert not any("INDEXED BY" in sql for sql in plans)
    finally:
        store.conn.set_trace_callback(None)


def test_values_survive_the_page_exactly(store: Store) -> None:
    stored = {se.event.record_number: se.event for se in store.select(limit=1000)}
    assert len(stored) == 300
    for ev in odd_events():
        assert stored[ev.record_number] == ev


def test_empty_page_and_the_largest_packed_page(store: Store) -> None:
    assert store.select(compile_query("1"), limit=64) == []
    assert store.select(limit=PACKED_ROWS) == store.select()


def test_page_while_another_thread_holds_the_gil(store: Store) -> None:
    """The situation the packed page is for: a fetcher thread while the UI thread computes."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        page = store.select(offset=10, limit=64)
    finally:
        stop.set()
        spinner.join()
    assert page == store.select()[10:74]


def test_size_is_the_event_count_before_and_after_the_index_build(store: Store, tmp_path: Path) -> None:
    assert store.size() == store.count() == 300
    with Store(tmp_path / "fresh.db") as fresh:
        fresh.add_source("/logs/odd.xml", "xml")
        fresh.add_events(odd_events()[:40])
        assert fresh.size() == 40  # no statistics yet: counted
        fresh.build_indexes()
        assert fresh.size() == 40


def test_one_term_views_read_a_settled_id_set_with_the_same_answers(tmp_path: Path) -> None:
    """A loaded one-term view reads its ids from a temporary set made once per connection (a
    read-only one, as the table's fetcher holds): same count, same pages, same positions; the
    connection keeps no transaction open, and only the last few sets are kept."""
    from core.store.id_sets import ID_SETS, SCHEMA

    path = tmp_path / "ids.db"
    with Store(path) as writer:
        writer.add_source("/logs/odd.xml", "xml")
        writer.add_events(odd_events())
        writer.build_indexes()
    with Store(path, readonly=True) as store:
        queries = ["Value:again*", "Index:1*", '"markup"', "Index:299", "Value:*"]
        for query in queries:
            compiled = compile_query(query)
            assert compiled.ids is not None
            everything = store.select(compiled)
            v = View(compiled, by_time=True)
            total = view.count_view(store, v)
            assert total == len(everything) > 0, query
            assert view.fetch_page(store, v, 0, total) == everything[:64]
            assert view.fetch_page(store, v, max(0, total - 3), total) == everything[max(0, total - 3) :]
            last = everything[-1]
            assert view.position_of(store, v, last.id) == total - 1
            assert not store.conn.in_transaction
        sets = store.conn.execute(f"SELECT count(*) FROM {SCHEMA}.sqlite_master WHERE type = 'table'").fetchone()[0]
        assert sets == ID_SETS < len(queries)


def test_checkpoint_does_not_wait_out_a_reader(tmp_path: Path) -> None:
    """A reader still in a statement (a view building its model while the log loaded) makes
    the checkpoint give up after its short wait, without error and keeping the connection's
    own timeout; once readers are gone it empties the write-ahead log."""
    path = tmp_path / "ckpt.db"
    with Store(path) as writer:
        writer.add_source("/logs/odd.xml", "xml")
        writer.add_events(odd_events())
        writer.build_indexes()
        wal = Path(str(path) + "-wal")
        with Store(path, readonly=True) as reader:
            cursor = reader.conn.execute("SELECT id FROM events")
            assert cursor.fetchone() is not None  # a read in progress
            started = time.monotonic()
            writer.checkpoint(wait_ms=10)
            assert time.monotonic() - started < 2.5  # not the connection's 5 s busy timeout
            assert writer.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
            cursor.close()
        writer.checkpoint()
        assert wal.stat().st_size == 0


@pytest.mark.parametrize("query", ["", "4689", "Value:again*", '"markup"'])
def test_a_jump_reads_the_page_around_the_event_exactly(store: Store, query: str) -> None:
    """`locate` and `find_match` hand back, with the event's position, the rows of its page read
    outwards from the event: they must be that page of the view, for an event at every
    position (page edges, time ties, events without a time, one-term id sets)."""
    v = View(compile_query(query), by_time=True)
    everything = store.select(v.filter)
    total = view.count_view(store, v)
    assert total == len(everything) > 20
    page = 16
    for position, se in enumerate(everything):
        start = position - position % page
        expected = everything[start : start + page]
        assert view.locate(store, v, se.id, page) == (position, expected), position
        # The next match of a term only this event has, from the event before it (or from
        # nowhere, wrapping round to it).
        anchor = everything[position - 1] if position else None
        found = view.find_match(store, v, Filter.store_ids(se.id), anchor, True, page)
        assert found == (se.id, position, False, expected), position
        back = view.find_match(store, v, Filter.store_ids(se.id), se, False, page)
        assert back == (se.id, position, True, expected), position
    assert view.locate(store, v, -1) is None
    # While loading (file order) no page comes with the position: rows still land in between.
    file_order = View(v.filter, by_time=False)
    first = store.select(v.filter, order=Order.FILE, limit=1)[0]
    assert view.locate(store, file_order, first.id) == (0, [])


def test_reading_beside_an_event_is_a_range_of_the_time_index(store: Store) -> None:
    """Each part of "before"/"after" an event is a range SQLite seeks to, not a walk of the
    whole time index from one end testing every row (which one condition with `ts IS NULL
    OR ...` made it do: 80 ms to page up in the middle of a million events)."""
    v = View(by_time=True)
    rows = store.select(limit=1000)
    timed = next(se for se in rows[len(rows) // 2 :] if se.event.filetime is not None)
    untimed = next(se for se in rows if se.event.filetime is None)
    for anchor in (timed, untimed):
        for parts, order in ((v.before(anchor), v.order_desc), (v.after(anchor), v.order)):
            for part in parts:
                plan = store.conn.execute(
                    f"EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE {part.sql} ORDER BY {order.value} LIMIT 64",
                    part.params,
                ).fetchall()
                details = " ".join(str(step[-1]) for step in plan)
                assert "SEARCH e USING" in details and "events_time" in details, (part.sql, details)
                assert "TEMP B-TREE" not in details, (part.sql, details)


@pytest.mark.parametrize(("query", "ids_only"), [("Value:*", True), ("Index:1*", True), ("-Index:1*", True),
                                                ("-4689", False), ("Value:again* OR 4688", False)])
def test_big_views_walk_the_time_index_and_place_every_event_exactly(
        store: Store, monkeypatch: pytest.MonkeyPatch, query: str, ids_only: bool) -> None:
    """Scrolling beside a row, and placing an event (`locate`), in a view holding a large share
    of the store walk the time index (here made small enough to reach): a value held by 1.15M
    of a 1 GB log's 1.39M events took 0.55 s a page and 1-2 s to place an event, SQLite looking
    up every event of the view and sorting them. Placing walks only a view of id sets (one that
    tests a column reads each event walked past: an EventID view's own index counts faster).
    Every page and position is still the rows' own, with ties, NULL times and positions
    counted from either end."""
    monkeypatch.setattr(view, "SCAN_MIN", 10)
    monkeypatch.setattr(view, "_FIRST_CAP", 4)
    v = view.settled(store, View(compile_query(query), by_time=True))
    rows = store.select(v.filter)  # every row, in time order
    total = len(rows)
    assert 50 < total < 300
    with statements(store) as plans:
        for k, row in enumerate(rows):
            assert view.fetch_beside(store, v, row, True, 5, total) == rows[k + 1 : k + 6], k
            assert view.fetch_beside(store, v, row, False, 5, total) == rows[max(0, k - 5) : k], k
            start = k - k % 8
            assert view.locate(store, v, row.id, page=8, total=total) == (k, rows[start : start + 8]), k
    walked = [sql for sql in plans if "INDEXED BY events_time" in sql]
    assert any("LIMIT" in sql and "count" not in sql for sql in walked)  # pages
    counts = [sql for sql in walked if "count(*)" in sql and "LIMIT" not in sql]  # positions, by a walk
    sides = any("e.id) < (" in sql for sql in counts), any("e.id) > (" in sql for sql in counts)  # either side
    assert sides == ((True, True) if ids_only else (False, False))


@pytest.mark.parametrize(("query", "walks"), [("Index:1* 4688", True), ("-Index:1* 4689", True), ("4688", False)])
def test_pages_beside_a_row_of_a_smaller_view_of_an_id_set_walk_the_time_index(
        store: Store, monkeypatch: pytest.MonkeyPatch, query: str, walks: bool) -> None:
    """A view testing an id set walks from the row when it is big enough for its size squared
    (`BESIDE_SQUARE`), short of a share of the store (`4624 LogonType:3` on the 1 GB log: 24,009
    of 1.39M events, 87-105 ms a page, 1.5-3 ms walked); a view of columns only keeps SQLite's
    plan. The pages are the rows in order exactly, up to either end of the view."""
    monkeypatch.setattr(view, "SCAN_MIN", 10)
    monkeypatch.setattr(view, "SCAN_SHARE", 1)  # no view here is the whole store
    monkeypatch.setattr(view, "BESIDE_SQUARE", 1)
    v = view.settled(store, View(compile_query(query), by_time=True))
    rows = store.select(v.filter)
    total = len(rows)
    assert 20 < total < store.size() and total * total >= store.size()
    with statements(store) as plans:
        for k, row in enumerate(rows):
            assert view.fetch_beside(store, v, row, True, 7, total) == rows[k + 1 : k + 8], k
            assert view.fetch_beside(store, v, row, False, 7, total) == rows[max(0, k - 7) : k], k
    assert any("INDEXED BY events_time" in sql for sql in plans) == walks


def test_placing_an_event_of_the_whole_store_counts_through_the_time_index_alone(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unfiltered view's positions are one count of the time index: no side is measured
    first (those capped counts made a jump to an event of a million 50-100 ms slower)."""
    monkeypatch.setattr(view, "SCAN_MIN", 10)
    v = View(by_time=True)
    rows = store.select(v.filter)
    with statements(store) as seen:
        for k in (0, 77, len(rows) - 1):
            assert view.locate(store, v, rows[k].id, page=0, total=len(rows)) == (k, [])
    assert not any("LIMIT" in sql for sql in seen if "count(*)" in sql)
