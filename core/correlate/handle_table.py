"""The model's handle instances held in columns, each `Handle` made when it is read.

A busy log has millions of handle instances (1.65 million at 10 million churn events). As frozen
`Handle` objects each cost ~380 bytes: the object (17 slots), a boxed int per index, pid, value,
process and event position, and an `array` object of its accesses; at 10 million events that was
~0.6 GB of the first open's 4.6 GB. `HandleTable` keeps the same values unboxed: one slot per
field and instance in an `array` (positions, pids, values; no source handle as -1; a value that
does not fit a slot in a side dict, exactly), the texts as numbers of the distinct strings, every
instance's accesses one after the other in one array (with where each one's begin), its
duplications likewise, its close note as a code (`core.correlate.note_codes`): the rows in side files (below), on the
heap ~75 bytes a handle on the churn store (376 as objects).

A `Handle` is made again when read, equal field for field to the one the scan froze, so that every
answer built from the handles (links, trees, lists, the stored tables) is unchanged; the last
few made are remembered (`RECENT`), as a tables' writer reads the same handle for each event on it.

The int columns (~100 bytes an instance and 8 an access: ~190 MB at ten million events) are kept
in side files read through `mmap` (`core.correlate.disk_array`): page cache, not the Python heap.
The scan writes each instance as soon as it is final (`HandleTracker.advance`), out of index
order: a row (its ints, the computer and texts among them) is put at its place through a writable map of
the side file (`DiskArray.put`, no system call a row), and the pages written are given back to
the page cache every `BATCH` rows. The accesses are filled at the end, from the facts table.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from core.correlate.columns import Index
from core.correlate.disk_array import DiskColumns, touched
from core.correlate.handles import (
    ALIAS_CLOSE_NOTE,
    EXITED_NOTE,
    Handle,
    close_ambiguous,
    handle_close_reason,
    handle_said,
    make_handle,
)
from core.correlate.note_codes import NoteCodes
from core.correlate.processes import AMBIGUOUS, EXACT, INFERRED
from core.model.values import hex_id

if TYPE_CHECKING:
    from core.correlate.refcolumn import RefSource

#: Handles made from the columns and remembered for the next read of the same index.
RECENT = 1 << 12
#: Rows put between two releases of the pages written.
BATCH = 1 << 12
#: Places of the columns a handle made reads at random (its row and its accesses), counted
#: toward the give-back of the pages read (`disk_array.touched`: the Processes tree's rows read
#: each process's handles, and at 10M events kept up to 150 MB of the side files mapped).
MADE_READS = 2
#: Handles whose object is read at once by `object_names` (each chunk counted as read).
LOOKUPS_CHUNK = 1 << 8


#: The int columns (`HandleTable._columns`) and their typecodes.
_COLUMNS = (("ints", "q"), ("accesses", "q"), ("starts", "q"))


class HandleTable(Sequence[Handle]):
    """Every handle instance of a model, by index, held in columns (see the module doc)."""

    def __init__(self, facts: RefSource, directory: str | None = None) -> None:
        self.facts = facts
        self._computers: Index[str] = Index()
        #: The int columns' side files, and what is appended to each and not written yet.
        self._columns = DiskColumns(_COLUMNS, directory)
        self._pending = self._columns.pending
        #: The views of the columns read (`seal`). `_ints`, a row each: pid, value, process, opened,
        #: duplicated by, source (-1: none), closed, first seen, the computer (an index of
        #: `_computers.distinct`) and the object type, object name and access (indexes of
        #: `_texts.distinct`, -1: None; as lists of the strings, 40 MB of heap at 10M events) and
        #: close note (`_notes`): one write a row (`put`).
        self._ints: memoryview[int] | array[int] = array("q")
        self._ints_disk = self._columns.disks["ints"]
        #: Values that do not fit a 64-bit slot (or equal `_NONE`), by (instance, field).
        self._aside: dict[tuple[int, int], int] = {}
        self._texts: Index[str | None] = Index()
        #: Every instance's accesses (positions in the facts table), instance after instance;
        #: instance i's are `_accesses[_starts[i]:_starts[i + 1]]`.
        self._accesses: memoryview[int] | array[int] = array("q")
        self._starts: memoryview[int] | array[int] = array("q")
        self._pending["starts"].append(0)
        self._n_accesses = 0
        #: Instances whose accesses are in the columns (`fill_accesses`, else `seal`), and those
        #: given with their rows meanwhile (`append`, `put_accesses`).
        self._filled = 0
        self._given: dict[int, Sequence[int]] = {}
        self._n = 0
        #: Rows put since the columns' pages were last given back (`put`), and whether any row or
        #: access is not in the views yet.
        self._since_release = 0
        self._dirty = False
        #: The close notes' codes (`_CLOSE_NOTE` of each row): as a dict of strings by instance,
        #: ~26 MB of heap at 10M events.
        self._notes = NoteCodes((EXITED_NOTE, ALIAS_CLOSE_NOTE))
        #: The duplications (4690 positions) given with each row, one run after the other as put:
        #: the instance of each run and where it begins in `_dup_at` (an `array` per instance in
        #: a dict: 26 MB of heap at 10M events); `_dup_keys`/`_dup_rows`, the instances sorted
        #: and their run (the last put of each), made by `seal`.
        self._dup_of, self._dup_from, self._dup_at = array("q"), array("q"), array("q")
        self._dup_keys, self._dup_rows = array("q"), array("q")
        self._recent: dict[int, Handle] = {}

    #: Int slots per instance, and the slot value of one kept aside.
    _FIELDS = 13
    _OBJECT_TYPE = 9
    _OBJECT_NAME = 10
    _CLOSE_NOTE = 12
    _NONE = -(1 << 63)

    def append(self, computer: str, pid: int, handle_id: int, process: int, opened_at: int, duplicated_by_at: int,
               source: int | None, object_type: str | None, object_name: str | None, access: str | None,
               accesses_at: Sequence[int] | None, closed_at: int, close_note: str | None,
               duplications_at: Sequence[int] | None, first_seen_at: int) -> None:
        """Add the next instance (its index is the table's length), in `Handle`'s field order."""
        index = self._n
        self.put(index, computer, pid, handle_id, process, opened_at, duplicated_by_at, source, object_type,
                 object_name, access, closed_at, close_note, duplications_at, first_seen_at)
        if accesses_at:
            self.put_accesses(index, accesses_at)

    def put(self, index: int, computer: str, pid: int, handle_id: int, process: int, opened_at: int,
            duplicated_by_at: int, source: int | None, object_type: str | None, object_name: str | None,
            access: str | None, closed_at: int, close_note: str | None, duplications_at: Sequence[int] | None,
            first_seen_at: int) -> None:
        """Write instance `index`, in `Handle`'s field order but its accesses (`fill_accesses`): at
        any time, in any order (the scan writes each as soon as nothing can change it; those not
        written yet read as zeros meanwhile, so nothing reads the table before `seal`)."""
        texts = self._texts
        ints = [pid, handle_id, process, opened_at, duplicated_by_at, -1 if source is None else source, closed_at,
                first_seen_at, self._computers[computer], texts[object_type], texts[object_name], texts[access],
                self._notes.code(close_note)]
        try:
            if self._NONE in ints:  # the slots' mark for a value kept aside
                raise OverflowError
            row = array("q", ints)
        except OverflowError:  # a value that does not fit: kept exactly, aside
            for i, v in enumerate(ints):
                if not self._NONE < v < (1 << 63):
                    self._aside[(index, i)] = v
                    ints[i] = self._NONE
            row = array("q", ints)
        self._ints_disk.put(index * self._FIELDS, row)
        if index >= self._n:
            self._n = index + 1
        if duplications_at:
            self._dup_of.append(index)
            self._dup_from.append(len(self._dup_at))
            self._dup_at.extend(duplications_at)
        self._dirty = True
        self._since_release += 1
        if self._since_release >= BATCH:  # the pages written stay in the page cache, not the RSS
            self._since_release = 0
            self._columns.release()

    def put_accesses(self, index: int, accesses_at: Sequence[int]) -> None:
        """Instance `index`'s accesses, given apart from `fill_accesses`'s (which they replace)."""
        self._given[index] = accesses_at
        self._dirty = True

    def set_close_note(self, index: int, note: str) -> None:
        """Word instance `index`'s close anew (a reason that needed the whole log)."""
        self._ints_disk.put(index * self._FIELDS + self._CLOSE_NOTE, array("q", [self._notes.code(note)]))
        self._dirty = True

    def set_object(self, index: int, object_type: str | None, object_name: str | None, access: str | None) -> None:
        """Word instance `index`'s object anew (a copy whose source learnt it after it was put)."""
        texts = self._texts
        self._ints_disk.put(index * self._FIELDS + self._OBJECT_TYPE,
                            array("q", [texts[object_type], texts[object_name], texts[access]]))
        self._dirty = True

    def resize(self, n: int) -> None:
        """The table has `n` instances (each put, or to be, before it is read)."""
        self._n = n
        self._dirty = True

    def fill_accesses(self, used: array[int], starts: array[int]) -> None:
        """Every instance's accesses at once, instance i's `used[starts[i]:starts[i + 1]]` (positions
        in the facts table, `FactsTable.by_source_handle`) but those given with their rows."""
        assert self._filled == 0 and not self._n_accesses, "accesses filled once, before any is read"
        n = len(starts) - 1
        pending = self._pending
        if not self._given:  # written as they are, not copied to `pending` first (held twice, else)
            assert list(pending["starts"]) == [0] and not pending["accesses"]
            pending["starts"] = array("q")
            accesses = self._columns.disks["accesses"]
            for lo in range(0, len(used), BATCH * 16):  # 32-bit positions widened a slice at a time
                part = used[lo:lo + BATCH * 16]
                accesses.extend(part if part.typecode == accesses.typecode else array(accesses.typecode, part))
            self._columns.disks["starts"].extend(starts)  # starts[0] == 0, the column's first
            self._n_accesses = starts[-1]
        else:
            for i in range(n):
                given = self._given.pop(i, None)
                got = given if given is not None else used[starts[i]:starts[i + 1]]
                wide = not isinstance(got, array) or got.typecode == "q"
                pending["accesses"].extend(got if wide else array("q", got))
                self._n_accesses += len(got)
                pending["starts"].append(self._n_accesses)
        self._filled = n
        self._dirty = True

    def seal(self) -> None:
        """Write the pending rows to the side files and read the columns from there (the model
        calls it once the table is filled: the first read would, from whichever thread)."""
        pending = self._pending
        for i in range(self._filled, self._n):  # accesses not filled: those given, else none
            given = self._given.pop(i, None)
            if given:
                pending["accesses"].extend(given)
                self._n_accesses += len(given)
            pending["starts"].append(self._n_accesses)
        self._filled = max(self._filled, self._n)
        views = self._columns.seal()
        self._ints = views["ints"]
        self._accesses, self._starts = views["accesses"], views["starts"]
        of = self._dup_of
        if len(of) != len(self._dup_rows):
            rows = sorted(range(len(of)), key=of.__getitem__)  # stable: an instance's runs in put order
            last = [row for n, row in enumerate(rows) if n + 1 == len(rows) or of[rows[n + 1]] != of[row]]
            self._dup_rows = array("q", last)
            self._dup_keys = array("q", map(of.__getitem__, last))
        self._dirty = False

    def release(self) -> None:
        """Unmap the pages of the columns read so far (`DiskArray.release`)."""
        self._columns.release()

    def __len__(self) -> int:
        return self._n

    def object_name(self, index: int) -> str | None:
        """`self[index].object_name`, without making the `Handle` (the Process access list reads
        the object of every lone 4656's handle)."""
        if self._dirty:
            self.seal()
        if not 0 <= index < self._n:
            raise IndexError("handle index out of range")
        # A row read at random: the Process access list's sweep of a big image reads thousands.
        name = self._text(self._ints[index * self._FIELDS + self._OBJECT_NAME])
        touched()
        return name

    def object_names(self, indexes: Sequence[int]) -> list[str | None]:
        """`object_name` of each of `indexes`, read a chunk at a time (the Process access list
        reads the object of every lone 4656's handle: 143,000 calls at ten million events)."""
        if self._dirty:
            self.seal()
        n, ints, stride, at, distinct = self._n, self._ints, self._FIELDS, self._OBJECT_NAME, self._texts.distinct
        out: list[str | None] = []
        for lo in range(0, len(indexes), LOOKUPS_CHUNK):
            part = indexes[lo:lo + LOOKUPS_CHUNK]
            if not all(0 <= index < n for index in part):
                raise IndexError("handle index out of range")
            out += [distinct[t] if t >= 0 else None for t in [ints[index * stride + at] for index in part]]
            touched(len(part))
        return out

    def _slots(self, index: int, fields: tuple[int, ...]) -> list[int]:
        """Slots `fields` of instance `index`, those kept aside as they are."""
        if self._dirty:
            self.seal()
        if not 0 <= index < self._n:
            raise IndexError("handle index out of range")
        ints, at = self._ints, index * self._FIELDS
        got = [ints[at + f] for f in fields]
        touched()
        if self._aside and self._NONE in got:
            got = [self._aside[(index, f)] if v == self._NONE else v for f, v in zip(fields, got, strict=True)]
        return got

    def said(self, index: int) -> tuple[str, str]:
        """`(self[index].confidence, self[index].reason)` without making the `Handle` (the tables'
        writer words a link for every handle event: a `Handle` made per instance was a third of
        the links' time, its accesses copied for nothing)."""
        opened, dup, first, note = self._slots(index, (3, 4, 7, self._CLOSE_NOTE))
        return handle_said(self.facts, opened, dup, first, self._notes.text(note))

    def close_said(self, index: int) -> tuple[int, str]:
        """`(self[index].closed_at, self[index].close_reason)` without making the `Handle`."""
        closed, note = self._slots(index, (6, self._CLOSE_NOTE))
        return closed, handle_close_reason(self.facts, closed, self._notes.text(note))

    def forest_fields(self, index: int) -> tuple[str, str, int, int, str | None]:
        """What the Processes forest shows of instance `index` (`tree.forest_tail`), read from its
        slots without making the `Handle`: (its label, its confidence, where its first event is
        (`opened`, else `duplicated_by`, else `first_seen`), where its close is, its close note)."""
        hid, opened, dup, closed, first, otype, oname, note = self._slots(
            index, (1, 3, 4, 6, 7, 9, self._OBJECT_NAME, self._CLOSE_NOTE))
        obj = " ".join(x for x in (self._text(otype), self._text(oname)) if x)
        label = f"handle {hex_id(hid)}" + (f": {obj}" if obj else "")
        close_note = self._notes.text(note)
        confidence = AMBIGUOUS if close_ambiguous(close_note) else EXACT if opened >= 0 or dup >= 0 else INFERRED
        return label, confidence, opened if opened >= 0 else dup if dup >= 0 else first, closed, close_note

    def raw_rows(self) -> Iterator[tuple[int, str, int, int, int, int, int, int | None, str | None, str | None,
                                         str | None, int, str | None, int]]:
        """Every instance's fields as stored, in `Handle`'s order without its accesses and
        duplications: (index, computer, pid, value, process, opened at, duplicated by at, source,
        object type, object name, access, closed at, close note, first seen at). Read a chunk at
        a time, no `Handle` made (the tables' writer stores them all: a `Handle` each was most of
        its instance rows' time, their accesses copied for nothing)."""
        if self._dirty:
            self.seal()
        n, stride, none = self._n, self._FIELDS, self._NONE
        computers, texts, note_text = self._computers.distinct, self._texts.distinct, self._notes.text
        for lo in range(0, n, LOOKUPS_CHUNK):
            hi = min(n, lo + LOOKUPS_CHUNK)
            ints = self._ints[lo * stride:hi * stride].tolist()
            touched(hi - lo)
            for i in range(lo, hi):
                at = (i - lo) * stride
                pid, hid, process, opened, dup, source, closed, first, computer, otype, oname, access, note = (
                    ints[at:at + stride])
                if none in (pid, hid, process, opened, dup, source, closed, first):
                    pid, hid, process, opened, dup, source, closed, first = (
                        self._aside[(i, f)] if v == none else v
                        for f, v in enumerate((pid, hid, process, opened, dup, source, closed, first)))
                yield (i, computers[computer], pid, hid, process, opened, dup, None if source == -1 else source,
                       texts[otype] if otype >= 0 else None, texts[oname] if oname >= 0 else None,
                       texts[access] if access >= 0 else None, closed, note_text(note), first)

    def _text(self, n: int) -> str | None:
        return self._texts.distinct[n] if n >= 0 else None

    def duplication_count(self, index: int) -> int:
        """`len(self[index].duplications)`, without making the `Handle` (the list's lines count them)."""
        if not 0 <= index < self._n:
            raise IndexError("handle index out of range")
        lo, hi = self._duplications_span(index)
        return hi - lo

    def _duplications_span(self, index: int) -> tuple[int, int]:
        """Where instance `index`'s duplications are in `_dup_at` (an empty span: none)."""
        if self._dirty:
            self.seal()
        keys = self._dup_keys
        at = bisect.bisect_left(keys, index)
        if at == len(keys) or keys[at] != index:
            return 0, 0
        row = self._dup_rows[at]
        return self._dup_from[row], self._dup_from[row + 1] if row + 1 < len(self._dup_from) else len(self._dup_at)

    def _duplications(self, index: int) -> array[int] | None:
        lo, hi = self._duplications_span(index)
        return self._dup_at[lo:hi] if hi > lo else None

    @overload
    def __getitem__(self, index: int) -> Handle: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Handle, ...]: ...

    def __getitem__(self, index: int | slice) -> Handle | tuple[Handle, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        made = self._recent.get(index)
        if made is not None:
            return made
        if self._dirty:
            self.seal()
        n = self._n
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("handle index out of range")
        made = self._make(index)
        touched(MADE_READS)
        recent = self._recent
        if len(recent) >= RECENT:
            recent.clear()
        recent[index] = made
        return made

    def _make(self, i: int) -> Handle:
        at = i * self._FIELDS
        pid, hid, process, opened, dup, source, closed, first, computer, otype, oname, access, note = (
            self._ints[at:at + self._FIELDS])
        if self._aside and self._NONE in (pid, hid, process, opened, dup, source, closed, first):
            pid, hid, process, opened, dup, source, closed, first = (
                self._aside[(i, f)] if v == self._NONE else v
                for f, v in enumerate((pid, hid, process, opened, dup, source, closed, first)))
        lo, hi = self._starts[i], self._starts[i + 1]
        # A copy, as an array's slice was (from its bytes: at C speed, from the file or the heap).
        accesses = array("q", self._accesses[lo:hi].tobytes()) if hi > lo else None
        return make_handle(
            i, self._computers.distinct[computer], pid, hid, process, opened, dup,
            None if source == -1 else source,
            self._text(otype), self._text(oname), self._text(access), accesses,
            closed, self._notes.text(note), self._duplications(i), first, self.facts,
        )

    def __iter__(self) -> Iterator[Handle]:
        if self._dirty:
            self.seal()
        return map(self._make, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (HandleTable, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"HandleTable({len(self)} handles)"
