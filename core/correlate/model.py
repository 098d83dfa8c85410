"""The correlation engine: from a 4690 (or any event) to the processes, handles and logon
session behind it, each link with its evidence and a confidence.

Pure: `build_model` takes events and returns plain frozen data; no SQL (except the thin
`model_from_store`), no UI. Everything is scoped by computer and time, never by a pid or handle
value alone: see the trackers beside it (`processes`, `handles`, `sessions`) for the rules and
the quirks of real logs they handle. Labels in the trees hold event data verbatim (attacker-controlled):
whoever renders them must show them as literal text.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from core.correlate.handles import OPEN_EVENTS, USE_EVENTS, Handle, HandleTracker, SourceChoice
from core.correlate.processes import (
    AMBIGUOUS,
    CONFIDENCES,
    EXACT,
    INFERRED,
    MISSING,
    SYSTEM_PID,
    Process,
    ProcessTracker,
    Ref,
    pid_text,
)
from core.correlate.sessions import Session, SessionChoice, SessionTracker, user_name
from core.model.decode import TOKEN_ELEVATION, decode_label, decode_messages
from core.model.event import Event, EventKeys, iso_from_filetime
from core.model.values import as_int
from core.store.gc_pause import gc_paused

if TYPE_CHECKING:
    from core.store.store import Store, StoredEvent

__all__ = [
    "AMBIGUOUS",
    "CONFIDENCES",
    "CORRELATION_EVENT_IDS",
    "EXACT",
    "INFERRED",
    "MISSING",
    "Correlation",
    "CorrelationModel",
    "Duplication",
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
]

_T = TypeVar("_T")
_E = TypeVar("_E")

#: The events the model is built from (everything else is correlated by lookup).
CORRELATION_EVENT_IDS: tuple[int, ...] = (
    4624,
    4634,
    4647,
    4656,
    4658,
    4660,
    4661,
    4663,
    4672,
    4688,
    4689,
    4690,
)
_IDS = frozenset(CORRELATION_EVENT_IDS)

#: EventData names used here, so exports that change their case still match.
_NAMES = (
    "NewProcessId",
    "NewProcessName",
    "ProcessId",
    "ProcessName",
    "ParentProcessName",
    "CommandLine",
    "TokenElevationType",
    "MandatoryLabel",
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TargetUserSid",
    "TargetUserName",
    "TargetDomainName",
    "TargetLogonId",
    "HandleId",
    "ObjectType",
    "ObjectName",
    "AccessList",
    "AccessMask",
    "SourceProcessId",
    "SourceHandleId",
    "TargetProcessId",
    "TargetHandleId",
    "LogonType",
    "LogonId",
)
_CANON = {n.casefold(): n for n in _NAMES}

# -- public plain data --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One line of a correlation or process tree: `event_id` is the store id to jump to."""

    label: str
    confidence: str
    event_id: int | None = None
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProcessLink:
    """An event's link to a process instance (None when no instance could be named)."""

    pid: int | None
    process: Process | None
    confidence: str
    reason: str
    candidates: tuple[Process, ...] = ()

    @property
    def name(self) -> str:
        if self.process is not None:
            return self.process.name
        return "System" if self.pid == SYSTEM_PID else "?"

    @property
    def label(self) -> str:
        if self.process is not None:
            return self.process.label
        return f"{self.name} {pid_text(self.pid)}" + (f" ({self.pid})" if self.pid is not None else "")


