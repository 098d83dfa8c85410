"""The first events of a field's posting lists in time order, read before its id set is made.

A view of one EventData term (`name:value`) is counted and paged through an id set
(`Store.id_set`): every id its posting lists hold, inserted in a table once. For a value held by
millions of events that takes long (2.5M ids at 10M events: 0.6-0.8 s, the inserts), and the
table showed no row before it. Its first page needs much less: walking the time index from the
start, a block of events at a time, each block's events that the lists hold are its matches, and
the posting rows that can hold them are the few whose id span (first and last id: a row's list
is ascending, `schema.TABLES`) meets an id of the block. So a block costs the spans of the
value's rows (read once), the block's ids from the index and the expansion of those few rows,
whatever the value's size; a value whose first blocks hold too few matches is left to the id set
(it is small then, and quick to make).
"""

from __future__ import annotations

import json
import time
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

from core.model.storable import bindable
from core.store.filter import Filter, Order
from core.store.schema import FIELD_IDS
from core.store.store import Store

#: The shape of a term read from the posting lists: the condition over the postings row follows.
_FIELD_HEAD: Final = FIELD_IDS.split("{cond}")[0]
#: Events of the time order read in the first block; the blocks grow to LAST_BLOCK events read:
#: a page's events held by less than one event in 256 there (their id set: 40,000 ids of 10M
#: events, ~10 ms to make) are left to the id set.
FIRST_BLOCK: Final = 4_096
LAST_BLOCK: Final = 16_384
#: Posting lists of fewer bytes than this in all (40,000-80,000 ids) make an id set in 10-20
#: ms: such a filter is not read this way (a read that finds too few cost up to ~20 ms more).
SMALL_BYTES: Final = 512 * 1024
#: The spans kept per store (`spans_where`): a few thousand tuples each at most.
KEPT: Final = 8
Span = tuple[int, int, int, int]
_KEPT: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[str, tuple[object, ...]], list[Span]]] = \
    weakref.WeakKeyDictionary()
#: Bytes of posting lists read for one block at most, about 200,000 ids (each list is read
#: whole: the 1 GB bench log, its chunks copied with their times, meets 71 of a common value's
#: 72 rows, 1.15M ids, in its first 4,096 events: 140 ms to read).
BYTES_AT_ONCE: Final = 2_000_000


def field_term(which: Filter) -> bool:
    """Whether `which` is one term read from the posting lists of EventData fields (not free
    text, not an id set)."""
    return which.ids is not None and which.id_table is None and which.ids.startswith(_FIELD_HEAD)


def posting_spans(store: Store, which: Filter) -> list[tuple[int, int, int, int]] | None:
    """`spans_where` of the posting rows of `which`, a one-term field filter, else None (a term
    of another shape)."""
    if which.ids is None or not field_term(which):
        return None
    return spans_where(store, which.ids[len(_FIELD_HEAD):], which.params)


def spans_where(store: Store, cond: str, params: Sequence[object]) -> list[Span]:
    """(rowid, first id, last id, bytes) of each posting row `p` that `cond` (SQL, with
    `params`) keeps: its `lo`, `hi` and `size` columns, stored before the list (so that no list
    is read: the ends of every list of a free-text term held by 5M of 10M events were 66 MB of
    text, 36 ms to read with the store in the page cache, 113 ms from disk). A row without
    ends gets the widest span. Kept per store and highest event id (`KEPT`): a view's first
    page reads them, then its count (the order its terms' sets are made in, `core.query.term_sets`)."""
    kept = _KEPT.setdefault(store, OrderedDict())
    key = (cond, (store.last_id(), *params))
    known = kept.get(key)
    if known is not None:
        kept.move_to_end(key)
        return known
    spans = []
    for rowid, first, last, size in store.conn.execute(
            f"SELECT p.rowid, p.lo, p.hi, p.size FROM postings p WHERE {cond}", bindable(tuple(params))):
        if first is None or last is None:
            first, last = -(1 << 63), (1 << 63) - 1
        spans.append((int(rowid), int(first), int(last), int(size or 0)))
    kept[key] = spans
    while len(kept) > KEPT:
        kept.popitem(last=False)
    return spans


def strings_like(store: Store, pattern: str) -> bool:
    """Whether a computer, channel, provider or user SID of the store is LIKE `pattern` (the
    System half of a free-text term: `core.query.compile.FREE_TEXT_IDS`)."""
    return store.conn.execute("SELECT 1 FROM strings WHERE value LIKE ? ESCAPE '\\' LIMIT 1",
                              (pattern,)).fetchone() is not None


