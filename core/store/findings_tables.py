"""The built-in findings kept with the store, so that a reopen reads them instead of running the rules.

The rules take some 13 s of CPU over a million events, every time a store is opened. A store
never changes once its inputs are all read (`complete`), so their answer is kept here, in the
store's own database (cached with it, per input file set, `core.store.cache`), under a key
that the findings layer (`core.findings.stored`) derives from what the answer depends on: its
engine's version, the rules' text, and the store's content (`content_key`).

What is kept is opaque here: one blob per key, encoded and checked by `core.findings.stored`.
A few results are kept per store (`KEEP`): the app's rules and a `--rules FILE` of the CLI
do not evict each other. The table is created on the first write (a store made before it
simply has none: nothing is found, the rules run). Only this module writes its SQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

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
    value BLOB NOT NULL         -- the encoded findings
)
"""


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


def load(store: Store, key: str) -> bytes | None:
    """The blob kept under `key`, or None (none kept, no table yet, an unreadable store)."""
    try:
        row = store.conn.execute("SELECT value FROM findings_results WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not isinstance(row[0], bytes):
        return None
    return row[0]


def save(store: Store, key: str, value: bytes) -> bool:
    """Keep `value` under `key` (and only the KEEP latest results). False when the database
    refuses (read-only, locked past BUSY_MS, disk full): not fatal, the rules run next time."""
    conn = store.conn
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    try:
        with conn:
            conn.execute(_TABLE)
            conn.execute("INSERT OR REPLACE INTO findings_results(key, saved, value) VALUES (?, ?, ?)",
                         (key, time.time_ns(), value))
            conn.execute("DELETE FROM findings_results WHERE key NOT IN "
                         "(SELECT key FROM findings_results ORDER BY saved DESC LIMIT ?)", (KEEP,))
    except sqlite3.Error:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return True
