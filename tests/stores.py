"""Small stores of hand-made events for the query and store tests, and the SQL a store runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.model.event import Event
from core.store.store import Store


def indexed_store(path: Path, events: Iterable[Event]) -> Store:
    """A store at `path` holding `events` (one XML input), indexed as a loaded log's."""
    store = Store(path)
    store.add_source("/logs/a.xml", "xml")
    store.add_events(list(events))
    store.build_indexes()
    return store


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements `store`'s connection runs inside the block (its query plans' hints)."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.conn.set_trace_callback(None)
