"""Handle instances: (process instance, handle value) from open to close.

A handle is opened by a 4656 (or a 4661 for SAM/directory objects), used by 4663/4660, closed
by a 4658; a 4690 creates a second handle (TargetProcessId, TargetHandleId) on the source
handle's object. Handle values are reused within microseconds, so a handle is keyed by the
*process instance* that owns it plus its value, and only the instance alive at an event's time
matches it (a restart of its computer ends its process and the handle with it).

Quirks from real logs handled here:
* when a 4690's target is System (0x4), the 4658 closing TargetHandleId carries the SOURCE
  process id, so the target handle is also reachable under (source process, value) until closed;
* a 4690 may be logged before the 4656 of its source handle, so the source handle is chosen
  once the scan is past SOURCE_OPEN_WINDOW after it, as the nearest open of that value by that
  process on either side in time, unless the open before the 4690 is closed by its own 4658
  after it: the value was then taken, and a later open of it (values are reused at once after a
  close) cannot be the source;
* a source handle may learn its object (type, name) only after its 4690 is settled, from a later
  4663: its copies take it then too (`HandleTracker._settled`), so that no answer depends on where
  the scan's batches fall;
* a 4658 under the source pid of a 4690 into System may close either that copy or the source
  process's own handle of the same value: the most recently created is taken, and both closes
  are ambiguous, each naming the other handle (`HandleTracker.close`);
* how sure a 4690's source is carries along copies of copies: a copy whose source was inferred
  has an inferred object, and so does the next 4690 taking that copy as its source.

The scan streams (issue 18): each instance is written into the model's `HandleTable` as soon as
no later event can change it (`HandleTracker.advance`), so that the tracker holds the instances
open or recently ended (~1,200 at most on the 1M churn store, of 165,292), not all of them.

About 1,070 lines: the tracker's rules (which instance an event reaches, which 4690 source, what a
copy's object is, when an instance is final) rest on each other's invariants (instances of one
key are sequential, ends come in scan order), which are read best in one place; and so do the
words of a handle's open and close (`handle_said`) that the table and the tracker share.
"""

from __future__ import annotations

import bisect
import sys
import threading
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from core.correlate.evidence import weakest
from core.correlate.facts import FactsTable
from core.correlate.processes import (
    AMBIGUOUS,
    EXACT,
    EXIT_GRACE,
    INFERRED,
    MISSING,
    SYSTEM_PID,
    TICKS_PER_SECOND,
    Ref,
    pid_text,
)
from core.correlate.refcolumn import RefColumn, RefSource, event_record
from core.correlate.roles import Act, event_ids
from core.correlate.source_choices import (
    KIND_CONFIDENCE,
    OPEN_AFTER,
    OPEN_BEFORE,
    USED_AFTER,
    USED_BEFORE,
    Chosen,
    SourceChoice,
    SourceChoices,
    worded,
)
from core.model.slots import slot_maker
from core.model.values import hex_id

if TYPE_CHECKING:
    from core.correlate.handle_table import HandleTable

#: How far after a 4690 the 4656 of its source handle may be logged and still be taken as it.
SOURCE_OPEN_WINDOW = 2 * TICKS_PER_SECOND

#: The events that open and close handles (rows of the roles table).
OPEN_EVENTS = event_ids(Act.OPEN)
CLOSE_EVENTS = event_ids(Act.CLOSE)
DUPLICATE_EVENTS = event_ids(Act.DUPLICATE)
USE_EVENTS = frozenset(event_ids(Act.USE))
#: The events that create a process (4688): a handle of a process created in the log was not
#: opened before the log begins (`owner_created`).
CREATE_EVENTS = frozenset(event_ids(Act.CREATE))
#: What the note of an ambiguous close says (`HandleTracker.close`): which of two handles a 4658
#: closes is not known. `close_ambiguous` looks for it.
AMBIGUOUS_CLOSE = "ambiguous: "


@dataclass(frozen=True, slots=True)
class Handle:
    """One handle instance.

    `opened` is its 4656/4661; `duplicated_by` the 4690 that created it (then `source` is the
    index of the handle it copies, when that was found). `object_type`/`object_name`/`access`
    come from its open or the events that used it, else from its source handle (what the source
    learnt up to the end of the log, copies of copies alike). `accesses` are the
    4663/4660 events on it; `closed` its 4658 and `close_reason` why the close is what it is.
    `confidence`/`reason` say how its open is known, and "ambiguous" when which 4658 closes it
    is (its close reason names the other handle that 4658 may close).

    Its events are held as their positions in the model's facts table (`opened_at`... -1 for
    none; `accesses_at`, `duplications_at`), made into `Ref`s when read, and its reasons are
    worded when read from them: the `Ref`s and the texts (each naming a record number, so one
    string per instance) were two thirds of what an instance cost, and a busy log has millions.
    """

    index: int
    computer: str
    pid: int
    handle_id: int
    process: int
    opened_at: int
    duplicated_by_at: int
    source: int | None
    object_type: str | None
    object_name: str | None
    access: str | None
    accesses_at: array[int] | None
    closed_at: int
    #: Why the close is what it is, when that is not "closed by 4658 record N" (its own 4658).
    close_note: str | None
    duplications_at: array[int] | None
    first_seen_at: int
    #: Where the `_at` positions are (the model's facts table).
    facts: RefSource = field(repr=False, compare=False)

    def _ref(self, pos: int) -> Ref | None:
        return self.facts.ref(pos) if pos >= 0 else None

    @property
    def opened(self) -> Ref | None:
        return self._ref(self.opened_at)

    @property
    def duplicated_by(self) -> Ref | None:
        return self._ref(self.duplicated_by_at)

    @property
    def closed(self) -> Ref | None:
        return self._ref(self.closed_at)

    @property
    def first_seen(self) -> Ref:
        return self.facts.ref(self.first_seen_at)

    @property
    def accesses(self) -> Sequence[Ref]:
        """Its 4663/4660s (a `RefColumn`: read from the facts table, not held as `Ref`s)."""
        return RefColumn(self.facts, self.accesses_at) if self.accesses_at else ()

    @property
    def duplications(self) -> Sequence[Ref]:
        """The 4690s that copied it into another handle."""
        return RefColumn(self.facts, self.duplications_at) if self.duplications_at else ()

    @property
    def confidence(self) -> str:
        if close_ambiguous(self.close_note):
            return AMBIGUOUS
        return EXACT if self.opened_at >= 0 or self.duplicated_by_at >= 0 else INFERRED

    @property
    def reason(self) -> str:
        return handle_said(self.facts, self.opened_at, self.duplicated_by_at, self.first_seen_at, self.close_note)[1]

    @property
    def close_reason(self) -> str:
        return handle_close_reason(self.facts, self.closed_at, self.close_note)

    @property
    def label(self) -> str:
        obj = " ".join(x for x in (self.object_type, self.object_name) if x)
        return f"handle {hex_id(self.handle_id)}" + (f": {obj}" if obj else "")


