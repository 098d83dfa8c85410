"""The correlation engine: from a 4690 (or any event) to the processes, handles and logon
session behind it, each link with its evidence and a confidence.

`build_model` takes events and returns plain frozen data (`core.correlate.links`); no SQL, no UI.
What each EventID means is one table (`core.correlate.roles`); the scan feeding the trackers is
`core.correlate.scan` and the trees `core.correlate.tree`. Everything is scoped by computer and
time, never by a pid or handle value alone: see the trackers (`processes`, `handles`,
`sessions`) for the rules and the quirks of real logs they handle.

About 670 lines: it is the model's one class, whose lookups (`correlate`, the 4690 list) share
its private resolvers; what grows goes to its own module (`access`, `tree`, `related`, `chain`).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from core.correlate.access import ImageIndex
from core.correlate.access_list import AccessList, process_accesses
from core.correlate.attach import Attachment
from core.correlate.chain import links_of
from core.correlate.duplications import DuplicationList, duplication_list
from core.correlate.event_fields import logon_of, pid_of, values_of
from core.correlate.evidence import weakest
from core.correlate.fact_notes import is_late_use
from core.correlate.facts import Facts, SysmonFacts
from core.correlate.handle_table import HandleTable
from core.correlate.handles import Handle
from core.correlate.links import (
    Correlation,
    Duplication,
    EventLink,
    HandleLink,
    Node,
    ProcessLink,
    Related,
    SessionLink,
)
from core.correlate.persistence import Run, hang
from core.correlate.process_boots import MARKER_EVENT_IDS, markers_of
from core.correlate.process_table import ProcessLists, ProcessTable
from core.correlate.processes import (
    AMBIGUOUS,
    CONFIDENCES,
    EXACT,
    INFERRED,
    MISSING,
    Process,
    Ref,
    pid_text,
    restart_ended,
)
from core.correlate.related import related
from core.correlate.roles import ATTACHED, HANDLE_ACTS, OTHER, ROLES, SYSMON, Act, scanned_event_ids
from core.correlate.scan import (
    Scan,
    record_id_of,
    scan_events,
    time_order,
    timed,  # noqa: F401 - the streamed read of `Store.iter_keys`, as the tests call it
    user_of,
)
from core.correlate.scan_reader import scan_stored
from core.correlate.session_frozen import FrozenSessions, processes_by_session
from core.correlate.sessions import Place, Session, SessionChoice
from core.correlate.source_choices import SourceChoices, target_said
from core.correlate.tree import TREE_EDGE, correlation_tree, process_forest, summary
from core.model.event import EventKeys
from core.store.filter import Order
from core.store.gc_pause import gc_paused
from core.store.heap import give_back

if TYPE_CHECKING:
    from core.store.store import Store, StoredEvent

__all__ = [
    "AMBIGUOUS",
    "CONFIDENCES",
    "CORRELATION_EVENT_IDS",
    "EXACT",
    "INFERRED",
    "MISSING",
    "TREE_EDGE",
    "Correlation",
    "CorrelationModel",
    "Duplication",
    "EventLink",
    "Handle",
    "HandleLink",
    "Node",
    "Process",
    "ProcessLink",
    "Ref",
    "Related",
    "Session",
    "SessionLink",
    "build_model",
    "model_from_store",
    "session_start",
]

_E = TypeVar("_E")

#: The events the model is built from (everything else is correlated by lookup): the rows of
#: the roles table.
CORRELATION_EVENT_IDS: tuple[int, ...] = tuple(sorted(ROLES))
#: What the model reads from the store besides the scan's events (`roles.scanned_event_ids`):
#: the events attached to processes and sessions once those are built.
ATTACHED_EVENT_IDS: tuple[int, ...] = tuple(sorted(ATTACHED))

#: A model of this many events or more is frozen out of the cyclic collector once built
#: (`core.store.gc_pause`): smaller ones cost a collection of well under a tenth of a second.
FREEZE_EVENTS = 100_000

#: An order after every model event's (`CorrelationModel.session_link`).
_AFTER_ALL = 1 << 63

#: `model_from_store` reports its progress every this many events read.
PROGRESS_EVERY = 20_000


def build_model(events: Iterable[StoredEvent]) -> CorrelationModel:
    """Build the correlation model from events (any order; others than
    CORRELATION_EVENT_IDS are ignored). Pure: no SQL, no UI."""
    events = list(events)
    with gc_paused() as pause:
        scan = Scan(markers=markers_of(events))
        scan.run(scan_events(time_order(events)))
        model = CorrelationModel(scan)
        model.attach_events(sorted(
            (EventKeys(se.id, se.event.source, se.event.filetime, record_id_of(se.event), se.event.event_id,
                       se.event.computer, se.event.data)
             for se in events if se.event.event_id in ATTACHED),
            key=lambda k: (k.event_id, k.filetime is not None, k.filetime or 0, k.record_id, k.id)))
        model.release_pages()  # the instances' reads mapped most of the facts: page cache, not RSS
        give_back()  # what the scan's trackers held and freed
        pause.freeze = len(scan.facts) >= FREEZE_EVENTS
        return model


def _counted(items: Iterable[_E], total: int, progress: Callable[[int, int], None] | None) -> Iterator[_E]:
    """`items`, telling `progress` (read, total) every PROGRESS_EVERY of them and at the end."""
    if progress is None:
        yield from items
        return
    read = 0
    progress(0, total)
    for read, item in enumerate(items, 1):
        if not read % PROGRESS_EVERY:
            progress(read, total)
        yield item
    progress(read, total)


def _counted_batches(batches: Iterable[Sequence[_E]], total: int,
                     progress: Callable[[int, int], None] | None) -> Iterator[Sequence[_E]]:
    """`_counted` for batches of items: told of every PROGRESS_EVERY mark a batch read passes."""
    if progress is None:
        yield from batches
        return
    read = 0
    progress(0, total)
    for batch in batches:
        before, read = read, read + len(batch)
        for mark in range(before + PROGRESS_EVERY - before % PROGRESS_EVERY, read + 1, PROGRESS_EVERY):
            progress(mark, total)
        yield batch
    progress(read, total)


#: Seconds of the scan between two gives-back of the C heap's free memory (`core.store.heap`):
#: the trackers free what each closed instance held, and a trim costs well under a millisecond.
TRIM_EVERY_S = 1.0


def _trimming(batches: Iterable[Sequence[_E]]) -> Iterator[Sequence[_E]]:
    """`batches`, the C heap's free memory given back every TRIM_EVERY_S between two."""
    last = time.monotonic()
    for batch in batches:
        yield batch
        now = time.monotonic()
        if now - last >= TRIM_EVERY_S:
            give_back()
            last = now


