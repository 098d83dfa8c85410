"""Marks along a big view's time order: the rows at a position, and an event's position, found
by walking at most a block of the store instead of counting from an end.

SQLite has no index giving a row's rank in a filtered view, so `OFFSET k` and "how many rows
come before this event" pass every row on the way: on a 1 GB log (1.39M events), jumping to the
middle of a value held by 1.15M events, or placing an event there (a jump from a tree, `n`),
took 0.15-0.35 s; 1.4-2.2 s at 10M events. Marks are the store's events every BLOCK entries of
the time index, each with how many rows of the view come before it. They are made a block at a
time from both ends (`Marks.step`, which the table's fetcher runs while it has nothing else to
do: a whole view costs one walk of the store), kept per connection and view, and cost three
ints each (610 at 10M events).

Marks made from one end follow each other BLOCK store events apart, so a position between two
of them (or between an end and its nearest mark) is a walk of at most BLOCK entries from the
earlier one. Until the marks from the front meet those from the back, the stretch between them
is not covered, and reads there count as before (`page` and `position` answer None).
"""

from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from core.query.order_keys import Key, beyond, key_of, sort_key
from core.store.filter import Filter, Order
from core.store.store import Store, StoredEvent, reads_id_set

#: Store events between two marks: making a mark (a walk of this many index entries, each tested
#: against an id set) took at most 8-13 ms on the 1 GB log and at 10M events.
BLOCK = 16_384
#: Views of fewer rows, and stores of fewer blocks, are counted fast enough without marks.
MIN_ROWS = 10_000
MIN_BLOCKS = 4
#: Rows from an end of a view within which a page is read from that end rather than from a mark:
#: counting them out costs less than the walk from a mark (an EventID view's last page: 5-9 ms
#: from the end, 25-31 ms from the mark before it, at a million events).
NEAR_END = BLOCK // 4
#: Views whose marks a connection keeps (and the whole store's, `_WHOLE`).
KEPT = 4


@dataclass(frozen=True, slots=True)
class Mark:
    """The store event at `key`: `before` rows of the view come before it; `held`: it is one of them."""

    key: Key
    before: int
    held: bool

    @property
    def order(self) -> tuple[bool, int, bool, int, int]:
        return sort_key(self.key)


class Marks:
    """A view's marks (see the module docstring): `front` from the start on, `back` from the end
    back; `total` rows in the view, `last_id` the store's highest id when they were made."""

    def __init__(self, total: int, last_id: int) -> None:
        self.total = total
        self.last_id = last_id
        self.front: list[Mark] = []
        self.back: list[Mark] = []
        self.complete = False
        #: A count disagreed with the others (the store changed under them): never used.
        self.broken = False

    # -- reads -----------------------------------------------------------------------------

    def _segments(self) -> Iterator[tuple[Mark | None, Mark | None]]:
        """Consecutive marks at most BLOCK store events apart (None: the start, as the first;
        the end, as the second)."""
        start: list[Mark | None] = [None, *self.front]
        end: list[Mark | None] = [*reversed(self.back), None]
        for chain in [start + end] if self.complete else [start, end]:
            yield from itertools.pairwise(chain)

    def page(self, store: Store, which: Filter, start: int, limit: int) -> list[StoredEvent] | None:
        """The `limit` rows of the view (`which`: its settled filter) from position `start`, or
        None when the marks do not cover that position yet."""
        if self.broken:
            return None
        for lo, hi in self._segments():
            first = 0 if lo is None else lo.before
            if first <= start < (self.total if hi is None else hi.before):
                parts = [Filter.everything()] if lo is None else beyond(lo.key, True, inclusive=True, bounded=True)
                return _read(store, which, parts, start - first, limit)
        return None

    def position(self, store: Store, which: Filter, ev: StoredEvent) -> int | None:
        """How many rows of the view come before `ev` (one of its rows), or None when the marks
        do not cover its place yet."""
        if self.broken:
            return None
        key = key_of(ev)
        at = sort_key(key)
        for lo, hi in self._segments():
            if (lo is None or lo.order <= at) and (hi is None or at < hi.order):
                if lo is None:
                    return _count_between(store, which, None, key)
                if lo.order == at:
                    return lo.before
                return lo.before + lo.held + _count_between(store, which, lo.key, key)
        return None

    # -- making them -----------------------------------------------------------------------

    def step(self, store: Store, which: Filter) -> bool:
        """Make the next mark, from whichever end has fewer (`which`: the view's settled
        filter); whether more remain to make. A walk of about BLOCK index entries."""
        if self.complete or self.broken:
            return False
        forward = len(self.front) <= len(self.back)
        own, other = (self.front, self.back) if forward else (self.back, self.front)
        prev = own[-1] if own else None
        nearest = other[-1] if other else None
        found = _nth(store, None if prev is None else prev.key, forward, BLOCK)
        if found is None or (nearest is not None and (sort_key(found) >= nearest.order if forward
                                                      else sort_key(found) <= nearest.order)):
            self._join(store, which, *((prev, nearest) if forward else (nearest, prev)))
            return False
        if which.matches_all:  # every event: BLOCK - 1 of them lie between `prev` and `found`
            held, between = True, BLOCK - 1
        else:
            held = store.count(which & Filter.store_ids(found[2])) > 0
            prev_key = None if prev is None else prev.key
            between = _count_between(store, which, *((prev_key, found) if forward else (found, prev_key)))
        if forward:
            before = (0 if prev is None else prev.before + prev.held) + between
        else:
            before = (self.total if prev is None else prev.before) - held - between
        if not 0 <= before <= self.total:
            self.broken = True
            return False
        own.append(Mark(found, before, held))
        return True

    def _join(self, store: Store, which: Filter, lo: Mark | None, hi: Mark | None) -> None:
        """The marks from both ends are at most a block apart (`lo`, `hi`; None: an end): they
        are complete if the rows between them are as many as their counts say."""
        first = 0 if lo is None else lo.before + lo.held
        last = self.total if hi is None else hi.before
        between = _count_between(store, which, None if lo is None else lo.key, None if hi is None else hi.key)
        self.complete = between == last - first
        self.broken = not self.complete


