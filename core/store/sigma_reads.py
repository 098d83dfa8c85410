"""The Sigma engine's SQL: which events to read, and the matches kept with the store.

Candidates: one statement reads the events any compiled rule can match (the EventIDs its
sources and `EventID:` tests name, or whole channels), by the EventID index when it can; the
engine then dispatches each by (channel, EventID). Matches are cached in `sigma_matches`
(created here, beside the store's own tables) under a key naming the rule set, so that a reopen
shows them at once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from core.model.rows import data_pairs
from core.store.schema import FIELD_IDS
from core.store.store import Store

Candidate = tuple[int, int | None, int, int, str, str, str, tuple[tuple[str, str], ...]]

_TABLE = """
CREATE TABLE IF NOT EXISTS sigma_results (
    key   TEXT PRIMARY KEY,   -- the rule set (files, sizes, times, filters) the result is for
    value BLOB NOT NULL       -- the pickled core.findings.sigma.engine.SigmaResult
)
"""


#: A test on an EventData value, for the posting lists: (field, kind, lower-cased text) with kind
#: eq / start / end / in (`core.findings.sigma.index.Atom`).
FieldTest = tuple[str, str, str]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _postings_ids(tests: Sequence[FieldTest], params: list[Any]) -> str:
    """SQL listing the ids of events holding a value that passes one of `tests` (LIKE is
    case-insensitive for ASCII, which is all the callers pass)."""
    parts = []
    for name, kind, text in tests:
        params.append(name.lower())
        if kind == "eq":
            parts.append("(p.name = ? AND p.value = ? COLLATE NOCASE)")
            params.append(text)
        else:
            pattern = {"start": "{}%", "end": "%{}"}.get(kind, "%{}%").format(_like(text))
            parts.append("(p.name = ? AND p.value LIKE ? ESCAPE '\\')")
            params.append(pattern)
    return FIELD_IDS.format(cond=" OR ".join(parts))


#: Events found by keywords (`keyword_ids`) past which the rules of every channel read every
#: event instead (a set of ids held in memory: ~60 bytes an id).
MAX_KEYWORD_IDS = 1_000_000


def keyword_ids(store: Store, words: Sequence[str]) -> set[int] | None:
    """The events holding a value that contains one of `words` (ASCII, lower-cased: LIKE folds
    ASCII), found through the posting lists: what a keyword rule can match. None when the
    posting lists cannot say (a word that a System value the rule also reads holds: the
    computer, channel or provider (`strings`), or the EventID's digits), or more than
    MAX_KEYWORD_IDS events hold them."""
    if not words or any(not w or not w.isascii() or w.isdigit() for w in words):
        return None
    like = " OR ".join("value LIKE ? ESCAPE '\\'" for _ in words)
    patterns = [f"%{_like(w)}%" for w in words]
    conn = store.conn
    with store.snapshot():
        if conn.execute(f"SELECT 1 FROM strings WHERE {like} LIMIT 1", patterns).fetchone() is not None:
            return None
        rows = conn.execute(f"SELECT DISTINCT j.value FROM postings p, json_each(p.ids) j WHERE "
                            f"{like.replace('value', 'p.value')} LIMIT ?", [*patterns, MAX_KEYWORD_IDS + 1])
        found = {int(r[0]) for r in rows}
    return None if len(found) > MAX_KEYWORD_IDS else found


def _where(event_ids: Sequence[int], channels: Sequence[str], tests: Sequence[FieldTest],
           extra: Collection[int] | None = None) -> tuple[str, list[Any]]:
    """The candidates' condition (`candidates`), or "" for none; the channel `*` (a rule of
    every channel whose values the posting lists cannot answer: keywords) is every event;
    `extra`: events read besides (`keyword_ids`)."""
    if "*" in channels:
        return "1", []
    conds = []
    params: list[Any] = []
    if extra:
        conds.append("e.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(extra)))
    if event_ids:
        conds.append(f"e.event_id IN ({', '.join('?' * len(event_ids))})")
        params.extend(event_ids)
    if channels:
        conds.append(f"e.channel COLLATE NOCASE IN ({', '.join('?' * len(channels))})")
        params.extend(channels)
    if tests:
        conds.append(f"e.id IN ({_postings_ids(tests, params)})")
    return " OR ".join(conds), params


def count_candidates(
    store: Store, event_ids: Sequence[int], channels: Sequence[str], tests: Sequence[FieldTest] = (),
    extra: Collection[int] | None = None,
) -> int:
    """How many events `candidates` yields (a progress total: the EventID index answers most)."""
    where, params = _where(event_ids, channels, tests, extra)
    if not where:
        return 0
    return int(store.conn.execute(f"SELECT count(*) FROM events e WHERE {where}", params).fetchone()[0])


def candidates(
    store: Store, event_ids: Sequence[int], channels: Sequence[str], tests: Sequence[FieldTest] = (),
    extra: Collection[int] | None = None,
) -> Iterator[Candidate]:
    """(id, ts, record_id, event_id, channel, provider, computer, EventData pairs) of every
    event whose EventID is listed, whose channel is (case-insensitive), that holds a value
    passing one of `tests` (found through the posting lists), or whose id is in `extra`, in id
    order."""
    where, params = _where(event_ids, channels, tests, extra)
    if not where:
        return
    cur = store.conn.execute(
        "SELECT e.id, e.ts, e.record_id, e.event_id, e.channel, e.provider, e.computer, e.data FROM events e "
        f"WHERE {where} ORDER BY e.id",
        params,
    )
    while rows := cur.fetchmany(2000):
        for sid, ts, record_id, event_id, channel, provider, computer, data in rows:
            pairs = data_pairs(data)  # (ValueError for a damaged blob, as core.model.rows.decode_row)
            yield sid, ts, record_id, event_id, channel, provider, computer, pairs


def load_result(store: Store, key: str) -> bytes | None:
    """The cached result for `key`, or None."""
    try:
        row = store.conn.execute("SELECT value FROM sigma_results WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # no table yet (or a read-only store made before it)
        return None
    return None if row is None else bytes(row[0])


def save_result(store: Store, key: str, value: bytes) -> bool:
    """Keep a result with the store (False: the store is read-only or busy; not fatal)."""
    try:
        with store.conn:
            store.conn.execute(_TABLE)
            store.conn.execute("INSERT OR REPLACE INTO sigma_results(key, value) VALUES (?, ?)", (key, value))
    except sqlite3.OperationalError:
        return False
    return True


def result_key(parts: Sequence[object]) -> str:
    """A short key for a rule set (its files' names, sizes and times can fill 300 KB)."""
    return hashlib.sha256(json.dumps(list(parts), default=str).encode()).hexdigest()