def model_from_store(store: Store, progress: Callable[[int, int], None] | None = None) -> CorrelationModel:
    """Build the model from the store, reading only the events it needs; `progress(read,
    total)` is told how far the reading is (10 s at a million events: the views show it).

    The store reads them in the model's own order when every one of them has a time (the
    usual case): they are then streamed, not held and sorted. One read transaction covers the
    check and the read, so that events still being loaded cannot slip in between."""
    ids = scanned_event_ids()
    with store.snapshot(), gc_paused() as pause:
        directory = str(store.path.parent) if store.shareable else None  # side files beside the store
        total = store.count_of(ids) if progress is not None or store.shareable else 0
        # The steps after the reading (13 s at ten million events) are told too, as every event read:
        # a caller stops there (the app's end) or waits (`tui.prebuild`) as it does while reading.
        check = None if progress is None else functools.partial(progress, total, total)
        # The restarts' markers (a handful per boot), read apart: their providers tell them.
        markers = markers_of(store.iter_events_of(MARKER_EVENT_IDS, order=Order.EVENT_ID))  # (it sorts them)
        scan = Scan(directory, check=check, markers=markers)
        if store.count_of(ids, without_time=True):
            scan.run(scan_events(time_order(_counted(store.iter_events_of(ids), total, progress))))
        else:  # read by a child on a big store (the second core), else here
            scan = scan_stored(store, ids, total,
                               lambda batches: _trimming(_counted_batches(batches, total, progress)),
                               directory=directory, check=check, markers=markers)
        scan.check()
        model = CorrelationModel(scan)
        scan.check()
        model.attach_events(store.iter_keys_of(ATTACHED_EVENT_IDS, order=Order.EVENT_TIME))
        model.release_pages()  # the instances' reads mapped most of the facts: page cache, not RSS
        give_back()  # what the scan's trackers held and freed
        pause.freeze = len(scan.facts) >= FREEZE_EVENTS
        return model


