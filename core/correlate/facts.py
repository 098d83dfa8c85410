"""What the scan learnt about each model event, held in columns instead of one object per event.

A model keeps, for every event it was built from, the instances that event named
(`core.correlate.scan.Facts`). Held as objects, that was a `Facts` (212 bytes), its `Ref` (80),
the boxed ints of both (store id, time, record id, order, pids, logon id: ~30 bytes each) and a
fresh user string per event: ~0.5 KB per event, the bulk of a model of a million events
(~0.9 GB). `FactsTable` keeps the same numbers in a few `array`s, one row per event in scan
order: 6 int slots of 64 bits and 8 of 32 (80 bytes), a computer and a user index (8), once
sessions are known a session index (4), and its place in the store-id index (4). A `Facts`
(with its `Ref`) is made again on demand, equal field for field to the one the scan filled, so
that every answer the model gives from it is unchanged; writing the tables reads `rows` of the
columns instead (`core.correlate.persist.links`).

Ints are stored unboxed. None is one reserved value (the slot type's lowest); a real value equal
to it, or one that does not fit (a store id kept as text, a pid beyond 32 bits), goes to a side
dict, so that every value comes back exactly. Strings that repeat (computer, user) are kept
once and referred to by index; the rare notes and untimed events are side dicts. Tried and
dropped: one `extend` per event as the scan went (a Python call per field: +40% on the build's
CPU time); events are packed a batch at a time with `itemgetter` and `map` instead, at C speed.
The scan hands each event over as one plain tuple (`ROW_FIELDS`: `add_row`), not a `Facts`: making
a `Facts` and its `Ref` per event, only to read them back, was a fifth of the build. Under a
`frame` (`core.correlate.fact_frames`: the slots a batch's rows give alone, packed by the reading
child) it hands over only its own part of a handle event (`_OWN`), packed into the frame by stride.

The int columns are not on the Python heap: each is a side file read through `mmap` with the
same layout (`core.correlate.disk_array`: page cache, 0.8 GB at ten million events), and a pass
over every event gives its pages back as it goes (`release`), so that the RSS holds what is read.

(About 790 lines: the columns, their packing (whole rows, or a frame and the scan's part) and the
`Facts` made back from them must agree slot for slot, so they sit together.)
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import attrgetter, eq, is_, is_not, itemgetter, le, ne
from typing import Any, Final, cast

from core.correlate import source_groups
from core.correlate.columns import Columns, Index
from core.correlate.disk_array import DiskArray, keep_paged, on_disk, touched
from core.correlate.fact_frames import NARROW, SOURCE_HANDLE, SOURCE_PROC, WIDE, FrameInts, aside_between
from core.correlate.fact_notes import FactNotes
from core.correlate.processes import Ref
from core.correlate.session_choices import Choices
from core.correlate.sessions import SessionChoice
from core.model.slots import slot_maker
from core.store.child_process import ChildFailed, cores

#: `FactsTable.assign_session_spans`' chooser: (host, computer, logon id, key, user, EventID) ->
#: (the session answer, the key up to which it holds for the next such events, None: ask again).
SpanChooser = Callable[[str, str, int, tuple[int, int], str | None, int],
                       tuple["SessionChoice | None", "tuple[int, int] | None"]]


@dataclass(slots=True)
class Facts:
    """What the scan learnt about one event: the instances (tracker indexes) its fields named."""

    ref: Ref
    host: str
    computer: str
    source_pid: int | None = None
    source_proc: int | None = None
    source_note: str | None = None
    target_pid: int | None = None
    target_proc: int | None = None
    target_note: str | None = None
    source_hid: int | None = None
    source_handle: int | None = None
    target_hid: int | None = None
    target_handle: int | None = None
    logon_id: int | None = None
    user: str | None = None
    session: SessionChoice | None = None


@dataclass(slots=True)
class SysmonFacts(Facts):
    """What the scan learnt about a Sysmon event: besides its instances, how sure each link
    is when it is weaker than the instance itself (matched by pid, not by GUID)."""

    source_confidence: str | None = None
    target_confidence: str | None = None


#: The value of a 64-bit slot holding None (or a value kept in the side dict).
NONE: Final = -(1 << 63)
_MAX: Final = (1 << 63) - 1

#: The int fields of a `Facts`, one slot each per event: those that can need 64 bits (store id,
#: times, handle values, logon ids), and those that fit 32 bits in any real log (EventID, scan
#: order, pids, instance indexes), which take half the room; a value that does not fit is kept
#: aside, exactly. The `Ref`'s fields come first: `FactsTable.ref` reads them as one slice.
_WIDE_INTS: Final = ("ref.store_id", "ref.record_id", "ref.ts", "source_hid", "target_hid", "logon_id")
_NARROW_INTS: Final = ("ref.event_id", "ref.order", "source_pid", "source_proc", "target_pid", "target_proc",
                       "source_handle", "target_handle")
#: An event as the scan hands it over (`FactsTable.add_row`): the wide ints, the narrow ints, then
#: host, computer, user, source note, target note and logged time (None: none; the scan passes
#: the very `ts` object when the event has its own time).
ROW_FIELDS: Final = (*_WIDE_INTS, *_NARROW_INTS, "host", "computer", "user", "source_note", "target_note",
                     "ref.filetime")
#: A `Facts` as a row (`FactsTable.add`).
row_of: Final = attrgetter(*ROW_FIELDS)
_HOST, _COMPUTER, _USER, _SOURCE_NOTE, _TARGET_NOTE, _FILETIME = range(len(_WIDE_INTS) + len(_NARROW_INTS),
                                                                       len(ROW_FIELDS))
_TS: Final = 2


_INT32_MAX: Final = (1 << 31) - 1
#: Events per column chunk read by `FactsTable.rows`.
ROWS_CHUNK: Final = 1 << 14
#: Answers `FactsTable.assign_session_spans` keeps before it drops those run out.
SPANS_KEPT: Final = 1 << 14
#: Positions read at once by `FactsTable.runs_forward`.
ORDER_CHUNK: Final = 1 << 12
#: Positions looked up at random at once (`FactsTable.keys`), each chunk counted toward the
#: give-back of the pages read (`disk_array.touched`: each maps up to 64 KB of each column read).
LOOKUPS_CHUNK: Final = 1 << 7
#: Reads of single positions in either of the two stretches of 2**NEAR_BITS events read last are
#: not counted as at random: the tables' writer reads a handle's opening and closing events, each
#: in order (a million counted reads made the writer 14% slower at a million events).
NEAR_BITS: Final = 10
_host_of = itemgetter(_HOST)
_user_of = itemgetter(_USER)
_notes_of = itemgetter(_SOURCE_NOTE, _TARGET_NOTE)
_source_note_of = itemgetter(_SOURCE_NOTE)
_target_note_of = itemgetter(_TARGET_NOTE)
_filetime_of = itemgetter(_FILETIME)
#: A row given whole as the scan's own part of it (`FactsTable.frame`): source process, source
#: handle, source note, host, computer, user, logged time.
_OWN: Final = itemgetter(ROW_FIELDS.index("source_proc"), ROW_FIELDS.index("source_handle"), _SOURCE_NOTE, _HOST,
                         _COMPUTER, _USER, _FILETIME)
_computer_of = itemgetter(_COMPUTER)
_ts_of = itemgetter(_TS)
#: Rows packed at once.
BATCH: Final = 4096

#: Store ids are indexed by sorting blocks of this many events (each block's sort makes
#: temporary Python ints: ~20 MB at this size) instead of all of them at once.
INDEX_BLOCK: Final = 1 << 18

_NO_NOTES: Final = (None, None)



#: `Ref(*fields)` without the frozen dataclass' `__init__`: the tables' write makes one per event again.
make_ref: Callable[[int, int | None, int, int | None, int, int], Ref] = slot_maker(Ref)


#: What the links of one event are made from (`FactsTable.rows`): its position, store id,
#: EventID, source pid, instance and note, target pid, instance and note, and session.
Row = tuple[int, int, int, int | None, int | None, str | None, int | None, int | None, str | None,
            SessionChoice | None]


def _slot(slots: array[int], aside: dict[int, int], at: int, none: int) -> int | None:
    value = slots[at]
    return aside.get(at) if value == none else value


def _raw(columns: Columns, name: str, lo: int, hi: int) -> Sequence[int | None]:
    """`columns.column(name, lo, hi)`, its slots as they are when none is None or kept aside
    (mapping each slot was a tenth of the session spans' time)."""
    if not columns.aside:
        part = columns.slots[lo * columns.stride + columns.index[name]:hi * columns.stride:columns.stride]
        if not part or min(part) != columns.none:
            return part
    return columns.column(name, lo, hi)


class FactsTable:
    """Every model event's `Facts`, in scan order, findable by store id (`get`)."""

    def __init__(self, directory: str | None = None) -> None:
        #: Where the side files of the int columns go (`core.correlate.disk_array`; None: temp dir).
        self.directory = directory
        self._wide = Columns("q", _WIDE_INTS, 0, directory)
        self._narrow = Columns("i", _NARROW_INTS, len(_WIDE_INTS), directory)
        #: (host, computer) and user of each event, as indexes of distinct values (views of `_disks`).
        self._disks = {name: DiskArray("i", directory) for name in ("place", "user")}
        self._place: memoryview[int] | array[int] = self._disks["place"].view
        self._hosts: Index[str] = Index()
        self._computers: dict[str, str] = {}
        self._user: memoryview[int] | array[int] = self._disks["user"].view
        self._users: Index[str | None] = Index()
        #: (source note, target note) of the few events that have one, by position.
        self._notes = FactNotes()
        #: The logged time of events whose time is not their place on the time line (no time).
        self._filetimes: dict[int, int | None] = {}
        #: Session choice by position (index in `_choices`, -1: none); filled by `assign_sessions`.
        self._session: memoryview[int] | array[int] = array("i")
        self._choices = Choices()
        #: Positions sorted by store id, per block, and those store ids (`finish`).
        self._sorted: list[tuple[Sequence[int], memoryview[int] | array[int]]] = []
        #: The children grouping handle uses (`group_early`), by the EventIDs grouped.
        self._grouping: dict[frozenset[int], source_groups.Grouping] = {}
        #: Rows not packed yet (`add_row`); the scan appends to it itself and calls `flush`. Under
        #: a `frame`, each is the scan's own part of a row (`_OWN`), the rest being the frame's.
        self.pending: list[tuple[Any, ...]] = []
        #: The frame's slots (`frame`), the index in it of the first pending row, and the rows
        #: given whole (`add_row`) by their index in `pending`.
        self._frame: FrameInts | None = None
        self._at = 0
        self._whole: dict[int, tuple[Any, ...]] = {}
        self._n = 0
        self._near = (-1, -1)  # the stretches (`NEAR_BITS`) read last by `ref`, `key` or `store_id`

    def __len__(self) -> int:
        return self._n + len(self.pending)

    def add(self, found: Facts) -> None:
        """Keep `found` (the scan is done with it: nothing changes it afterwards but its session)."""
        self.add_row(row_of(found))

    def add_row(self, row: tuple[Any, ...]) -> None:
        """Keep an event given as plain values in `ROW_FIELDS` order (`row_of` of its `Facts`)."""
        if self._frame is not None:
            self._whole[len(self.pending)] = row
            self.pending.append(_OWN(row))
        else:
            self.pending.append(row)
        if len(self.pending) >= BATCH:
            self._flush()

    def frame(self, ints: FrameInts | None) -> None:
        """Take the next rows' slots from `ints` (`core.correlate.fact_frames`), one per row
        to come (None: rows come whole): the scan then appends to `pending` its own part of
        each handle event (`_OWN`), and gives the others whole (`add_row`)."""
        self._flush()
        if self._frame is not None and self._at != len(self._frame):
            raise ValueError(f"{self._at} facts rows for a frame of {len(self._frame)}")
        self._frame, self._at = ints, 0

    def pending_ref(self, i: int) -> Ref:
        """The `Ref` of the `i`th row not packed yet, read without packing it."""
        row = self.pending[i]
        ints = self._frame
        if ints is not None:
            whole = self._whole.get(i)
            if whole is None:
                w, n = (self._at + i) * WIDE, (self._at + i) * NARROW
                sid, rid, ts = (_slot(ints.wide, ints.wide_aside, at, NONE) for at in range(w, w + 3))
                eid, order = (_slot(ints.narrow, ints.narrow_aside, at, self._narrow.none) for at in (n, n + 1))
                assert sid is not None and eid is not None and ts is not None and order is not None
                return make_ref(sid, rid, eid, row[6], ts, order)
            row = whole
        return make_ref(row[0], row[1], row[6], row[_FILETIME], row[_TS], row[7])

    def flush(self) -> None:
        """Pack the pending rows (the scan appends to `pending` and calls this now and then)."""
        self._flush()

    def _flush(self) -> None:
        batch = self.pending
        if not batch:
            return
        if self._frame is not None:
            self._flush_frame()
            return
        base = self._n
        self._wide.pack(batch)
        self._narrow.pack(batch)
        self._strings(list(map(_host_of, batch)), list(map(_computer_of, batch)), map(_user_of, batch))
        # Notes and untimed events are rare: looked for in the batch first.
        if any(map(_source_note_of, batch)) or any(map(_target_note_of, batch)):
            notes = list(map(_notes_of, batch))
            for i in compress(range(len(batch)), map(any, notes)):
                self._notes.add(base + i, *notes[i])
        if any(map(is_not, map(_filetime_of, batch), map(_ts_of, batch))):  # the scan's Refs share the int
            filetimes = list(map(_filetime_of, batch))
            for i in compress(range(len(batch)), map(ne, filetimes, map(_ts_of, batch))):
                self._filetimes[base + i] = filetimes[i]
        self._n = base + len(batch)
        batch.clear()  # in place: the scan holds this list

    def _flush_frame(self) -> None:
        """`_flush` under a frame: the frame's slots of the pending rows, the scan's instances
        packed into them by stride, the rows given whole packed over theirs."""
        batch, whole, ints = self.pending, self._whole, self._frame
        assert ints is not None
        base, lo, k = self._n, self._at, len(batch)
        if (lo + k) * WIDE > len(ints.wide):
            raise ValueError(f"{lo + k} facts rows for a frame of {len(ints)}")
        wide, narrow = ints.wide[lo * WIDE:(lo + k) * WIDE], ints.narrow[lo * NARROW:(lo + k) * NARROW]
        wide_aside = aside_between(ints.wide_aside, lo * WIDE, (lo + k) * WIDE)
        narrow_aside = aside_between(ints.narrow_aside, lo * NARROW, (lo + k) * NARROW)
        procs, handles, notes, hosts, computers, users, filetimes = zip(*batch, strict=True)
        for column, values in ((SOURCE_PROC, procs), (SOURCE_HANDLE, handles)):
            packed, aside = self._narrow.packed(list(values))
            narrow[column::NARROW] = packed
            for i, value in aside.items():
                narrow_aside[i * NARROW + column] = value
        target_notes: dict[int, str | None] = {}
        if whole:
            at = list(whole)
            rows = list(whole.values())
            for columns, slots, aside, stride in ((self._wide, wide, wide_aside, WIDE),
                                                  (self._narrow, narrow, narrow_aside, NARROW)):
                packed, kept = columns.packed(list(itertools.chain.from_iterable(map(columns.read, rows))))
                if len(at) == k:  # every row given whole (a log of logons): `at` is 0..k-1, in one copy
                    slots[:] = packed
                    aside.clear()
                    aside.update(kept)
                    continue
                for j, i in enumerate(at):
                    slots[i * stride:(i + 1) * stride] = packed[j * stride:(j + 1) * stride]
                    if aside:  # the frame's own (the same values, but the whole row's are what count)
                        for gone in range(i * stride, (i + 1) * stride):
                            aside.pop(gone, None)
                for j, value in kept.items():
                    aside[at[j // stride] * stride + j % stride] = value
            target_notes = {i: row[_TARGET_NOTE] for i, row in whole.items() if row[_TARGET_NOTE] is not None}
            for i, row in whole.items():  # a logged time that is not the row's place (none in the usual case)
                if row[_FILETIME] is not None and row[_FILETIME] != row[_TS]:
                    self._filetimes[base + i] = row[_FILETIME]
        self._wide.extend(wide, wide_aside)
        self._narrow.extend(narrow, narrow_aside)
        self._strings(hosts, computers, users)
        if target_notes or any(notes):
            for i in range(k):
                if notes[i] or target_notes.get(i):
                    self._notes.add(base + i, notes[i], target_notes.get(i))
        if None in filetimes:  # untimed events: their logged time is None (else it is their place)
            for i in compress(range(k), map(is_, filetimes, repeat(None))):
                self._filetimes[base + i] = None
        self._n, self._at = base + k, lo + k
        batch.clear()  # in place: the scan holds this list
        whole.clear()

    def _strings(self, hosts: Sequence[str], computers: Sequence[str], users: Iterable[str | None]) -> None:
        """The places and users of the rows just packed."""
        known = len(self._hosts.distinct)
        disks = self._disks
        disks["place"].extend(array("i", list(map(self._hosts.__getitem__, hosts))))
        self._place = disks["place"].view
        if len(self._hosts.distinct) > known:  # a new computer: as the scan spells it
            for host, computer in zip(hosts, computers, strict=True):
                self._computers.setdefault(host, computer)
        disks["user"].extend(array("i", list(map(self._users.__getitem__, users))))
        self._user = disks["user"].view

    def facts(self, pos: int) -> Facts:
        """The `Facts` of the event at `pos`, equal to the one the scan filled (made in one go:
        this runs for every handle event when the tables are written)."""
        sid, rid, ts, shid, thid, lid = self._wide.row(pos)
        eid, order, spid, sproc, tpid, tproc, shandle, thandle = self._narrow.row(pos)
        assert sid is not None and eid is not None and ts is not None and order is not None
        host = self._hosts.distinct[self._place[pos]]
        computer = self._computers[host]
        ref = make_ref(sid, rid, eid, self._filetimes.get(pos, ts) if self._filetimes else ts, ts, order)
        snote, tnote = self._notes.get(pos) if self._notes else _NO_NOTES
        user = self._user[pos]
        session: SessionChoice | None = None
        if self._session:
            choice = self._session[pos]
            session = self._choices[choice] if choice >= 0 else None
        return Facts(ref, host, computer, spid, sproc, snote, tpid, tproc, tnote, shid, shandle, thid, thandle, lid,
                     self._users.distinct[user] if user >= 0 else None, session)

    def ref(self, pos: int) -> Ref:
        """The `Ref` of the event at `pos`, equal to the one the scan made (`RefColumn` reads a
        handle's accesses through it: no `Facts` made)."""
        if pos >= self._n:
            self._flush()
        wide, narrow = self._wide, self._narrow
        slots, w = wide.slots, pos * wide.stride
        sid, rid, ts = slots[w], slots[w + 1], slots[w + 2]
        slots, n = narrow.slots, pos * narrow.stride
        eid, order = slots[n], slots[n + 1]
        self._read(pos, 2)  # a place of each of the two slot columns
        if sid == NONE or rid == NONE or ts == NONE or eid == narrow.none or order == narrow.none:
            return self.facts(pos).ref  # None, or a value kept aside
        return make_ref(sid, rid, eid, self._filetimes.get(pos, ts) if self._filetimes else ts, ts, order)

    def event_record(self, pos: int) -> tuple[int, int | None]:
        """`(ref(pos).event_id, ref(pos).record_id)` without making the `Ref`: what an instance's
        reason names of its events (the tables' writer words millions of them)."""
        if pos >= self._n:
            self._flush()
        wide, narrow = self._wide, self._narrow
        rid = wide.slots[pos * wide.stride + 1]
        eid = narrow.slots[pos * narrow.stride]
        self._read(pos, 2)
        if rid == NONE or eid == narrow.none:  # kept aside
            ref = self.ref(pos)
            return ref.event_id, ref.record_id
        return eid, rid

    def _read(self, pos: int, places: int) -> None:
        """Count a read of `places` slots at `pos` (`disk_array.touched`) unless near the last two."""
        stretch = pos >> NEAR_BITS
        last = self._near
        if stretch != last[0]:
            if stretch != last[1]:
                touched(places)
            self._near = (stretch, last[0])

    def key(self, pos: int) -> tuple[int, int]:
        """`ref(pos).key` without making the `Ref` (the Processes forest sorts by it)."""
        if pos >= self._n:
            self._flush()
        ts = self._wide.slots[pos * self._wide.stride + 2]
        order = self._narrow.slots[pos * self._narrow.stride + 1]
        self._read(pos, 2)
        if ts == NONE or order == self._narrow.none:  # kept aside
            return self.ref(pos).key
        return ts, order

    def keys(self, positions: Sequence[int]) -> list[tuple[int, int]]:
        """`key` of each of `positions`, read from the slots in one pass: the Process access
        view reads the start and end of every instance of the images 4656s open (100,000
        `key` calls were a third of its time at a million events)."""
        self._flush()
        wide, narrow = self._wide, self._narrow
        w, ws, n, ns = wide.slots, wide.stride, narrow.slots, narrow.stride
        out: list[tuple[int, int]] = []  # (made a chunk at a time: no list of times and orders beside it)
        for lo in range(0, len(positions), LOOKUPS_CHUNK):  # the pages read given back a chunk at a time
            part = positions[lo:lo + LOOKUPS_CHUNK]
            ts = [w[pos * ws + 2] for pos in part]
            order = [n[pos * ns + 1] for pos in part]
            if NONE in ts or narrow.none in order:  # kept aside: one by one, exactly
                out += [self.key(pos) if t == NONE or o == narrow.none else (t, o)
                        for pos, t, o in zip(part, ts, order, strict=True)]
            else:
                out += zip(ts, order, strict=True)
            touched(2 * len(part))
        self.release()
        return out

    def runs_forward(self, positions: Sequence[int]) -> bool:
        """Whether the events at `positions` (ascending; a position may repeat) have their keys
        in that order: times not falling, scan orders rising. True for any positions of a scan
        in time order; read without a key made (512,037 processes' starts at ten million
        events: ~0.3 s less than through `keys`' tuples). A value kept aside answers False."""
        self._flush()
        wide, narrow = self._wide, self._narrow
        w, ws, n, ns = wide.slots, wide.stride, narrow.slots, narrow.stride
        # The positions sweep the columns: a read is counted per 64 KB they cross, not per position.
        row_bytes = ws * w.itemsize + ns * n.itemsize
        last: tuple[int, int, int] | None = None  # the previous chunk's last (position, ts, order)
        for lo in range(0, len(positions), ORDER_CHUNK):
            part = list(positions[lo:lo + ORDER_CHUNK])
            ts = [w[pos * ws + 2] for pos in part]
            order = [n[pos * ns + 1] for pos in part]
            if last is not None:
                part.insert(0, last[0])
                ts.insert(0, last[1])
                order.insert(0, last[2])
            forward = (NONE not in ts and narrow.none not in order and all(map(le, ts, islice(ts, 1, None)))
                       and all(map(le, order, islice(order, 1, None))))
            # Two of one order must be one event (a position repeated).
            if not forward or any(part[at] != part[at + 1] for at in
                                  compress(range(len(part) - 1), map(eq, order, islice(order, 1, None)))):
                self.release()
                return False
            touched(2 + (part[-1] - part[0]) * row_bytes // (1 << 16))
            last = part[-1], ts[-1], order[-1]
        self.release()
        return True

    def store_id(self, pos: int) -> int:
        """The store id of the event at `pos` (what the tables keep of an instance's events)."""
        if pos >= self._n:
            self._flush()
        wide = self._wide
        sid = wide.slots[pos * wide.stride]  # the first wide column
        self._read(pos, 1)
        if sid == NONE:  # kept aside
            kept = wide.value(pos, "store_id")
            assert kept is not None
            return kept
        return sid

    def at_order(self, order: int) -> int | None:
        """The position of the model event of scan order `order` (None: not a model event, as a
        Sysmon one). Without Sysmon events the position is the order: one look, else a bisection."""
        self._flush()
        if order < 0:
            return None
        narrow = self._narrow
        column, stride, slots = narrow.index["order"], narrow.stride, narrow.slots
        if order < self._n and slots[order * stride + column] == order:
            return order
        pos = bisect.bisect_left(range(min(order + 1, self._n)), order, key=lambda p: slots[p * stride + column])
        return pos if pos < self._n and slots[pos * stride + column] == order else None

    def __iter__(self) -> Iterator[Facts]:
        """Every event's `Facts`, in scan (time) order, made one at a time."""
        self._flush()
        for pos in range(self._n):
            yield self.facts(pos)

    def event_ids(self) -> Iterator[tuple[int, int]]:
        """(store id, EventID) of every event, in scan order (without making `Facts`)."""
        self._flush()
        for pos in range(self._n):
            sid, eid = self._wide.value(pos, "store_id"), self._narrow.value(pos, "event_id")
            assert sid is not None and eid is not None
            yield sid, eid
            if not (pos + 1) % ROWS_CHUNK:
                self.release(pos + 1 - ROWS_CHUNK, pos + 1)

    def rows(self) -> Iterator[Row]:
        """Every event's `Row` in scan order, read a column chunk at a time at C speed (making a
        `Facts` per event to write the tables cost as much as the links themselves)."""
        self._flush()
        notes = self._notes
        choices = self._choices
        for lo in range(0, self._n, ROWS_CHUNK):
            hi = min(lo + ROWS_CHUNK, self._n)
            positions = range(lo, hi)
            sid = self._wide.column("store_id", lo, hi)
            eid, spid, sproc, tpid, tproc = (self._narrow.column(name, lo, hi) for name in (
                "event_id", "source_pid", "source_proc", "target_pid", "target_proc"))
            snote: Iterable[str | None] = repeat(None)
            tnote: Iterable[str | None] = repeat(None)
            if notes:
                noted = notes.between(lo, hi)
                both = [noted.get(pos, _NO_NOTES) for pos in positions]
                snote, tnote = (n for n, _ in both), (n for _, n in both)
            if self._session:
                numbers = self._session[lo:hi]
                sessions: Iterable[SessionChoice | None] = map(choices.lookup(numbers).__getitem__, numbers)
            else:
                sessions = repeat(None)
            yield from zip(positions, sid, eid, spid, sproc, snote, tpid, tproc, tnote, sessions, strict=False)
            self.release(lo, hi)  # read once, in order: not kept resident

    def link_rows(self) -> Iterator[tuple[Row, tuple[int | None, int | None, int | None, int | None]]]:
        """`rows` with each event's (source_hid, source_handle, target_hid, target_handle), as
        its `Facts` has them, read a column chunk at a time (the tables' links of the handle
        events: a `Facts` made for each was most of writing them)."""
        self._flush()
        rows = self.rows()
        for lo in range(0, self._n, ROWS_CHUNK):
            hi = min(lo + ROWS_CHUNK, self._n)
            handles = zip(self._wide.column("source_hid", lo, hi), self._narrow.column("source_handle", lo, hi),
                          self._wide.column("target_hid", lo, hi), self._narrow.column("target_handle", lo, hi),
                          strict=True)
            yield from zip(itertools.islice(rows, hi - lo), handles, strict=True)

    def of_events(self, event_ids: frozenset[int]) -> Iterator[Facts]:
        """The `Facts` of the events of `event_ids`, in scan order (the others are not made)."""
        return self.facts_at(self.positions_of(event_ids))

    def positions_of(self, event_ids: frozenset[int]) -> array[int]:
        """The positions of the events of `event_ids`, in scan order."""
        out = array("i" if self._n <= _INT32_MAX else "q")
        for part in self._position_chunks(event_ids):
            out.extend(part)
        return out

    def _position_chunks(self, event_ids: frozenset[int]) -> Iterator[array[int]]:
        """`positions_of` a slice of the table at a time, none kept: a pass that reads them once
        need not hold them all (the handles' accesses at 10M events: 26 MB)."""
        self._flush()
        narrow = self._narrow
        yield from source_groups.positions(narrow.slots, narrow.stride, narrow.index["event_id"], narrow.none, self._n,
                                           event_ids, self._event_id_of, self.release)

    def _event_id_of(self, pos: int) -> int | None:
        return self._narrow.value(pos, "event_id")

    def group_early(self, event_ids: frozenset[int], handles: int) -> None:
        """Have a child start `by_source_handle(event_ids, handles)` now, while the build's last
        steps run here (`core.correlate.source_groups`), if that pays: no more rows come."""
        self._flush()
        narrow = self._narrow
        fd = narrow.disk.fileno()
        if (self._n < source_groups.MIN_EVENTS or fd is None or narrow.aside or cores() < 2
                or event_ids in self._grouping):
            return
        grouping = source_groups.start(fd, self._n, narrow.stride, narrow.index["event_id"],
                                       narrow.index["source_handle"], narrow.none, event_ids, handles)
        if grouping is not None:
            self._grouping[event_ids] = grouping

    def by_source_handle(self, event_ids: frozenset[int], handles: int) -> tuple[array[int], array[int]]:
        """The positions of the events of `event_ids` grouped by their source handle instance
        (0..handles-1), in scan order within each: (positions, starts), instance i's being
        `positions[starts[i]:starts[i + 1]]` (`source_groups.group`: a counting sort, no Python
        int kept per event), so that the scan need not keep an array per handle. The answer of
        the child `group_early` started, if it gives one."""
        self._flush()
        grouping = self._grouping.pop(event_ids, None)
        if grouping is not None:
            try:
                return grouping.result(handles)
            except ChildFailed:
                pass  # grouped here
        narrow = self._narrow
        grouped = source_groups.group(narrow.slots, narrow.stride, narrow.index["event_id"],
                                      narrow.index["source_handle"], narrow.none, self._n, event_ids, handles,
                                      self._event_id_of, self.release)
        self.release()
        return grouped

    def facts_at(self, positions: Sequence[int]) -> Iterator[Facts]:
        """`facts(pos)` of each of `positions`, in that order, made a chunk at a time."""
        self._flush()
        if self._narrow.aside or self._wide.aside:  # some value kept aside: one by one, exactly
            yield from map(self.facts, positions)
            return
        for lo in range(0, len(positions), ROWS_CHUNK):
            chunk = list(positions[lo:lo + ROWS_CHUNK])
            yield from self._facts_at(chunk)
            self.release(min(chunk), max(chunk) + 1)  # positions go up: what the next chunk reads is after

    def _facts_at(self, positions: list[int]) -> Iterator[Facts]:
        """`facts(pos)` of each of `positions` (no value kept aside), their fields read a column
        at a time: a `facts` call each was half of the Handles list's time at a million events."""
        columns: list[list[int | None]] = []
        for cols in (self._wide, self._narrow):
            slots, stride, get = cols.slots, cols.stride, cols.from_slot.get
            for i in range(stride):
                part = [slots[pos * stride + i] for pos in positions]
                columns.append(list(map(get, part, part)))
        sid, rid, ts, shid, thid, lid, eid, order, spid, sproc, tpid, tproc, shandle, thandle = columns
        hosts, computers, users, place, user_at = (self._hosts.distinct, self._computers, self._users.distinct,
                                                   self._place, self._user)
        filetimes, notes, session, choices = self._filetimes, self._notes, self._session, self._choices
        for n, pos in enumerate(positions):
            at = ts[n]
            ref = make_ref(cast(int, sid[n]), rid[n], cast(int, eid[n]), filetimes.get(pos, at) if filetimes else at,
                           cast(int, at), cast(int, order[n]))
            host = hosts[place[pos]]
            snote, tnote = notes.get(pos) if notes else _NO_NOTES
            user = user_at[pos]
            choice = session[pos] if session else -1
            yield Facts(ref, host, computers[host], spid[n], sproc[n], snote, tpid[n], tproc[n], tnote, shid[n],
                        shandle[n], thid[n], thandle[n], lid[n], users[user] if user >= 0 else None,
                        choices[choice] if choice >= 0 else None)

    def assign_sessions(self, choose: Callable[[Facts], SessionChoice | None]) -> None:
        """Give each event with a logon id the session `choose` picks for it (after the scan:
        the sessions are only known then)."""
        self._flush()
        index: dict[SessionChoice, int] = {}
        session = array("i", [-1]) * self._n
        for pos in range(self._n):
            if not self._wide.value(pos, "logon_id"):
                continue
            choice = choose(self.facts(pos))
            if choice is not None:
                at = index.get(choice)
                if at is None:
                    at = index[choice] = self._choices.append(choice)
                session[pos] = at
        self._set_session(on_disk("i", session, self.directory))

    def assign_sessions_at(
        self, choose: Callable[[str, str, int, tuple[int, int], str | None, int], SessionChoice | None]
    ) -> None:
        """`assign_sessions` read from the columns a chunk at a time: `choose(host, computer,
        logon id, Ref.key, user, EventID)` instead of a `Facts` made per event (making them was
        a third of the sessions' assignment at a million events)."""
        self.assign_session_spans(lambda *event: (choose(*event), None))

    def assign_session_spans(self, choose: SpanChooser, check: Callable[[], None] | None = None) -> None:
        """`assign_sessions_at` with a `choose` that also says up to which key (not included) its
        answer holds for the later events of the same computer, logon id, user and EventID: the
        events of a session, most of a log's, then take it without a call each (one per event
        was a fifth of the build). `check()` runs before each chunk of rows (it may raise to
        stop: 8 s at ten million events, the longest step after the scan's feed)."""
        self._flush()
        # By identity: `choose` gives shared answers, and a dataclass' hash is a Python call.
        # `held` keeps each alive until the pass ends, so that no id is another answer's.
        index: dict[int, int] = {}
        held: list[SessionChoice] = []
        # Written to its side file a chunk at a time, in order (whole on the heap: 32 MB at 10M events).
        disk = DiskArray("i", self.directory)
        hosts, computers, users = self._hosts.distinct, self._computers, self._users.distinct
        place, user_at = self._place, self._user
        #: (place, logon id, user, EventID) -> (from key, until key, answer's index) of the last answer;
        #: those run out dropped once it doubles (`limit`): an entry is only a short cut.
        spans: dict[tuple[int, int, int, int], tuple[tuple[int, int], tuple[int, int], int]] = {}
        limit = SPANS_KEPT
        for lo in range(0, self._n, ROWS_CHUNK):
            if check is not None:
                check()
            hi = min(lo + ROWS_CHUNK, self._n)
            session = array("i", [-1]) * (hi - lo)
            lids = _raw(self._wide, "logon_id", lo, hi)
            if not any(lids):
                disk.extend(session)
                continue
            ts = _raw(self._wide, "ts", lo, hi)
            order, eids = (_raw(self._narrow, name, lo, hi) for name in ("order", "event_id"))
            if any(None in c for c in (ts, order, eids) if isinstance(c, list)):  # (`_raw` mapped a None)
                raise ValueError("an event without a time, order or EventID in the facts table")
            if len(spans) > limit:
                first = (ts[0], order[0]) if ts[0] is not None and order[0] is not None else None
                if first is not None:
                    spans = {memo: span for memo, span in spans.items() if span[1] > first}
                limit = max(SPANS_KEPT, 2 * len(spans))
            # One pass over the chunk's columns side by side (no subscript per field and event).
            for pos, lid, at, n, eid, where, user in zip(range(hi - lo), lids, ts, order, eids, place[lo:hi],
                                                          user_at[lo:hi], strict=True):
                if not lid:
                    continue
                key = (at, n)
                span = spans.get((where, lid, user, eid))
                if span is not None and span[0] <= key < span[1]:
                    session[pos] = span[2]
                    continue
                memo = (where, lid, user, eid)
                host = hosts[where]
                choice, until = choose(host, computers[host], lid, key, users[user] if user >= 0 else None, eid)
                if choice is None:
                    continue
                k = index.get(id(choice))
                if k is None:
                    k = index[id(choice)] = self._choices.append(choice)
                    held.append(choice)
                session[pos] = k
                if until is not None:
                    spans[memo] = (key, until, k)
            disk.extend(session)
            self.release(lo, hi)
        self._set_session(disk)

    def _set_session(self, disk: DiskArray) -> None:
        """Keep the session column, written to its side file, and read it from there."""
        self._disks["session"] = disk
        self._session = disk.view

    def finish(self) -> None:
        """Index the store ids: positions sorted by store id, per block of INDEX_BLOCK events
        (so that the sort's temporary ints stay bounded), beside those ids in that order (in
        the side files: 8 bytes an event, 12 in a block out of order), which `position` bisects
        at C speed: bisecting the positions by the ids of the columns read pages all over the
        file for every look-up."""
        self._flush()
        sids = self._wide.slots[self._wide.index["store_id"]::self._wide.stride]  # aside: NONE, see `position`
        self._disks["sorted"] = disk = DiskArray("i" if self._n <= _INT32_MAX else "q", self.directory)
        self._disks["sorted_ids"] = ids = DiskArray("q", self.directory)
        # Per block: where its sorted positions start in `disk`, or None when they are the block's own
        # (already in store-id order: the usual case, one log; nothing written, a `range` read).
        starts: list[int | None] = []
        for lo in range(0, self._n, INDEX_BLOCK):
            hi = min(lo + INDEX_BLOCK, self._n)
            part = sids[lo:hi]
            if all(map(le, part[:-1], part[1:])):  # at C speed
                starts.append(None)
                block = array("q")
                block.frombytes(part.tobytes())
                ids.extend(block)
            else:
                starts.append(len(disk))
                block = array(disk.typecode, sorted(range(lo, hi), key=sids.__getitem__))
                disk.extend(block)
                ids.extend(array("q", map(sids.__getitem__, block)))
            self.release(lo, hi)
        self._sorted = [(range(lo, min(lo + INDEX_BLOCK, self._n)) if at is None else disk.view[at:at + INDEX_BLOCK],
                         ids.view[lo:lo + INDEX_BLOCK]) for lo, at in zip(range(0, self._n, INDEX_BLOCK), starts,
                                                                         strict=True)]
        self.release()
        keep_paged(self._wide.disk, self._narrow.disk, *self._disks.values())  # complete: the reads' pages given back

    def release(self, lo: int = 0, hi: int | None = None) -> None:
        """Unmap the events lo..hi-1 (default: all) a pass left resident (`DiskArray.release`):
        the columns stay in the page cache, and the next reads map what they touch."""
        for disk in (self._wide.disk, self._narrow.disk, *self._disks.values()):
            disk.release(lo * len(disk) // self._n if self._n else 0, None if hi is None else
                         -(-hi * len(disk) // self._n))

    def position(self, store_id: int) -> int | None:
        """Where the event of `store_id` is in scan order, or None when it is not a model event."""
        wide = self._wide
        column, stride = wide.index["store_id"], wide.stride
        if not NONE < store_id <= _MAX:
            for at, value in wide.aside.items():
                if at % stride == column and value == store_id:
                    return at // stride
            return None
        for block, ids in self._sorted:
            i = bisect.bisect_left(ids, store_id)
            if i < len(ids) and ids[i] == store_id:
                return block[i]
        return None

    def get(self, store_id: int) -> Facts | None:
        pos = self.position(store_id)
        return self.facts(pos) if pos is not None else None

    def __contains__(self, store_id: int) -> bool:
        return self.position(store_id) is not None