def handle_said(facts: RefSource, opened_at: int, duplicated_by_at: int, first_seen_at: int,
                close_note: str | None = None) -> tuple[str, str]:
    """A handle's (confidence, reason), from where its events are and its close note
    (`Handle.confidence`/`reason`; `HandleTable.said` words them from its columns, no `Handle`
    made): how its open is known, ambiguous when which 4658 closes it is (`close_ambiguous`)."""
    if opened_at >= 0:
        eid, record = event_record(facts, opened_at)
        confidence, reason = EXACT, f"opened by {eid} record {record}"
    elif duplicated_by_at >= 0:
        confidence, reason = EXACT, f"created by 4690 record {event_record(facts, duplicated_by_at)[1]}"
    else:
        eid, record = event_record(facts, first_seen_at)
        created = owner_created(facts, first_seen_at)
        if created is not None:  # its process began in the log: so did the handle, unlogged
            why = (f"no 4656 for it since its process started ({created[0]} record {created[1]}): its open "
                   "was not audited, or it was inherited at the process's creation")
        elif (restart := restart_before(facts, first_seen_at)) is not None:  # ... or after a restart
            why = (f"no 4656 for it since {restart}: opened after it without an audited open, or inherited at its "
                   "process's creation")
        else:
            why = "no 4656 for it in this log (opened before the log begins, or not audited)"
        confidence, reason = INFERRED, f"{why}; first seen in {eid} record {record}"
    if close_ambiguous(close_note):
        return AMBIGUOUS, f"{reason}; which 4658 closes it is ambiguous"
    return confidence, reason


def close_ambiguous(close_note: str | None) -> bool:
    """Whether a handle's close note says its close is ambiguous (`HandleTracker.close`)."""
    return close_note is not None and AMBIGUOUS_CLOSE in close_note


def close_confidence(close_reason: str) -> str:
    """How sure a handle's close (its 4658) is, from its close reason: ambiguous or exact."""
    return AMBIGUOUS if AMBIGUOUS_CLOSE in close_reason else EXACT


class _Creations:
    """The process instances created by an event of a facts table (their 4688), sorted, and
    where each creation is: made once per table (`owner_created`), for the table as long."""

    __slots__ = ("n", "positions", "procs")

    def __init__(self, n: int, procs: array[int], positions: array[int]) -> None:
        self.n, self.procs, self.positions = n, procs, positions


_CREATIONS: WeakKeyDictionary[object, _Creations] = WeakKeyDictionary()
_CREATIONS_LOCK = threading.Lock()


def owner_created(facts: RefSource, pos: int) -> tuple[int, int | None] | None:
    """(EventID, record) of the event that created the process of the model event at `pos` (a
    4688 in the log), None when it has none (pre-existing) or `facts` is no facts table. The
    creations are read from the table once (its 4688s' new process slots: 0.12 s at 240,000 churn
    events as `Facts` made, 0.02 s so), when a reason first needs one: a handle without a 4656 in a
    process that began in the log was not opened before it."""
    if not isinstance(facts, FactsTable):
        return None
    with _CREATIONS_LOCK:
        made = _CREATIONS.get(facts)
        if made is None or made.n != len(facts):
            positions = facts.positions_of(CREATE_EVENTS)  # (every row in the slots first)
            new_process = facts._narrow.value  # noqa: SLF001 - one slot of each, no `Facts` made
            pairs = sorted((proc, at) for at in positions if (proc := new_process(at, "target_proc")) is not None)
            made = _CREATIONS[facts] = _Creations(len(facts), array("q", [p for p, _ in pairs]),
                                                  array("q", [at for _, at in pairs]))
    proc = facts._narrow.value(pos, "source_proc")  # noqa: SLF001 - (as above)
    if proc is None:
        return None
    i = bisect.bisect_left(made.procs, proc)
    if i == len(made.procs) or made.procs[i] != proc:
        return None
    return event_record(facts, made.positions[i])


#: The restarts of each computer the scan of a facts table met (`HandleTracker.restarted`), by
#: case-folded computer: where each begins (`Restart.key`, in time order) and its words.
_RESTARTS: WeakKeyDictionary[object, dict[str, tuple[list[tuple[int, int]], list[str]]]] = WeakKeyDictionary()


def restart_before(facts: RefSource, pos: int, host: str | None = None) -> str | None:
    """The words (`the restart (4608 record 6: ...)`) of the last restart of its computer (`host`,
    case-folded, if known) before the model event at `pos`, None when there is none (or `facts` is
    no facts table): a handle first seen after one was opened after it, not before the log begins
    (pids and handle values are unique within one boot). Read only for a handle without an open
    whose process began before the log, and only when the log has a restart."""
    boots = _RESTARTS.get(facts) if isinstance(facts, FactsTable) else None
    if not boots:
        return None
    assert isinstance(facts, FactsTable)
    key = facts.key(pos)  # (packs the rows not packed yet first)
    kept = boots.get(host if host is not None else facts.facts(pos).host)
    if kept is None:
        return None
    keys, texts = kept
    i = bisect.bisect_right(keys, key)
    return texts[i - 1] if i else None


def handle_close_reason(facts: RefSource, closed_at: int, close_note: str | None) -> str:
    """A handle's `close_reason`: its note, else the 4658 that closed it."""
    if close_note is not None:
        return close_note
    return f"closed by 4658 record {event_record(facts, closed_at)[1]}"