@dataclass(frozen=True, slots=True)
class HandleLink:
    """An event's link to a handle instance."""

    handle_id: int | None
    handle: Handle | None
    confidence: str
    reason: str
    candidates: tuple[Handle, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionLink:
    """An event's link to a logon session (`session` None for well-known or missing ones)."""

    logon_id: int
    session: Session | None
    confidence: str
    reason: str
    user: str | None


@dataclass(frozen=True, slots=True)
class Related:
    """An event tied to the correlated one, and how (`source handle opened`, ...)."""

    ref: Ref
    relation: str


@dataclass(frozen=True, slots=True)
class Duplication:
    """One 4690 with both processes and both handles resolved (the Handles view's rows)."""

    event: Ref
    computer: str
    source: ProcessLink
    target: ProcessLink
    source_handle: HandleLink
    target_handle: HandleLink
    session: SessionLink | None

    @property
    def source_name(self) -> str:
        return self.source.name

    @property
    def target_name(self) -> str:
        return self.target.name


@dataclass(frozen=True)
class Correlation:
    """Everything tied to one event. Which roles apply depends on the event:

    * 4690: source/target process (SourceProcessId/TargetProcessId), source/target handle;
    * 4688: source = the creator (parent), target = the new process;
    * 4689: source = the exiting process;
    * 4656/4661/4663/4660/4658: source = the process named by ProcessId, source handle = the
      handle's instance (for a 4658 under the source pid of a 4690 into System, the target handle);
    * 4624/4634/4647/4672 and any event with a logon id: the session;
    * other events: whatever their ProcessId/SourceProcessId/TargetProcessId and logon id name.
    Roles that do not apply are None.
    """

    event: Ref
    computer: str
    summary: str
    source_process: ProcessLink | None
    target_process: ProcessLink | None
    source_handle: HandleLink | None
    target_handle: HandleLink | None
    session: SessionLink | None
    related: tuple[Related, ...]
    model: CorrelationModel = field(repr=False, compare=False)

    def tree(self) -> Node:
        """The correlation as a tree for the UI, every node labelled with its confidence."""
        return _correlation_tree(self)


# -- the scan -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Roles:
    """What the scan learnt about one event, turned into links by `CorrelationModel`."""

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


def _values(pairs: tuple[tuple[str, str], ...]) -> dict[str, str | None]:
    """The EventData fields the engine reads (first value per name), in their canonical case:
    only those are kept, so a model over millions of events holds no more than it needs."""
    out: dict[str, str | None] = {}
    for name, value in pairs:
        canon = _CANON.get(name.casefold())
        if canon is not None and canon not in out:
            out[canon] = value
    return out


def _record_id(ev: Event) -> int:
    return ev.record_id if ev.record_id is not None else ev.record_number


@dataclass(slots=True)
class _Item:
    """A model event reduced to what the scan needs (the Event itself is not kept): `ts` is
    its place on the model's time line (see `_time_order`)."""

    key: EventKeys
    values: dict[str, str | None]
    ts: int = 0


def _keys(events: Iterable[StoredEvent]) -> Iterator[EventKeys]:
    """The model events among `events`, as `Store.iter_keys` reads them."""
    for se in events:
        ev = se.event
        if ev.event_id in _IDS:
            yield EventKeys(se.id, ev.source, ev.filetime, _record_id(ev), ev.event_id, ev.computer, ev.data)


def _time_order(events: Iterable[StoredEvent]) -> list[_Item]:
    """Model events in time order: (filetime, record id, store id). An event without time
    takes the time of the previous event of the same input (so it sorts by position)."""
    items = [_Item(key, _values(key.data)) for key in _keys(events)]
    items.sort(key=lambda it: it.key.id)
    last: dict[int, int] = {}
    for it in items:
        if it.key.filetime is None:
            it.ts = last.get(it.key.source, 0)
        else:
            it.ts = last[it.key.source] = it.key.filetime
    items.sort(key=lambda it: (it.ts, it.key.record_id, it.key.id))
    return items


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


def _timed(events: Iterable[EventKeys]) -> Iterator[_Item]:
    """`_time_order` for events that already come in that order (the store's time order,
    `Store.iter_keys`), every one with a time: one at a time, so that the reduced events of a
    log are never all in memory at once (about half of the model's peak memory)."""
    for key in events:
        if key.event_id not in _IDS:
            continue
        if key.filetime is None:
            raise ValueError("an event without a time cannot be streamed in time order")
        yield _Item(key, _values(key.data), key.filetime)


class _Scan:
    """Feeds events in time order to the process, handle and session trackers."""

    def __init__(self) -> None:
        self.procs = ProcessTracker()
        self.handles = HandleTracker()
        self.sessions = SessionTracker()
        self.roles: dict[int, _Roles] = {}
        self.computers: dict[str, str] = {}

    def run(self, items: Iterable[_Item]) -> None:
        """Feed `items`, which must be in time order (`_time_order`, `_timed`)."""
        hosts: dict[str, str] = {}
        for order, item in enumerate(items):
            key = item.key
            ref = Ref(key.id, key.record_id, key.event_id, key.filetime, item.ts, order)
            host = hosts.get(key.computer)
            if host is None:
                host = hosts[key.computer] = sys.intern(key.computer.casefold())
            computer = self.computers.setdefault(host, sys.intern(key.computer))
            roles = _Roles(ref, host, computer)
            self.roles[key.id] = roles
            values = item.values
            eid = key.event_id
            if eid == 4688:
                self._created(roles, values)
            elif eid == 4689:
                self._exited(roles, values)
            elif eid in OPEN_EVENTS or eid in USE_EVENTS or eid == 4658:
                self._handle_event(roles, values)
            elif eid == 4690:
                self._duplicated(roles, values)
            else:
                self._session_event(roles, values)
        self.handles.resolve_sources()
        self.sessions.finish_privileges()
        for roles in self.roles.values():
            if roles.logon_id:
                adjacent = roles.ref.event_id == 4672  # logged next to its own 4624
                roles.session = self.sessions.choose(
                    roles.host, roles.computer, roles.logon_id, roles.ref, roles.user, adjacent=adjacent
                )

    def _resolve(self, roles: _Roles, pid: int, name: str | None = None, grace: bool = False) -> tuple[int, str | None]:
        return self.procs.resolve(roles.host, roles.computer, pid, roles.ref, name=name, grace=grace)

    def _own(self, handle: int, before: int) -> None:
        """Register a handle created by the last tracker call with its owner process."""
        if handle >= before:
            self.procs.procs[self.handles.handles[handle].process].handles.append(handle)

    def _subject(self, roles: _Roles, values: dict[str, str | None]) -> None:
        roles.logon_id = as_int(values.get("SubjectLogonId"))
        roles.user = user_name(values.get("SubjectDomainName"), values.get("SubjectUserName"))

    def _created(self, roles: _Roles, values: dict[str, str | None]) -> None:
        pid = as_int(values.get("NewProcessId"))
        self._subject(roles, values)
        if pid is None:
            return
        ppid = as_int(values.get("ProcessId"))
        parent: int | None = None
        if ppid is not None:
            parent, roles.source_note = self._resolve(roles, ppid, values.get("ParentProcessName"))
            roles.source_pid, roles.source_proc = ppid, parent
        child = self.procs.create(roles.host, roles.computer, pid, roles.ref, values)
        if ppid is not None:
            self.procs.set_parent(child, ppid, parent)
        roles.target_pid, roles.target_proc = pid, child
        logon = as_int(values.get("TargetLogonId")) or as_int(values.get("SubjectLogonId"))
        self.procs.procs[child].logon_id = logon
        roles.logon_id = logon
        roles.user = self.procs.procs[child].user

    def _exited(self, roles: _Roles, values: dict[str, str | None]) -> None:
        self._subject(roles, values)
        pid = as_int(values.get("ProcessId"))
        if pid is None:
            return
        idx, roles.source_note = self._resolve(roles, pid, values.get("ProcessName"))
        roles.source_pid, roles.source_proc = pid, idx
        self.procs.exit(idx, roles.ref)
        self.handles.process_exited(idx, roles.ref, self.procs.procs[idx].handles)

    def _handle_event(self, roles: _Roles, values: dict[str, str | None]) -> None:
        self._subject(roles, values)
        eid = roles.ref.event_id
        pid = as_int(values.get("ProcessId"))
        hid = as_int(values.get("HandleId"))
        roles.source_hid = hid
        if pid is None:
            return
        idx, roles.source_note = self._resolve(roles, pid, values.get("ProcessName"), grace=eid == 4658)
        roles.source_pid, roles.source_proc = pid, idx
        if not hid:
            return
        before = len(self.handles.handles)
        args = (roles.host, roles.computer, pid, idx, hid, roles.ref, values)
        if eid in OPEN_EVENTS:
            handle = self.handles.open(*args)
        elif eid in USE_EVENTS:
            handle = self.handles.use(*args)
        else:
            handle = self.handles.close(*args)
        self._own(handle, before)
        roles.source_handle = handle

    def _duplicated(self, roles: _Roles, values: dict[str, str | None]) -> None:
        self._subject(roles, values)
        spid = as_int(values.get("SourceProcessId"))
        tpid = as_int(values.get("TargetProcessId"))
        roles.source_hid = as_int(values.get("SourceHandleId"))
        roles.target_hid = as_int(values.get("TargetHandleId"))
        roles.source_pid, roles.target_pid = spid, tpid
        if spid is not None:
            roles.source_proc, roles.source_note = self._resolve(roles, spid)
        if tpid is not None:
            roles.target_proc, roles.target_note = self._resolve(roles, tpid)
        if roles.source_proc is None or spid is None or roles.source_hid is None:
            return
        before = len(self.handles.handles)
        target = self.handles.duplicate(
            roles.host,
            roles.computer,
            roles.ref,
            roles.source_proc,
            spid,
            roles.source_hid,
            roles.target_proc,
            tpid,
            roles.target_hid,
        )
        if target is not None:
            self._own(target, before)
            roles.target_handle = target

    def _session_event(self, roles: _Roles, values: dict[str, str | None]) -> None:
        eid = roles.ref.event_id
        if eid == 4672:
            self._subject(roles, values)
            if roles.logon_id:
                self.sessions.privileged(roles.host, roles.computer, roles.logon_id, roles.ref, roles.user)
            return
        lid = as_int(values.get("TargetLogonId"))
        roles.logon_id = lid
        roles.user = user_name(values.get("TargetDomainName"), values.get("TargetUserName"))
        if not lid:
            return
        if eid == 4624:
            self.sessions.logon(roles.host, roles.computer, lid, roles.ref, values)
        else:
            self.sessions.logoff(roles.host, roles.computer, lid, roles.ref, values)


#: A model of this many events or more is frozen out of the cyclic collector once built
#: (`core.store.gc_pause`): smaller ones cost a collection of well under a tenth of a second.
FREEZE_EVENTS = 100_000


def build_model(events: Iterable[StoredEvent]) -> CorrelationModel:
    """Build the correlation model from events (any order; others than
    CORRELATION_EVENT_IDS are ignored). Pure: no SQL, no UI."""
    with gc_paused() as pause:
        scan = _Scan()
        scan.run(_time_order(events))
        model = CorrelationModel(scan)
        pause.freeze = len(scan.roles) >= FREEZE_EVENTS
        return model


#: `model_from_store` reports its progress every this many events read.
PROGRESS_EVERY = 20_000


def model_from_store(store: Store, progress: Callable[[int, int], None] | None = None) -> CorrelationModel:
    """Build the model from the store, reading only the events it needs; `progress(read,
    total)` is told how far the reading is (10 s at a million events: the views show it).

    The store reads them in the model's own order when every one of them has a time (the
    usual case): they are then streamed, not held and sorted. One read transaction covers the
    check and the read, so that events still being loaded cannot slip in between."""
    with store.snapshot(), gc_paused() as pause:
        scan = _Scan()
        total = store.count_of(CORRELATION_EVENT_IDS) if progress is not None else 0
        if store.count_of(CORRELATION_EVENT_IDS, without_time=True):
            scan.run(_time_order(_counted(store.iter_events_of(CORRELATION_EVENT_IDS), total, progress)))
        else:
            scan.run(_timed(_counted(store.iter_keys_of(CORRELATION_EVENT_IDS), total, progress)))
        model = CorrelationModel(scan)
        pause.freeze = len(scan.roles) >= FREEZE_EVENTS
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

    def __init__(self, scan: _Scan) -> None:
        self.processes: tuple[Process, ...] = tuple(scan.procs.finish())
        self.handles: tuple[Handle, ...] = tuple(scan.handles.finish())
        self.sessions: tuple[Session, ...] = tuple(scan.sessions.finish())
        self._roles = scan.roles
        self._choices: dict[int, SourceChoice] = scan.handles.choices
        self._computers = scan.computers
        self._by_pid: dict[tuple[str, int], list[int]] = {}
        for p in self.processes:
            self._by_pid.setdefault((p.computer.casefold(), p.pid), []).append(p.index)
        self._creations = scan.procs.creations
        self._session_tracker = scan.sessions

    @property
    def size(self) -> int:
        """How many events the model was built from."""
        return len(self._roles)

    # -- lookups --------------------------------------------------------------------------------

    def computers(self) -> list[str]:
        """Every computer seen in the model's events, as logged."""
        return sorted(self._computers.values(), key=str.casefold)

    def process(self, index: int) -> Process:
        return self.processes[index]

    def session_processes(self) -> tuple[dict[int, list[Process]], dict[tuple[str, int], list[Process]]]:
        """Processes per session index, and those whose logon id has no session (well-known
        SYSTEM/LOCAL SERVICE/NETWORK SERVICE, or a logon before the log) per (computer, id).

        A process goes to the latest session with its logon id on its computer begun before the
        process started: logon ids are unique only until a reboot."""
        starts: dict[tuple[str, int], list[tuple[tuple[int, int], int]]] = {}
        for session in self.sessions:
            starts.setdefault((session.computer.casefold(), session.logon_id), []).append(
                (session_start(session), session.index)
            )
        for items in starts.values():
            items.sort()
        by_session: dict[int, list[Process]] = {}
        orphans: dict[tuple[str, int], list[Process]] = {}
        for process in self.processes:
            lid = process.logon_id
            if not lid:
                continue
            candidates = starts.get((process.computer.casefold(), lid))
            begin = process.start or process.first_seen.key
            pos = bisect.bisect_right([c[0] for c in candidates], begin) - 1 if candidates else -1
            if candidates and pos >= 0:
                by_session.setdefault(candidates[pos][1], []).append(process)
            else:  # no session with this id began before it: its logon precedes the log
                orphans.setdefault((process.computer, lid), []).append(process)
        return by_session, orphans

    def handle(self, index: int) -> Handle:
        return self.handles[index]

    def instances(self, computer: str, pid: int) -> list[Process]:
        """Every instance of `pid` on `computer`, in time order (pid reuse = several)."""
        return [self.processes[i] for i in self._by_pid.get((computer.casefold(), pid), [])]

    def process_at(self, computer: str, pid: int, filetime: int | None) -> ProcessLink:
        """The instance of `pid` alive on `computer` at `filetime` (for events outside the model)."""
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
        alive = [p for p in cands if p.start is None or p.start[0] <= filetime]
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
        if p.end is not None and p.end[0] < filetime:
            ended = p.exited or p.replaced_by
            at = f" at record {ended.record_id}" if ended is not None else ""
            return ProcessLink(
                pid, None, MISSING, f"no instance of pid {pid_text(pid)} alive at this time: {p.label} ended{at}", (p,)
            )
        return ProcessLink(pid, p, p.confidence, p.reason)

    # -- links for model events -----------------------------------------------------------------

    def _plink(self, pid: int | None, idx: int | None, note: str | None) -> ProcessLink | None:
        if pid is None:
            return None
        if idx is None:
            return ProcessLink(pid, None, MISSING, "no process could be resolved")
        p = self.processes[idx]
        reason = f"{p.reason}; {note}" if note else p.reason
        return ProcessLink(pid, p, p.confidence, reason)

    def _hlink_event(self, roles: _Roles) -> HandleLink | None:
        """The handle a 4656/4663/4658 acts on."""
        hid = roles.source_hid
        if hid is None:
            return None
        if hid == 0:
            return HandleLink(
                0, None, MISSING, "HandleId 0x0: no handle was opened (access denied, or an access check only)"
            )
        if roles.source_handle is None:
            return HandleLink(hid, None, MISSING, "the event names no process to own the handle")
        h = self.handles[roles.source_handle]
        eid = roles.ref.event_id
        if eid in OPEN_EVENTS:
            return HandleLink(hid, h, EXACT, f"opened by this {eid}")
        if eid == 4658 and h.closed == roles.ref:
            return HandleLink(hid, h, h.confidence, f"{h.reason}; {h.close_reason}")
        return HandleLink(hid, h, h.confidence, h.reason)

    def _session(self, roles: _Roles) -> SessionLink | None:
        c = roles.session
        if c is None:
            return None
        s = self.sessions[c.session] if c.session is not None else None
        return SessionLink(c.logon_id, s, c.confidence, c.reason, c.user)

    def correlate(self, stored: StoredEvent) -> Correlation:
        """Everything tied to one event (see `Correlation` for the roles)."""
        roles = self._roles.get(stored.id)
        if roles is None:
            return self._correlate_other(stored)
        eid = roles.ref.event_id
        source = self._plink(roles.source_pid, roles.source_proc, roles.source_note)
        target = self._plink(roles.target_pid, roles.target_proc, roles.target_note)
        source_handle: HandleLink | None = None
        target_handle: HandleLink | None = None
        if eid == 4690:
            source_handle, target_handle = self._dup_handles(roles)
        elif eid in OPEN_EVENTS or eid in USE_EVENTS or eid == 4658:
            source_handle = self._hlink_event(roles)
        session = self._session(roles)
        summary = _summary(roles.ref, source, target, source_handle, target_handle, session)
        related = _related(self, roles.ref, source, target, source_handle, target_handle, session)
        return Correlation(
            roles.ref, roles.computer, summary, source, target, source_handle, target_handle, session, related, self
        )

    def _dup_handles(self, roles: _Roles) -> tuple[HandleLink | None, HandleLink | None]:
        source: HandleLink | None = None
        target: HandleLink | None = None
        if roles.source_hid is not None:
            choice = self._choices.get(roles.ref.id)
            if choice is None:
                source = HandleLink(roles.source_hid, None, MISSING, "the 4690 names no source process")
            else:
                h = self.handles[choice.handle] if choice.handle is not None else None
                source = HandleLink(
                    roles.source_hid,
                    h,
                    choice.confidence,
                    choice.reason,
                    tuple(self.handles[i] for i in choice.candidates),
                )
        if roles.target_hid is not None:
            if roles.target_handle is None:
                target = HandleLink(roles.target_hid, None, MISSING, "the 4690 names no target process")
            else:
                h = self.handles[roles.target_handle]
                target = HandleLink(roles.target_hid, h, EXACT, f"created by this 4690; {h.close_reason}")
        return source, target

    def _correlate_other(self, stored: StoredEvent) -> Correlation:
        """An event outside the model (Sysmon, 4648, 4673, ...): look its pids and logon id up."""
        ev = stored.event
        values = _values(ev.data)
        ts = ev.filetime
        ref = Ref(stored.id, _record_id(ev), ev.event_id, ev.filetime, ts or 0, -1)
        computer = self._computers.get(ev.computer.casefold(), ev.computer)
        spid = as_int(values.get("SourceProcessId"))
        if spid is None:
            spid = as_int(values.get("ProcessId"))
        tpid = as_int(values.get("TargetProcessId"))
        source = self.process_at(computer, spid, ts) if spid else None
        target = self.process_at(computer, tpid, ts) if tpid else None
        session: SessionLink | None = None
        lid = (
            as_int(values.get("SubjectLogonId")) or as_int(values.get("LogonId")) or as_int(values.get("TargetLogonId"))
        )
        if lid:
            user = user_name(values.get("SubjectDomainName"), values.get("SubjectUserName"))
            c = self._session_tracker.choose(computer.casefold(), computer, lid, ref, user)
            s = self.sessions[c.session] if c.session is not None else None
            session = SessionLink(lid, s, c.confidence, c.reason, c.user)
        summary = _summary(ref, source, target, None, None, session)
        related = _related(self, ref, source, target, None, None, session)
        return Correlation(ref, computer, summary, source, target, None, None, session, related, self)

    # -- views ----------------------------------------------------------------------------------

    def handle_duplications(self) -> list[Duplication]:
        """Every 4690 in time order with its processes and handles resolved."""
        out: list[Duplication] = []
        for roles in sorted(self._roles.values(), key=lambda r: r.ref.order):
            if roles.ref.event_id != 4690:
                continue
            source = self._plink(roles.source_pid, roles.source_proc, roles.source_note)
            target = self._plink(roles.target_pid, roles.target_proc, roles.target_note)
            sh, th = self._dup_handles(roles)
            missing_p = ProcessLink(None, None, MISSING, "the 4690 carries no process id")
            missing_h = HandleLink(None, None, MISSING, "the 4690 carries no handle id")
            out.append(
                Duplication(
                    roles.ref,
                    roles.computer,
                    source or missing_p,
                    target or missing_p,
                    sh or missing_h,
                    th or missing_h,
                    self._session(roles),
                )
            )
        return out

    def process_forest(self, computer: str) -> list[Node]:
        """Process instances of one computer as trees (parent -> children); pid reuse shows as
        separate instances, inferred (pre-existing) ones are marked, each with handles and exit."""
        host = computer.casefold()
        procs = sorted(
            (p for p in self.processes if p.computer.casefold() == host),
            key=lambda p: (p.created or p.first_seen).key,
        )
        built = {p.index: _forest_node(self, p) for p in procs}
        roots: list[Node] = []
        for p in procs:
            node = built[p.index][0]
            parent = built.get(p.parent) if p.parent is not None else None
            if parent is None:
                roots.append(node)
            else:
                parent[0].children.append(node)
        for node, tail in built.values():
            node.children.extend(tail)
        return roots

    def event_roles(self) -> Iterator[tuple[int, int]]:
        """(store id, EventID) of every model event, in time order (for tests and tools)."""
        for roles in sorted(self._roles.values(), key=lambda r: r.ref.order):
            yield roles.ref.id, roles.ref.event_id


# -- related events -------------------------------------------------------------------------------


class _Collector:
    def __init__(self, model: CorrelationModel, self_id: int) -> None:
        self.model = model
        self.self_id = self_id
        self.items: list[Related] = []
        self._seen: set[tuple[int, str]] = set()

    def add(self, ref: Ref | None, relation: str) -> None:
        if ref is None or ref.id == self.self_id or (ref.id, relation) in self._seen:
            return
        self._seen.add((ref.id, relation))
        self.items.append(Related(ref, relation))

    def add_all(self, refs: Iterable[Ref], relation: str) -> None:
        """`add` for each of `refs` (a handle used a quarter of a million times: in one loop)."""
        seen, items, self_id = self._seen, self.items, self.self_id
        for ref in refs:
            key = (ref.id, relation)
            if ref.id != self_id and key not in seen:
                seen.add(key)
                items.append(Related(ref, relation))

    def process(self, prefix: str, p: Process | None, *, parent: bool = True, family: bool = False) -> None:
        if p is None:
            return
        self.add(p.created, f"{prefix} created")
        self.add(p.exited, f"{prefix} exited")
        self.add(p.replaced_by, f"{prefix} pid reused")
        if parent and p.parent is not None:
            self.add(self.model.processes[p.parent].created, f"{prefix} parent created")
        if family:
            for c in p.children:
                self.add(self.model.processes[c].created, "child created")
            for h in p.handles:
                handle = self.model.handles[h]
                self.add(handle.opened, "handle opened")
                self.add(handle.duplicated_by, "handle duplicated into it")
                self.add(handle.closed, "handle closed")

    def handle(self, prefix: str, h: Handle | None, *, source: bool = True) -> None:
        if h is None:
            return
        self.add(h.opened, f"{prefix} opened")
        self.add(h.duplicated_by, f"{prefix} created by duplication")
        if source and h.source is not None:
            src = self.model.handles[h.source]
            self.add(src.opened, f"{prefix} source opened")
        self.add_all(h.accesses, f"{prefix} accessed")
        self.add(h.closed, f"{prefix} closed")
        self.add_all(h.duplications, f"{prefix} duplicated")

    def session(self, s: SessionLink | None) -> None:
        if s is None or s.session is None:
            return
        self.add(s.session.logon, "session logon")
        self.add(s.session.privileges, "session privileges")
        for r in s.session.logoffs:
            self.add(r, "session logoff")


def _related(
    model: CorrelationModel,
    ref: Ref,
    source: ProcessLink | None,
    target: ProcessLink | None,
    source_handle: HandleLink | None,
    target_handle: HandleLink | None,
    session: SessionLink | None,
) -> tuple[Related, ...]:
    col = _Collector(model, ref.id)
    eid = ref.event_id
    sp = source.process if source else None
    tp = target.process if target else None
    if eid == 4688:
        col.process("parent", sp, parent=False)
        col.process("process", tp, parent=False, family=True)
    elif eid == 4690:
        col.process("source process", sp)
        col.process("target process", tp)
    else:
        col.process("process", sp)
        col.process("target process", tp)
    if eid == 4690:
        col.handle("source handle", source_handle.handle if source_handle else None)
        col.handle("target handle", target_handle.handle if target_handle else None, source=False)
    else:
        col.handle("handle", source_handle.handle if source_handle else None)
    col.session(session)
    return tuple(sorted(col.items, key=lambda r: (r.ref.order, r.ref.id)))


# -- trees ----------------------------------------------------------------------------------------


def _summary(
    ref: Ref,
    source: ProcessLink | None,
    target: ProcessLink | None,
    sh: HandleLink | None,
    th: HandleLink | None,
    session: SessionLink | None,
) -> str:
    eid = ref.event_id
    src = source.label if source else "?"
    if eid == 4690:
        return (
            f"4690 handle duplicated: {src} handle {pid_text(sh.handle_id if sh else None)} -> "
            f"{target.label if target else '?'} handle {pid_text(th.handle_id if th else None)}"
        )
    if eid == 4688:
        return f"4688 process created: {target.label if target else '?'} by {src}"
    if eid == 4689:
        return f"4689 process exited: {src}"
    if sh is not None:
        verb = {
            4656: "handle opened",
            4661: "handle opened",
            4663: "object accessed",
            4660: "object deleted",
            4658: "handle closed",
        }.get(eid, "handle")
        return f"{eid} {verb}: {pid_text(sh.handle_id)} by {src}"
    if session is not None and eid in (4624, 4634, 4647, 4672):
        verb = {4624: "logon", 4634: "logoff", 4647: "logoff requested", 4672: "special privileges"}[eid]
        return f"{eid} {verb}: 0x{session.logon_id:x} {session.user or ''}".rstrip()
    return f"{eid} record {ref.record_id}" + (f": {src}" if source else "")


def _ref_text(ref: Ref) -> str:
    when = iso_from_filetime(ref.filetime) or "no time"
    return f"{ref.event_id} record {ref.record_id} at {when}"


#: A list in a tree (a handle's accesses, the related events, a process's handles...) shows its
#: first and last TREE_EDGE items and one line for those between: a handle used 250,000 times
#: made a tree of half a million lines (9 s to build, and the app's tree stopped drawing before
#: the session and the related events). The Correlation itself keeps every item (`--json`).
TREE_EDGE = 25



def _capped(items: Sequence[_T], make: Callable[[_T], Node], what: str,
            record: Callable[[_T], int | None] | None = None) -> list[Node]:
    """Nodes for `items`, the middle of a long list summed up in one line (see TREE_EDGE)."""
    if len(items) <= 2 * TREE_EDGE + 1:
        return [make(item) for item in items]
    hidden = items[TREE_EDGE:-TREE_EDGE]
    span = ""
    if record is not None:
        first, last = record(hidden[0]), record(hidden[-1])
        if first is not None and last is not None:
            span = f", records {first} to {last}"
    note = Node(f"... {len(hidden):,} more {what}{span} (the first and last {TREE_EDGE} are shown)", EXACT)
    return [*(make(item) for item in items[:TREE_EDGE]), note, *(make(item) for item in items[-TREE_EDGE:])]


def _record_of(ref: Ref) -> int | None:
    return ref.record_id


def _process_node(model: CorrelationModel, title: str, link: ProcessLink) -> Node:
    p = link.process
    if p is None:
        return Node(f"{title}: {link.label}: {link.reason}", link.confidence)
    marker = " (pre-existing)" if p.pre_existing else ""
    kids: list[Node] = []
    if p.created is not None:
        kids.append(Node(f"created: {_ref_text(p.created)}", EXACT, p.created.id))
    if link.confidence != EXACT or link.reason != p.reason:
        kids.append(Node(f"why: {link.reason}", link.confidence))
    if p.image:
        kids.append(Node(f"image: {p.image}", EXACT if p.created else INFERRED))
    if p.command_line:
        kids.append(Node(f"command line: {p.command_line}", EXACT, p.created.id if p.created else None))
    if p.user or p.logon_id:
        logon = f", logon 0x{p.logon_id:x}" if p.logon_id else ""
        kids.append(Node(f"user: {p.user or '?'}{logon}", EXACT, p.created.id if p.created else None))
    if p.elevation:
        kids.append(Node(f"elevation: {p.elevation} ({TOKEN_ELEVATION.get(p.elevation, 'unknown')})", EXACT))
    if p.integrity:
        kids.append(Node(f"integrity: {p.integrity} ({decode_label(p.integrity) or 'unknown'})", EXACT))
    if p.parent is not None:
        parent = model.processes[p.parent]
        kids.append(
            Node(
                f"parent: {parent.label}" + (" (pre-existing)" if parent.pre_existing else ""),
                parent.confidence,
                (parent.created or parent.first_seen).id,
            )
        )
    elif p.parent_pid is not None:
        kids.append(Node(f"parent: {pid_text(p.parent_pid)} not resolved", MISSING))
    kids.append(_end_node(p))
    event = (p.created or p.first_seen).id
    return Node(f"{title}: {p.label}{marker}", link.confidence, event, kids)


def _end_node(p: Process) -> Node:
    if p.exited is not None:
        return Node(f"exited: {_ref_text(p.exited)}", EXACT, p.exited.id)
    if p.replaced_by is not None:
        return Node(f"no 4689: its pid was reused by {_ref_text(p.replaced_by)}", INFERRED, p.replaced_by.id)
    return Node("no 4689 in this log: still running at the end of the log", MISSING)


def _handle_node(model: CorrelationModel, title: str, link: HandleLink) -> Node:
    h = link.handle
    if h is None:
        return Node(f"{title}: {pid_text(link.handle_id)}: {link.reason}", link.confidence)
    kids: list[Node] = []
    owner = model.processes[h.process]
    kids.append(Node(f"owner: {owner.label}", owner.confidence, (owner.created or owner.first_seen).id))
    if h.opened is not None:
        access = f", access {decode_messages(h.access) or ' '.join(h.access.split())}" if h.access else ""
        kids.append(Node(f"opened: {_ref_text(h.opened)}{access}", EXACT, h.opened.id))
    if h.duplicated_by is not None:
        src = ""
        if h.source is not None:
            s = model.handles[h.source]
            src = f" from handle 0x{s.handle_id:x} of {model.processes[s.process].label}"
        kids.append(Node(f"created by duplication: {_ref_text(h.duplicated_by)}{src}", EXACT, h.duplicated_by.id))
    if h.opened is None and h.duplicated_by is None:
        kids.append(Node(f"open: {h.reason}", INFERRED, h.first_seen.id))
    if link.confidence != EXACT:
        kids.append(Node(f"why: {link.reason}", link.confidence))
    kids += _capped(h.accesses, lambda r: Node(f"accessed: {_ref_text(r)}", EXACT, r.id), "accesses",
                    _record_of)
    if h.closed is not None:
        note = "" if h.close_reason == f"closed by 4658 record {h.closed.record_id}" else f" ({h.close_reason})"
        kids.append(Node(f"closed: {_ref_text(h.closed)}{note}", EXACT, h.closed.id))
    else:
        kids.append(Node(f"close: {h.close_reason}", MISSING))
    kids += _capped(h.duplications, lambda r: Node(f"duplicated: {_ref_text(r)}", EXACT, r.id), "duplications",
                    _record_of)
    event = (h.opened or h.duplicated_by or h.first_seen).id
    return Node(f"{title}: {h.label}", link.confidence, event, kids)


def _session_node(link: SessionLink) -> Node:
    s = link.session
    user = link.user or "?"
    if s is None:
        return Node(
            f"logon session 0x{link.logon_id:x}: {user}",
            link.confidence,
            None,
            [Node(f"why: {link.reason}", link.confidence)],
        )
    kids: list[Node] = []
    if s.logon is not None:
        kind = f", logon type {s.logon_type}" if s.logon_type else ""
        kids.append(Node(f"logon: {_ref_text(s.logon)}{kind}", EXACT, s.logon.id))
    kids.append(Node(f"why: {link.reason}", link.confidence))
    if s.privileges is not None:
        kids.append(Node(f"special privileges: {_ref_text(s.privileges)}", EXACT, s.privileges.id))
    kids += _capped(s.logoffs, lambda r: Node(f"logoff: {_ref_text(r)}", EXACT, r.id), "logoffs", _record_of)
    if not s.logoffs:
        kids.append(Node("no logoff in this log", MISSING))
    marker = " (privileged)" if s.privileged else ""
    event = s.logon.id if s.logon is not None else None
    return Node(f"logon session 0x{link.logon_id:x}: {user}{marker}", link.confidence, event, kids)


def _correlation_tree(c: Correlation) -> Node:
    model = c.model
    eid = c.event.event_id
    kids: list[Node] = []
    titles = ("parent process", "new process") if eid == 4688 else ("source process", "target process")
    if c.source_process is not None:
        kids.append(_process_node(model, titles[0] if eid in (4688, 4690) else "process", c.source_process))
    if c.source_handle is not None:
        kids.append(_handle_node(model, "source handle" if eid == 4690 else "handle", c.source_handle))
    if c.target_process is not None:
        node = _process_node(model, titles[1], c.target_process)
        if eid == 4688 and c.target_process.process is not None:
            p = c.target_process.process

            def child_node(i: int) -> Node:
                child = model.processes[i]
                return Node(f"child: {child.label}", child.confidence, (child.created or child.first_seen).id)

            def handle_node(i: int) -> Node:
                h = model.handles[i]
                return _handle_node(model, "handle", HandleLink(h.handle_id, h, h.confidence, h.reason))

            node.children.extend(_capped(p.children, child_node, "children"))
            if p.handles:
                node.children.append(Node(f"handles: {len(p.handles)}", EXACT, None,
                                          _capped(p.handles, handle_node, "handles")))
        kids.append(node)
    if c.target_handle is not None:
        kids.append(_handle_node(model, "target handle", c.target_handle))
    if c.session is not None:
        kids.append(_session_node(c.session))
    if c.related:
        kids.append(
            Node(
                f"related events: {len(c.related)}",
                EXACT,
                None,
                _capped(c.related, lambda r: Node(f"{r.relation}: {_ref_text(r.ref)}", EXACT, r.ref.id),
                        "related events", lambda r: r.ref.record_id),
            )
        )
    return Node(c.summary, EXACT, c.event.id, kids)


def _forest_node(model: CorrelationModel, p: Process) -> tuple[Node, list[Node]]:
    """A process's node (children filled in later) and the lines that follow its children:
    its handles and its exit."""
    when = iso_from_filetime(p.created.filetime) if p.created is not None else None
    marker = " (pre-existing)" if p.pre_existing else (" (no 4688)" if p.created is None else "")
    label = f"{p.label}{marker}" + (f" created {when}" if when else "")

    def handle_node(i: int) -> Node:
        h = model.handles[i]
        close = (
            Node(f"closed: {_ref_text(h.closed)}", EXACT, h.closed.id)
            if h.closed is not None
            else Node(f"close: {h.close_reason}", MISSING)
        )
        return Node(h.label, h.confidence, (h.opened or h.duplicated_by or h.first_seen).id, [close])

    tail = _capped(p.handles, handle_node, "handles")
    tail.append(_end_node(p))
    return Node(label, p.confidence, (p.created or p.first_seen).id, []), tail
