"""A filter's first page before its count (`core.query.view.first_page_within`), and no read at
all for a view its count says is empty: a filter of System fields shows rows at once however big
the log, and a filter matching nothing answers when counted, without a page passing every event."""

from __future__ import annotations

from pathlib import Path

from core.model.event import Event
from core.query.compile import compile_query
from core.query.view import View, count_view, fetch_page, first_page_within
from core.store.store import Store
from tests.stores import indexed_store, odd_events, statements


def _store(tmp_path: Path) -> Store:
    events = odd_events()
    # many more events of no interest, so that reading past them all takes SQLite many steps
    events += [Event(source=0, record_number=301 + i, record_id=301 + i, filetime=133_400_000_000_000_000 + i,
                     event_id=1, computer="BULK") for i in range(20_000)]
    return indexed_store(tmp_path / "s.db", events)


def test_a_filter_of_system_fields_reads_its_first_page_without_a_count(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        for query in ("4689", "4688 OR 4690", "NOT 4689", "computer:bulk", "NOT computer:bulk"):
            view = View(compile_query(query))
            total = count_view(store, view)
            with statements(store) as seen:
                got = first_page_within(store, view, 60.0)
            assert got is not None, query
            assert not any("count(" in s.lower() for s in seen), query
            assert [se.id for se in got] == [se.id for se in fetch_page(store, view, 0, total)], query


def test_a_field_filter_or_a_slow_read_waits_for_the_count(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        assert first_page_within(store, View(compile_query("Index:5")), 60.0) is None  # rare: its id set is small
        assert first_page_within(store, View(compile_query("4689"), by_time=False), 60.0) is None
        later = View(compile_query("NOT 1"))  # SQLite passes the 20,000 earlier events of EventID 1 first
        assert first_page_within(store, later, 0.0) is None
        # the connection works on, without a time limit
        assert first_page_within(store, View(compile_query("4689")), 60.0)


def test_a_view_counted_empty_reads_no_page(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        nothing = View(compile_query("NOT (1 OR 4688 OR 4689 OR 4690)"))  # passes every event
        assert count_view(store, nothing) == 0
        with statements(store) as seen:
            assert fetch_page(store, nothing, 0, 0) == []
            assert fetch_page(store, nothing, 0, None, counted=0) == []
        assert not any("FROM events" in s for s in seen)