@dataclass(slots=True)
class _Handle:
    index: int
    host: str
    computer: str
    pid: int
    handle_id: int
    process: int
    #: Its events as their positions in the facts table (-1: none), not their `Ref`s: those
    #: would be kept alive by it for the whole scan (a third of the build's memory). Positions
    #: are in scan order, so comparing them compares the events' places in time.
    first_seen: int
    opened: int = -1
    duplicated_by: int = -1
    source: int | None = None
    object_type: str | None = None
    object_name: str | None = None
    access: str | None = None
    #: Positions of its 4663/4660s in the facts table, when `use` is told them; the scan's
    #: (`core.correlate.scan_rows`) are read from the facts table by `finish` instead.
    accesses: array[int] | None = None
    closed: int = -1
    close_note: str | None = None
    replaced_by: int = -1
    #: The 4690s copying it (made on the first: most handles are never duplicated).
    duplications: list[int] | None = None
    owner_exit: Ref | None = None
    #: Its close note when its process was alive at a restart of its computer, which ended both
    #: (`HandleTracker.process_restarted`: one text per restart, shared).
    restart: str | None = None
    #: Its source's object once final (`HandleTracker._settled`): its own fields are only what
    #: its own events say, this fills the rest when it is written. `NOTHING`: no source to wait
    #: for, or its fields are its whole object already (`HandleTracker._settle_held`).
    inherited: HandleFields | None = None
    #: A copy whose source was not chosen for sure: (how sure, the 4690 that made it). Its object
    #: is as sure as that, and so is a 4690 taking it as its source (`HandleTracker._resolve`).
    source_said: tuple[str, int] | None = None

    @property
    def start(self) -> int:
        """Where it began (its open or the 4690 that made it), -1 for neither."""
        return self.opened if self.opened >= 0 else self.duplicated_by

    @property
    def end(self) -> int:
        """Where it ended (its close or the next instance of its value), -1 for neither."""
        return self.closed if self.closed >= 0 else self.replaced_by



def clean(value: str | None) -> str | None:
    """A value an instance keeps (None for an empty one), once for all the instances that have
    it: the same object names, types and access lists come back in thousands of opens."""
    if value is None or value.strip() in ("", "-"):
        return None
    return sys.intern(value)


#: What a handle event says of the object (`clean`ed): its type, its name, and (for an open) its
#: access list, else mask.
HandleFields = tuple["str | None", "str | None", "str | None"]

#: `_Handle.inherited` of a handle that has no source to inherit from (not made by a 4690, or
#: its 4690's source not found).
NOTHING: HandleFields = (None, None, None)
#: Bits of the object fields (type, name, access) known final (`HandleTracker._final_part`).
_ALL = 0b111


@dataclass(slots=True)
class _Dup:
    at: int  # the 4690's position in the facts table
    ts: int  # its place on the time line
    host: str
    computer: str
    source_process: int
    source_pid: int
    source_handle_id: int
    target: int | None


