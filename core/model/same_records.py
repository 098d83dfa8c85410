"""The same record loaded twice (a log and its shadow copy, two collections of one host that
overlap, a log and its XML or JSON dump): correlated once.

Each copy is a row of the event table (it comes from its own file), but the correlation must
see the record once: fed twice, a 4688 reused its own pid ("pid reused by 4688 record 1"), a
4656 replaced its own handle and the copy of its 4658 closed a handle "opened before the log
begins". A copy is a model event with the same time, record id, EventID, computer (case aside)
and EventData as an earlier one (by store id): the scan drops it (`CopyFilter`) and the model
answers for it as for that first one (`SameRecords`), saying so. Rows come in time order (time,
record id, store id), so exact copies are next to each other: the filter compares a row with the
one before it, and keeps the rows of one (time, record id) only while more than one share them.

The same time, or that time rendered with less precision by another input (`same_time`): a dump
keeps the microseconds, or the milliseconds, of the 100 ns FILETIME, truncated or rounded
(python-evtx's `evtx_dump` goes through a float: up to 2.8 us off; the Rust `evtx` and
Winlogbeat truncate), so the copy's time lies a few microseconds (up to a millisecond) before or
after the record's. Only a copy in another input is taken at another time (within one input
every time has the one precision: the same record there twice has one time), and only when one
of the two times is at whole microseconds (milliseconds): where it lost the digits. Such a copy
is not next to its record in time order (other records lie between): the filter keeps the
records of the last millisecond by record id while rows come closer than that (a run), which
costs nothing where they come further apart, and keeps the first input's record (the lower
store id) where both fall in one batch, as for an exact copy. Record ids are unique in a
channel of a host, and the data must be the same: taking another record for a copy would need
one of the same record id, EventID, computer and data in another input within a millisecond.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any, Final, TypeVar

from core.model.rows import ID_SHIFT

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


#: How far apart (100 ns ticks) two renderings of one time may lie when one of them is at whole
#: microseconds: python-evtx computes `float(ticks) * 1e-7` and rounds to the microsecond, up to
#: 2.8 us off for dates before 2145 (measured on the samples: -2.7 .. +1.5 us); a truncated
#: microsecond is up to 0.9 us early. Two such renderings: 3.7 us at most.
US_WITHIN: Final = 40
#: The same when one of them is at whole milliseconds (truncated or rounded; against a
#: microsecond rendering, that one's error too).
MS_WITHIN: Final = 10_000 + US_WITHIN
US_TICKS: Final = 10
MS_TICKS: Final = 10_000


def same_time(a: int | None, b: int | None) -> bool:
    """Whether `a` and `b` may be one record's time as two inputs rendered it: equal, or apart
    by less than the digits one of them lost (it is at whole microseconds or milliseconds)."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    d = a - b if a > b else b - a
    if d <= US_WITHIN:
        return not a % US_TICKS or not b % US_TICKS
    return d <= MS_WITHIN and (not a % MS_TICKS or not b % MS_TICKS)


