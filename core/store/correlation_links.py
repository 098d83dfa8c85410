"""The links of the correlation tables (`corr_link`, their reasons in `corr_reason`): every link
of every correlated event (store id -> role, instance kind and index, confidence, reason).

They are the biggest of the tables (24 million rows at ten million events, as long to write as
every view together), and a reopen needs them only for what the views do not store (a list
line beyond the stored trees), so the app's writer stores them last, under a tag of their own
(`links_ready`), after the instances and the views (`core.store.correlation_tables`). A link's
role, kind and confidence are stored as their place among the words they usually take (`ROLES`,
`KINDS`, `CONFIDENCES`; one byte, none for the first two, where the words took 20-30 bytes a
row), any other word as itself. Only this module writes their SQL.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from core.store.correlation_tables import CHUNK, CORRELATION_FORMAT, LINKS_KEY, ready, refused
from core.store.disk_sorts import sorts_on_disk
from core.store.gc_pause import gc_paused
from core.store.store import Store

#: Distinct link reasons remembered while the links are written (`_write_links`).
REASONS_KEPT = 1 << 15
#: The words of a link's role, kind and confidence, stored as their place here (the commonest
#: first). Only appended to: a store written before a word was added reads it back as itself.
ROLES: Final = ("source process", "source handle", "session", "target process", "target handle")
KINDS: Final = ("process", "handle", "session")
CONFIDENCES: Final = ("exact", "inferred", "ambiguous", "missing")
_ROLE_CODES: Final = {word: n for n, word in enumerate(ROLES)}
_KIND_CODES: Final = {word: n for n, word in enumerate(KINDS)}
_CONFIDENCE_CODES: Final = {word: n for n, word in enumerate(CONFIDENCES)}
#: Made once every link is in (a sort of millions of rows, where keeping it up was a random insert each).
_LINK_INDEX = "CREATE INDEX IF NOT EXISTS corr_link_event ON corr_link(store_id)"


def links_ready(store: Store) -> bool:
    """Whether `store` holds every link (`links_of`) over instances of the current format."""
    try:
        return ready(store) and store.get_meta(LINKS_KEY) == str(CORRELATION_FORMAT)
    except sqlite3.Error:
        return False


def write_links(store: Store, links: Iterable[tuple[int, str, str, int | None, str, str]]) -> bool:
    """Replace the links of `store`'s instance tables (`ready`) by `links`, then index them and
    tag them (`links_ready`) in the last transaction. False when the database refuses or holds
    no instance tables of the current format."""
    conn = store.conn
    try:
        if not ready(store):
            return False
        _clear(conn)
        _write_links(conn, links)
        _finish(conn)
    except sqlite3.Error:
        return refused(conn)
    return True


def _clear(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM meta WHERE key = ?", (LINKS_KEY,))
    conn.execute("DROP INDEX IF EXISTS corr_link_event")
    conn.execute("DELETE FROM corr_link")
    conn.execute("DELETE FROM corr_reason")
    conn.commit()


def _finish(conn: sqlite3.Connection) -> None:
    with sorts_on_disk(conn):  # a sort of millions of rows
        conn.execute(_LINK_INDEX)
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (LINKS_KEY, str(CORRELATION_FORMAT)))
    conn.commit()


def _write_links(conn: sqlite3.Connection, links: Iterable[tuple[int, str, str, int | None, str, str]]) -> None:
    """Links with their reasons deduplicated (most repeat: one per instance or per session),
    among the last REASONS_KEPT distinct ones: every instance has reasons of its own (its
    record numbers), so a dict of them all grew with the log (50 MB at a million events); a
    reason seen again after that is stored again, under another id. CHUNK links per
    transaction, the chunk's new reasons in one statement before them (one statement per new
    reason was 370,000 statements at a million events). Each chunk is made (the links are
    generated as they are read) and written with the cyclic collector paused (`gc_paused`): its
    rows are plain tuples, freed as it goes, yet the collector walked them every few hundred
    made, a quarter of the tables' CPU time at a million events; it runs between chunks."""
    reasons: dict[str, int] = {}
    last = 0
    it = iter(links)
    while True:
        with gc_paused():
            chunk = list(itertools.islice(it, CHUNK))
            if not chunk:
                return
            new: list[tuple[int, str]] = []
            rows: list[tuple[int, int | str, int | str, int | None, int | str, int]] = []
            store_ids, roles, kinds, instances, confidences, texts = zip(*chunk, strict=True)
            # Each word as its code (itself where it has none), at C speed.
            roles = tuple(map(_ROLE_CODES.get, roles, roles))
            kinds = tuple(map(_KIND_CODES.get, kinds, kinds))
            confidences = tuple(map(_CONFIDENCE_CODES.get, confidences, confidences))
            unseen = [text for text in dict.fromkeys(texts) if text not in reasons]
            if len(reasons) + len(unseen) <= REASONS_KEPT:
                # No reason forgotten in this chunk: the new ones numbered in order of first use,
                # as one by one, and every link's looked up at C speed.
                new = list(zip(range(last + 1, last + 1 + len(unseen)), unseen, strict=True))
                last += len(unseen)
                reasons.update((text, rid) for rid, text in new)
                rows = list(zip(store_ids, roles, kinds, instances, confidences, map(reasons.__getitem__, texts),
                                strict=True))
            else:
                for store_id, role, kind, instance, confidence, reason in zip(
                        store_ids, roles, kinds, instances, confidences, texts, strict=True):
                    rid = reasons.get(reason)
                    if rid is None:
                        if len(reasons) >= REASONS_KEPT:
                            reasons.clear()
                        last += 1
                        rid = reasons[reason] = last
                        new.append((rid, reason))
                    rows.append((store_id, role, kind, instance, confidence, rid))
            del chunk
            conn.executemany("INSERT INTO corr_reason(id, text) VALUES (?, ?)", new)
            conn.executemany("INSERT INTO corr_link(store_id, role, kind, instance, confidence, reason)"
                             " VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.commit()
            # Before the collector is back: it would walk the chunk's rows once more.
            del new, rows, store_ids, roles, kinds, instances, confidences, texts, unseen


def _word(stored: object, words: Sequence[str]) -> str:
    """A stored role, kind or confidence as its word (a code out of `words` as its number)."""
    if isinstance(stored, int) and 0 <= stored < len(words):
        return words[stored]
    return str(stored)


def links_of(store: Store, store_id: int) -> list[tuple[str, str, int | None, str, str]]:
    """The links of one event: (role, kind, instance, confidence, reason)."""
    cur = store.conn.execute(
        "SELECT l.role, l.kind, l.instance, l.confidence, r.text FROM corr_link l"
        " LEFT JOIN corr_reason r ON r.id = l.reason WHERE l.store_id = ? ORDER BY l.rowid",
        (store_id,),
    )
    return [(_word(role, ROLES), _word(kind, KINDS), instance, _word(confidence, CONFIDENCES), reason)
            for role, kind, instance, confidence, reason in cur]