class HandleTracker:
    """Builds handle instances from events fed in time order, resolving 4690 sources and writing
    each instance into the model's `HandleTable` as soon as nothing later in the log can change
    it (`advance`), so that only the instances open or recently ended are held.

    A 4690's source is chosen once the scan is past its time + SOURCE_OPEN_WINDOW: every open
    that may be it has been seen (instances of one (process, value) are sequential: one still
    alive then was alive at the 4690, and the next one begins after the window). An instance is
    final once it ended (closed or replaced) and the scan is past that + SOURCE_OPEN_WINDOW:
    every 4690 that made it or may copy it is resolved by then. One whose process exited
    without its 4658 is final past the exit + EXIT_GRACE (a 4658 logged after the 4689 still
    reaches it) + SOURCE_OPEN_WINDOW, unless a 4690 into System made it closable under another
    process (`_alias`). The reasons that need the whole log (no 4656 or no 4658 at all for a
    computer) are worded at the end (`resolve_sources`, `finish`)."""

    def __init__(self, facts: FactsTable, table: HandleTable) -> None:
        #: Where the events the instances keep are (their positions; `Ref`s made when read).
        self.facts = facts
        #: Where each instance is written once final, the model's (empty: `finish` gives it back).
        self.table = table
        #: The instances not written yet, by index; `count` is the next index.
        self.handles: dict[int, _Handle] = {}
        self.count = 0
        self._alive: dict[tuple[int, int], int] = {}
        self._alias: dict[tuple[int, int], int] = {}
        self._alias_key: dict[int, tuple[int, int]] = {}
        #: The instances of each (process, value) not written yet, in creation order: its index
        #: while it has one.
        self._all: dict[tuple[int, int], int | list[int]] = {}
        #: 4690s whose source is not chosen yet, in scan order.
        self._dups: deque[_Dup] = deque()
        #: Instances ended since the last `advance`; then those ended up to a time, by that time;
        #: and those whose process exited, by the exit's time.
        self._ended: list[int] = []
        self._ends: deque[tuple[int, list[int]]] = deque()
        self._exits: deque[tuple[int, list[int]]] = deque()
        #: The time of the last `advance`; False once events came out of time order (then
        #: nothing is written before `finish`, as the answers need the whole log).
        self._now = -(1 << 63)
        self._streaming = True
        #: Instances written without a 4658 seen for their computer yet, by (host, computer): if
        #: none comes in the whole log, `finish` words their close anew ("auditing seems off").
        self._unclosed: dict[tuple[str, str], array[int]] = {}
        #: The 4690s without a source found (their positions): their reasons are worded again at
        #: the end, when the whole log says whether any 4656 is logged and which processes began.
        self._missed = array("q")
        #: The last instance of each (process, value) written while closed, (its index, first
        #: event, 4658), and when that close was: a 4690 resolved later may name it as a source
        #: closed just before it (`_choose`); dropped once no 4690 left can (`advance`).
        self._closed: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._closed_times: deque[tuple[int, tuple[int, int], int]] = deque()
        #: The copies of each instance whose object may still change (`_settled`), and the copies
        #: written before their source's object was final: (source, their own fields). Both hold
        #: only what the open instances may still tell (a source opened by its 4656 tells its
        #: copies at once), not what the log held.
        self._heirs: dict[int, list[int]] = {}
        self._waiting: dict[int, tuple[int, HandleFields]] = {}
        self.seen: Counter[tuple[str, int]] = Counter()
        self.choices = SourceChoices(facts)

    def _new(self, host: str, computer: str, pid: int, proc: int, hid: int, at: int) -> _Handle:
        index = self.count
        self.count = index + 1
        h = _Handle(index, host, computer, pid, hid, proc, at)
        self.handles[index] = h
        key = (proc, hid)
        old = self._alive.get(key)
        if old is not None:
            self.handles[old].replaced_by = at
            self._ended.append(old)
        self._alive[key] = index
        same = self._all.get(key)
        if same is None:  # most values are opened once per process: no list for those
            self._all[key] = index
        elif isinstance(same, int):
            self._all[key] = [same, index]
        else:
            same.append(index)
        return h

    def open(self, host: str, computer: str, pid: int, proc: int, hid: int, event_id: int,
             fields: HandleFields, *, at: int) -> int:
        """A 4656/4661: a new handle instance (ending any unclosed one with the same value).
        `at` is the event's position in the facts table (the handle keeps that, not a `Ref`)."""
        self.seen[(host, event_id)] += 1
        h = self._new(host, computer, pid, proc, hid, at)
        h.opened = at
        h.object_type, h.object_name, h.access = fields
        return h.index

    def use(self, host: str, computer: str, pid: int, proc: int, hid: int, event_id: int,
            fields: HandleFields, *, at: int) -> int:
        """A 4663/4660 on the alive handle; an inferred instance when its open is not logged.
        (The scan does this step itself for most events: `core.correlate.scan_rows`.)"""
        self.seen[(host, event_id)] += 1
        idx = self._alive.get((proc, hid))
        h = self.handles[idx] if idx is not None else self._new(host, computer, pid, proc, hid, at)
        if h.object_type is None:
            h.object_type = fields[0]
        if h.object_name is None:
            h.object_name = fields[1]
        if h.accesses is None:
            h.accesses = array("q")
        h.accesses.append(at)
        return h.index

    def close(self, host: str, computer: str, pid: int, proc: int, hid: int, event_id: int, record_id: int | None,
              *, at: int) -> int:
        """A 4658 (`record_id`: its record, named in close notes). It may close the process's
        own handle, or (System-target quirk) the target handle of a 4690 from this process into
        System: the most recently created wins."""
        self.seen[(host, event_id)] += 1
        key = (proc, hid)
        own = self._alive.get(key)
        alias = self._alias.get(key) if self._alias else None
        if alias is not None and (alias not in self.handles or self.handles[alias].end >= 0):
            alias = None
        if alias is None and own is not None:  # the usual case: its own handle, alive
            h = self.handles[own]
            if self._alias_key:
                self._drop_alias(own)
            del self._alive[key]
            h.closed = at
            self._ended.append(own)
            return own
        cands = [i for i in (own, alias) if i is not None]
        if cands:
            idx = max(cands, key=lambda i: _start_key(self.handles[i]))
            h = self.handles[idx]
            self._drop_alias(idx)
            if idx == alias:
                # (a note already there: another close's words, that this 4658 may have closed it)
                note = ALIAS_CLOSE_NOTE.format(record_id, pid)
                h.close_note = note if h.close_note is None else f"{note}; {h.close_note}"
                if self._alive.get((h.process, hid)) == idx:
                    del self._alive[(h.process, hid)]
            else:
                del self._alive[(proc, hid)]
            if len(cands) == 2:
                # Either handle may be the one closed: both closes are ambiguous, each naming the
                # other handle (the other's close, whatever it is, is worded with its note).
                other = self.handles[cands[0] if idx == cands[1] else cands[1]]
                h.close_note = (f"{h.close_note or f'closed by 4658 record {record_id}'}; {AMBIGUOUS_CLOSE}"
                                f"it may close instead {self._described(other)} (of the two, the most "
                                "recently created is taken)")
                other.close_note = (f"{AMBIGUOUS_CLOSE}4658 record {record_id} may have closed it instead of "
                                    f"{self._described(h)}")
        else:
            h = self._new(host, computer, pid, proc, hid, at)
            del self._alive[(proc, hid)]
        h.closed = at
        self._ended.append(h.index)
        return h.index

    def _described(self, h: _Handle) -> str:
        """`handle 0x1a8c of 0x4 created by 4690 record 5`: an instance as a reason names it."""
        return f"handle {hex_id(h.handle_id)} of {pid_text(h.pid)} {_began(self.facts, h.first_seen)}"

    def _drop_alias(self, idx: int) -> None:
        """`idx` is closed: a 4658 under the source pid can no longer close it."""
        key = self._alias_key.pop(idx, None)
        if key is not None and self._alias.get(key) == idx:
            del self._alias[key]

    def duplicate(self, host: str, computer: str, ref: Ref, source_proc: int, source_pid: int, source_hid: int,
                  target_proc: int | None, target_pid: int | None, target_hid: int | None, *, at: int) -> int | None:
        """A 4690 (`at`: its position in the facts table): create the target handle now; its
        source is chosen once every open that may be it is seen (`advance`)."""
        self.seen[(host, ref.event_id)] += 1
        target: int | None = None
        if target_proc is not None and target_pid is not None and target_hid is not None:
            h = self._new(host, computer, target_pid, target_proc, target_hid, at)
            h.duplicated_by = at
            target = h.index
            if target_pid == SYSTEM_PID and source_pid != SYSTEM_PID:
                self._alias[(source_proc, target_hid)] = h.index
                self._alias_key[h.index] = (source_proc, target_hid)
        self._dups.append(_Dup(at, ref.ts, host, computer, source_proc, source_pid, source_hid, target))
        return target

    def process_exited(self, proc: int, ref: Ref, handles: Sequence[int]) -> None:
        exited: list[int] = []
        live = self.handles
        for idx in handles:
            h = live.get(idx)
            if h is not None and h.end < 0 and h.owner_exit is None:
                h.owner_exit = ref
                exited.append(idx)
        if exited:
            self._exits.append((ref.ts, exited))

    def restarted(self, host: str, key: tuple[int, int], restart: str) -> None:
        """Computer `host` restarted at `key` (its words: `the restart (...)`): a handle without an
        open first seen after it says so rather than "before the log begins" (`restart_before`)."""
        keys, texts = _RESTARTS.setdefault(self.facts, {}).setdefault(host, ([], []))
        keys.append(key)
        texts.append(restart)

    def process_restarted(self, handles: Sequence[int], ts: int, restart: str) -> None:
        """The process owning `handles` was alive at `restart` (its words: `the restart (...)`), at
        time `ts`: its handles still open end there, written once past it as an exit's are (no
        later event reaches them: the restart's pids, and so their handles, are new instances)."""
        note = RESTART_NOTE.format(restart)
        ended: list[int] = []
        live = self.handles
        for idx in handles:
            h = live.get(idx)
            if h is not None and h.end < 0 and h.owner_exit is None and h.restart is None:
                h.restart = note
                ended.append(idx)
        if ended:
            self._exits.append((ts, ended))

    def advance(self, now: int) -> None:
        """The scan has fed every event up to time `now` (and none later): choose the sources
        that no later event can change, then write the instances that none can (see the class
        doc). The scan calls it after each batch of rows, once they are in the facts table."""
        if not self._streaming:
            return
        if now < self._now:  # out of time order: every answer waits for the whole log
            self._streaming = False
            return
        self._now = now
        if self._ended:
            self._ends.append((now, self._ended.copy()))
            self._ended.clear()
        settled = now - SOURCE_OPEN_WINDOW  # what happened before this time can no longer change
        dups = self._dups
        while dups and dups[0].ts < settled:
            self._resolve(dups.popleft())
        times, closed = self._closed_times, self._closed
        while times and times[0][0] < settled - SOURCE_OPEN_WINDOW:  # no 4690 left within the window after
            _, key, idx = times.popleft()
            if closed.get(key, (-1,))[0] == idx:
                del closed[key]
        ends = self._ends
        while ends and ends[0][0] < settled:
            self._final(ends.popleft()[1])
        exits = self._exits
        while exits and exits[0][0] < settled - EXIT_GRACE:
            for idx in exits.popleft()[1]:
                h = self.handles.get(idx)
                if h is not None and h.end < 0 and not self._aliased(idx):
                    key = (h.process, h.handle_id)
                    if self._alive.get(key) == idx:  # (it is: not ended) no event reaches it any more
                        del self._alive[key]
                    self._final((idx,))

    def _aliased(self, idx: int) -> bool:
        """Whether a 4658 under another process may still close `idx` (`close`'s alias)."""
        key = self._alias_key.get(idx)
        return key is not None and self._alias.get(key) == idx

    def _final(self, idxs: Iterable[int]) -> None:
        """Write instances `idxs` into the table and forget them (nothing can change them any more).
        A loop over many: a call per instance was a percent of the build's CPU."""
        handles, every, put = self.handles, self._all, self.table.put
        for idx in idxs:
            h = handles.pop(idx, None)
            if h is None:
                continue
            key = (h.process, h.handle_id)
            same = every.get(key)
            if same == idx:
                del every[key]
            elif isinstance(same, list):
                # Instances of one key end, and are written, in creation order: the first, mostly.
                if same[0] == idx:
                    del same[0]
                else:
                    same.remove(idx)
                if len(same) == 1:
                    every[key] = same[0]
            if self._alias_key:
                self._drop_alias(idx)
            if h.closed >= 0:  # a 4690 resolved later may yet name it (`_choose`)
                last = self._closed.get(key)
                if last is None or last[1] < h.first_seen:
                    self._closed[key] = (idx, h.first_seen, h.closed)
                    self._closed_times.append((self._now, key, idx))  # (not before its close)
            # `_write`, inlined: this runs for nearly every instance (most are no copy, none copied).
            otype, oname, access = (h.object_type, h.object_name, h.access) if h.source is None else self._object(h)
            put(idx, h.computer, h.pid, h.handle_id, h.process, h.opened, h.duplicated_by, h.source,
                otype, oname, access, h.closed,
                h.close_note if h.closed >= 0 else self._close_note(h, whole_log=False), h.duplications,
                h.first_seen)
            if h.accesses is not None:
                self.table.put_accesses(idx, h.accesses)
            if self._heirs and idx in self._heirs and idx not in self._waiting:
                self._settled(idx, (otype, oname, access))

    def _write(self, h: _Handle, *, whole_log: bool) -> None:
        """`h` into the table, positionally in `Handle`'s field order (its accesses: `finish`)."""
        i = h.index
        note = h.close_note if h.closed >= 0 else self._close_note(h, whole_log=whole_log)
        fields = (h.object_type, h.object_name, h.access) if h.source is None else self._object(h)
        self.table.put(i, h.computer, h.pid, h.handle_id, h.process, h.opened, h.duplicated_by, h.source,
                       *fields, h.closed, note, h.duplications, h.first_seen)
        if h.accesses is not None:
            self.table.put_accesses(i, h.accesses)
        if i in self._heirs and i not in self._waiting:
            self._settled(i, fields)

    # -- a copy's object: its own events' word first, then its source's, once final --------------

    def _object(self, h: _Handle) -> HandleFields:
        """The object of copy `h`, being written (its own fields are final): what its own events
        said, the rest from its source. When the source's part may still change (the source may
        yet learn it), `h` waits for it (`_waiting`) and its row is worded anew by `_settled`."""
        own: HandleFields = (h.object_type, h.object_name, h.access)
        got = h.inherited
        if got is not None:
            return _filled(own, got)
        assert h.source is not None
        part, known = self._final_part(h.source)
        fields = _filled(own, part)
        if known | _said(own) != _ALL:
            self._waiting[h.index] = (h.source, own)
        return fields

    def _final_part(self, index: int) -> tuple[HandleFields, int]:
        """What of the object of instance `index` (not final yet) can no longer change, and which
        fields that is (bits of `_ALL`). A field its own events said is final (an instance never
        forgets one); one they did not may come from a later use (type and name, while it is
        open) or from its source (a copy's, until that is final)."""
        h = self.handles.get(index)
        if h is None:  # written, waiting for its own source: its own fields are final
            wait = self._waiting.get(index)
            return (wait[1], _said(wait[1])) if wait is not None else (NOTHING, 0)
        own = (h.object_type, h.object_name, h.access)
        known = _said(own)
        got = h.inherited if h.inherited is not None or h.duplicated_by >= 0 else NOTHING
        if got is None or known == _ALL:
            return own, known
        used = h.end < 0  # open: a use may still say its type and name (only its open said its access)
        fields = list(own)
        for i in range(3):
            if fields[i] is None and (i == 2 or not used):
                fields[i] = got[i]
                known |= 1 << i
        return (fields[0], fields[1], fields[2]), known

    def _settled(self, index: int, fields: HandleFields) -> None:
        """The object of instance `index` is final (`fields`): its copies not written yet take it when
        they are, and those written meanwhile (`_waiting`) are worded anew, and so are theirs."""
        heirs, waiting, handles = self._heirs, self._waiting, self.handles
        final = [(index, fields)]
        while final:
            source, got = final.pop()
            for heir in heirs.pop(source, ()):
                h = handles.get(heir)
                if h is not None:
                    h.inherited = got
                    continue
                wait = waiting.pop(heir, None)
                if wait is not None:  # (None: its object was final without this source's part)
                    now = _filled(wait[1], got)
                    self.table.set_object(heir, *now)
                    final.append((heir, now))

    def _settle_cycles(self) -> None:
        """Copies still waiting once every instance is written wait on each other (a 4690 whose
        source is chosen among later instances can close a loop), or on such copies: each takes
        what its chain of sources says, nearest first, up to the first copy seen twice
        (`_objects`: each copy walked once, however long the chains)."""
        waiting = self._waiting
        objects = self._objects(sorted(waiting))
        for index in sorted(waiting):
            self.table.set_object(index, *objects[index])
        waiting.clear()

    def resolve_sources(self) -> None:
        """Choose the source handle of each 4690 left (`advance` chose the others): the nearest
        instance of (source process, value) alive at the 4690, or opened after it (logged out of
        order) within SOURCE_OPEN_WINDOW. Then word the choices that needed the whole log."""
        dups = self._dups
        while dups:
            self._resolve(dups.popleft())
        facts = self.facts
        for at in self._missed:
            found = facts.facts(at)
            assert found.source_proc is not None and found.source_pid is not None and found.source_hid is not None
            self.choices.put(found.ref.store_id, at, self._missing(_Dup(
                at, found.ref.ts, found.host, found.computer, found.source_proc, found.source_pid, found.source_hid,
                found.target_handle)))
        self._missed = array("q")
        self._closed.clear()
        self._closed_times.clear()
        self._settle_held()

    def _settle_held(self) -> None:
        """The whole log is seen (`resolve_sources`' callers): no instance learns more, so each copy
        still held takes its object now (its own events' word, then its source's, copies of copies
        alike), and the held instances are what `finish` writes.

        A copy's object is what the chain of sources from it says, nearest first, up to an
        instance whose object is final or the first one seen twice (a loop). Each instance's answer
        is its own word filled from the next one's (`_objects`), worked out once per instance: a
        long chain (thousands of copies of copies at one time) costs its length, not its square."""
        handles = self.handles
        starts = [h.index for h in handles.values() if h.source is not None and h.inherited is not NOTHING]
        objects = self._objects(starts)
        for index in starts:
            h = handles[index]
            h.object_type, h.object_name, h.access = objects[index]
            h.inherited = NOTHING  # (its fields are its object: nothing more to take)

    def _link(self, at: int) -> tuple[HandleFields, int | None]:
        """What instance `at` (held, or written and `_waiting`) says of its object itself, and the
        instance the rest comes from (None: its word is final)."""
        src = self.handles.get(at)
        if src is not None:
            own: HandleFields = (src.object_type, src.object_name, src.access)
            if src.inherited is not None:  # its source's part known (or its own fields final)
                return _filled(own, src.inherited), None
            return own, src.source
        wait = self._waiting.get(at)
        if wait is not None:
            return wait[1], wait[0]
        return NOTHING, None

    def _objects(self, starts: Iterable[int]) -> dict[int, HandleFields]:
        """The object of each instance of `starts` and of each on the chains of sources from
        them: its word (`_link`), each field it lacks from the nearest instance down the chain that
        says it, the chain ending where an instance is seen again. Each instance is walked once:
        one whose answer is known ends a walk, and a loop's instances are answered together."""
        done: dict[int, HandleFields] = {}
        for first in starts:
            path: list[tuple[int, HandleFields]] = []
            on_path: dict[int, int] = {}
            at: int | None = first
            rest = NOTHING
            while at is not None:  # bounded: each step adds an instance to the path
                if at in done:
                    rest = done[at]
                    break
                loop = on_path.get(at)
                if loop is not None:  # a loop: its instances each read it round from themselves
                    ring = path[loop:]
                    del path[loop:]
                    got = NOTHING
                    for _, own in reversed(ring):
                        got = _filled(own, got)
                    done[ring[0][0]] = got
                    for index, own in reversed(ring[1:]):
                        got = _filled(own, got)
                        done[index] = got
                    rest = done[at]
                    break
                own, nxt = self._link(at)
                on_path[at] = len(path)
                path.append((at, own))
                at = nxt
            for index, own in reversed(path):
                rest = _filled(own, rest)
                done[index] = rest
        return done

    def _resolve(self, dup: _Dup) -> None:
        choice = self._choose(dup)
        if choice.handle is not None:
            said = self.handles[choice.handle].source_said
            if said is not None:
                choice = self._carried(dup, choice, said)
        self.choices.put(self.facts.store_id(dup.at), dup.at, choice)
        if choice.handle is not None:
            src = self.handles[choice.handle]
            if src.duplications is None:
                src.duplications = []
            src.duplications.append(dup.at)
            if dup.target is not None:
                # The copy takes the source's object when written, whatever the source learns
                # meanwhile (`_object`): at once when its open said it all (the usual case).
                tgt = self.handles[dup.target]
                tgt.source = src.index
                sure = KIND_CONFIDENCE[choice.kind] if isinstance(choice, Chosen) else choice.confidence
                if sure != EXACT:  # its object is no surer than its source (nor are copies of it)
                    tgt.source_said = (sure, dup.at)
                if src.object_type is not None and src.object_name is not None and src.access is not None:
                    tgt.inherited = (src.object_type, src.object_name, src.access)
                else:
                    self._heirs.setdefault(src.index, []).append(tgt.index)
        else:
            if dup.target is not None:
                self.handles[dup.target].inherited = NOTHING
            self._missed.append(dup.at)  # worded again once the whole log is seen

    def _carried(self, dup: _Dup, choice: SourceChoice | Chosen, said: tuple[str, int]) -> SourceChoice:
        """`choice` of a source that is a copy whose own source was not chosen for sure (`said`):
        no surer than that, its object came from there. (A copy whose own events named its object
        is a copy all the same: the 4690 that made it is named.)"""
        if isinstance(choice, Chosen):
            sure, reason = worded(choice.kind, self.facts.ref(choice.first), self.facts.ref(dup.at))
            candidates: tuple[int, ...] = ()
        else:
            sure, reason, candidates = choice.confidence, choice.reason, choice.candidates
        word, made_at = said
        record = event_record(self.facts, made_at)[1]
        return SourceChoice(choice.handle, weakest(sure, word),
                            f"{reason}; its object is {word}: it is a copy made by 4690 record {record}, whose "
                            f"source handle is {word}", candidates)

    def _opens(self, host: str) -> int:
        return sum(self.seen[(host, e)] for e in OPEN_EVENTS)

    def _choose(self, dup: _Dup) -> SourceChoice | Chosen:
        """Instances under one (process, value) key are created in time order and each ends
        when the next begins, so only two can be the source: the last one begun before the
        4690 (if still open then) and the first one begun after it (logged out of order). The
        nearer wins, unless the earlier one's own 4658 is logged after the 4690: it held the value.
        One closed before the 4690 is no candidate, even when nearer (in real logs the source's
        4656 and 4658 come after its 4690, the value's previous instance closed just before it:
        the OTRF SystemNightMare sample, 4690 after 4690): when it is nearer than the one taken,
        the reason names it, and why it is not taken."""
        # Positions in the facts table are in scan order: comparing them compares places in time.
        facts, here = self.facts, dup.at
        at = facts.ref(here)
        key = (dup.source_process, dup.source_handle_id)
        same = self._all.get(key, [])
        idxs = [same] if isinstance(same, int) else same
        handles = self.handles

        def began(idx: int) -> int:  # where it began (no copy of them kept)
            return handles[idx].first_seen

        pos = bisect.bisect_left(idxs, here, key=began)
        after = pos + 1 if pos < len(idxs) and began(idxs[pos]) == here else pos
        ranked: list[tuple[tuple[int, int], int, int, int]] = []  # (distance, handle, kind, first)
        closed_before: tuple[int, int, int] | None = None  # (index, first event, 4658) of one closed before
        if pos == 0:
            closed_before = self._closed.get(key)  # written already (`_final`), if any
        if pos > 0:
            h = handles[idxs[pos - 1]]
            end = h.end
            if end >= 0 and h.closed >= 0 and end < here:
                closed_before = (h.index, h.first_seen, h.closed)
            if end < 0 or end > here:
                first = facts.ref(h.first_seen)
                distance = (at.ts - first.ts, at.order - first.order)
                ranked.append((distance, h.index, OPEN_BEFORE if h.start >= 0 else USED_BEFORE, h.first_seen))
                if h.closed > here:
                    # Its own 4658 comes after the 4690: it held the value then, so a later open of
                    # that value, however near, cannot be the source.
                    _, index, kind, first_at = ranked[0]
                    return Chosen(kind, index, first_at)
        if after < len(idxs):
            h = handles[idxs[after]]
            first = facts.ref(h.first_seen)
            if first.ts - at.ts <= SOURCE_OPEN_WINDOW:
                distance = (first.ts - at.ts, first.order - at.order)
                ranked.append((distance, h.index, OPEN_AFTER if h.start >= 0 else USED_AFTER, h.first_seen))
        ranked.sort(key=lambda r: r[0])
        if ranked:
            best = ranked[0]
            ties = [r for r in ranked if r[0] == best[0]]
            if len(ties) > 1:
                listed = ", ".join(f"record {facts.ref(handles[r[1]].first_seen).record_id}" for r in ties)
                return SourceChoice(best[1], AMBIGUOUS,
                                    f"several opens of {pid_text(dup.source_handle_id)} by {pid_text(dup.source_pid)} "
                                    f"are equally near this 4690: {listed}", tuple(r[1] for r in ties))
            if best[2] in (OPEN_AFTER, USED_AFTER) and closed_before is not None:
                index, first_at, closed_at = closed_before
                closed = facts.ref(closed_at)
                if first_at < here and closed_at < here and (at.ts - closed.ts, at.order - closed.order) < best[0]:
                    return self._not_closed_before(dup, best, closed_before)
            return Chosen(best[2], best[1], best[3])
        return self._missing(dup, whole_log=False)

    def _not_closed_before(self, dup: _Dup, later: tuple[tuple[int, int], int, int, int],
                           closed_before: tuple[int, int, int]) -> SourceChoice:
        """The source of `dup` is the instance begun after it (`later`, as `_choose` ranks it), not
        the nearer one closed before it (`closed_before`: its index, first event, 4658): said so."""
        facts = self.facts
        _, index, kind, first_at = later
        sure, taken = worded(kind, facts.ref(first_at), facts.ref(dup.at))
        _, other_first, closed_at = closed_before
        closed = facts.ref(closed_at)
        seconds = (facts.ref(dup.at).ts - closed.ts) / TICKS_PER_SECOND
        return SourceChoice(index, sure,
                            f"{taken}; not the nearer handle {pid_text(dup.source_handle_id)} of "
                            f"{pid_text(dup.source_pid)} {_began(facts, other_first)}: its {closed.event_id} (record "
                            f"{closed.record_id}) is logged {seconds:.7f} s before this 4690, and a handle closed "
                            "before a 4690 is not its source")

    def _missing(self, dup: _Dup, *, whole_log: bool = True) -> SourceChoice:
        """No source for `dup`: why, from what the log so far says of its computer and process (the
        whole log's when the scan is done: `resolve_sources` words these again then)."""
        if not self._opens(dup.host):
            return SourceChoice(None, MISSING, f"no 4656 at all for {dup.computer} in this log: Object Access "
                                "auditing (File System, Registry, Kernel Object) seems off")
        near = (f"no 4656 for handle {pid_text(dup.source_handle_id)} of process {pid_text(dup.source_pid)} "
                "near this 4690")
        created = owner_created(self.facts, dup.at) if whole_log else None
        if created is not None:  # the process began in the log: so did the handle, unlogged
            return SourceChoice(None, MISSING, f"{near}, and that process started in this log ({created[0]} record "
                                f"{created[1]}): its open was not audited, or it was inherited at the process's "
                                "creation")
        restart = restart_before(self.facts, dup.at, dup.host)
        if restart is not None:  # (the restarts before it are all known, whole log or not)
            return SourceChoice(None, MISSING, f"{near}, nor since {restart}: opened after it without an audited "
                                "open, or inherited at its process's creation")
        return SourceChoice(None, MISSING, f"{near}: opened before the log begins, or its object is not audited")

    def finish(self) -> HandleTable:
        """Write the instances left into the model's `HandleTable` (the one this tracker was made
        with: columns, its events positions in the facts table), with every instance's accesses and
        the reasons that needed the whole log, and return it. The tracker is spent afterwards."""
        self.resolve_sources()
        handles, table = self.handles, self.table
        self._all.clear()
        self._alive.clear()
        self._alias.clear()
        self._alias_key.clear()
        self._ends.clear()
        self._exits.clear()
        self._ended.clear()
        while handles:  # dropped as written (the first first): not all held twice
            self._write(handles.pop(next(iter(handles))), whole_log=True)
        self._settle_cycles()
        self._heirs.clear()
        table.resize(self.count)
        for (host, computer), written in self._unclosed.items():
            if not self._closes(host):
                note = _closes_off(computer)
                for i in written:
                    table.set_close_note(i, note)
        self._unclosed.clear()
        # The 4663/4660s of each instance, from the facts table (the scan keeps none per handle).
        table.fill_accesses(*self.facts.by_source_handle(USE_EVENTS, self.count))
        return table

    def _closes(self, host: str) -> bool:
        return any(self.seen[(host, e)] for e in CLOSE_EVENTS)

    def _close_note(self, h: _Handle, *, whole_log: bool = True) -> str | None:
        """Why the close of `h` is what it is; None when it is its own 4658 (`Handle.close_reason`
        words that one when read). Before the whole log is seen (`whole_log` False), a computer
        with no 4658 yet is taken to have some, and `finish` words it anew if none comes. A note
        the instance holds unclosed is another close's (`close`: a 4658 that may have closed it)."""
        if h.closed >= 0:
            return h.close_note
        if not self._closes(h.host):
            if whole_log:
                return _closes_off(h.computer)
            written = self._unclosed.get((h.host, h.computer))
            if written is None:
                written = self._unclosed[(h.host, h.computer)] = array("q")
            written.append(h.index)
        if h.replaced_by >= 0:
            reused = self.facts.ref(h.replaced_by)
            note = (f"no 4658 for it: the value {hex_id(h.handle_id)} was reused by {reused.event_id} "
                    f"record {reused.record_id}")
        elif h.owner_exit is not None:
            note = EXITED_NOTE.format(h.owner_exit.record_id)
        elif h.restart is not None:
            note = h.restart
        else:
            note = sys.intern(f"no 4658 for {hex_id(h.handle_id)} in this log: still open at the end of the log")
        return note if h.close_note is None else f"{note}; {h.close_note}"


