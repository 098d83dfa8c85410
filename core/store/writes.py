"""The store's writes: inputs, batches of encoded events, the posting lists held in memory and
flushed, parse issues, the index build after a bulk load.

A base of `core.store.store.Store`, apart from its reads (what the engines and the UI call): the
ingest worker writes through its own `Store`, the UI reads through another.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

from core.model.event import Event, ParseIssue
from core.model.rows import (
    EventRow,
    Postings,
    PostingsText,
    encode_tuples,
    event_fields,
    postings_text,
    split_repeated,
    system_strings,
)
from core.model.storable import TEXT_INTS, clean_text, path_value, storable_postings, storable_rows, storable_texts
from core.model.values import as_int
from core.store import schema
from core.store.disk_sorts import sorts_on_disk
from core.store.schema import INSERT_EVENTS

#: Posting lists are held in memory and written when they hold this many characters of ids
#: (bounded memory), or after POSTINGS_SECONDS while loading (field filters catch up with the
#: rows on screen), and when an input ends. Each write adds one row per distinct pair held.
POSTINGS_HELD = 32_000_000
POSTINGS_SECONDS = 1.0


def _joined(arrays: list[str]) -> str:
    """One JSON array of the ids in several (`core.model.rows.postings_text`), in order."""
    return arrays[0] if len(arrays) == 1 else "[" + ", ".join(a[1:-1] for a in arrays if a != "[]") + "]"


def list_ends(text: str) -> tuple[int | None, int | None]:
    """The first and last ids of a JSON array of ids (`postings.lo`, `hi`): (None, None) for
    an empty or unreadable one, which readers then take as spanning every id."""
    inner = text.strip()[1:-1]
    comma, last_comma = inner.find(","), inner.rfind(",")
    try:
        return int(inner if comma < 0 else inner[:comma]), int(inner[last_comma + 1:])
    except ValueError:
        return None, None


def posting_row(name: str, value: str, text: str) -> tuple[str, str, int | None, int | None, int | None, int, str]:
    """A `postings` row (`core.store.schema.INSERT_POSTINGS`) of the list `text` of (name, value)."""
    return (name.lower(), value, as_int(value), *list_ends(text), len(text), text)


class StoreWrites:
    """What writes to the store's connection; `Store` opens it and calls `_start_writes`."""

    conn: sqlite3.Connection

    def _start_writes(self) -> None:
        self._next_id = self._max_id() + 1
        self._pending: dict[tuple[str, str], list[str]] = {}
        self._strings: set[str] = set()  # values known to be in `strings`
        self._repeated: set[str] = set()  # names held for `repeated_names`
        self._held = 0
        self._flushed_at = time.monotonic()

    @property
    def in_transaction(self) -> bool:
        """Whether this connection holds a transaction open (a writer's lock, while it writes)."""
        return self.conn.in_transaction

    def _max_id(self) -> int:
        row = self.conn.execute("SELECT max(id) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def add_source(self, path: str, fmt: str, identity: str | None = None) -> int:
        """Register an input; its id is the `source` of its events (0-based, in order)."""
        row = self.conn.execute("SELECT count(*) FROM sources").fetchone()
        source_id = int(row[0])
        self.conn.execute(
            "INSERT INTO sources(id, path, format, identity) VALUES (?, ?, ?, ?)",
            (source_id, path_value(path), fmt, None if identity is None else clean_text(identity)),
        )
        self.conn.commit()
        return source_id

    def set_source_format(self, source_id: int, fmt: str) -> None:
        self.conn.execute("UPDATE sources SET format = ? WHERE id = ?", (fmt, source_id))
        self.conn.commit()

    def add_rows(
        self, rows: Sequence[EventRow], postings: PostingsText, strings: Iterable[str] | None = None, path: str = ""
    ) -> list[ParseIssue]:
        """Insert a batch of encoded events (`core.model.rows.encode_tuples`: ids included) in one
        transaction; their posting lists join those held for the next `flush_postings`.
        `strings`: their `core.model.rows.system_strings` when the rows were inserted elsewhere.

        A value SQLite cannot bind (a huge integer, a lone surrogate) never fails the batch:
        it is then inserted again through `core.model.storable`. Returns the parse issues that
        reports (values replaced; `path` names the input in them)."""
        repairs: list[ParseIssue] = []
        if rows:
            try:
                with self.conn:
                    self.conn.executemany(INSERT_EVENTS, rows)
            except (OverflowError, UnicodeEncodeError):
                rows, repairs, text_ints = storable_rows(rows, path)
                with self.conn:
                    self.conn.executemany(INSERT_EVENTS, rows)
                    if text_ints:
                        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (TEXT_INTS,))
            self._next_id = max(self._next_id, rows[-1][0] + 1)
        new = (system_strings(rows) if strings is None else storable_texts(strings)) - self._strings
        if new:
            with self.conn:
                self.conn.executemany(schema.INSERT_STRINGS, [(v,) for v in new])
            self._strings |= new
        self.add_postings(postings)
        return repairs

    def add_postings(self, postings: PostingsText) -> None:
        """Hold posting lists of stored events (`core.model.rows.postings_text`) for the next flush."""
        pending = self._pending
        lists, repeated = split_repeated(postings)
        self._repeated |= repeated
        for key, ids in lists.items():
            held = pending.get(key)
            if held is None:
                pending[key] = [ids]
            else:
                held.append(ids)
        self._held += sum(map(len, lists.values()))
        if self._held >= POSTINGS_HELD or time.monotonic() - self._flushed_at >= POSTINGS_SECONDS:
            self.flush_postings()

    def flush_postings(self) -> None:
        """Write the posting lists held in memory (one row per distinct pair)."""
        self._flushed_at = time.monotonic()
        if not self._pending and not self._repeated:
            return
        repeated = [(clean_text(name),) for name in self._repeated]
        self._repeated = set()
        rows = [posting_row(name, value, _joined(ids)) for (name, value), ids in self._pending.items()]
        self._pending = {}
        self._held = 0
        sql = schema.INSERT_POSTINGS
        try:
            with self.conn:
                self.conn.executemany(sql, rows)
                self.conn.executemany(schema.INSERT_REPEATED, repeated)
        except UnicodeEncodeError:  # a lone surrogate (reported where its row was stored)
            with self.conn:
                self.conn.executemany(sql, storable_postings(rows))
                self.conn.executemany(schema.INSERT_REPEATED, repeated)

    def refresh_next_id(self) -> None:
        """Take note of events other connections (ingest workers) inserted."""
        self._next_id = max(self._next_id, self._max_id() + 1)

    def add_events(self, events: Iterable[Event]) -> None:
        """Insert events, numbered after those already stored, and index their fields at once
        (tests and small inputs; loaders use `add_rows`)."""
        postings: Postings = defaultdict(list)
        items = [(self._next_id + i, event_fields(e)) for i, e in enumerate(events)]
        self.add_rows(encode_tuples(items, postings), postings_text(postings))
        self.flush_postings()

    def add_issues(self, issues: Iterable[ParseIssue]) -> None:
        rows = [(i.source, i.chunk, i.offset, i.reason, i.filetime) for i in issues]
        sql = "INSERT INTO issues(source, chunk, offset, reason, ts) VALUES (?, ?, ?, ?, ?)"
        try:
            with self.conn:
                self.conn.executemany(sql, rows)
        except (OverflowError, UnicodeEncodeError):  # a reason quoting bad text, a wild offset
            with self.conn:
                self.conn.executemany(sql, storable_postings((s, c, o if o is None or -(1 << 63) <= o < (1 << 63)
                                                              else None, r, t) for s, c, o, r, t in rows))

    def finish_source(self, source_id: int, *, records: int, parse_issues: int, error: str | None) -> None:
        """Record an input's outcome; `complete` says it was read to its end."""
        self.flush_postings()
        with self.conn:
            self.conn.execute(
                "UPDATE sources SET records = ?, parse_issues = ?, error = ?, complete = 1 WHERE id = ?",
                (records, parse_issues, None if error is None else clean_text(error), source_id),
            )

    def build_indexes(self) -> None:
        """Create the secondary indexes (once, after the bulk load) and refresh statistics.
        SQLite may sort for an index on helper threads: let it use the cores. The sorts go to
        files (`sorts_on_disk`): SQLite then fills one buffer instead of allocating each sorted
        record (the 105 MB log's indexes: 0.50-0.54 s instead of 0.59-0.62 s), and a large log's
        sorts are bounded by the page cache instead of held in memory."""
        self.flush_postings()
        self.conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
        with sorts_on_disk(self.conn):
            self.conn.executescript(schema.INDEXES)
        # Full statistics (a sample of the first rows misjudges EventID selectivity, and the
        # planner then sorts hundreds of thousands of rows in memory instead of scanning in
        # time order).
        self.conn.execute("ANALYZE")
        self.conn.commit()
