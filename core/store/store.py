"""The SQLite event store: every filter, count and page is answered here, in SQL.

Its writes (inputs, event batches, posting lists, the index build) are in `writes`, the
vocabulary its reads take (`Filter`, `Order`) in `filter`, point lookups in `lookups`, reads
under a time limit in `time_limit`.

One `Store` object per thread (sqlite3 connections are not shared across threads): the parser
worker writes through its own connection while the UI reads through another (WAL mode lets
readers see committed batches while the writer goes on).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from core.model.event import FILETIME_END, FILETIME_MIN, Event, EventKeys, ParseIssue
from core.model.rows import EVENT_COLUMNS, data_pairs, decode_row
from core.model.storable import TEXT_INTS, bindable, column_int, exact_row, path_text
from core.store import file_names, schema
from core.store.filter import EventIndex, Filter, Order
from core.store.id_sets import ID_SET_TEST, NOT_ID_SET, IdSets
from core.store.writes import StoreWrites

SELECT_COLUMNS = ", ".join("e." + c.strip() for c in EVENT_COLUMNS.split(","))

#: What a failed read raises (a damaged or half-renamed file, an interrupted query): the UI
#: catches it by this name, never by importing sqlite3 (the layer contract keeps SQL in the store).
StoreError = sqlite3.Error
#: Pages up to this many rows come back from SQLite as one JSON value (`Store.select`).
PACKED_ROWS = 1000
_COLUMN_NAMES = [c.strip() for c in EVENT_COLUMNS.split(",")]
_PACKED_INNER = ", ".join(f"e.{c} AS {c}" for c in _COLUMN_NAMES)
_PACKED_OUTER = ", ".join("hex(data)" if c == "data" else c for c in _COLUMN_NAMES)


#: A row of `Store.iter_key_rows`: store id, time, record id, EventID, computer, stored EventData.
KeyRow = tuple[int, int | None, int, int, str, bytes | None]


class StoredEvent(NamedTuple):
    """An event with its store row id (stable for the life of the store)."""

    id: int
    event: Event


def _unpacked(row: list[Any], exact: bool) -> StoredEvent:
    """A row of `Store.select`'s JSON page (the data blob in hex) as a StoredEvent."""
    row[-1] = bytes.fromhex(row[-1])
    return StoredEvent(row[0], decode_row(exact_row(row[1:]) if exact else tuple(row[1:])))


def _stored(row: tuple[Any, ...], exact: bool) -> StoredEvent:
    return StoredEvent(row[0], decode_row(exact_row(row[1:]) if exact else row[1:]))


def tests_only_ids(which: Filter) -> bool:
    """Whether `which` tests events against id sets (`Store.id_set`) and nothing of an event but
    its id: a walk of an index of the events can then test each entry without reading the event."""
    rest, tested = ID_SET_TEST.subn("", which.sql)
    return tested > 0 and "e." not in rest


def all_but_an_id_set(which: Filter) -> bool:
    """Whether `which` keeps every event but those of one id set (`NOT term`)."""
    return NOT_ID_SET.fullmatch(which.sql) is not None


def reads_id_set(which: Filter) -> bool:
    """Whether `which` tests events against an id set (`Store.id_set`)."""
    return ID_SET_TEST.search(which.sql) is not None


def _id_table(name: str) -> Filter:
    """The filter reading the ids of the id set `name` (`Store.id_set`)."""
    return Filter.from_sql(f"e.id IN {name}", (), f"SELECT id FROM {name}", name)