# -- the model ------------------------------------------------------------------------------------


def session_start(session: Session) -> tuple[int, int]:
    """Where a session begins on the model time line: its 4624, else its 4672, else its first
    logoff (a session seen only by its end)."""
    ref = session.logon or session.privileges
    if ref is None and session.logoffs:
        ref = session.logoffs[0]
    return ref.key if ref is not None else (0, 0)


class CorrelationModel:
    """Process instances, handle instances and logon sessions per computer, and each model
    event's links to them. Read-only once built; safe to share between threads."""

    def __init__(self, scan: Scan) -> None:
        # `scan.check()` between the steps (seconds at ten million events): a build told to stop
        # (the app's end) stops here too.
        # Columns in side files, filled during the scan (superseded instances) and by `finish`.
        self.processes: Sequence[Process] = scan.procs.finish(scan.facts)
        scan.check()
        handles = scan.handles.finish()  # columns in side files, filled during the scan
        handles.seal()  # written out before any thread reads them
        self.handles: Sequence[Handle] = handles
        scan.check()
        self.sessions: Sequence[Session] = scan.sessions.finish(scan.facts, self.processes)
        scan.check()
        self._facts = scan.facts
        #: The copies of a record loaded twice, answered as their first (`core.model.same_records`).
        self.same_records = scan.same_records
        self.same_records.seal()
        self._choices: SourceChoices = scan.handles.choices
        self._choices.seal()
        self._computers = scan.computers
        #: Instance indexes per (computer folded, pid), unboxed (boxed in lists: 18 MB at 10M events).
        self._by_pid: dict[tuple[str, int], array[int]] = {}
        procs = self.processes  # read from the columns, none made (`ProcessTable`)
        computers, pids = ((procs.column("computer"), procs.column("pid")) if isinstance(procs, ProcessTable)
                           else ([p.computer for p in procs], [p.pid for p in procs]))
        folded = {c: c.casefold() for c in set(computers)}
        for index, (computer, pid) in enumerate(zip(computers, pids, strict=True)):
            self._by_pid.setdefault((folded[computer], pid), array("q")).append(index)
            if not index & 0xFFFF:
                scan.check()
        self._creations = scan.procs.creations
        self._exits = scan.procs.exits
        self._session_tracker = scan.sessions
        self._sysmon_facts: dict[int, SysmonFacts] = scan.sysmon_facts
        self.access_tracker = scan.access
        #: Instances by (computer, image file name), case-folded (`access.process_named`).
        self.by_image: ImageIndex | None = None
        #: Events attached to processes and sessions (`attach_events`), by store id, and
        #: by process / session index; services' and tasks' processes (`persistence`).
        self.attachments: dict[int, Attachment] = {}
        self.by_process: dict[int, list[Attachment]] = {}
        self.by_session: dict[int, list[Attachment]] = {}
        self.twins: dict[int, tuple[Attachment, str]] = {}
        self.runs: list[Run] = []
        self.runs_of_process: dict[int, list[Run]] = {}
        self.runs_of_install: dict[int, list[Run]] = {}
        #: The Handles and Process access lists, made once per model: the view and the writer of
        #: the correlation tables (another thread) ask for the same list; one lock each, so
        #: that neither waits for the other list.
        self._duplications: DuplicationList | None = None
        self._accesses: AccessList | None = None
        self._duplications_lock = threading.Lock()
        self._accesses_lock = threading.Lock()
        #: The Sysmon events' (time, record id, store id, order), sorted (`place`; made when first asked).
        self._sysmon_places: list[tuple[int, int, int, int]] | None = None

    def attach_events(self, keys: Iterable[EventKeys]) -> None:
        """Hang privilege, credential, service, task and share events on the processes and
        sessions that did them, and link services and tasks to the processes they start."""
        hang(self, keys)

    def computer_of(self, host: str, default: str | None = None) -> str:
        """A computer as logged, from its case-folded name."""
        return self._computers.get(host, default if default is not None else host)

    @property
    def unreadable_logons(self) -> int:
        """Logon, logoff and privilege events whose logon id is no number: no session has them."""
        return self._session_tracker.unreadable

    def exits_logged(self, computer: str) -> bool:
        """Whether the log has any 4689 for `computer` (Process Termination auditing on)."""
        return self._exits[computer.casefold()] > 0

    def session_link(self, computer: str, lid: int, ref: Ref, user: str | None) -> SessionLink:
        """The session of logon id `lid` on `computer` at `ref` (for events outside the scan:
        placed among the model's events by `place` when a tie in time may change the answer)."""
        host, choose = computer.casefold(), self._session_tracker.choose_at
        if ref.filetime is None:
            c = choose(host, computer, lid, ref.key, user)
        else:  # (`place` bisects the facts: only looked up when it may matter, not per attached event)
            # Before and after every model event of its time: one answer unless an event of its
            # session is logged at that time (answers only change one way as time goes on).
            c = choose(host, computer, lid, (ref.filetime, -1), user)
            if choose(host, computer, lid, (ref.filetime, _AFTER_ALL), user) != c:
                c = choose(host, computer, lid, self.place(ref), user)
        s = self.sessions[c.session] if c.session is not None else None
        return SessionLink(lid, s, c.confidence, c.reason, c.user)

    def place(self, ref: Ref) -> Place:
        """Where the event of `ref` (outside the model) sits on the model time line: where
        `scan.time_order` would have put it among the model's events (by time, record id, store
        id), so that a tie in time with one of them is broken as the model breaks its own ties.
        That is half way between the two model events around it (the order of the one before +
        0.5) when one of its time precedes it, else before every one of its time (order -1): no
        model event's key is equal to it, so every `<` and `<=` a lookup makes against their keys
        places it right. A model event's own key for one of them; `ref.key` for an event without
        a time (no place to find: it keeps the order it was given)."""
        ts = ref.filetime
        if ts is None:
            return ref.key
        mine = (ts, ref.record_id if ref.record_id is not None else -1, ref.store_id)
        before: int | None = None  # the order of the last model event of its time before it
        facts = self._facts
        n = len(facts)
        pos = bisect.bisect_left(range(n), ts, key=lambda at: facts.key(at)[0])
        if pos < n and facts.key(pos)[0] == ts:  # a tie in time: among those of its time, by record and store id
            end = pos + 1  # (the end of its time's run, galloped: most are short)
            step = 1
            while end < n and facts.key(end)[0] == ts:
                end = min(n, end + step)
                step *= 2
            end = bisect.bisect_right(range(pos, end), ts, key=lambda at: facts.key(at)[0]) + pos

            def rid_sid(at: int) -> tuple[int, int]:
                rid = facts.event_record(at)[1]
                return -1 if rid is None else rid, facts.store_id(at)

            at = bisect.bisect_left(range(pos, end), mine[1:], key=rid_sid) + pos
            if at < end and facts.store_id(at) == ref.store_id:
                return facts.key(at)
            if at > pos:
                before = facts.key(at - 1)[1]
        if self._sysmon_facts:
            places = self._sysmon_places
            if places is None:
                places = self._sysmon_places = sorted(
                    (f.ref.ts, f.ref.record_id if f.ref.record_id is not None else -1, f.ref.store_id, f.ref.order)
                    for f in self._sysmon_facts.values())
            at = bisect.bisect_left(places, mine)
            if at < len(places) and places[at][2] == ref.store_id:
                return ts, places[at][3]
            if at and places[at - 1][0] == ts:
                before = max(before if before is not None else -1, places[at - 1][3])
        return (ts, -1) if before is None else (ts, before + 0.5)

    def process_accesses(self) -> AccessList:
        """Every handle a process opened to another, grouped by target, riskiest first
        (`core.correlate.access_list`: ranked as read). Made once, then shared."""
        with self._accesses_lock:
            if self._accesses is None:
                self._accesses = process_accesses(self)
            return self._accesses

    @property
    def size(self) -> int:
        """How many events the model was built from."""
        return len(self._facts)

    # -- lookups --------------------------------------------------------------------------------

    def computers(self) -> list[str]:
        """Every computer seen in the model's events, as logged."""
        return sorted(self._computers.values(), key=str.casefold)

    def process(self, index: int) -> Process:
        return self.processes[index]

    def session_processes(self) -> tuple[Mapping[int, list[Process]], dict[tuple[str, int], list[Process]]]:
        """Processes per session index (`Session.processes`: each list made when read), and those
        whose logon id has no session (well-known SYSTEM/LOCAL SERVICE/NETWORK SERVICE, or a logon
        before the log) per (computer, id): see `SessionTracker.assign`."""
        procs = self.processes
        by_session = ProcessLists(procs, processes_by_session(self.sessions))
        orphans = {key: [procs[i] for i in items] for key, items in self._session_tracker.orphans.items()}
        return by_session, orphans

    def handle(self, index: int) -> Handle:
        return self.handles[index]

    def instances(self, computer: str, pid: int) -> list[Process]:
        """Every instance of `pid` on `computer`, in time order (pid reuse = several)."""
        return [self.processes[i] for i in self._by_pid.get((computer.casefold(), pid), ())]

    def process_at(self, computer: str, pid: int, filetime: int | None, ref: Ref | None = None) -> ProcessLink:
        """The instance of `pid` alive on `computer` at `filetime` (for events outside the model).
        Given the event's `ref`, a tie in time with an instance's start or end is broken by the
        event's place among the model's events (`place`), as the model breaks its own; else an
        event at the time of a start is taken as after it, at the time of an end as before it."""
        cands = self.instances(computer, pid)
        if not cands:
            return ProcessLink(
                pid,
                None,
                MISSING,
                f"no process event (4688, 4689, 4656, 4663, 4658, 4690) names "
                f"pid {pid_text(pid)} on {computer} in this log",
            )
        if filetime is None:
            if len(cands) == 1:
                p = cands[0]
                return ProcessLink(
                    pid,
                    p,
                    INFERRED if p.confidence == EXACT else p.confidence,
                    f"the only instance of this pid; this event has no time. {p.reason}",
                )
            return ProcessLink(
                pid, None, AMBIGUOUS, "this event has no time and the pid has several instances", tuple(cands)
            )
        early: Place = (filetime, -math.inf)  # (by time alone: at the time of an end, before it)
        late: Place = (filetime, math.inf)  # (at the time of a start, after it)
        if ref is not None and any(b is not None and b[0] == filetime for p in cands for b in (p.start, p.end)):
            early = late = self.place(ref)
        alive = [p for p in cands if p.start is None or p.start <= late]
        if not alive:
            first = cands[0]
            return ProcessLink(
                pid,
                None,
                MISSING,
                f"no instance of pid {pid_text(pid)} alive at this time: the "
                f"first one starts at record {first.first_seen.record_id}",
            )
        p = alive[-1]
        if p.end is not None and p.end < early:
            ended = p.exited or p.replaced_by
            at = f" at record {ended.record_id}" if ended is not None else ""
            restart = restart_ended(p.reason) if ended is None else None
            if restart is not None:  # (its computer restarted: named in its reason)
                at = f" by {restart}"
            return ProcessLink(
                pid, None, MISSING, f"no instance of pid {pid_text(pid)} alive at this time: {p.label} ended{at}", (p,)
            )
        return ProcessLink(pid, p, p.confidence, p.reason)

    # -- links for model events -----------------------------------------------------------------

    def _plink(self, pid: int | None, idx: int | None, note: str | None) -> ProcessLink | None:
        if pid is None:  # none named: missing when the scan said why (a 4688 without NewProcessId)
            return ProcessLink(None, None, MISSING, note) if idx is None and note is not None else None
        if idx is None:
            return ProcessLink(pid, None, MISSING, "no process could be resolved")
        p = self.processes[idx]
        reason = f"{p.reason}; {note}" if note else p.reason
        return ProcessLink(pid, p, weakest(p.confidence, INFERRED) if is_late_use(note) else p.confidence, reason)

    def _hlink_event(self, found: Facts) -> HandleLink | None:
        """The handle a 4656/4663/4658 acts on."""
        hid = found.source_hid
        if hid is None:
            return None
        if hid == 0:
            return HandleLink(
                0, None, MISSING, "HandleId 0x0: no handle was opened (access denied, or an access check only)"
            )
        if found.source_handle is None:
            return HandleLink(hid, None, MISSING, "the event names no process to own the handle")
        h = self.handles[found.source_handle]
        eid = found.ref.event_id
        act = ROLES[eid].act
        if act is Act.OPEN:
            return HandleLink(hid, h, EXACT, f"opened by this {eid}")
        if act is Act.CLOSE and h.closed == found.ref:
            return HandleLink(hid, h, h.confidence, f"{h.reason}; {h.close_reason}")
        return HandleLink(hid, h, h.confidence, h.reason)

    def _session(self, found: Facts) -> SessionLink | None:
        return self._session_of(found.session)

    def _session_of(self, c: SessionChoice | None) -> SessionLink | None:
        if c is None:
            return None
        s = self.sessions[c.session] if c.session is not None else None
        return SessionLink(c.logon_id, s, c.confidence, c.reason, c.user)

    def correlate(self, stored: StoredEvent) -> Correlation:
        """Everything tied to one event (see `Correlation` for the roles). A copy of a record
        loaded twice gets its first copy's answer, saying so (`Correlation.same_as`)."""
        first = self.same_records.first_of(stored.id)
        if first is None:
            attached = self.attachments.get(stored.id)
            if attached is not None and attached.ref.store_id != stored.id:  # (`attach`)
                first = attached.ref.store_id
        if first is not None and first != stored.id:
            c = self.correlate(stored._replace(id=first))
            return dataclasses.replace(c, event=dataclasses.replace(c.event, store_id=stored.id), same_as=c.event)
        found = self._facts.get(stored.id)
        if found is None:
            sysmon = self._sysmon_facts.get(stored.id)
            if sysmon is not None:
                return self._correlate_sysmon(sysmon)
            return self._correlate_other(stored)
        act = ROLES[found.ref.event_id].act
        source = self._plink(found.source_pid, found.source_proc, found.source_note)
        target = self._plink(found.target_pid, found.target_proc, found.target_note)
        source_handle: HandleLink | None = None
        target_handle: HandleLink | None = None
        if act is Act.DUPLICATE:
            source_handle, target_handle = self._dup_handles(found)
        elif act in HANDLE_ACTS:
            source_handle = self._hlink_event(found)
        session = self._session(found)
        text = summary(found.ref, source, target, source_handle, target_handle, session)
        links = related(self, found.ref, source, target, source_handle, target_handle, session)
        return Correlation(
            found.ref, found.computer, text, source, target, source_handle, target_handle, session, links, self,
            links=links_of(self, found.ref, source, target),
        )

    def _correlate_sysmon(self, found: SysmonFacts) -> Correlation:
        """A Sysmon event: its processes by GUID (or pid and time, weaker: it says so)."""
        role = SYSMON[found.ref.event_id]
        source = self._plink(found.source_pid, found.source_proc, found.source_note)
        target = self._plink(found.target_pid, found.target_proc, found.target_note)
        if source is not None and found.source_confidence and source.process is not None:
            source = ProcessLink(source.pid, source.process, found.source_confidence, source.reason)
        if target is not None and found.target_confidence and target.process is not None:
            target = ProcessLink(target.pid, target.process, found.target_confidence, target.reason)
        session = self._session(found)
        src = source.label if source else "?"
        text = f"Sysmon {found.ref.event_id} {role.verb.removeprefix('Sysmon ')}: " + (
            f"{target.label if target else '?'} by {src}" if target is not None else src
        )
        rel = related(self, found.ref, source, target, None, None, session)
        return Correlation(found.ref, found.computer, text, source, target, None, None, session, rel, self,
                           links=links_of(self, found.ref, source, target), titles=role.titles)

    def _dup_handles(self, found: Facts) -> tuple[HandleLink | None, HandleLink | None]:
        source: HandleLink | None = None
        target: HandleLink | None = None
        if found.source_hid is not None:
            choice = self._choices.get(found.ref.store_id)
            if choice is None:
                source = HandleLink(found.source_hid, None, MISSING, "the 4690 names no source process")
            else:
                h = self.handles[choice.handle] if choice.handle is not None else None
                source = HandleLink(
                    found.source_hid,
                    h,
                    choice.confidence,
                    choice.reason,
                    tuple(self.handles[i] for i in choice.candidates),
                )
        if found.target_hid is not None:
            if found.target_handle is None:
                target = HandleLink(found.target_hid, None, MISSING, "the 4690 names no target process")
            else:
                h = self.handles[found.target_handle]
                said = target_said(self._choices.get(found.ref.store_id), h.close_reason)
                target = HandleLink(found.target_hid, h, *said)
        return source, target

    def _correlate_other(self, stored: StoredEvent) -> Correlation:
        """An event outside the model (Sysmon, 4648, 4673, ...): look its pids and logon id up."""
        ev = stored.event
        values = values_of(ev.data)
        ts = ev.filetime
        ref = Ref(stored.id, record_id_of(ev), ev.event_id, ev.filetime, ts or 0, -1)
        computer = self._computers.get(ev.computer.casefold(), ev.computer)
        spid = pid_of(values, OTHER.source_pid)
        tpid = pid_of(values, OTHER.target_pid)
        source = self.process_at(computer, spid, ts, ref) if spid else None
        target = self.process_at(computer, tpid, ts, ref) if tpid else None
        session: SessionLink | None = None
        lid = logon_of(values, OTHER.logon_id)
        if lid:
            session = self.session_link(computer, lid, ref, user_of(values, OTHER))
        text = summary(ref, source, target, None, None, session)
        attached = self.attachments.get(stored.id)
        if attached is not None and source is None and attached.process is not None:
            source = attached.process
        if attached is not None:
            text = f"{attached.text}" + (f" by {source.label}" if source else "")
        links = related(self, ref, source, target, None, None, session)
        return Correlation(ref, computer, text, source, target, None, None, session, links, self,
                           links=links_of(self, ref, source, target))

    # -- views ----------------------------------------------------------------------------------

    def handle_duplications(self) -> DuplicationList:
        """Every 4690 in time order with its processes and handles resolved, each made when
        first read (`core.correlate.duplications`). Made once, then shared."""
        with self._duplications_lock:
            if self._duplications is None:
                self._duplications = self._make_duplications()
            return self._duplications

    def release_lists(self) -> None:
        """Let the shared Handles and Process access lists go (made again when asked): once
        the correlation tables hold them the views read those, and the lists took 40 MB at a
        million events."""
        with self._duplications_lock, self._accesses_lock:
            self._duplications = self._accesses = None
            self.by_image = None  # made again if a look-up needs it (14 MB at a million events)
        self.release_pages()

    def session_starts(self) -> list[tuple[int, int]]:
        """`session_start` of each of `sessions`, the usual ones (a 4624 or 4672 of this model's
        events) read in one pass over the facts' slots: a `Ref` made per session was most of
        the Sessions view's wait at 359,000 sessions."""
        facts, sessions = self._facts, self.sessions
        if isinstance(sessions, FrozenSessions) and sessions.facts is facts:  # (no session made)
            at = sessions.positions()
        else:
            at = [-1 if s.facts is not facts else s.logon_at if s.logon_at >= 0 else s.privileges_at
                  for s in sessions]
        usual = [pos for pos in at if pos >= 0]
        keys = iter(facts.keys(usual))
        return [next(keys) if pos >= 0 else session_start(sessions[i]) for i, pos in enumerate(at)]

    def release_pages(self) -> None:
        """Unmap the pages of the facts and handle columns read so far (`DiskArray.release`):
        they stay in the page cache, and the process's RSS holds only what is read next."""
        self._facts.release()
        if isinstance(self.handles, HandleTable):
            self.handles.release()
        if isinstance(self.processes, ProcessTable):
            self.processes.release()

    def _make_duplications(self) -> DuplicationList:
        duplicates = frozenset(eid for eid, role in ROLES.items() if role.act is Act.DUPLICATE)
        return duplication_list(self._facts, duplicates, self._plink, self._session_of, self._dup_handles)

    def process_forest(self, computer: str) -> list[Node]:
        """Process instances of one computer as trees (`core.correlate.tree.process_forest`)."""
        return process_forest(self, computer)

    def event_roles(self) -> Iterator[tuple[int, int]]:
        """(store id, EventID) of every model event, in time order (for tests and tools)."""
        yield from self._facts.event_ids()

    def tree_of(self, c: Correlation) -> Node:
        """`c` as a tree (`Correlation.tree`)."""
        return correlation_tree(self, c)
