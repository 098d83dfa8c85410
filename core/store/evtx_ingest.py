"""EVTX logs straight into the store from the decoder's worker processes.

Shipping decoded rows back to one process and inserting them there cost as much as decoding
them (unmarshalling ~100 MB of rows, then binding every value on one core), so each worker
inserts the rows it decodes through its own connection (WAL: one writer at a time, and a batch
holds the lock for a few milliseconds while the other worker decodes), with their posting lists
(one `postings` row per distinct pair of the batch) and System strings in the same transaction,
and sends back only how many events, the parse issues, and how far into the file the batch
reaches. (The parent used to merge and write the lists: 2 us of its CPU per record, on a machine
whose two cores the workers already fill; field filters now also see a batch's events as soon
as its rows are visible.) Ids come from the records' offsets (`core.model.rows.store_id`), so
batches may commit in any order, and a batch written again (a worker that died after
committing) replaces itself, lists included (`_forget_batch`).
"""

from __future__ import annotations

import functools
import gc
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from core.model.event import ParseIssue
from core.model.rows import EventRow, split_repeated, system_strings
from core.model.storable import TEXT_INTS, clean_text, storable_postings, storable_rows, storable_texts
from core.model.values import as_int
from core.store.schema import INSERT_EVENTS, INSERT_POSTINGS, INSERT_REPEATED, INSERT_STRINGS, LIST_FIRST_ID
from parsers import evtx
from parsers.evtx.reference import CHUNK_SIZE

#: Chunks a worker decodes and inserts per task (a transaction, a report): up to 16 MiB of log,
#: since each task writes one posting row per distinct pair it holds (with 1 MiB tasks, the
#: 100 MB log's `postings` had 8 times the rows, its free-text searches took 10 times longer
#: and the lists' indexes 40% more time), yet few enough chunks that every worker gets four
#: tasks or more (`group_chunks`). The first tasks are MIN_GROUP_CHUNKS and double from there,
#: so rows and progress keep coming in while the log starts loading.
GROUP_CHUNKS = 256
MIN_GROUP_CHUNKS = 16


class StoredBatch(NamedTuple):
    """What a worker reports of a batch it inserted."""

    events: int
    last_id: int  # the highest store id of the batch, -1 when it has no event
    issues: list[ParseIssue]
    end_offset: int


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
        pairs, repeated = split_repeated(batch.postings)
        lists = _posting_rows(pairs)
        names = [(clean_text(name),) for name in repeated]
        try:
            _insert_rows(conn, rows, lists, names, False)
        except (OverflowError, UnicodeEncodeError):  # a value SQLite cannot bind: core.model.storable
            rows, repairs, text_ints = storable_rows(rows, path)
            _insert_rows(conn, rows, storable_postings(lists), names, text_ints)
            issues = issues + repairs
    last = rows[-1][0] if rows else -1
    return StoredBatch(len(rows), last, issues, batch.end_offset)


def _posting_rows(
    postings: dict[tuple[str, str], list[int]],
) -> list[tuple[str, str, int | None, int | None, int | None, int, str]]:
    """`postings` rows of a batch (`core.store.schema.postings`, the list's ends and size
    included; `repr` of a list of ints is its JSON array, and the fastest way to write one)."""
    return [(name.lower(), value, as_int(value), ids[0] if ids else None, ids[-1] if ids else None,
             len(text := repr(ids)), text) for (name, value), ids in postings.items()]


def _insert_rows(
    conn: sqlite3.Connection, rows: Sequence[EventRow], lists: Sequence[tuple[object, ...]],
    repeated: Sequence[tuple[str]], text_ints: bool
) -> None:
    """The batch's events, posting lists, repeated names and new System strings, in one
    transaction: a list is never visible without its events, and a batch a stopped load drops
    takes its lists along (a repeated name stays: it only makes a stack count exactly)."""
    strings = [(v,) for v in storable_texts(system_strings(rows))]
    conn.execute("BEGIN IMMEDIATE")
    try:
        _forget_batch(conn, rows[0][0], rows[-1][0])
        conn.executemany(INSERT_EVENTS, rows)
        conn.executemany(INSERT_POSTINGS, lists)
        if repeated:
            conn.executemany(INSERT_REPEATED, repeated)
        conn.executemany(INSERT_STRINGS, strings)
        if text_ints:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (TEXT_INTS,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _forget_batch(conn: sqlite3.Connection, first: int, last: int) -> None:
    """Drop the posting lists of a batch committed before (a worker died after committing, and
    the parent decodes its chunks again): the events replace themselves, lists would double.
    A probe of the rowid, and a scan of `postings` only in that rare case."""
    if conn.execute("SELECT 1 FROM events WHERE id BETWEEN ? AND ? LIMIT 1", (first, last)).fetchone():
        conn.execute(f"DELETE FROM postings WHERE {LIST_FIRST_ID} BETWEEN ? AND ?", (first, last))


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
    return evtx.map_chunk_groups(path, source, jobs, task, here, group_chunks(path, jobs), MIN_GROUP_CHUNKS)


def group_chunks(path: str, jobs: int | None) -> int:
    """Chunks per task for this file: GROUP_CHUNKS, less when the file would not give each
    worker four tasks (a core left idle while the last one finishes)."""
    try:
        chunks = os.path.getsize(path) // CHUNK_SIZE
    except OSError:
        return MIN_GROUP_CHUNKS  # map_chunk_groups reports the error
    workers = evtx.worker_count(jobs)
    return max(MIN_GROUP_CHUNKS, min(GROUP_CHUNKS, chunks // (workers * 4)))