class RecordKey(tuple[Any, ...]):
    """`record_key`'s key: equal to another when all but the times are equal and the times are
    `same_time` (a copy in a dump that kept fewer digits of the time); its hash leaves the time
    out. (Equality within a tolerance is not transitive: only records of one record id, EventID,
    computer, channel and data ever compare, and those are copies of one record.)"""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash((self[0], self[1], self[3], self[4], self[5]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordKey):
            return NotImplemented
        return (self[0] == other[0] and self[1] == other[1] and self[3] == other[3] and self[4] == other[4]
                and self[5] == other[5] and same_time(self[2], other[2]))

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal


def record_key(computer: str, channel: str, ts: int | None, record_id: int | None, event_id: int,
               data: Any) -> tuple[Any, ...]:
    """What makes two events the same record, as a set's key (for readers that do not come in
    time order, e.g. the findings' matched events): the data stands as its hash (an object that
    has none, as itself: equal to no other); the times need only be `same_time` (`RecordKey`)."""
    try:
        data_key: object = hash(data)
    except TypeError:
        data_key = object()
    return RecordKey((computer.casefold(), channel.casefold(), ts, record_id, event_id, data_key))


#: Distinct records of one (time, record id) remembered: past it (a crafted log of thousands of
#: events at one time and record id) a row is still compared with those, but not remembered.
GROUP_HELD: Final = 1024
#: Records of one record id remembered in a run (`CopyFilter`), and record ids, past which the
#: ones older than `MS_WITHIN` are forgotten (all of them, when most are not older: a crafted
#: crowd in one millisecond is then compared with fewer, never with more).
NEAR_HELD: Final = 64
NEAR_IDS: Final = 4096


class _Group:
    """The distinct records of one (time, record id): by their data as stored, and (made when a
    row's stored data matches none) as decoded (two stored blobs of the same pairs may differ
    in their bytes). Each row is decoded at most once. Each is kept with the store id it stands
    for: its own, or (a copy in another input at another time) its first copy's."""

    __slots__ = ("decoded", "held", "raw", "rows")

    def __init__(self, row: Sequence[Any], answer: int) -> None:
        self.rows: list[tuple[Sequence[Any], int]] = [(row, answer)]
        self.raw: dict[tuple[Any, ...], int] = {}
        self.decoded: dict[tuple[Any, ...], int] | None = None
        #: The keys of the row `first_of` remembered last, for `answered`.
        self.held: tuple[tuple[Any, ...] | None, tuple[Any, ...] | None] | None = None
        _put(self.raw, _raw_key(row), answer)

    def first_of(self, row: Sequence[Any], decode: Callable[[Any], Any]) -> int | None:
        """The record `row` is a copy of, else None (and `row` is one of the group's records)."""
        self.held = None
        raw = _raw_key(row)
        first = self.raw.get(raw) if raw is not None else None
        if first is not None:
            return first
        if self.decoded is None:
            self.decoded = {}
            for seen, answer in self.rows:
                _put(self.decoded, _decoded_key(seen, decode), answer)
        key = _decoded_key(row, decode)
        first = self.decoded.get(key) if key is not None else None
        if first is not None:
            return first
        if len(self.rows) < GROUP_HELD:
            self.rows.append((row, row[0]))
            _put(self.raw, raw, row[0])
            _put(self.decoded, key, row[0])
            self.held = (raw, key)
        return None

    def answered(self, row: Sequence[Any], first: int) -> None:
        """`row`, just taken for one of the group's records, is a copy of `first` (found at
        another time): the group's later copies of it are `first`'s too."""
        if self.held is None:
            return
        raw, key = self.held
        self.rows[-1] = (row, first)
        for keys, k in ((self.raw, raw), (self.decoded, key)):
            if keys is not None and k is not None and keys.get(k) == row[0]:
                keys[k] = first


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


#: A record of the current run (`CopyFilter`): its row, the filter's call it came in (0: none
#: to undo) and its place in that call's rows.
_Seen = tuple[Sequence[Any], int, int]


def _data_same(a: Sequence[Any], b: Sequence[Any], decode: Callable[[Any], Any]) -> bool:
    """Whether two rows hold the same EventData: as stored, else as decoded (unreadable: no)."""
    try:
        if a[5] == b[5]:
            return True
        return bool(decode(a[5]) == decode(b[5]))
    except (TypeError, ValueError, EOFError):
        return False


def _near_copy(seen: list[_Seen], row: Sequence[Any], decode: Callable[[Any], Any]) -> _Seen | None:
    """The record of `seen` (rows of one record id) that `row` is a copy of at another time, from
    another input (`same_time`), else None."""
    ts, source, eid = row[1], row[0] >> ID_SHIFT, row[3]
    host: str | None = None
    for entry in seen:
        other = entry[0]
        if other[1] == ts or other[0] >> ID_SHIFT == source or other[3] != eid or not same_time(ts, other[1]):
            continue
        if host is None:
            host = row[4].casefold()
        if other[4].casefold() == host and _data_same(row, other, decode):
            return entry
    return None


class CopyFilter:
    """Drops the copies from batches of raw rows in time order (`scan_rows.RawRow`: store id,
    time, record id, EventID, computer, data), noting each in `found`; `decode` reads a row's
    data as pairs. Keeps its place across batches (a record and its copy may fall on either
    side of a batch's end).

    Rows of one (time, record id) are compared as they come (`_Group`); a run of rows each
    closer than `MS_WITHIN` to the one before keeps its records by record id (`_near`, made
    when a run's second row comes) for the copies at another time (`same_time`)."""

    __slots__ = ("_batch", "_decode", "_first", "_first_row", "_group", "_last", "_near", "found")

    def __init__(self, found: SameRecords, decode: Callable[[Any], Any]) -> None:
        self.found = found
        self._decode = decode
        self._last: tuple[Any, Any] = (None, None)
        self._first_row: Sequence[Any] | None = None
        #: The store id the first row of the current (time, record id) stands for: -1 for its
        #: own, else its first copy's (a copy at another time).
        self._first = -1
        #: The records of the current (time, record id), made when a second row has it.
        self._group: _Group | None = None
        #: The current run's records: record id -> a record (`_Seen`), or a list of them.
        self._near: dict[int, Any] | None = None
        self._batch = 0

    def __call__(self, rows: Sequence[_Row]) -> Sequence[_Row]:
        """`rows` without their copies (the same sequence when it has none, the usual case)."""
        self._batch = batch = self._batch + 1
        decode = self._decode
        last_ts, last_rid = self._last
        first_row, first, group, near = self._first_row, self._first, self._group, self._near
        #: Where the run's first row is in `rows` (-1: in an earlier call; it is `first_row`
        #: while the run has no `near`).
        start_at = -1
        #: (copy, first) pairs of this call, and its rows dropped; a record whose first copy
        #: came later in this call (a lower store id at a later time) -> that first copy.
        pairs: list[tuple[int, int]] = []
        dropped: set[int] = set()
        moved: dict[int, int] = {}
        for i, row in enumerate(rows):
            ts = row[1]
            rid = row[2]
            if ts == last_ts and rid == last_rid:
                if group is None:
                    assert first_row is not None
                    group = _Group(first_row, first_row[0] if first < 0 else first)
                hit = group.first_of(row, decode)
                if hit is None:  # another record of this (time, record id): one of the run's
                    if near is None:
                        assert first_row is not None
                        near = {first_row[2]: (first_row, batch if start_at >= 0 else 0, start_at)}
                    hit = self._near_hit(near, row, batch, i, pairs, dropped, moved)
                    if hit is None:
                        continue
                    group.answered(row, hit)
                pairs.append((row[0], hit))
                dropped.add(i)
                continue
            try:
                close = ts <= last_ts + MS_WITHIN
            except TypeError:  # no time (or the first row)
                close = False
            last_ts = ts
            last_rid = rid
            if close:
                if near is None:
                    assert first_row is not None
                    near = {first_row[2]: (first_row, batch if start_at >= 0 else 0, start_at)}
                group = None
                first_row = row
                got = near.get(rid)
                if got is None:  # (the usual case: nothing of this record id in the run)
                    near[rid] = (row, batch, i)
                    first = -1
                    if len(near) > NEAR_IDS:
                        _forget(near, ts)
                    continue
                hit = self._near_hit(near, row, batch, i, pairs, dropped, moved)
                if hit is None:
                    first = -1
                    continue
                first = hit
                pairs.append((row[0], hit))
                dropped.add(i)
                continue
            first_row = row
            first = -1
            group = None
            near = None
            start_at = i
        self._last, self._first_row, self._first, self._group, self._near = (
            (last_ts, last_rid), first_row, first, group, near)
        if not pairs:
            return rows
        add = self.found.add
        for copy, first_id in pairs:
            while first_id in moved:
                first_id = moved[first_id]
            add(copy, first_id)
        return [row for i, row in enumerate(rows) if i not in dropped]

    def _near_hit(self, near: dict[int, Any], row: Sequence[Any], batch: int, at: int,
                  pairs: list[tuple[int, int]], dropped: set[int], moved: dict[int, int]) -> int | None:
        """The store id of the record `row` is a copy of at another time (`_near_copy`), else
        None, and `row` is remembered as one of the run's records. A record of this call with a
        higher store id (a later input) that `row` would be a copy of becomes `row`'s copy
        instead (noted in `pairs`, its place in `dropped`, its id in `moved`): the first
        input's record is kept, as for an exact copy, when its time came out later."""
        rid = row[2]
        got = near.get(rid)
        mine: _Seen = (row, batch, at)
        if got is None:
            near[rid] = mine
            return None
        seen: list[_Seen] = got if type(got) is list else [got]
        entry = _near_copy(seen, row, self._decode)
        if entry is None:
            if len(seen) < NEAR_HELD:
                seen.append(mine)
                near[rid] = seen
            return None
        other, in_batch, other_at = entry
        if in_batch != batch or other[0] < row[0] or other_at in dropped:
            return int(other[0])
        pairs.append((other[0], row[0]))
        dropped.add(other_at)
        moved[other[0]] = row[0]
        seen[seen.index(entry)] = mine
        near[rid] = seen if len(seen) > 1 else mine
        return None


def _forget(near: dict[int, Any], ts: int) -> None:
    """Forget the run's records older than `MS_WITHIN` before `ts` (the first ones put in: rows
    come in time order); all of them when most are not (a crafted crowd at one time)."""
    oldest = ts - MS_WITHIN
    stale = []
    for rid, got in near.items():
        if (got[-1] if type(got) is list else got)[0][1] >= oldest:
            break
        stale.append(rid)
    for rid in stale:
        del near[rid]
    if len(near) > NEAR_IDS // 2:
        near.clear()
