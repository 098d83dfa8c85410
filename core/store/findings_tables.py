"""The built-in findings kept with the store, so that a reopen reads them instead of running the rules.

The rules take some 13 s of CPU over a million events, every time a store is opened. A store
never changes once its inputs are all read (`complete`), so their answer is kept here, in the
store's own database (cached with it, per input file set, `core.store.cache`), under a key
that the findings layer (`core.findings.stored`) derives from what the answer depends on: its
engine's version, the rules' text, and the store's content (`content_key`).

What is kept is opaque here: per key a small blob (`findings_results`) and one row per finding
(`findings_rows`: its encoded value, and the rule, severity and event it belongs to, indexed),
encoded and checked by `core.findings.stored`. The app reads the rows a page at a time
(`core.findings.pages`): at 10M events a store keeps ~200,000 findings, 350 MB as Python objects.
A few results are kept per store (`KEEP`): the app's rules and a `--rules FILE` of the CLI
do not evict each other. The tables are created on the first write (a store made before them
simply has none: nothing is found, the rules run). Only this module writes their SQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator

from core.store.store import Store

#: Results kept per store, the most recently written first.
KEEP = 4
#: How long a write waits for another writer of the store (the correlation tables commit every
#: few thousand rows) before giving up: the findings are shown after it.
BUSY_MS = 1000

_TABLE = """
CREATE TABLE IF NOT EXISTS findings_results (
    key   TEXT PRIMARY KEY,     -- engine version, rules and store content (core.findings.stored)
    saved INTEGER NOT NULL,     -- when it was written (ns), to keep the latest KEEP
    value BLOB NOT NULL         -- the encoded findings (their rows: `findings_rows`)
);
CREATE TABLE IF NOT EXISTS findings_rows (
    result   INTEGER NOT NULL,  -- findings_results.rowid
    seq      INTEGER NOT NULL,  -- the engine's order (0, 1, ...)
    rule     TEXT NOT NULL,
    pos      INTEGER NOT NULL,  -- place in its rule's list as the Findings view shows it (1, 2, ...)
    severity TEXT NOT NULL,
    store_id INTEGER NOT NULL,  -- the flagged event
    value    BLOB NOT NULL      -- the encoded finding
);
CREATE UNIQUE INDEX IF NOT EXISTS findings_rows_seq ON findings_rows(result, seq);
CREATE INDEX IF NOT EXISTS findings_rows_rule ON findings_rows(result, rule, pos);
CREATE INDEX IF NOT EXISTS findings_rows_event ON findings_rows(result, store_id, severity, rule)
"""

#: One finding's row as written: (seq, rule, pos, severity, store_id, encoded value).
Row = tuple[int, str, int, str, int, bytes]


def content_key(store: Store) -> str | None:
    """A digest of what the store holds, or None while it may still change (its inputs not
    all read): its schema, its inputs (path, identity, records, issues, errors) and its first
    and last event ids. A store is written once; an input added or events appended would change
    the inputs' rows or the ids, and with them this key."""
    conn = store.conn
    try:
        if store.get_meta("complete") != "1":
            return None
        ids = conn.execute("SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)").fetchone()
        sources = conn.execute(
            "SELECT id, path, format, identity, records, parse_issues, error, complete FROM sources ORDER BY id"
        ).fetchall()
        version = store.get_meta("schema_version")
    except sqlite3.Error:
        return None
    text = json.dumps([version, list(ids), [list(row) for row in sources]], default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def load(store: Store, key: str) -> tuple[int, bytes] | None:
    """(the result's id, its blob) kept under `key`, or None (none kept, no table yet, an
    unreadable store)."""
    try:
        row = store.conn.execute("SELECT rowid, value FROM findings_results WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not isinstance(row[1], bytes):
        return None
    return int(row[0]), row[1]


#: Rows written per transaction: the app's writer of the correlation tables, which commits
#: every few thousand rows too, never waits long for the findings (200,000 rows at 10M events).
WRITE_CHUNK = 5000


def save(store: Store, key: str, value: bytes, rows: Iterable[Row] = (), busy_ms: int | None = None) -> bool:
    """Keep `value` and `rows` under `key` (and only the KEEP latest results). The rows go
    WRITE_CHUNK per transaction under a result whose blob is empty until the last one (an empty
    blob reads as unreadable: a write cut short makes the rules run again, never a wrong
    answer). False when the database refuses (read-only, locked past `busy_ms` (BUSY_MS), disk
    full): not fatal, the rules run next time."""
    conn = store.conn
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_MS if busy_ms is None else busy_ms)}")
    result: int | None = None
    try:
        with conn:
            for statement in _TABLE.split(";"):
                conn.execute(statement)
            old = conn.execute("SELECT rowid FROM findings_results WHERE key = ?", (key,)).fetchone()
            if old is not None:
                conn.execute("DELETE FROM findings_rows WHERE result = ?", (old[0],))
                conn.execute("DELETE FROM findings_results WHERE rowid = ?", (old[0],))
            result = conn.execute("INSERT INTO findings_results(key, saved, value) VALUES (?, ?, ?)",
                                  (key, time.time_ns(), b"")).lastrowid
        chunk: list[tuple[int, int, str, int, str, int, bytes]] = []
        for row in rows:  # bounded by the findings
            chunk.append((result, *row))  # type: ignore[arg-type]
            if len(chunk) >= WRITE_CHUNK:
                with conn:
                    conn.executemany(_INSERT, chunk)
                chunk.clear()
        with conn:
            conn.executemany(_INSERT, chunk)
            conn.execute("UPDATE findings_results SET value = ? WHERE rowid = ?", (value, result))
            conn.execute("DELETE FROM findings_rows WHERE result NOT IN "
                         "(SELECT rowid FROM findings_results ORDER BY saved DESC LIMIT ?)", (KEEP,))
            conn.execute("DELETE FROM findings_results WHERE key NOT IN "
                         "(SELECT key FROM findings_results ORDER BY saved DESC LIMIT ?)", (KEEP,))
    except sqlite3.Error:
        _drop(conn, result)
        return False
    except BaseException:
        _drop(conn, result)
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return True


