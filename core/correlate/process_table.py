"""The model's process instances held in columns, each `Process` made when it is read.

As frozen `Process` objects (27 slots: the object, a boxed int per index, pid and event
position, a tuple of children and one of handle indexes with a boxed int each, a reason string
per instance) a process instance cost ~560 bytes: ~0.29 GB at 10 million churn events (512,037
processes), and the objects, made at the end of the scan where the scan's own instances had
been freed, kept those pymalloc arenas from going back to the system. `ProcessTable` keeps the
same values unboxed, like `core.correlate.handle_table.HandleTable` does for handles: one int
slot per field and instance (event positions, pid, parent, logon id, where its children and
handles begin; None and a value that is not a plain int of 64 bits, such as a Sysmon event's
`Ref` or a `(ts, order)` bound, as marks, the value itself in a side dict), its texts as numbers
of the distinct strings, every instance's children and handles one after the other in two
arrays, and the reason of an instance created by a 4688 as that 4688's record id (the reason
is its words around it). The int columns are kept in side files read through `mmap`
(`core.correlate.disk_array`): page cache, not the Python heap.

Rows may come out of index order (the scan freezes an instance as soon as nothing can change it:
`ProcessTracker`): they are kept in the order they came, and `_row` maps an index to its row (None
while every row came in index order); children and handles are each row's after the previous
row's, as they came.

A `Process` is made again when read, equal field for field to the one the scan froze, so that
every answer built from the processes (links, forest, lists, the stored tables) is unchanged; the
last few made are remembered (`RECENT`: the forest's sort and the writers read a process many
times over).

About 530 lines: the rows' layout, their writing and every read of them (an instance, a column,
a sort's keys) share the slots' marks and the row map, and are kept together.
"""

from __future__ import annotations

import weakref
from array import array
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from core.correlate.columns import Index
from core.correlate.disk_array import DiskColumns, touched
from core.correlate.indexes import At, Indexes
from core.correlate.process_instance import CREATED_BY_4688, Bound, Held, Process, SysmonView, make_process
from core.correlate.process_order import start_order

if TYPE_CHECKING:
    from core.correlate.evidence import Ref
    from core.correlate.refcolumn import RefSource

_K = TypeVar("_K")

#: Processes made from the columns and remembered for the next read of the same index.
RECENT = 1 << 12
#: The live map (`ProcessTable._live`) is swept of instances no longer held from this size on.
LIVE_MIN = 1 << 14
#: `said` answers remembered (an instance's events follow each other closely).
SAID_KEPT = 1 << 14
#: Instances appended to the side files at once (kept on the heap until then).
BATCH = 1 << 12
#: Instances read at once by `values` (each chunk counted toward the give-back of the pages
#: read: `disk_array.touched`), and the places of the columns an instance made reads.
LOOKUPS_CHUNK = 1 << 8
MADE_READS = 2

#: The int slots of an instance's row, in order.
_INTS = ("pid", "created_at", "parent_pid", "parent", "logon_id", "exited_at", "replaced_by_at", "start_at",
         "end_at", "first_seen_at", "flags", "children", "handles", "reason_record")
_FIELDS = len(_INTS)
#: The text slots of an instance's row (numbers in `ProcessTable._texts`), in order.
_TEXTS = ("computer", "image", "command_line", "user", "user_sid", "elevation", "integrity", "confidence")
#: A slot's marks: None, and a value kept aside (`ProcessTable._aside`).
_NONE = -(1 << 63)
_ASIDE = _NONE + 1
#: Instance indexes up to this fit the 32-bit groups of `path_groups`.
_INT32_MAX = (1 << 31) - 1
#: `flags` bits.
PRE_EXISTING = 1
#: A slot's value as read: None for its mark.
_FROM_SLOT: dict[int, int | None] = {_NONE: None}
#: Where the next row's children and handles begin, from a row's start.
_NEXT_CHILDREN = _FIELDS + _INTS.index("children")
_NEXT_HANDLES = _FIELDS + _INTS.index("handles")
_N_TEXTS = len(_TEXTS)
_REASON_RECORD = _INTS.index("reason_record")
_CONFIDENCE = _TEXTS.index("confidence")
#: `CREATED_BY_4688` before its record id.
_CREATED = CREATED_BY_4688.removesuffix("{}")
#: The columns (`ProcessTable._columns`) and their typecodes.
_COLUMNS = (("ints", "q"), ("texts", "i"), ("children", "q"), ("handles", "q"))


