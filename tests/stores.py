"""Small stores of hand-made events for the query and store tests, the SQL a store runs, and a
disk that fills up under the cache (`disk_full_after`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from core.model.rows import EventRow, PostingsText
from core.store.store import Store, StoredEvent


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


ODD_VALUES = [
    "",
    'quote " and backslash \\ and slash /',
    "nul \x00 inside",
    "controls \x1b[31m\x07\r\n\t",
    "[red]markup[/red]",
    "non-BMP \U0001f600 and \u2028 line separator",
    "x" * 5000,
]


def odd_events() -> list[Event]:
    """300 events with odd values, EventRecordIDs out of time order, ties and missing times."""
    out = []
    for i in range(300):
        data: tuple[tuple[str, str], ...] = ()
        if i % 7:
            data = (("Value", ODD_VALUES[i % len(ODD_VALUES)]), ("Index", str(i)), ("Value", f"again {i}"))
        out.append(
            Event(
                source=0,
                record_number=i + 1,
                record_id=(i * 37) % 300 + 1,
                filetime=None if i % 13 == 0 else 133_500_000_000_000_000 + (i % 50) * 10_000_000,
                event_id=4688 + i % 3,
                version=None if i % 2 else 2,
                level=i % 5,
                task=None if i % 3 else 13312,
                opcode=0,
                keywords=None if i % 4 else "0x8020000000000000",
                channel="Security",
                provider="Microsoft-Windows-Security-Auditing",
                computer=f"HOST{i % 3}.corp.local" if i % 4 else ODD_VALUES[i % len(ODD_VALUES)],
                pid=None if i % 5 == 0 else 2**32 - i,
                tid=i,
                user_sid=None if i % 2 else "S-1-5-18",
                data=data,
                locator=2**39 + i,
            )
        )
    return out


def disk_full_after(monkeypatch: pytest.MonkeyPatch, cache_dir: Path, batches: int = 2) -> dict[str, int]:
    """Every store under `cache_dir` writes its first `batches` batches of rows (`Store.add_rows`),
    then fails as a full disk does; the batches tried so far are counted under "n"."""
    real = Store.add_rows
    calls = {"n": 0}

    def full(
        self: Store,
        rows: Sequence[EventRow],
        postings: PostingsText,
        strings: Iterable[str] | None = None,
        path: str = "",
    ) -> list[ParseIssue]:
        if cache_dir in self.path.parents:
            calls["n"] += 1
            if calls["n"] > batches:
                raise sqlite3.OperationalError("database or disk is full")
        return real(self, rows, postings, strings, path)

    monkeypatch.setattr(Store, "add_rows", full)
    return calls


def events_by_source(store: Store) -> dict[int, list[StoredEvent]]:
    """The store's events in time order, by input (source id)."""
    out: dict[int, list[StoredEvent]] = {}
    for se in store.iter_events():
        out.setdefault(se.event.source, []).append(se)
    return out
