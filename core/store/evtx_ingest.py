"""EVTX logs straight into the store from the decoder's worker processes.

Shipping decoded rows back to one process and inserting them there cost as much as decoding
them (unmarshalling ~100 MB of rows, then binding every value on one core), so each worker
inserts the rows it decodes through its own connection (WAL: one writer at a time, and a batch
holds the lock for a few milliseconds while the other worker decodes) and sends back only what
the parent needs: how many events, their posting lists (`core.model.rows.postings_text`) and System
strings, the parse issues, and how far into the file the batch reaches. Ids come from the
records' offsets (`core.model.rows.store_id`), so batches may commit in any order and a batch written
again (a worker that died after committing) replaces itself.
"""

from __future__ import annotations

import functools
import gc
import marshal
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from core.model.event import ParseIssue
from core.model.rows import EventRow, PostingsText, postings_text, system_strings
from core.model.storable import TEXT_INTS, storable_rows
from core.store.schema import INSERT_EVENTS
from parsers import evtx

#: Chunks a worker decodes and inserts per task (1 MiB of log, a transaction, a report): larger
#: than the decoder's own groups, so the parent merges posting lists and commits less often.
GROUP_CHUNKS = 16


class StoredBatch(NamedTuple):
    """What a worker reports of a batch it inserted."""

    events: int
    last_id: int  # the highest store id of the batch, -1 when it has no event
    postings: bytes  # marshalled PostingsText
    strings: list[str]  # core.model.rows.system_strings of the batch
    issues: list[ParseIssue]
    end_offset: int

    def posting_lists(self) -> PostingsText:
        lists: PostingsText = marshal.loads(self.postings)
        return lists


#: The worker's connection to the store: (pid that opened it, path, connection). A forked
#: worker never uses a connection of its parent's.
_CONN: list[tuple[int, str, sqlite3.Connection]] = []


def _connection(db_path: str) -> sqlite3.Connection:
    if _CONN and _CONN[0][0] == os.getpid() and _CONN[0][1] == db_path:
        return _CONN[0][2]
    if _CONN and _CONN[0][0] == os.getpid():
        _CONN[0][2].close()
    _CONN.clear()
    conn = _open(db_path)
    _CONN.append((os.getpid(), db_path, conn))
    return conn


def _open(db_path: str) -> sqlite3.Connection:
    # The store is in WAL mode already; a writer waits (up to a minute) for the other's batch.
    conn = sqlite3.connect(db_path, timeout=60.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def _insert(conn: sqlite3.Connection, batch: evtx.EncodedBatch, path: str) -> StoredBatch:
    rows, issues = batch.rows, batch.issues
    if rows:
        try:
            _insert_rows(conn, rows, False)
        except (OverflowError, UnicodeEncodeError):  # a value SQLite cannot bind: core.model.storable
            rows, repairs, text_ints = storable_rows(rows, path)
            _insert_rows(conn, rows, text_ints)
            issues = issues + repairs
    last = rows[-1][0] if rows else -1
    lists = marshal.dumps(postings_text(batch.postings))
    strings = sorted(system_strings(rows))
    return StoredBatch(len(rows), last, lists, strings, issues, batch.end_offset)


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[EventRow], text_ints: bool) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(INSERT_EVENTS, rows)
        if text_ints:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (TEXT_INTS,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def store_range(db_path: str, path: str, source: int, first: int, count: int) -> StoredBatch:
    """Worker task: decode `count` chunks from chunk `first` and insert their events.

    The cyclic garbage collector is paused meanwhile: a batch allocates tens of thousands of
    tuples (all acyclic), and the collections they would trigger cost a twentieth of the time."""
    gc.disable()
    try:
        return _insert(_connection(db_path), evtx.encode_range(path, source, first, count), path)
    finally:
        gc.enable()


def store_range_here(db_path: str, path: str, source: int, first: int, count: int) -> StoredBatch:
    """`store_range` in the parent: through a connection closed at once (workers forked later
    must not inherit an open one)."""
    conn = _open(db_path)
    try:
        return _insert(conn, evtx.encode_range(path, source, first, count), path)
    finally:
        conn.close()


def stored_batches(db_path: str, path: str, source: int, jobs: int | None) -> Iterator[StoredBatch]:
    """Decode and insert the EVTX file `path` as input `source` of the store at `db_path`, in
    file order of the reports (raises InputError as `parsers.evtx.iter_events`)."""
    task = functools.partial(store_range, db_path)
    here = functools.partial(store_range_here, db_path)
    return evtx.map_chunk_groups(path, source, jobs, task, here, GROUP_CHUNKS)