class ProcessTable(Sequence[Process]):
    """Every process instance of a model, by index, held in columns (see the module doc)."""

    def __init__(self, facts: RefSource, directory: str | None = None) -> None:
        self.facts = facts
        self._texts: Index[str | None] = Index()
        #: The distinct texts by number + 1 (None first: `Index` numbers it -1), for reads.
        self._text_of: list[str | None] = [None]
        self._columns = DiskColumns(_COLUMNS, directory)
        self._pending = self._columns.pending
        self._ints: memoryview[int] | array[int] = array("q")
        self._text: memoryview[int] | array[int] = array("i")
        self._children: memoryview[int] | array[int] = array("q")
        self._handles: memoryview[int] | array[int] = array("q")
        self._n = 0
        #: The index of each row, in the order they came, once one came out of index order
        #: (None till then); and the row of each index, made from it when read.
        self._index: array[int] | None = None
        self._rows: array[int] | None = None
        self._n_children = 0
        self._n_handles = 0
        #: Values not held in their slot, by (instance, slot).
        self._aside: dict[tuple[int, int], Any] = {}
        #: Reasons not made from a 4688's record id; every name of an ambiguous instance;
        #: Sysmon's view of an instance.
        self._reasons: dict[int, str] = {}
        self._names: dict[int, tuple[tuple[str, Ref | int], ...]] = {}
        self._sysmon: dict[int, SysmonView] = {}
        #: The instances of an image and no other name by (computer, image) as text numbers (the
        #: computer's shifted by 32 bits), as they come: the image index's groups (`path_groups`).
        self._paths: dict[int, array[int]] = {}
        self._others = array("q")  # the rest (another name, no image): few
        self._recent: dict[int, Process] = {}
        #: The `Process` made of each instance while something holds it (the lists of the
        #: views keep thousands: each holds the same one, not one made per read).
        self._live: dict[int, weakref.ref[Process]] = {}
        self._live_bound = LIVE_MIN
        self._said: dict[int, tuple[str, str]] = {}

    def append(self, computer: str, pid: int, created_at: Held, image: str | None, command_line: str | None,
               parent_pid: int | None, parent: int | None, user: str | None, user_sid: str | None,
               logon_id: int | None, elevation: str | None, integrity: str | None, exited_at: Held,
               replaced_by_at: Held, start_at: Bound, end_at: Bound, first_seen_at: Ref | int, pre_existing: bool,
               confidence: str, reason: str | None, reason_record: int | None,
               names_at: tuple[tuple[str, Ref | int], ...] | None, children: Sequence[int], handles: Sequence[int],
               sysmon: SysmonView | None, index: int | None = None) -> None:
        """Add an instance, in `Process`'s field order: instance `index` (default: the next, the
        table's length); `reason` None is `CREATED_BY_4688` of `reason_record` (which is kept only
        then). Every index below the highest must come before the table is read."""
        row = self._n
        if index is None:
            index = row if self._index is None else max(self._index, default=-1) + 1
        if self._index is not None:
            self._index.append(index)
            self._rows = None
        elif index != row:
            self._index = array("q", range(row))
            self._index.append(index)
        if reason is not None:
            reason_record = None
        ints: list[Any] = [pid, created_at, parent_pid, parent, logon_id, exited_at, replaced_by_at, start_at, end_at,
                first_seen_at, PRE_EXISTING if pre_existing else 0, self._n_children, self._n_handles,
                reason_record]
        for slot, value in enumerate(ints):
            if value is None:
                ints[slot] = _NONE
            elif type(value) is not int or not _ASIDE < value < (1 << 63):
                self._aside[(index, slot)] = value  # a Ref, a bound, a value too big: exactly, aside
                ints[slot] = _ASIDE
        pending = self._pending
        pending["ints"].extend(ints)
        texts = self._texts
        computer_no, image_no = texts[computer] + 1, texts[image] + 1
        pending["texts"].extend((computer_no, image_no, texts[command_line] + 1, texts[user] + 1,
                                 texts[user_sid] + 1, texts[elevation] + 1, texts[integrity] + 1,
                                 texts[confidence] + 1))
        if names_at is None and image:
            key = (computer_no << 32) | image_no
            group = self._paths.get(key)
            if group is None:
                self._paths[key] = array("i" if index <= _INT32_MAX else "q", (index,))
            elif index <= _INT32_MAX or group.typecode == "q":
                group.append(index)
            else:
                self._paths[key] = array("q", group)
                self._paths[key].append(index)
        else:
            self._others.append(index)
        if children:
            pending["children"].extend(children)
            self._n_children += len(children)
        if handles:
            pending["handles"].extend(handles)
            self._n_handles += len(handles)
        if reason is not None:
            self._reasons[index] = reason
        if names_at is not None:
            self._names[index] = names_at
        if sysmon is not None:
            self._sysmon[index] = sysmon
        self._n += 1
        if len(pending["texts"]) >= BATCH * len(_TEXTS):
            self.seal()

    def complete(self) -> bool:
        """Whether every index below the table's length has its row, once."""
        if self._index is None:
            return True
        try:
            self._row  # noqa: B018 (made and checked)
        except (ValueError, IndexError):
            return False
        return True

    @property
    def _row(self) -> array[int] | None:
        """The row of each index (None: each is its own), made on the first read after rows came
        out of index order; ValueError if an index came twice, IndexError if one is missing."""
        if self._index is None:
            return None
        rows = self._rows
        if rows is None:
            n = self._n
            rows = array("q", [-1]) * n
            for row, index in enumerate(self._index):
                if index >= n:
                    raise IndexError(f"process {index} of {n} came without those before it")
                if rows[index] != -1:
                    raise ValueError(f"process {index} is in the table twice")
                rows[index] = row
            self._rows = rows
        return rows

    def _at(self, index: int) -> int:
        """The row of instance `index`."""
        rows = self._row
        return index if rows is None else rows[index]

    def _by_index(self, values: list[Any]) -> list[Any]:
        """`values`, one per row in the order the rows came, in index order."""
        rows = self._row
        return values if rows is None else list(map(values.__getitem__, rows))

    def seal(self) -> None:
        """Write the pending rows to the side files and read the columns from there (the model
        calls it once the table is filled: the first read would, from whichever thread)."""
        views = self._columns.seal()
        self._ints, self._text = views["ints"], views["texts"]
        self._children, self._handles = views["children"], views["handles"]

    def release(self) -> None:
        """Unmap the pages of the columns read so far (`DiskArray.release`)."""
        self._columns.release()

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Process: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Process, ...]: ...

    def __getitem__(self, index: int | slice) -> Process | tuple[Process, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        made = self._recent.get(index)
        if made is not None:
            return made
        if self._pending["texts"]:
            self.seal()
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("process index out of range")
        live = self._live.get(index)
        made = live() if live is not None else None
        if made is None:  # none alive: made now, and found again while someone holds it
            made = self._make(index)
            touched(MADE_READS)  # each maps up to 64 KB of each column read (fault-around)
            if len(self._live) >= self._live_bound:
                self._sweep()
            self._live[index] = weakref.ref(made)
        recent = self._recent
        if len(recent) >= RECENT:
            recent.clear()
        recent[index] = made
        return made

    def _sweep(self) -> None:
        """Forget the instances no longer held (the live map stays within twice those held)."""
        # (a copy first: another thread may add one meanwhile, and a dict changed while iterated raises)
        self._live = {i: ref for i, ref in list(self._live.items()) if ref() is not None}
        self._live_bound = max(LIVE_MIN, 2 * len(self._live))

    def _make(self, i: int) -> Process:
        r = self._at(i)
        at = r * _FIELDS
        ints = self._ints
        row: list[Any] = ints[at:at + _FIELDS].tolist()
        if _NONE in row:
            row = list(map(_FROM_SLOT.get, row, row))
        if _ASIDE in row:
            row = [self._aside[(i, slot)] if v == _ASIDE else v for slot, v in enumerate(row)]
        (pid, created_at, parent_pid, parent, logon_id, exited_at, replaced_by_at, start_at, end_at, first_seen_at,
         flags, children_at, handles_at, reason_record) = row
        if r + 1 < self._n:
            children_end, handles_end = ints[at + _NEXT_CHILDREN], ints[at + _NEXT_HANDLES]
        else:
            children_end, handles_end = self._n_children, self._n_handles
        texts = self._text_of
        if len(texts) <= len(self._texts.distinct):
            texts.extend(self._texts.distinct[len(texts) - 1:])
        computer, image, command_line, user, user_sid, elevation, integrity, confidence = map(
            texts.__getitem__, self._text[r * _N_TEXTS:(r + 1) * _N_TEXTS].tolist())
        reason = self._reasons.get(i) if reason_record is None else _CREATED + str(reason_record)
        return make_process(
            i, computer, pid, created_at, image, command_line, parent_pid, parent, user, user_sid, logon_id,
            elevation, integrity, exited_at, replaced_by_at, start_at, end_at, first_seen_at,
            flags == PRE_EXISTING, confidence, reason, self._names.get(i),
            Indexes(self._children[children_at:children_end]) if children_end > children_at else (),
            Indexes(self._handles[handles_at:handles_end]) if handles_end > handles_at else (),
            self._sysmon.get(i), self.facts,
        )

    def said(self, i: int) -> tuple[str, str]:
        """(confidence, reason) of instance `i`, read from its slots: what each of its links says
        (the tables' writer asks it for every model event: no `Process` made)."""
        said = self._said.get(i)
        if said is not None:
            return said
        self._sealed()
        if not 0 <= i < self._n:
            raise IndexError("process index out of range")
        r = self._at(i)
        record = self._ints[r * _FIELDS + _REASON_RECORD]
        if record == _ASIDE:
            record = self._aside[(i, _REASON_RECORD)]
        reason = self._reasons[i] if record == _NONE else _CREATED + str(record)
        texts = self._text_of
        if len(texts) <= len(self._texts.distinct):
            texts.extend(self._texts.distinct[len(texts) - 1:])
        confidence = texts[self._text[r * _N_TEXTS + _CONFIDENCE]]
        assert confidence is not None
        if len(self._said) >= SAID_KEPT:
            self._said.clear()
        said = self._said[i] = confidence, reason
        return said

    def path_groups(self) -> tuple[dict[tuple[str, str], array[int]], list[int]]:
        """The instances with an image and no other name (`names_at` None), grouped by (computer,
        image) as logged, each group in the order its rows came (the image index sorts by start);
        and the other instances, ascending. Grouped as the rows came (a dictionary look-up per
        instance in a build of 100 s at ten million events): the image index files a group at
        once, where reading the columns for every instance took 0.44 s of the Process access
        list's first screen (0.21 s grouped by their text numbers then). The groups are the
        table's own: read, not changed."""
        self._sealed()
        texts = self._text_of
        if len(texts) <= len(self._texts.distinct):
            texts.extend(self._texts.distinct[len(texts) - 1:])
        out = {(cast(str, texts[key >> 32]), cast(str, texts[key & 0xFFFFFFFF])): group
               for key, group in self._paths.items()}
        return out, sorted(self._others)

    def column(self, name: str) -> list[Any]:
        """The field `name` (an int or text field of `Process`, or `names_at`) of every instance, in index
        order, read from its slots in one pass: no `Process` made (the forest's order reads
        three fields of every instance)."""
        self._sealed()
        if name in _TEXTS:
            texts = self._text_of
            if len(texts) <= len(self._texts.distinct):
                texts.extend(self._texts.distinct[len(texts) - 1:])
            return list(map(texts.__getitem__, self._by_index(self._text[_TEXTS.index(name)::_N_TEXTS].tolist())))
        if name == "names_at":
            return list(map(self._names.get, range(self._n)))
        slot = _INTS.index(name)
        values = self._ints[slot::_FIELDS].tolist()
        self._columns.release()  # one C call read every page of the rows: given back at once
        return self._decoded(slot, self._by_index(values), range(self._n))

    def values(self, name: str, indexes: Sequence[int]) -> list[Any]:
        """The field `name` (as for `column`) of the instances `indexes`, read from their slots
        (none made: the Process access list reads its sources' image, user and pid); the pages
        read counted with every reader's (`disk_array.touched`: each maps up to 64 KB of a column)."""
        out = []
        for lo in range(0, len(indexes), LOOKUPS_CHUNK):
            part = indexes[lo:lo + LOOKUPS_CHUNK]
            out += self._values(name, part)
            touched(len(part))
        return out

    def by_rows(self, name: str, lo: int, hi: int) -> tuple[Sequence[int], list[Any]]:
        """(index, int field `name`) of the rows `lo` to `hi` in the order they came, read in one
        C call, not one per instance (the forest's order reads two fields of every one)."""
        self._sealed()
        slot = _INTS.index(name)
        values = self._ints[lo * _FIELDS + slot:hi * _FIELDS:_FIELDS].tolist()
        indexes = range(lo, hi) if self._index is None else self._index[lo:hi]
        touched(-(-(hi - lo) * _FIELDS * self._ints.itemsize // (1 << 16)))  # 64 KB a read
        return indexes, self._decoded(slot, values, indexes)

    def _values(self, name: str, indexes: Sequence[int]) -> list[Any]:
        self._sealed()
        rows = self._row
        if name in _TEXTS:
            texts = self._text_of
            if len(texts) <= len(self._texts.distinct):
                texts.extend(self._texts.distinct[len(texts) - 1:])
            text, at = self._text, _TEXTS.index(name)
            return [texts[text[(i if rows is None else rows[i]) * _N_TEXTS + at]] for i in indexes]
        if name == "names_at":
            return list(map(self._names.get, indexes))
        slot, ints = _INTS.index(name), self._ints
        if rows is None:
            return self._decoded(slot, [ints[i * _FIELDS + slot] for i in indexes], indexes)
        return self._decoded(slot, [ints[rows[i] * _FIELDS + slot] for i in indexes], indexes)

    def reasons(self, indexes: Sequence[int], records: Sequence[int | None]) -> list[str | None]:
        """`Process.reason` of the instances `indexes`, their `reason_record` values `records`."""
        get = self._reasons.get
        return [get(i) if record is None else _CREATED + str(record)
                for i, record in zip(indexes, records, strict=True)]

    def guids(self, indexes: Sequence[int]) -> list[str | None]:
        """`Process.guid` of the instances `indexes` (Sysmon's, else None)."""
        if not self._sysmon:
            return [None] * len(indexes)
        views = map(self._sysmon.get, indexes)
        return [view.guid if view is not None else None for view in views]

    def _decoded(self, slot: int, values: list[Any], indexes: Sequence[int]) -> list[Any]:
        """`values` read from `slot` of the instances `indexes`, their marks read."""
        if _NONE in values:
            values = list(map(_FROM_SLOT.get, values, values))
        if _ASIDE in values:
            values = [self._aside[(i, slot)] if v == _ASIDE else v for i, v in zip(indexes, values, strict=True)]
        return values

    def counts(self, name: str) -> list[int]:
        """How many `children` or `handles` (`name`) each instance has, in index order."""
        self._sealed()
        starts = self._ints[_INTS.index(name)::_FIELDS].tolist()
        self._columns.release()
        starts.append(self._n_children if name == "children" else self._n_handles)
        return self._by_index([b - a for a, b in pairwise(starts)])

    def start_keys(self) -> list[tuple[int, int]]:
        """`core.correlate.tree.start_key` of every instance, in index order (its creation's
        key, else its first event's), the positions' keys read in one pass."""
        return self.keys([c if c is not None else f
                          for c, f in zip(self.column("created_at"), self.column("first_seen_at"), strict=True)])

    def start_order(self) -> array[int]:
        """Every instance's index sorted by `start_keys`, ties in index order: the forest's
        order (`core.correlate.process_order`)."""
        return start_order(self)

    def keys(self, held: list[Any]) -> list[Any]:
        """The `(ts, order)` key of each of `held` (event positions read from the facts table in
        one pass, a `Ref`'s own key, a bound itself; None stays None)."""
        facts: Any = self.facts
        at = [n for n, h in enumerate(held) if type(h) is int]
        keys = facts.keys([held[n] for n in at]) if hasattr(facts, "keys") else [facts.key(held[n]) for n in at]
        out: list[Any] = [h if h is None or type(h) is int or type(h) is tuple else h.key for h in held]
        for n, key in zip(at, keys, strict=True):
            out[n] = key
        return out

    def _sealed(self) -> None:
        if self._pending["texts"]:
            self.seal()

    def __iter__(self) -> Iterator[Process]:
        if self._pending["texts"]:
            self.seal()
        return map(self._make, range(self._n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ProcessTable, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ProcessTable({len(self)} processes)"


class ProcessLists(Mapping[_K, list[Process]]):
    """Lists of processes by key, each made from its indexes when read (`Session.processes`
    per session: made all at once, every instance in a session was made and held)."""

    def __init__(self, processes: Sequence[Process], indexes: dict[_K, Sequence[int]]) -> None:
        self._processes = processes
        self._indexes = indexes

    def __getitem__(self, key: _K) -> list[Process]:
        processes = self._processes
        return [processes[i] for i in self._indexes[key]]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)


class ProcessesAt(At[Process]):
    """The processes at `indexes` of a model's, each made when read (`At`)."""

    __slots__ = ()


#: Instances read at once by `logons`.
LOGONS_CHUNK = 16_384


def logons(processes: Sequence[Process]) -> Iterator[tuple[int, str, int, tuple[int, int]]]:
    """(index, computer, logon id, start or first event's key) of each process with a logon id
    (what `SessionTracker.assign` reads), from the columns of a `ProcessTable` (none made)."""
    if not isinstance(processes, ProcessTable):
        for p in processes:
            if p.logon_id:
                yield p.index, p.computer, p.logon_id, p.start or p.first_seen.key
        return
    computers = processes.column("computer")  # a reference each to a few shared texts
    for lo in range(0, len(processes), LOGONS_CHUNK):  # the keys of all at once: +161 MB at 10M events
        span = range(lo, min(lo + LOGONS_CHUNK, len(processes)))
        lids = processes.values("logon_id", span)
        indexes = [i for i, lid in zip(span, lids, strict=True) if lid]
        starts = processes.keys(processes.values("start_at", indexes))
        # The first event's key only where no start is known (a 4688's instance has one): each
        # key is a read of the facts table at random.
        unstarted = [n for n, start in enumerate(starts) if not start]
        firsts = dict(zip(unstarted, processes.keys(processes.values(
            "first_seen_at", [indexes[n] for n in unstarted])), strict=True))
        for n, i in enumerate(indexes):
            yield i, computers[i], lids[i - lo], starts[n] or firsts[n]
