"""Process instances: the timeline every other correlation link is scoped by.

Windows reuses process ids, so a pid alone names nothing: a process instance is
(computer, pid, created_at). It begins at the 4688 whose NewProcessId is the pid and lives until
the 4689 with the same computer and pid, or until the next 4688 that reuses the pid, or until its
computer restarts (`core.correlate.process_boots`: pids start afresh, no later event reaches it),
or the end of the log. A pid used while no instance of it is alive (System, lsass.exe, anything started
before the log begins) becomes an *inferred* instance, named from whatever event names it.

The evidence types every correlation link shares (`Ref`, the confidence words) are in
`core.correlate.evidence`, the instances the model keeps in `core.correlate.process_instance`;
this module re-exports both, as the handle and session modules and the views import them from
here.

Instances keep their model events as positions in the scan's facts table, and each is frozen
into the model's `ProcessTable` as soon as nothing can change it (its pid's next instance began:
`STREAM`), so that the scan does not hold every instance until the model is built (issue 18).

(About 700 lines: the scan-time instance, the tracker's steps and the freezing (during the scan
and at its end) must agree on what an instance keeps and when it is final, so they sit together.)
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from core.correlate.evidence import (
    AMBIGUOUS,
    CHANNEL_SKEW,
    CONFIDENCES,
    EXACT,
    EXIT_GRACE,
    INFERRED,
    MISSING,
    SYSTEM_PID,
    TICKS_PER_SECOND,
    Ref,
    basename,
    pid_text,
)
from core.correlate.fact_notes import LATE_NOTE, LATE_USE_NOTE
from core.correlate.process_boots import Restart
from core.correlate.process_instance import (
    CREATED_BY_4688,
    Bound,
    Held,
    Process,
    SysmonView,
    bounder,
    keeper,
    make_process,
)
from core.correlate.process_table import ProcessTable
from core.correlate.roles import ROLES

if TYPE_CHECKING:
    from core.correlate.facts import FactsTable

#: The evidence types and instances live in their own modules; their users import them from here.
__all__ = [
    "AMBIGUOUS", "CHANNEL_SKEW", "CONFIDENCES", "EXACT", "EXIT_GRACE", "INFERRED", "MISSING", "SYSTEM_PID",
    "TICKS_PER_SECOND", "Bound", "Held", "Process", "ProcessTracker", "Ref", "SysmonView", "basename",
    "join_reason", "make_process", "pid_text", "same_image", "same_process",
]

_NO_NAME = ("", "-")



#: A model event a scan instance keeps: its position in the facts table (the scan's rows), or
#: its `Ref` when the table does not hold it (a Sysmon event; any event, for a tracker without
#: a table). A position is an int (32 bytes), a `Ref` with its own ints ~200.
Kept = Ref | int

#: `_Proc.names`: none, one `(key, name, kept)`, or a dict of `key: (name, kept)`.
Names = dict[str, tuple[str, Kept]] | tuple[()] | tuple[str, str, Kept]


def same_event(a: Kept | None, b: Kept | None) -> bool:
    """Whether two kept events are one (None is none): positions are equal ints, `Ref`s the very
    object (the scan makes one per event)."""
    return a is b or (type(a) is int and a == b)


@dataclass(slots=True)
class _Proc:
    """A process instance while the scan builds it.

    Its events are kept as their positions in the scan's facts table (`Kept`), not `Ref`s: a
    `Ref` and its ints, held per event by every instance until the model is built, were half
    of what an instance cost (`ProcessTracker.ref` makes one when read). Compare kept events
    with `same_event`, not `is` (two ints of one position need not be one object); a position
    may be 0: test for None, never for truth."""

    index: int
    host: str
    computer: str
    pid: int
    first_seen: Kept
    created: Kept | None = None
    #: The record id of its 4688 (`created`), which its reason names: read when it is frozen, in
    #: the scan's loop (from the facts table, a call each, it was a tenth of freezing).
    record: int | None = None
    image: str | None = None
    command_line: str | None = None
    parent_pid: int | None = None
    parent: int | None = None
    user: str | None = None
    user_sid: str | None = None
    logon_id: int | None = None
    elevation: str | None = None
    integrity: str | None = None
    exited: Kept | None = None
    #: Its 4689's time, which the events logged within `EXIT_GRACE` after it read (`resolve`).
    exited_ts: int | None = None
    replaced_by: Kept | None = None
    #: The events its life begins and ends at (their `key`s are the instance's bounds): the
    #: events it keeps anyway, not a `(ts, order)` tuple each.
    start: Kept | None = None
    end: Kept | None = None
    previous: int | None = None  # the earlier instance of the same pid, if any
    #: Every name by its key (`name_key`), in the order named: a dict made on the second (the
    #: usual one, `(key, name, kept)`, one tuple: a sixth of a dict; none, `()`). `key in names`
    #: reads all three alike: a key equals no kept event, and a name equal to a key (a file name
    #: in lower case) is its own key.
    names: Names = ()
    children: array[int] | None = None  # made on the first (most instances start none); unboxed, as `handles`
    #: Its handles' indexes, unboxed: boxed in a list, a long-lived process's kept every index's int
    #: object alive until it was frozen (1.6 million at ten million churn events), scattered over
    #: the small-object allocator's pools, which stayed the process's once the scan ended (35 MB).
    handles: array[int] = field(default_factory=partial(array, "q"))
    guid: str | None = None
    sysmon_created: Ref | None = None
    sysmon_exited: Ref | None = None
    joined: str | None = None
    sysmon_events: list[Ref] | None = None  # made on first use: most logs have no Sysmon

    def add_name(self, name: str | None, ref: Kept, hold: Callable[[Ref], Kept] | None = None) -> None:
        """`name`, named by the event kept as `ref`, or by the event `ref` kept as `hold` makes it
        (`ProcessTracker.hold`: only when the name is new, the usual case being a name known)."""
        if name is None:
            return
        key = _NAME_KEYS.get(name)
        if key is None:
            key = _name_key(name)
        names = self.names
        if key and key not in names:
            name = sys.intern(name)
            if hold is not None:
                ref = hold(ref)  # type: ignore[arg-type]
            if not names:
                self.names = (key, name, ref)
            elif isinstance(names, tuple):
                self.names = {names[0]: (names[1], names[2]), key: (name, ref)}
            else:
                names[key] = (name, ref)
            if self.image is None:
                self.image = name

    def named(self) -> tuple[tuple[str, Kept], ...]:
        """Every (name, event naming it), in the order named."""
        names = self.names
        if isinstance(names, dict):
            return tuple(names.values())
        return ((names[1], names[2]),) if names else ()


#: `_name_key` by image name as logged, bounded (cleared when full): every handle event names
#: its process, the same few images over and over (its `basename` was a tenth of the scan).
_NAME_KEYS: dict[str, str] = {}
NAME_KEYS = 4096


def name_key(name: str | None) -> str:
    """The key `Process.names` keeps `name` under ("" for no name)."""
    return "" if name is None or name.strip() in _NO_NAME else basename(name).casefold()


#: Whether the scan's instances are frozen into the model's table as soon as nothing can change
#: them (`ProcessTracker._release`): a busy log has hundreds of thousands, all held until the
#: model was built otherwise (a fifth of the build's peak).
STREAM = True

#: Superseded instances released at once (`ProcessTracker._release`): one at a time, interleaved
#: with the scan's other work, freezing them cost a third more CPU time than in one loop.
RELEASE_BATCH = 1024

#: Notes of events logged after their instance's exit remembered (`ProcessTracker._late`).
LATE_NOTES = 1024

#: How the reason of an instance a restart ended ends (`ProcessTracker._confidence`).
RESTART_ENDED = "; ended by {}, no 4689 before it"


def restart_ended(reason: str) -> str | None:
    """The restart (`the restart (4608 record 6: ...)`) an instance's reason says ended it, None if none."""
    head, tail = RESTART_ENDED.split("{}")
    at = reason.rfind(head + "the restart (")
    if at < 0 or not reason.endswith(tail):
        return None
    return reason[at + len(head):len(reason) - len(tail)]