_INSERT = ("INSERT INTO findings_rows(result, seq, rule, pos, severity, store_id, value) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")


def _drop(conn: sqlite3.Connection, result: int | None) -> None:
    """Best effort: remove a result whose write stopped part way (else it stays unreadable, and is
    replaced by the next write or pushed out by KEEP)."""
    if result is None:
        return
    try:
        with conn:
            conn.execute("DELETE FROM findings_rows WHERE result = ?", (result,))
            conn.execute("DELETE FROM findings_results WHERE rowid = ?", (result,))
    except sqlite3.Error:
        return


# -- reading the rows (`core.findings.pages`); each raises StoreError -------------------------------


def row_count(store: Store, result: int) -> int:
    return int(store.conn.execute("SELECT count(*) FROM findings_rows WHERE result = ?", (result,)).fetchone()[0])


def rows_after(store: Store, result: int, after: int, limit: int) -> list[tuple[int, str, int, str, int, bytes]]:
    """Up to `limit` rows of `result` whose seq is above `after`, in seq order: (seq, rule, pos,
    severity, store_id, value)."""
    return store.conn.execute(
        "SELECT seq, rule, pos, severity, store_id, value FROM findings_rows WHERE result = ? AND seq > ? "
        "ORDER BY seq LIMIT ?", (result, after, limit)).fetchall()


def iter_rows(store: Store, result: int, chunk: int) -> Iterator[tuple[int, str, int, str, int, bytes]]:
    """Every row of `result` in seq order, `chunk` at a time (bounded by the rows' count)."""
    after = -1
    while True:
        rows = rows_after(store, result, after, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1][0]


def value_at(store: Store, result: int, seq: int) -> bytes | None:
    row = store.conn.execute("SELECT value FROM findings_rows WHERE result = ? AND seq = ?", (result, seq)).fetchone()
    return None if row is None else row[0]


def rule_counts(store: Store, result: int) -> list[tuple[str, int, str]]:
    """(rule, how many findings, the severity of its first) per rule of `result` (SQL aggregates
    over the rule index: no finding read)."""
    rows = store.conn.execute("SELECT rule, count(*), severity, min(seq) FROM findings_rows WHERE result = ? "
                              "GROUP BY rule", (result,)).fetchall()
    return [(str(rule), int(n), str(severity)) for rule, n, severity, _ in rows]


def rule_page(store: Store, result: int, rule: str, after: int, limit: int) -> list[tuple[int, bytes]]:
    """(pos, value) of up to `limit` findings of `rule` after place `after`, in the view's order."""
    return store.conn.execute("SELECT pos, value FROM findings_rows WHERE result = ? AND rule = ? AND pos > ? "
                              "ORDER BY pos LIMIT ?", (result, rule, after, limit)).fetchall()


def event_values(store: Store, result: int, store_id: int) -> list[bytes]:
    """The values of the findings of one event, in seq order."""
    rows = store.conn.execute("SELECT seq, value FROM findings_rows WHERE result = ? AND store_id = ?",
                              (result, store_id)).fetchall()
    return [value for _, value in sorted(rows)]


def event_severities(store: Store, result: int) -> Iterator[tuple[int, str, str]]:
    """(store id, severity, rule) of every finding of `result`, by store id (the event index
    covers it: no value read)."""
    return iter(store.conn.execute("SELECT store_id, severity, rule FROM findings_rows WHERE result = ? "
                                   "ORDER BY store_id", (result,)))