#: The close note of a handle whose process exited without a 4658 for it (worded from the 4689).
EXITED_NOTE = "no 4658 for it: its process exited (4689 record {})"
#: ... and of one open when its computer restarted (`the restart (4608 record N: ...)`).
RESTART_NOTE = "no 4658 for it: ended by {}"
#: The close note of a handle duplicated into System and closed by a 4658 logged under its source
#: process (its record, that pid): tens of thousands at ten million events, kept as codes.
ALIAS_CLOSE_NOTE = ("closed by 4658 record {}, logged under the source process 0x{:x} "
                    "(a handle duplicated into System is closed under the source pid)")


def _said(fields: HandleFields) -> int:
    """The bits (of `_ALL`) of the fields `fields` holds."""
    return (fields[0] is not None) | (fields[1] is not None) << 1 | (fields[2] is not None) << 2


def _filled(own: HandleFields, more: HandleFields) -> HandleFields:
    """`own`, each field it lacks taken from `more`."""
    return (own[0] if own[0] is not None else more[0], own[1] if own[1] is not None else more[1],
            own[2] if own[2] is not None else more[2])


def _closes_off(computer: str) -> str:
    return sys.intern(f"Handle Manipulation auditing seems off: no 4658 at all for {computer} in this log")


#: `Handle(...)` of every field, without the frozen dataclass' `__init__`.
make_handle = slot_maker(Handle)


def _began(facts: RefSource, first_seen: int) -> str:
    """`opened by 4656 record 7`, `created by 4690 record 5`, `first seen in 4663 record 9`: how
    an instance began (its first event, `first_seen`: its open or 4690 when it has one), as a
    reason naming it says."""
    eid, record = event_record(facts, first_seen)
    how = "opened by" if eid in OPEN_EVENTS else "created by" if eid in DUPLICATE_EVENTS else "first seen in"
    return f"{how} {eid} record {record}"


def _start_key(h: _Handle) -> int:
    """Where `h` began (its open or 4690, else its first event): a position in scan order."""
    start = h.start
    return start if start >= 0 else h.first_seen