def _name_key(name: str) -> str:
    """`name_key`, remembered."""
    key = name_key(name)
    if len(_NAME_KEYS) >= NAME_KEYS:
        _NAME_KEYS.clear()
    _NAME_KEYS[name] = key
    return key


def _user(domain: str | None, name: str | None) -> str | None:
    if not name or name in _NO_NAME:
        return None
    return sys.intern(f"{domain}\\{name}" if domain and domain not in _NO_NAME else name)


def _kept(value: str | None) -> str | None:
    """A text an instance keeps, once for all the instances that have it (most logs run the
    same images and command lines, as the same users, thousands of times)."""
    return sys.intern(value) if value is not None else None


class ProcessTracker:
    """Builds process instances from events fed in time order (see `CorrelationModel`).

    `host` is the computer name case-folded: the scope key (the same pid on two hosts is two
    processes); `computer` is kept as logged for display. With `facts` (the scan's table, which
    appends each model event's row after its step), instances keep the model events as their
    positions in it (`hold`); without, as their `Ref`s.
    """

    def __init__(self, facts: FactsTable | None = None) -> None:
        #: By index; None once frozen during the scan (`_release`): the steps only read the
        #: current instances (typed without None for them).
        self.procs: list[_Proc] = []
        self._current: dict[tuple[str, int], int] = {}
        self.creations: Counter[str] = Counter()
        #: 4689s per computer: none at all means Process Termination auditing is off.
        self.exits: Counter[str] = Counter()
        self.facts = facts
        #: The EventIDs whose events the facts table holds (the roles table's: not Sysmon's).
        self._held_ids: frozenset[int] = frozenset(ROLES) if facts is not None else frozenset()
        #: The note of the last events logged after an instance's exit, by instance: one string
        #: for all of them (the facts table keeps each event's note), bounded.
        self._late: dict[tuple[int, bool], str] = {}
        #: Instances superseded (the position of the event that superseded them, the instance, the
        #: one that superseded it), in that order: frozen into
        #: `_table` during the scan (`_release`) when `STREAM`, else at `finish`.
        self._candidates: deque[tuple[int, int, int]] = deque()
        self._stream = STREAM and facts is not None
        self._table: ProcessTable | None = None
        #: The event each instance frozen during the scan ended at, until its successor's reason reads it.
        self._ended: dict[int, Kept | None] = {}
        self._keep: Callable[[Ref | None], Held] | None = None
        self._bounder: Callable[..., Bound] | None = None
        #: Instances a waiting Sysmon 1 may still join (`core.correlate.scan`): not frozen meanwhile.
        self.awaited: set[int] = set()
        #: The last restart of each computer (`restart`): its new instances' lives begin there.
        self._boots: dict[str, Restart] = {}
        #: By instance index until frozen (few: not a field of every instance): the restart that
        #: ended it alive, and the one its life began at (no earlier instance of its pid in that
        #: boot). Its reason names them.
        self._restarted: dict[int, Restart] = {}
        self._booted: dict[int, Restart] = {}

    def hold(self, ref: Ref) -> Kept:
        """What an instance keeps of `ref`, the event being scanned: its position in the facts
        table (the row the scan appends once this step is done), or the `Ref` itself when the
        table will not hold it."""
        if ref.event_id in self._held_ids:
            assert self.facts is not None
            return len(self.facts)
        return ref

    def ref(self, kept: Kept) -> Ref:
        """The `Ref` of an event an instance keeps (equal to the one the scan made), read from
        the facts table or from its rows not packed yet (read without packing them early)."""
        if type(kept) is not int:
            return kept  # type: ignore[return-value]
        facts = self.facts
        assert facts is not None
        pending = facts.pending
        base = len(facts) - len(pending)
        if kept < base:
            return facts.ref(kept)
        return facts.pending_ref(kept - base)

    def key(self, kept: Kept) -> tuple[int, int]:
        """`ref(kept).key`."""
        if type(kept) is int:
            facts = self.facts
            assert facts is not None
            if kept < len(facts) - len(facts.pending):
                return facts.key(kept)
        return self.ref(kept).key

    def _new(self, host: str, computer: str, pid: int, ref: Kept) -> _Proc:
        proc = _Proc(len(self.procs), host, computer, pid, ref)
        proc.previous = previous = self._current.get((host, pid))
        procs = self.procs
        procs.append(proc)
        self._current[(host, pid)] = proc.index
        if previous is not None:
            old = procs[previous]
            assert old is not None  # the current instance of a pid is never frozen
            proc.start = old.end
            if self._stream:  # frozen at a later release (`_release`)
                candidates = self._candidates
                candidates.append((len(self.facts), previous, proc.index))  # type: ignore[arg-type]
                if len(candidates) >= RELEASE_BATCH:
                    self._release()
        elif self._boots:
            boot = self._boots.get(host)
            if boot is not None:  # the first of its pid since the restart: its life begins there
                self._booted[proc.index] = boot
                proc.start = boot.bound
        return proc

    def restart(self, restart: Restart) -> list[int]:
        """Its computer restarted: every instance alive on it ends there (`Restart.bound`), and no
        later event reaches one of its instances (the pids start afresh: `resolve` makes new ones).
        The instances ended, for their handles to end too."""
        host, procs, current = restart.host, self.procs, self._current
        self._boots[host] = restart
        ended: list[int] = []
        now = len(self.facts) if self.facts is not None else 0
        for key in [key for key in current if key[0] == host]:  # (a restart is rare: a pass over them)
            idx = current.pop(key)
            p = procs[idx]
            if p.end is None:
                p.end = restart.bound
                self._restarted[idx] = restart
                ended.append(idx)
            if self._stream:  # nothing supersedes it: frozen at a later release all the same
                self._candidates.append((now, idx, -1))
        if self._stream and len(self._candidates) >= RELEASE_BATCH:
            self._release()
        return ended

    def resolve(
        self, host: str, computer: str, pid: int, ref: Ref, *, name: str | None = None, grace: bool = True,
        close: bool = False,
    ) -> tuple[int, str | None]:
        """The instance of `pid` alive at `ref` (creating an inferred one if none is), and a
        note when the link is weaker than usual.

        `grace`: an event logged within EXIT_GRACE after the pid's last instance exited, no 4688
        having reused the pid since, still belongs to it, noted (a handle closed as the process
        exits, a use or a duplication logged the same millisecond after its 4689): taken for an
        unlogged new instance, it made one up that then took the pid's later events too. A 4689
        is the one event without (a process exits once: a second 4689 is another instance's).
        """
        idx = self._current.get((host, pid))
        if idx is not None:
            proc = self.procs[idx]
            if proc.end is None:
                proc.add_name(name, ref, self.hold)
                return idx, None
            exited = proc.exited
            if grace and exited is not None and proc.replaced_by is None and ref.ts - (
                    proc.exited_ts if proc.exited_ts is not None else self.key(exited)[0]) <= EXIT_GRACE:
                proc.add_name(name, ref, self.hold)
                note = self._late.get((idx, close))
                if note is None:  # (a close: the kernel's as the process exits; else taken by inference)
                    if len(self._late) >= LATE_NOTES:
                        self._late.clear()
                    note = (LATE_NOTE if close else LATE_USE_NOTE).format(self.ref(exited).record_id)
                    self._late[(idx, close)] = note
                return idx, note
        kept = self.hold(ref)
        proc = self._new(host, computer, pid, kept)
        proc.add_name(name, kept)
        return proc.index, None

    def create(self, host: str, computer: str, pid: int, ref: Ref, values: dict[str, str | None]) -> int:
        """A 4688: end the pid's previous instance if it is still alive, start a new one; or,
        when that instance is the same process seen first by Sysmon 1, complete it."""
        self.creations[host] += 1
        idx = self._current.get((host, pid))
        image = values.get("NewProcessName")
        proc: _Proc | None = None
        kept = len(self.facts) if ref.event_id in self._held_ids else ref  # type: ignore[arg-type]  # (`hold`)
        if idx is not None:
            old = self.procs[idx]
            # (an instance Sysmon 1 began that a 4689 already ended is not this 4688's process: the
            # 4689 of a process is logged after its 4688, and joined it read "exited" before "created")
            if old.sysmon_created is not None and old.end is None and same_event(
                    old.created, old.sysmon_created) and same_process(old, image, old.sysmon_created, ref):
                proc = old
                proc.joined = join_reason(old.sysmon_created, ref)
            elif old.end is None:
                old.end = kept
                old.replaced_by = kept
        if proc is None:
            proc = self._new(host, computer, pid, kept)
            proc.start = kept
        proc.created = kept
        proc.record = ref.record_id
        proc.add_name(image, kept)
        # (`_kept`, inlined: a call each was a tenth of this step)
        intern = sys.intern
        text = values.get("CommandLine")
        proc.command_line = intern(text) if text is not None else None
        target_user = _user(values.get("TargetDomainName"), values.get("TargetUserName"))
        proc.user = target_user or _user(values.get("SubjectDomainName"), values.get("SubjectUserName"))
        target_sid = values.get("TargetUserSid")
        text = target_sid if target_user and target_sid else values.get("SubjectUserSid")
        proc.user_sid = intern(text) if text is not None else None
        text = values.get("TokenElevationType")
        proc.elevation = intern(text) if text is not None else None
        text = values.get("MandatoryLabel")
        proc.integrity = intern(text) if text is not None else None
        return proc.index

    def current(self, host: str, pid: int) -> _Proc | None:
        """The latest instance of `pid` on `host` (alive or not)."""
        idx = self._current.get((host, pid))
        return self.procs[idx] if idx is not None else None

    def begin(self, host: str, computer: str, pid: int, ref: Ref, *, until: tuple[int, int] | None = None) -> _Proc:
        """A new instance created at `ref` (a Sysmon 1 without its 4688 yet), ending the pid's
        previous instance if it is still alive (the pid was reused). Its life begins at `ref`, or
        where the previous one's ended if that is later: a Sysmon 1 that waited for a 4688 that did
        not come (`core.correlate.scan`), after the previous instance's 4689, or while it lived:
        it then lived `until` that key (the events of the pid scanned meanwhile are its own)."""
        kept = self.hold(ref)
        old = self.current(host, pid)
        if old is not None and old.end is None:
            old.end = kept if until is None or until <= ref.key else Ref(-1, None, 0, None, *until)
            old.replaced_by = kept
        proc = self._new(host, computer, pid, kept)
        proc.created = kept
        if old is None or old.end is None or self.key(old.end) <= ref.key:
            proc.start = kept
        return proc

    def set_parent(self, child: int, parent_pid: int, parent: int | None) -> None:
        proc = self.procs[child]
        proc.parent_pid = parent_pid
        proc.parent = parent
        if parent is not None:
            kids = self.procs[parent].children
            if kids is None:
                self.procs[parent].children = array("q", (child,))
            else:
                kids.append(child)

    def exit(self, idx: int, ref: Ref) -> None:
        proc = self.procs[idx]
        self.exits[proc.host] += 1
        proc.exited = proc.end = len(self.facts) if ref.event_id in self._held_ids else ref  # type: ignore[arg-type]
        proc.exited_ts = ref.ts

    def _release(self) -> None:
        """Freeze into the table the instances superseded before the event being scanned that
        nothing can change any more (see the module's `STREAM`). An instance superseded by this
        event waits for the next release: this event's step may still name it (as the parent of
        a child of its own pid)."""
        facts, candidates, procs = self.facts, self._candidates, self.procs
        assert facts is not None
        now = len(facts)
        while candidates and candidates[0][0] < now:
            _, old, new = candidates.popleft()
            p = procs[old]
            if p is None or (self.awaited and old in self.awaited):
                continue  # (awaited: frozen at `finish`, as an instance `_final` turns down)
            if (p.created is None or p.guid is not None or p.sysmon_created is not None
                    or p.sysmon_exited is not None or p.sysmon_events) and not self._final(p):
                continue  # (`_final` is True for the usual instance, a 4688's without Sysmon)
            if self._table is None:
                self._table = ProcessTable(facts, facts.directory)
                self._keep, self._bounder = keeper(facts), bounder(facts)
            self._freeze(p, None if type(p.created) is int else self._confidence(p), self._table)
            procs[old] = None  # type: ignore[call-overload]
            # Its successor's reason names the event it ended at (`_confidence`) if no 4688 made
            # that one (none will: it would have been a new instance). The successor is not frozen
            # yet: it was superseded after this one. (None for one a restart ended: -1.)
            if new >= 0 and procs[new].created is None:
                self._ended[old] = p.exited if p.exited is not None else p.replaced_by

    def _final(self, p: _Proc) -> bool:
        """Whether superseded instance `p` is what `finish` would freeze: no later event can reach it
        (`resolve` and the steps find the current instance of a pid) but through its Sysmon GUID, nor
        the instance before it (whose end its reason names), and its reason does not wait on the
        whole log (no 4688 on its computer yet: it may say there is none at all)."""
        if p.guid is not None or p.sysmon_created is not None or p.sysmon_exited is not None or p.sysmon_events:
            return False
        if p.created is not None or p.pid == SYSTEM_PID:
            return True
        if p.previous is None:
            return self.creations[p.host] > 0
        prev = self.procs[p.previous]
        return prev is None or (prev.guid is None and prev.sysmon_exited is None)

    def finish(self, facts: FactsTable, table: ProcessTable | None = None) -> ProcessTable:
        """Freeze every instance into `table` (its columns; a new one by default), with its confidence and the reason
        for it; its model events are kept as their positions in `facts` (the scan's table). The
        instances frozen during the scan (`STREAM`) are in the tracker's own table already: that
        one is returned, the rest added to it (`table` must then be None or an empty one).

        The tracker is spent afterwards: each instance is dropped as soon as it is frozen, so
        that the scan's instances and the frozen ones are not all held at once. The reasons of
        the instances no 4688 created are made first: they name earlier instances."""
        assert self.facts is None or self.facts is facts
        self._late.clear()
        self._candidates.clear()
        procs = self.procs
        for p in procs:
            if p is not None and p.sysmon_exited is not None and p.exited is None:
                p.exited = p.sysmon_exited
                if p.end is None or p.sysmon_exited.key < self.key(p.end):
                    p.end = p.sysmon_exited
        if self._table is not None:
            assert table is None or (isinstance(table, ProcessTable) and not len(table)), "rows streamed elsewhere"
            table = self._table
        elif table is None:
            table = ProcessTable(facts, facts.directory)
        if self._keep is None:
            self._keep, self._bounder = keeper(facts), bounder(facts)
        inferred = {p.index: self._confidence(p) for p in procs if p is not None and p.created is None}
        self._ended.clear()
        procs.reverse()  # popped from the end: first instance first, each dropped once frozen
        for _ in range(len(procs)):
            p = procs.pop()
            if p is None:
                continue  # frozen during the scan
            known = inferred.pop(p.index, None)
            self._freeze(p, known if known is not None or type(p.created) is int else self._confidence(p), table)
        if isinstance(table, ProcessTable):
            assert table.complete()
        table.seal()
        return table

    def _held(self, kept: Kept | None) -> Held:
        """What the table keeps of a kept event: a position as it is; a `Ref`, its position if
        the facts table has it."""
        if kept is None or type(kept) is int:
            return kept
        assert self._keep is not None
        return self._keep(kept)  # type: ignore[arg-type]

    def _freeze(self, p: _Proc, said: tuple[str, str] | None, table: ProcessTable) -> None:
        """Add instance `p` to `table` (as `finish` freezes it), with its confidence and reason
        (`_confidence`; None for an instance a 4688 in `facts` created: read here once)."""
        held = self._held
        created, exited, replaced_by, first = p.created, p.exited, p.replaced_by, p.first_seen
        # (a position is what the table keeps: `_held` only for a `Ref`)
        if created is not None and type(created) is not int:
            created = held(created)
        if exited is not None and type(exited) is not int:
            exited = held(exited)
        if replaced_by is not None and type(replaced_by) is not int:
            replaced_by = held(replaced_by)
        if type(first) is not int:
            first = held(first)  # type: ignore[assignment]
        assert first is not None
        given = p.names  # `named()`, inlined for the usual one name
        names = ((given[1], given[2]),) if isinstance(given, tuple) and len(given) == 3 else p.named()
        # The usual reason is kept as its 4688's record id (`ProcessTable`: made when read).
        record = (p.record if p.record is not None else self.ref(p.created).record_id  # type: ignore[arg-type]
                  ) if type(created) is int else None
        restart = self._restarted.pop(p.index, None) if self._restarted else None
        if said is None and (record is None or restart is not None):  # (worded: no record id, or its restart)
            said = self._confidence(p, restart)
        booted = self._booted.pop(p.index, None) if self._booted else None
        if said is None:
            confidence, reason = EXACT, ""  # `CREATED_BY_4688` of `record`: worded only if needed
        else:
            confidence, reason = said
        if len(names) > 1:
            if said is None:
                reason = CREATED_BY_4688.format(record)
            listed = ", ".join(f"{basename(n)} (record {self.ref(r).record_id})" for n, r in names)
            confidence = AMBIGUOUS
            reason = (
                f"events name pid {pid_text(p.pid)} differently: {listed}; the pid may have been reused "
                f"without a 4688 in this log. {reason}"
            )
        derived = (said is None and len(names) <= 1) or (
            record is not None and reason == CREATED_BY_4688.format(record))
        table.append(
            p.computer,
            p.pid,
            created,
            p.image,
            p.command_line,
            p.parent_pid,
            p.parent,
            p.user,
            p.user_sid,
            p.logon_id,
            p.elevation,
            p.integrity,
            exited,
            replaced_by,
            # A bound kept as a position is that event's position; else the event's, if
            # `facts` has it, or the bound itself.
            start if (start := p.start) is None or type(start) is int else self._bound(start, created, exited,
                                                                                     replaced_by),
            end if (end := p.end) is None or type(end) is int else self._bound(end, exited, replaced_by, created),
            first,
            p.created is None and p.previous is None and booted is None,
            confidence,
            None if derived else reason,
            record if derived else None,
            None if len(names) == 1 and names[0][0] is p.image and same_event(names[0][1], p.first_seen)
            else tuple((n, first if same_event(r, p.first_seen) else held(r)) for n, r in names),  # type: ignore[misc]
            p.children or (),
            p.handles,
            None if p.guid is None and p.sysmon_created is None and not p.sysmon_events else SysmonView(
                p.guid, p.sysmon_created, p.sysmon_exited, p.joined,
                # (in time order: a Sysmon event that waited with a Sysmon 1 is added when replayed)
                tuple(sorted(p.sysmon_events, key=_ref_key)) if p.sysmon_events else ()),
            index=p.index,
        )

    def _bound(self, kept: Kept | None, *held: Held) -> Bound:
        if kept is None or type(kept) is int:
            return kept
        assert self._bounder is not None
        return self._bounder(kept.key, *held)  # type: ignore[union-attr]

    def _confidence(self, p: _Proc, restart: Restart | None = None) -> tuple[str, str]:
        """How instance `p` is known, and why; the restart that ended it, if one did (`restart`:
        given by `_freeze`, which took it)."""
        confidence, reason = self._known(p)
        restart = restart or self._restarted.get(p.index)
        if restart is not None:
            reason += RESTART_ENDED.format(restart.text)
        return confidence, reason

    def _known(self, p: _Proc) -> tuple[str, str]:
        if p.created is not None:
            if same_event(p.created, p.sysmon_created):
                return EXACT, f"created by Sysmon 1 record {self.ref(p.created).record_id} (ProcessGuid {p.guid})"
            return EXACT, CREATED_BY_4688.format(self.ref(p.created).record_id)
        pid = pid_text(p.pid)
        if p.pid == SYSTEM_PID:
            return INFERRED, "pid 4 is System: it starts with Windows, so no 4688 is ever logged for it"
        if p.previous is not None:
            prev = self.procs[p.previous]
            if prev is None:  # frozen during the scan
                ended = self._ended.pop(p.previous)
            else:
                ended = prev.exited if prev.exited is not None else prev.replaced_by
            at = f" (record {self.ref(ended).record_id})" if ended is not None else ""
            reason = f"no 4688 for {pid} after its previous instance ended{at}: its creation was not logged"
        elif self.creations[p.host] == 0:
            reason = (
                f"no 4688 for {pid}: there is no 4688 at all for {p.computer} in this log "
                "(Process Creation auditing seems off)"
            )
        elif p.index in self._booted:
            reason = f"no 4688 for {pid} since {self._booted[p.index].text}: its creation was not logged"
        else:
            reason = f"no 4688 for {pid} in this log: started before the log begins"
        if not p.names:
            return MISSING, reason + "; no event names it"
        return INFERRED, reason




