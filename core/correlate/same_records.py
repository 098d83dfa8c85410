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
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

_Row = TypeVar("_Row", bound=Sequence[Any])


class SameRecords:
    """Copies (store ids) of earlier model events, and which event each is a copy of."""

    __slots__ = ("_by_first", "_copies", "_firsts", "_sorted")

    def __init__(self) -> None:
        self._copies = array("q")
        self._firsts = array("q")
        self._sorted = True
        self._by_first: dict[int, list[int]] | None = None

    def __len__(self) -> int:
        return len(self._copies)

    def add(self, copy: int, first: int) -> None:
        if self._copies and copy < self._copies[-1]:
            self._sorted = False
        self._copies.append(copy)
        self._firsts.append(first)
        self._by_first = None

    def extend(self, pairs: Iterable[Sequence[int]]) -> None:
        for copy, first in pairs:
            self.add(copy, first)

    def drain(self) -> list[tuple[int, int]]:
        """The (copy, first) pairs noted so far, forgotten here (a reading child hands them on)."""
        pairs = list(zip(self._copies, self._firsts, strict=True))
        if pairs:
            self._copies, self._firsts, self._sorted, self._by_first = array("q"), array("q"), True, None
        return pairs

    def _sort(self) -> None:
        if not self._sorted:
            pairs = sorted(zip(self._copies, self._firsts, strict=True))
            self._copies = array("q", (c for c, _ in pairs))
            self._firsts = array("q", (f for _, f in pairs))
            self._sorted = True

    def first_of(self, store_id: int) -> int | None:
        """The event `store_id` is a copy of, or None (not a copy)."""
        if not self._copies:
            return None
        self._sort()
        at = bisect_left(self._copies, store_id)
        if at < len(self._copies) and self._copies[at] == store_id:
            return self._firsts[at]
        return None

    def copies_of(self, store_id: int) -> list[int]:
        """The copies of the event `store_id`, in store order (empty for most events)."""
        if not self._copies:
            return []
        if self._by_first is None:
            self._sort()
            by_first: dict[int, list[int]] = {}
            for copy, first in zip(self._copies, self._firsts, strict=True):
                by_first.setdefault(first, []).append(copy)
            self._by_first = by_first
        return self._by_first.get(store_id, [])


def _key(row: Sequence[Any], decode: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """What makes two rows of one (time, record id) the same record: EventID, computer, data
    (decoded: two stored blobs of the same pairs may differ in their bytes)."""
    try:
        key = (row[3], row[4].casefold(), decode(row[5]))
        hash(key)
    except (TypeError, ValueError, EOFError):  # data not hashable, or unreadable: never taken for a copy
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
        #: The distinct records of the current (time, record id), made when a second row has it.
        self._group: dict[tuple[Any, ...], int] | None = None

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
                group = {}
                assert first_row is not None
                first_key = _key(first_row, self._decode)
                if first_key is not None:
                    group[first_key] = first_row[0]
            key = _key(row, self._decode)
            first = group.get(key) if key is not None else None
            if first is None:
                if key is not None:
                    group[key] = row[0]
                if kept is not None:
                    kept.append(row)
                continue
            if kept is None:
                kept = list(rows[:i])
            self.found.add(row[0], first)
        self._last, self._first_row, self._group = (last_ts, last_rid), first_row, group
        return rows if kept is None else kept