def listed_bytes(spans: Sequence[tuple[int, int, int, int]]) -> int:
    """The bytes of the posting lists `spans` stands for."""
    return sum(span[3] for span in spans)


def rows_meeting(spans: Sequence[tuple[int, int, int, int]], block: Sequence[int]) -> tuple[list[int], int]:
    """The rowids of the spans holding an id of `block` (sorted) between their ends, and the
    bytes of their lists in all."""
    rows, size = [], 0
    for rowid, first, last, length in spans:
        if (at := bisect_left(block, first)) < len(block) and block[at] <= last:
            rows.append(rowid)
            size += length
    return rows, size


def _held(store: Store, rows: Sequence[int], block: Sequence[int]) -> set[int]:
    """The ids of `block` (sorted) that the posting rows `rows` list, in one step of SQLite
    (the table's fetcher thread shares the interpreter with the UI: a row at a time, each step
    waited for the interpreter again)."""
    got = store.conn.execute(
        "SELECT json_group_array(j.value) FROM postings p, json_each(p.ids) j"
        f" WHERE p.rowid IN ({', '.join(map(str, rows))}) AND j.value BETWEEN ? AND ?"
        " AND j.value IN (SELECT value FROM json_each(?))", (block[0], block[-1], json.dumps(block))).fetchone()[0]
    return set(json.loads(got))


def block_ids(store: Store, size: int, skip: int) -> list[int]:
    """The ids of `size` events of the time order after the first `skip`, in one step (`_held`)."""
    got = store.conn.execute(  # (the time index, by the plan SQLite picks: no hint that fails without it)
        f"SELECT json_group_array(id) FROM (SELECT e.id AS id FROM events e ORDER BY {Order.TIME.value}"
        " LIMIT ? OFFSET ?)", (size, skip)).fetchone()[0]
    return [int(i) for i in json.loads(got)]


def matching(store: Store, which: Filter, block: Sequence[int]) -> set[int]:
    """The ids of `block` that `which` keeps, in one step (`_held`)."""
    got = store.conn.execute(
        f"SELECT json_group_array(e.id) FROM events e WHERE e.id IN (SELECT value FROM json_each(?)) AND ({which.sql})",
        (json.dumps(list(block)), *bindable(which.params))).fetchone()[0]
    return set(json.loads(got))


def first_in_time(store: Store, count: int, deadline: float,
                  held: Callable[[list[int]], set[int] | None]) -> list[int] | None:
    """The store ids of the first `count` events in time order that `held` keeps (fewer: all
    it keeps), walking the time index a block at a time: `held(block ids, sorted)` says which
    of a block's events are kept, or None to give up. None also when the events kept are too
    sparse at the start of the time order (their id set is small: the caller makes it) or past
    `deadline` (`time.monotonic`). The caller sets SQLite's own time limit too
    (`core.store.time_limit.within`): one statement can take long."""
    found: list[int] = []
    size, skip = FIRST_BLOCK, 0
    while True:
        block = block_ids(store, size, skip)
        kept = held(sorted(block))
        if kept is None:
            return None
        found += [i for i in block if i in kept]
        if len(found) >= count or len(block) < size:
            return found[:count]
        read = skip + size
        # Too sparse: at this rate a page needs more than LAST_BLOCK events (its id set is small).
        if not found or count * read > LAST_BLOCK * len(found) or time.monotonic() > deadline:
            return None
        skip = read
        size = min(3 * read, LAST_BLOCK - read)


def first_listed(store: Store, which: Filter, count: int, deadline: float) -> list[int] | None:
    """`first_in_time` of a one-term field filter `which`: None also when it is of another
    shape, or when its events at the start of the time order are in posting rows too long
    (`BYTES_AT_ONCE`: a log whose time order is far from its file order)."""
    spans = posting_spans(store, which)
    if not spans:
        return None if spans is None else []
    if listed_bytes(spans) < SMALL_BYTES:
        return None

    def held(block: list[int]) -> set[int] | None:
        rows, size = rows_meeting(spans, block)
        if size > BYTES_AT_ONCE:
            return None
        return _held(store, rows, block) if rows else set()

    return first_in_time(store, count, deadline, held)