def _ref_key(ref: Ref) -> tuple[int, int]:
    return ref.key


def same_process(proc: _Proc, image: str | None, first: Ref, then: Ref) -> bool:
    """Whether a 4688 and a Sysmon 1 (`first`, `then`, either way round) of the same pid are
    one process: logged within CHANNEL_SKEW of each other with the same image file name."""
    if abs(then.ts - first.ts) > CHANNEL_SKEW:
        return False
    return same_image(proc.image, image)


def same_image(known: str | None, image: str | None) -> bool:
    """Whether two images are the same file name (either unknown: they may be)."""
    a, b = basename(known).casefold(), basename(image).casefold()
    return not a or not b or a == b


def join_reason(first: Ref, then: Ref, rival: Ref | None = None) -> str:
    """Why a Sysmon 1 and a 4688 (`first`, `then`, either way round) are one process; `rival`, a
    4688 of the same pid and image farther from the Sysmon 1, also within the skew."""
    a, b = sorted((first, then), key=lambda r: r.event_id)
    seconds = abs(then.ts - first.ts) / TICKS_PER_SECOND
    text = (f"Sysmon 1 record {a.record_id} and 4688 record {b.record_id} are one process: same computer, pid "
            f"and image, logged {seconds:.3f} s apart (within the {CHANNEL_SKEW // TICKS_PER_SECOND} s "
            "skew between the channels)")
    if rival is not None:
        farther = abs(rival.ts - a.ts) / TICKS_PER_SECOND
        text += (f"; 4688 record {rival.record_id} of the same pid and image, {farther:.3f} s from the Sysmon 1, "
                 "is farther: the nearer 4688 is taken")
    return text