def _walks(which: Filter) -> bool:
    """Whether the marks' reads of `which` walk the time index: a view of id sets (SQLite would
    look up every event of the set and test its time), and every event (the index alone)."""
    return which.matches_all or reads_id_set(which)


def _count_between(store: Store, which: Filter, lo: Key | None, hi: Key | None) -> int:
    """Rows of `which` strictly between `lo` and `hi` in time order (None: no bound)."""
    after = [Filter.everything()] if lo is None else beyond(lo, True, bounded=True)
    before = [Filter.everything()] if hi is None else beyond(hi, False, bounded=True)
    walk = _walks(which)
    return sum(store.count(which & a & b, by_time_index=walk) for a in after for b in before)


def _nth(store: Store, key: Key | None, forward: bool, n: int) -> Key | None:
    """The `n`-th store event after (or before) `key` (None: from the start or the end), by
    walking the time index alone; None when there are fewer."""
    order = Order.TIME if forward else Order.TIME_DESC
    for part in [Filter.everything()] if key is None else beyond(key, forward):
        got = store.select(part, offset=n - 1, limit=1, order=order, by_time_index=True)
        if got:
            return key_of(got[0])
        n -= store.count(part, by_time_index=True, at_most=n)
    return None


def _read(store: Store, which: Filter, parts: list[Filter], offset: int, limit: int) -> list[StoredEvent]:
    """`limit` rows of `which` from `offset` on, read through `parts` (ranges, in order)."""
    rows: list[StoredEvent] = []
    walk = _walks(which)
    for part in parts:
        if len(rows) >= limit:
            break
        got = store.select(which & part, offset=offset, limit=limit - len(rows), order=Order.TIME, by_time_index=walk)
        if offset and not got:
            offset -= store.count(which & part, by_time_index=walk, at_most=offset)
            continue
        offset = 0
        rows += got
    return rows


_KEPT: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[object, ...], Marks]] = weakref.WeakKeyDictionary()


def wanted(store: Store, total: int) -> bool:
    """Whether a time-ordered view of `total` rows is worth marking in this store."""
    return total >= MIN_ROWS and store.size() >= MIN_BLOCKS * BLOCK


#: The key of the view of every event (`Filter.everything()`), whose marks are kept beside the
#: last KEPT views': at 10M events a jump to the middle after clearing a filter walked 5M index
#: entries (0.45 s) until they were made again (3.7 s).
_WHOLE: tuple[object, ...] = (Filter.everything().sql, Filter.everything().params)


def marks_of(store: Store, view: Filter, total: int | None, *, make: bool = False) -> Marks | None:
    """The marks kept on this connection for the time-ordered view of `view` (its filter as the
    user gave it, not settled: id set names change) when they still fit the store and `total`
    (None: not checked); with `make`, new ones (none made yet) if there are none."""
    kept = _KEPT.setdefault(store, OrderedDict())
    key = (view.sql, view.params)
    found = kept.get(key)
    last_id = store.last_id()
    if found is not None and (found.last_id != last_id or (total is not None and found.total != total)):
        del kept[key]
        found = None
    if found is None and make and total is not None:
        found = kept[key] = Marks(total, last_id)
        while len(kept) > KEPT + (_WHOLE in kept):  # the oldest go, but the whole store's (see `_WHOLE`)
            del kept[next(k for k in kept if k != _WHOLE)]
    if found is not None:
        kept.move_to_end(key)
    return found
