"""The same record loaded twice (a log and its shadow copy, two collections of one host that
overlap): correlated once.

Each copy is a row of the event table (it comes from its own file), but the correlation must
see the record once: fed twice, a 4688 reused its own pid ("pid reused by 4688 record 1"), a
4656 replaced its own handle and the copy of its 4658 closed a handle "opened before the log
begins". A copy is a model event with the same time, record id, EventID, computer (case aside)
and EventData as an earlier one (by store id): the scan drops it (`CopyFilter`) and the model
answers for it as for that first one (`SameRecords`), saying so. Rows come in time order (time,
record id, store id), so copies are next to each other: the filter compares a row with the
one before it, and keeps the rows of one (time, record id) only while more than one share them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any, Final, TypeVar

_Row = TypeVar("_Row", bound=Sequence[Any])


class SameRecords:
    """Copies (store ids) of earlier model events, and which event each is a copy of: two
    arrays (16 bytes a copy), sorted by `seal` for the look-ups (copies are found in time order,
    which is usually their store order already: then nothing is sorted)."""

    __slots__ = ("_copies", "_firsts", "_order", "_sealed")

    def __init__(self) -> None:
        self._copies = array("q")
        self._firsts = array("q")
        #: Positions in the order of `_firsts` (None: `_firsts` is in order itself).
        self._order: array[int] | None = None
        self._sealed = True

    def __len__(self) -> int:
        return len(self._copies)

    def add(self, copy: int, first: int) -> None:
        self._copies.append(copy)
        self._firsts.append(first)
        self._sealed = False

    def extend(self, pairs: Iterable[Sequence[int]]) -> None:
        for copy, first in pairs:
            self.add(copy, first)

    def drain(self) -> list[tuple[int, int]]:
        """The (copy, first) pairs noted so far, forgotten here (a reading child hands them on)."""
        pairs = list(zip(self._copies, self._firsts, strict=True))
        if pairs:
            self._copies, self._firsts, self._order, self._sealed = array("q"), array("q"), None, True
        return pairs

    def seal(self) -> None:
        """Sort for the look-ups: once every copy is noted, before threads read (the model is shared)."""
        if self._sealed:
            return
        copies, firsts = self._copies, self._firsts
        if not _ascending(copies):
            by_copy = sorted(range(len(copies)), key=copies.__getitem__)
            self._copies = array("q", (copies[i] for i in by_copy))
            self._firsts = firsts = array("q", (firsts[i] for i in by_copy))
        self._order = None if _ascending(firsts) else array("q", sorted(range(len(firsts)), key=firsts.__getitem__))
        self._sealed = True

    def first_of(self, store_id: int) -> int | None:
        """The event `store_id` is a copy of, or None (not a copy)."""
        if not self._copies:
            return None
        self.seal()
        at = bisect_left(self._copies, store_id)
        if at < len(self._copies) and self._copies[at] == store_id:
            return self._firsts[at]
        return None

    def copies_of(self, store_id: int) -> list[int]:
        """The copies of the event `store_id`, in store order (empty for most events)."""
        if not self._copies:
            return []
        self.seal()
        firsts, order = self._firsts, self._order
        if order is None:
            return list(self._copies[bisect_left(firsts, store_id):bisect_right(firsts, store_id)])
        lo = bisect_left(order, store_id, key=firsts.__getitem__)
        hi = bisect_right(order, store_id, key=firsts.__getitem__)
        return sorted(self._copies[i] for i in order[lo:hi])


def _ascending(values: array[int]) -> bool:
    return all(a <= b for a, b in pairwise(values))


def record_key(computer: str, channel: str, ts: int | None, record_id: int | None, event_id: int,
               data: Any) -> tuple[Any, ...]:
    """What makes two events the same record, as a set's key (for readers that do not come in
    time order, e.g. the findings' matched events): the data stands as its hash (an object that
    has none, as itself: equal to no other)."""
    try:
        data_key: object = hash(data)
    except TypeError:
        data_key = object()
    return (computer.casefold(), channel.casefold(), ts, record_id, event_id, data_key)


#: Distinct records of one (time, record id) remembered: past it (a crafted log of thousands of
#: events at one time and record id) a row is still compared with those, but not remembered.
GROUP_HELD: Final = 1024


class _Group:
    """The distinct records of one (time, record id): by their data as stored, and (made when a
    row's stored data matches none) as decoded (two stored blobs of the same pairs may differ
    in their bytes). Each row is decoded at most once."""

    __slots__ = ("decoded", "raw", "rows")

    def __init__(self, row: Sequence[Any]) -> None:
        self.rows = [row]
        self.raw: dict[tuple[Any, ...], int] = {}
        self.decoded: dict[tuple[Any, ...], int] | None = None
        _put(self.raw, _raw_key(row), row[0])

    def first_of(self, row: Sequence[Any], decode: Callable[[Any], Any]) -> int | None:
        """The record `row` is a copy of, else None (and `row` is one of the group's records)."""
        raw = _raw_key(row)
        first = self.raw.get(raw) if raw is not None else None
        if first is not None:
            return first
        if self.decoded is None:
            self.decoded = {}
            for seen in self.rows:
                _put(self.decoded, _decoded_key(seen, decode), seen[0])
        key = _decoded_key(row, decode)
        first = self.decoded.get(key) if key is not None else None
        if first is not None:
            return first
        if len(self.rows) < GROUP_HELD:
            self.rows.append(row)
            _put(self.raw, raw, row[0])
            _put(self.decoded, key, row[0])
        return None


def _put(keys: dict[tuple[Any, ...], int], key: tuple[Any, ...] | None, store_id: int) -> None:
    if key is not None:
        keys.setdefault(key, store_id)


def _raw_key(row: Sequence[Any]) -> tuple[Any, ...] | None:
    """What makes two rows of one (time, record id) the same record: EventID, computer, data."""
    key = (row[3], row[4].casefold(), row[5])
    try:
        hash(key)
    except TypeError:  # data not hashable: never taken for a copy
        return None
    return key


def _decoded_key(row: Sequence[Any], decode: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    try:
        key = (row[3], row[4].casefold(), decode(row[5]))
        hash(key)
    except (TypeError, ValueError, EOFError):  # not hashable, or unreadable: never taken for a copy
        return None
    return key


class CopyFilter:
    """Drops the copies from batches of raw rows in time order (`scan_rows.RawRow`: store id,
    time, record id, EventID, computer, data), noting each in `found`; `decode` reads a row's
    data as pairs. Keeps its place across batches (a record and its copy may fall on either
    side of a batch's end)."""

    __slots__ = ("_decode", "_first_row", "_group", "_last", "found")

    def __init__(self, found: SameRecords, decode: Callable[[Any], Any]) -> None:
        self.found = found
        self._decode = decode
        self._last: tuple[Any, Any] = (object(), object())
        self._first_row: Sequence[Any] | None = None
        #: The records of the current (time, record id), made when a second row has it.
        self._group: _Group | None = None

    def __call__(self, rows: Sequence[_Row]) -> Sequence[_Row]:
        """`rows` without their copies (the same sequence when it has none, the usual case)."""
        last_ts, last_rid = self._last
        first_row, group = self._first_row, self._group
        kept: list[_Row] | None = None
        for i, row in enumerate(rows):
            ts, rid = row[1], row[2]
            if ts != last_ts or rid != last_rid:
                last_ts, last_rid, first_row, group = ts, rid, row, None
                if kept is not None:
                    kept.append(row)
                continue
            if group is None:
                assert first_row is not None
                group = _Group(first_row)
            first = group.first_of(row, self._decode)
            if first is None:
                if kept is not None:
                    kept.append(row)
                continue
            if kept is None:
                kept = list(rows[:i])
            self.found.add(row[0], first)
        self._last, self._first_row, self._group = (last_ts, last_rid), first_row, group
        return rows if kept is None else kept