def _temp_files_work() -> bool:
    """Whether a temp file can be made: a reading connection then keeps its temporary tables
    and sorts in files (`PRAGMA temp_store=FILE`), which the OS caches. In memory, SQLite's
    sorter holds every record it sorts: the table sorted by computer at 10M events took 657 MB
    (6.9 s), in files 51 MB (5.7 s). A writer keeps them in memory (its big sorts, the index
    builds, go to files: `core.store.disk_sorts`); so does a reader when the temp dir is not
    writable (SQLite would fail to make its first temporary table)."""
    try:
        with tempfile.TemporaryFile():
            return True
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One input as recorded in the store."""

    id: int
    path: str
    format: str
    identity: str | None
    records: int
    parse_issues: int
    error: str | None
    complete: bool


class Store(StoreWrites):
    """An SQLite database of events (see `core.store.schema`); its writes are `StoreWrites`."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        with file_names.opening():  # the log named and opened by this name (`core.store.file_names`)
            self.conn = self._connect(readonly)
        if not readonly:
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.executescript(schema.TABLES)
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", str(schema.SCHEMA_VERSION))
        if readonly and _temp_files_work():
            self.conn.execute("PRAGMA temp_store=FILE")
            # Nothing temporary outlives the connection: no journal on disk, and a dropped table's
            # pages are not overwritten with zeros (SQLite as Python ships it: 44 -> 10 ms to drop
            # a million-event sort).
            self.conn.execute("PRAGMA temp.journal_mode=MEMORY")
            self.conn.execute("PRAGMA temp.secure_delete=OFF")
        else:
            self.conn.execute("PRAGMA temp_store=MEMORY")
        # 16 MiB of pages per connection: the app holds several (table pages, counts, findings),
        # and larger caches made its memory grow with the log (bench/table.py: 153 MB at a
        # million events with 64 MiB, 88 MB with this) for no measurable speed.
        self.conn.execute("PRAGMA cache_size=-16384")
        self._start_writes()
        self._id_sets = IdSets(self.conn)
        #: What `abort_when` watches (a time limit, `core.store.time_limit.within`, adds to it).
        self.aborts: tuple[Callable[[], bool], int] | None = None

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        """A connection that has read once: its write-ahead log is open (see `file_names`)."""
        if readonly:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            try:
                conn.execute("PRAGMA schema_version").fetchone()  # a read: opens the log
            except sqlite3.Error:
                conn.close()
                raise
            return conn
        conn = sqlite3.connect(str(self.path), check_same_thread=False)
        # Large pages: an event row is ~700 bytes; 16 KiB pages cut per-page work on bulk
        # inserts and index builds by a sixth (only takes effect on a new database).
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")  # reads the header: opens the log
        return conn

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self._pending:
            self.flush_postings()
        self.conn.close()
        self._id_sets.close()

    def checkpoint(self, wait_ms: int = 250) -> None:
        """Fold the write-ahead log into the database file and truncate it. A finished cache is
        then read by read-only connections, which cannot do this, and SQLite would otherwise
        leave the log (tens of MB after an index build) beside the database for good. Waits at
        most `wait_ms` for readers (a view reading a partial model while the log loaded) rather
        than the connection's 5 s: the log then stays, harmlessly, until a later checkpoint."""
        timeout = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")

    def abort_when(self, stop: Callable[[], bool], every: int = 10_000) -> None:
        """Make this connection's statements fail (`sqlite3.OperationalError`, "interrupted":
        the writers roll back) once `stop()` holds, checked every `every` SQLite steps: a
        background write of minutes ends within milliseconds when its app closes, a read for a
        view the user has replaced as soon as it is (`tui.page_fetcher`)."""
        self.aborts = (stop, every)
        self.conn.set_progress_handler(lambda: 1 if stop() else 0, every)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        self.conn.commit()

    @property
    def shareable(self) -> bool:
        """Whether other processes can open this store (a file, not `:memory:`)."""
        return str(self.path) not in ("", ":memory:") and not str(self.path).startswith("file::memory:")

    # -- reading ---------------------------------------------------------------------------

    def sources(self) -> list[SourceRow]:
        rows = self.conn.execute(
            "SELECT id, path, format, identity, records, parse_issues, error, complete FROM sources ORDER BY id"
        ).fetchall()
        return [SourceRow(r[0], path_text(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]

    def issues(self, source: int | None = None, limit: int | None = None) -> list[ParseIssue]:
        """Parse issues in the order they were met (at most `limit`; see `issue_count`)."""
        sql = "SELECT i.source, s.path, i.reason, i.chunk, i.offset, i.ts FROM issues i"
        sql += " JOIN sources s ON s.id = i.source"
        params: list[object] = []
        if source is not None:
            sql += " WHERE i.source = ?"
            params.append(source)
        sql += " ORDER BY i.rowid"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.conn.execute(sql, params).fetchall()
        return [ParseIssue(r[0], path_text(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def issue_count(self) -> int:
        """Every input's parse issues, counted exactly (`issues` lists the first of each only)."""
        return int(self.conn.execute("SELECT coalesce(sum(parse_issues), 0) FROM sources").fetchone()[0])

    def count(self, which: Filter | None = None, *, by_time_index: bool = False, at_most: int | None = None,
              index: EventIndex | None = None) -> int:
        """How many events `which` keeps (every event by default), counting no further than
        `at_most`; `by_time_index` as `select`; `index`: read through that index (it must
        exist: `has_index`)."""
        which = which or Filter.everything()
        negated = NOT_ID_SET.fullmatch(which.sql)
        # Every event but an id set's (whose ids are all stored events'): the store's events less
        # the set's, not the set probed for every event (1.39M events: 0.30 s against 3 ms).
        if negated is not None and at_most is None:
            whole = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
            return int(whole) - self.count_ids(_id_table(negated[2]))
        if by_time_index:
            index = EventIndex.TIME
        hint = f" INDEXED BY {index.value}" if index is not None else ""
        sql, args = f"SELECT count(*) FROM events e{hint} WHERE {which.sql}", list(bindable(which.params))
        if at_most is not None:
            sql, args = f"SELECT count(*) FROM (SELECT 1 FROM events e{hint} WHERE {which.sql} LIMIT ?)", [
                *args, at_most]
        row = self.conn.execute(sql, args).fetchone()
        return int(row[0])

    def has_index(self, index: EventIndex) -> bool:
        """Whether the store has `index` (they are built after a load: `build_indexes`)."""
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (index.value,)).fetchone() is not None

    def last_id(self) -> int:
        """The highest store id (0 for an empty store): it changes whenever events are added."""
        return self._max_id()

    def size(self) -> int:
        """How many events the store holds, as of the last index build (its statistics: free,
        where `count(*)` reads a whole index, 10 ms per million events), else counted."""
        try:
            row = self.conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'events' LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # no statistics yet
            row = None
        return int(row[0].split()[0]) if row else self.count()

    def id_set(self, which: Filter) -> Filter:
        """`which` read from a table of this connection's (`core.store.id_sets`) holding the
        distinct ids of its events (its `ids`, or every event it keeps), made once and kept for
        the last ID_SETS filters: a view of a value held by a quarter of a million events then
        counts and pages without expanding its lists again for every page (30-40 ms each, at a
        million events). For a store that no longer changes: the table is not refreshed."""
        if which.id_table is not None:
            return which
        ids = which.ids if which.ids is not None else f"SELECT e.id FROM events e WHERE {which.sql}"
        return _id_table(self._id_sets.table(ids, bindable(which.params)))

    def quick_count(self, which: Filter) -> int | None:
        """How many events `which` keeps when that needs no event read: every event, an id
        set's (`id_set`), every event but an id set's; else None."""
        if which.matches_all:
            return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])
        if which.id_table is not None or NOT_ID_SET.fullmatch(which.sql) is not None:
            return self.count_ids(which)
        return None

    def count_ids(self, which: Filter) -> int:
        """How many events `which` keeps, counted from its ids (the size of its `id_table`, or
        the distinct ids its `ids` lists) without looking up any event; `count` when it has neither."""
        if which.id_table is not None:
            size = self._id_sets.size(which.id_table)
            if size is not None:
                return size
            return int(self.conn.execute(f"SELECT count(*) FROM {which.id_table}").fetchone()[0])
        if which.ids is None:
            return self.count(which)
        row = self.conn.execute(f"SELECT count(DISTINCT id) FROM ({which.ids})", bindable(which.params)).fetchone()
        return int(row[0])

    def select(
        self,
        which: Filter | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
        order: Order = Order.TIME,
        by_time_index: bool = False,
    ) -> list[StoredEvent]:
        """A page of the events `which` keeps (every event by default), in `order`; `by_time_index`
        makes SQLite walk the time index and test each event (see `core.query.view.fetch_page`).

        A page (`limit` up to PACKED_ROWS) comes back as one JSON value, in one step of the
        statement: Python's sqlite3 releases the GIL around every step, and a thread fetching
        rows one by one while the UI thread renders waits up to the switch interval (5 ms) to
        get it back, for every row (64 rows took 0.2-0.4 s instead of 0.5 ms)."""
        which = which or Filter.everything()
        hint = " INDEXED BY events_time" if by_time_index else ""
        inner = f"FROM events e{hint} WHERE {which.sql} ORDER BY {order.value}"
        args = list(bindable(which.params))
        if limit is not None:
            inner += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        if limit is not None and limit <= PACKED_ROWS:
            packed = f"SELECT json_group_array(json_array({_PACKED_OUTER})) FROM (SELECT {_PACKED_INNER} {inner})"
            page = json.loads(self.conn.execute(packed, args).fetchone()[0])
            exact = self.text_ints()
            return [_unpacked(r, exact) for r in page]
        rows = self.conn.execute(f"SELECT {SELECT_COLUMNS} {inner}", args).fetchall()
        exact = self.text_ints()
        return [_stored(r, exact) for r in rows]

    def events_like(
        self, source: int, event_id: int, *, record_id: int | None, filetime: int | None, limit: int = 50
    ) -> list[StoredEvent]:
        """Events of `source` with this EventID and EventRecordID (or, without a record id, this
        time): the candidates for an event known by its identity rather than its store id (a
        mark saved against an earlier store of the same inputs)."""
        if record_id is None:
            sql, params = "e.source = ? AND e.event_id = ? AND e.ts IS ?", (source, event_id, filetime)
        else:
            sql, params = "e.record_id = ? AND e.source = ? AND e.event_id = ?", (record_id, source, event_id)
        which = Filter.from_sql(sql, params)
        return self.select(which, limit=limit, order=Order.TIME)

    def iter_events(self, which: Filter | None = None, *, order: Order = Order.TIME) -> Iterator[StoredEvent]:
        """Stream every event `which` keeps (bounded memory: rows are fetched in batches)."""
        which = which or Filter.everything()
        cur = self.conn.execute(
            f"SELECT {SELECT_COLUMNS} FROM events e WHERE {which.sql} ORDER BY {order.value}", bindable(which.params)
        )
        exact = self.text_ints()
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            if exact:
                yield from (_stored(r, True) for r in rows)
                continue
            for r in rows:
                yield StoredEvent(r[0], decode_row(r[1:]))

    def iter_keys(self, which: Filter | None = None, *, order: Order = Order.TIME) -> Iterator[EventKeys]:
        """`iter_events` reduced to what the correlation engine reads of each event: its keys
        and EventData pairs, no `Event` built (at a million events, building them was a third
        of the time the model took)."""
        which = which or Filter.everything()
        cur = self.conn.execute(
            f"SELECT e.id, e.source, e.ts, e.record_id, e.event_id, e.computer, e.data FROM events e "
            f"WHERE {which.sql} ORDER BY {order.value}",
            bindable(which.params),
        )
        exact = self.text_ints()
        while rows := cur.fetchmany(2000):
            for sid, source, ts, record_id, event_id, computer, data in rows:
                pairs = data_pairs(data)  # (ValueError for a damaged blob, as core.model.rows.decode_row)
                if exact:
                    ts, record_id, event_id = column_int(ts), column_int(record_id), column_int(event_id)
                yield EventKeys(sid, source, ts, record_id, event_id, computer, pairs)

    def text_ints(self) -> bool:
        """Whether some integer is stored as text (`core.model.storable`): rows read then convert."""
        return self.get_meta(TEXT_INTS) is not None

    # -- reading by EventID (the engines' typed reads) -------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction around several reads, so that events still being loaded by
        another connection cannot slip in between them (a count and the read it sizes)."""
        began = not self.conn.in_transaction
        if began:
            self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if began:
                self.conn.execute("COMMIT")

    def count_of(self, event_ids: Iterable[int], *, without_time: bool = False) -> int:
        """How many events have one of `event_ids` (through the EventID index); with
        `without_time`, only those that carry no time."""
        which = Filter.event_ids(event_ids)
        if which.matches_none:
            return 0
        return self.count(which & Filter.from_sql("e.ts IS NULL") if without_time else which)

    def iter_events_of(self, event_ids: Iterable[int], *, order: Order = Order.TIME) -> Iterator[StoredEvent]:
        """Every event with one of `event_ids`, in time order (`iter_events`) or `order` (a few
        events among millions: `Order.EVENT_ID` reads them through the EventID index, where time
        order walked the time index over every event, 0.22 s at a million)."""
        which = Filter.event_ids(event_ids)
        return iter(()) if which.matches_none else self.iter_events(which, order=order)

    def iter_keys_of(self, event_ids: Iterable[int], *, order: Order = Order.TIME) -> Iterator[EventKeys]:
        """`iter_keys` of every event with one of `event_ids`, in time order (or `order`)."""
        which = Filter.event_ids(event_ids)
        return iter(()) if which.matches_none else self.iter_keys(which, order=order)

    def iter_key_rows(self, event_ids: Iterable[int], *, size: int = 2000) -> Iterator[list[KeyRow]]:
        """`iter_keys_of` in time order as batches of raw rows (store id, time, record id,
        EventID, computer, EventData as stored: `pairs_of` decodes it), no object made per event:
        the correlation scan decodes each distinct EventData once (a log repeats them)."""
        which = Filter.event_ids(event_ids)
        if which.matches_none:
            return
        cur = self.conn.execute(
            f"SELECT e.id, e.ts, e.record_id, e.event_id, e.computer, e.data FROM events e "
            f"WHERE {which.sql} ORDER BY {Order.TIME.value}",
            bindable(which.params),
        )
        exact = self.text_ints()
        while rows := cur.fetchmany(size):
            if exact:
                rows = [(sid, column_int(ts), column_int(rid), column_int(eid), computer, data)
                        for sid, ts, rid, eid, computer, data in rows]
            yield rows

    @staticmethod
    def pairs_of(data: bytes | None) -> tuple[tuple[str, str], ...]:
        """The EventData pairs of a row's stored `data` (`iter_key_rows`)."""
        return data_pairs(data)

    def get(self, event_id: int) -> StoredEvent | None:
        """The event with store id `event_id`, or None."""
        found = self.select(Filter.store_ids(event_id), limit=1)
        return found[0] if found else None

    def event_id_counts(self, source: int | None = None) -> dict[int, int]:
        sql = "SELECT event_id, count(*) FROM events"
        params: tuple[object, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        rows = self.conn.execute(sql + " GROUP BY event_id ORDER BY event_id", params)
        return {int(column_int(r[0])): int(r[1]) for r in rows}

    def time_range(self, source: int | None = None) -> tuple[int | None, int | None]:
        """The first and last times a date can word (`core.model.event.time_in_range`)."""
        sql = "SELECT min(ts), max(ts) FROM events WHERE typeof(ts) = 'integer' AND ts >= ? AND ts < ?"
        params: tuple[object, ...] = (FILETIME_MIN, FILETIME_END)
        if source is not None:
            sql += " AND source = ?"
            params = (*params, source)
        row = self.conn.execute(sql, params).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def field_names(self) -> list[str]:
        """The distinct EventData field names (lower-cased, as `postings` keeps them), sorted:
        what a query may name (`core.query.compile.compile_query`'s `fields`)."""
        return [str(r[0]) for r in self.conn.execute("SELECT DISTINCT name FROM postings ORDER BY name")]

    def repeated_names(self) -> set[str]:
        """The EventData names (lower-cased) some event holds more than once (`repeated_names`;
        none known in a store written before it, opened read-only)."""
        try:
            return {str(r[0]) for r in self.conn.execute("SELECT name FROM repeated_names")}
        except sqlite3.OperationalError:
            return set()

    def computers(self, source: int | None = None) -> list[str]:
        sql = "SELECT DISTINCT computer FROM events"
        params: tuple[object, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        return sorted(str(r[0]) for r in self.conn.execute(sql, params))
