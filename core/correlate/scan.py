"""The scan: the model's events, in time order, fed to the process, handle and session trackers.

What each event does (and which of its fields name what) comes from the table of
`core.correlate.roles`; the scan holds one step per `Act` (the handle events' steps are in its
loop, `core.correlate.scan_rows`). Everything is scoped by computer and time (see the trackers
for the rules). The scan keeps, per event, what it learnt (`Facts`, held as a row of the facts
table), which `core.correlate.model.CorrelationModel` turns into links.

A restart of a computer ends its instances (`core.correlate.process_boots`): the boot and
shutdown markers outside the model's events are given to the scan (`Scan(markers=...)`), which
applies each where it falls among the model's events (`scan_rows.feed`); a 4688 of a boot's first
process is one, in its own step (`_created`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.correlate.access import AccessTracker
from core.correlate.event_fields import Pairs, Values, as_int, logon_of, pid_of
from core.correlate.facts import Facts, FactsTable, SysmonFacts
from core.correlate.handle_table import HandleTable
from core.correlate.handles import USE_EVENTS, HandleTracker
from core.correlate.process_boots import SAYS, BootClock, Marker, Restart, first_process
from core.correlate.processes import ProcessTracker, Ref, pid_text
from core.correlate.roles import (
    ROLES,
    SYSMON,
    Act,
    Role,
    SysmonAct,
    scanned_event_ids,
)
from core.correlate.scan_rows import HandleEvent, RawRow, feed
from core.correlate.session import WELL_KNOWN
from core.correlate.sessions import SessionChoice, SessionTracker, user_name
from core.correlate.sysmon import SysmonTracker, Wait
from core.model.event import Event, EventKeys
from core.model.same_records import SameRecords

if TYPE_CHECKING:
    from core.store.store import KeyRow, StoredEvent


def user_of(values: Values, role: Role) -> str | None:
    domain, name = role.user
    return user_name(values.get(domain), values.get(name))


def record_id_of(ev: Event) -> int:
    return ev.record_id if ev.record_id is not None else ev.record_number


@dataclass(slots=True)
class Item:
    """A model event reduced to what the scan needs (the Event itself is not kept): `ts` is
    its place on the model's time line (see `time_order`)."""

    key: EventKeys
    ts: int = 0


def _keys(events: Iterable[StoredEvent]) -> Iterator[EventKeys]:
    """The model events among `events`, as `Store.iter_keys` reads them."""
    scanned = frozenset(scanned_event_ids())
    for se in events:
        ev = se.event
        if ev.event_id in scanned:
            yield EventKeys(se.id, ev.source, ev.filetime, record_id_of(ev), ev.event_id, ev.computer, ev.data)


def time_order(events: Iterable[StoredEvent]) -> list[Item]:
    """Model events in time order: (filetime, record id, store id). An event without time
    takes the time of the previous event of the same input (so it sorts by position)."""
    items = [Item(key) for key in _keys(events)]
    items.sort(key=lambda it: it.key.id)
    last: dict[int, int] = {}
    for it in items:
        if it.key.filetime is None:
            it.ts = last.get(it.key.source, 0)
        else:
            it.ts = last[it.key.source] = it.key.filetime
    items.sort(key=lambda it: (it.ts, it.key.record_id, it.key.id))
    return items


def timed(events: Iterable[EventKeys]) -> Iterator[Item]:
    """`time_order` for events that already come in that order (the store's time order,
    `Store.iter_keys`), every one with a time: one at a time, so that the reduced events of a
    log are never all in memory at once (about half of the model's peak memory)."""
    scanned = frozenset(scanned_event_ids())
    for key in events:
        if key.event_id not in scanned:
            continue
        if key.filetime is None:
            raise ValueError("an event without a time cannot be streamed in time order")
        yield Item(key, key.filetime)


@dataclass(frozen=True, slots=True)
class Rows:
    """Model events as `Scan.feed` takes them: batches of raw rows (`scan_rows.RawRow`) in time
    order, of a few thousand rows each (the facts table packs a batch at a time), how to decode
    their EventData (`pairs_of`), and the store ids of the events that have no time of their
    own (None: every one has)."""

    batches: Iterable[Sequence[RawRow]]
    pairs_of: Callable[[Any], Pairs]
    untimed: Container[int] | None = None
    #: Rows read by another process (`core.correlate.scan_reader`): see `scan_rows.feed`.
    decoded: dict[Any, HandleEvent] | None = None
    values_from: Callable[[Any], Values] | None = None


#: Why a 4688 has no new process (the note of its target link; it has no pid to link).
NO_NEW_PID = "the 4688 names no new process id"

#: The note of a 4688's creator when the new process has the creator's own pid, alive.
OWN_PID = ("its pid {} is also the new process's (NewProcessId): a live process cannot create a child with its "
           "own pid, so this creator is doubtful (a 4689 and a 4688 of the pid not logged, or an altered event)")

#: Rows per batch of `scan_events`.
ROWS_BATCH = 2000


def _decoded(pairs: Pairs) -> Pairs:
    return pairs


def scan_events(items: Iterable[Item]) -> Rows:
    """`items` (`time_order`, `timed`) as the scan takes them (their EventData already decoded)."""
    scanned = frozenset(scanned_event_ids())
    untimed: set[int] = set()

    def batches() -> Iterator[list[RawRow]]:
        batch: list[RawRow] = []
        for it in items:
            key = it.key
            if key.event_id not in scanned:
                continue
            if key.filetime is None:
                untimed.add(key.id)
            batch.append((key.id, it.ts, key.record_id, key.event_id, key.computer, key.data))
            if len(batch) >= ROWS_BATCH:
                yield batch
                batch = []
        yield batch

    return Rows(batches(), _decoded, untimed)


def stream(batches: Iterable[list[KeyRow]], pairs_of: Callable[[bytes | None], Pairs]) -> Rows:
    """`timed` for the store's raw rows (`Store.iter_key_rows`, decoded by `pairs_of`): no object
    made per event but the scan's (`core.correlate.scan_rows`)."""
    return Rows(batches, pairs_of)


def _go_on() -> None:
    """`Scan.check` when nobody asks to stop."""


class Scan:
    """Feeds events in time order to the process, handle and session trackers."""

    def __init__(self, directory: str | None = None, *, check: Callable[[], None] | None = None,
                 markers: Sequence[Marker] = ()) -> None:
        #: Run between the steps of `finish` (and within its longest): it may raise to stop.
        self.check = check if check is not None else _go_on
        #: The model's events' facts, in columns (`core.correlate.facts`): one object per
        #: event would be most of the model's memory.
        self.facts = FactsTable(directory)  # its columns' side files go to `directory`
        #: Its instances keep the model events as their positions in `facts`.
        self.procs = ProcessTracker(self.facts)
        self.sessions = SessionTracker()
        self.sysmon = SysmonTracker(self.procs)
        self.access = AccessTracker(self.facts)
        #: The handle instances, each written into the model's table as soon as it is final.
        self.handles = HandleTracker(self.facts, HandleTable(self.facts, directory))
        #: Sysmon events, apart: the model's events (`facts`) stay those of the roles table.
        self.sysmon_facts: dict[int, SysmonFacts] = {}
        self.computers: dict[str, str] = {}
        #: The copies of a record loaded twice, left out of the scan (`core.model.same_records`).
        self.same_records = SameRecords()
        #: The key of the last event fed (`scan_rows.feed`), and the order the next one takes.
        self.last_key: tuple[int, int] = (0, 0)
        self.next_order = 0
        #: The boot and shutdown markers outside the model's events, in its time order, and how
        #: many are applied (`pass_markers`); the boots they and the 4688s of first processes make.
        self.markers = markers
        self.marked = 0
        self.boots = BootClock()
        # Plain functions, not bound methods: those would make the scan a reference cycle, which
        # the model's freeze (`core.store.gc_pause`) would then keep, trackers and all, as long
        # as the process lives.
        steps: dict[Act, Callable[[Scan, Facts, Values, Role], None]] = {
            Act.CREATE: Scan._created,
            Act.EXIT: Scan._exited,
            Act.DUPLICATE: Scan._duplicated,
            Act.LOGON: Scan._session_event,
            Act.LOGOFF: Scan._session_event,
            Act.PRIVILEGES: Scan._session_event,
        }
        #: Each row's step, by EventID (the handle events' are the loop's: `scan_rows.feed`).
        self._steps = {eid: (steps.get(role.act), role, eid) for eid, role in ROLES.items()}

    def run(self, events: Rows) -> None:
        """Feed `events`, which must be in time order (`scan_events(time_order(...))`, `stream`)."""
        self.feed(events)
        self.finish()

    def feed(self, events: Rows) -> None:
        """Feed `events` in time order; `finish` once every one is fed."""
        feed(self, events.batches, events.pairs_of, events.untimed, decoded=events.decoded,
             values_from=events.values_from)
        self.pass_markers(None, self.next_order)  # (those after every model event)
        for wait in list(self.sysmon.waits.values()):  # no 4688 came for them
            self.sysmon.take(wait.host, wait.pid)
            self._replay(wait, before=self.last_key)

    def finish(self) -> None:
        """What needs every event first: 4690 sources, accesses, privileges, sessions."""
        steps, facts, check = self._steps, self.facts, self.check
        check()
        # The handle uses grouped by a child meanwhile (`HandleTracker.finish` takes them).
        facts.group_early(USE_EVENTS, self.handles.count)
        self.handles.resolve_sources()
        self.access.join()
        self.sessions.finish_privileges()
        check()
        # Privileges are logged next to their own logon, on either side.
        adjacent_ids = {eid for eid, (_, role, _) in steps.items() if role.act is Act.PRIVILEGES}

        def choose(found: Facts) -> SessionChoice | None:
            if not found.logon_id:
                return None
            return self.sessions.choose(found.host, found.computer, found.logon_id, found.ref, found.user,
                                        adjacent=found.ref.event_id in adjacent_ids)

        choose_span, choose_logon = self.sessions.choose_span, self.sessions.choose_logon
        logon_ids = {eid for eid, (_, role, _) in steps.items() if role.act is Act.LOGON}

        def choose_key(host: str, computer: str, lid: int, key: tuple[int, int], user: str | None,
                       event_id: int) -> tuple[SessionChoice, tuple[int, int] | None]:
            if lid in WELL_KNOWN and event_id in logon_ids:  # (maybe another logon into its session)
                return choose_logon(host, computer, lid, key, user), None
            return choose_span(host, computer, lid, key, user, event_id in adjacent_ids)

        facts.assign_session_spans(choose_key, check)
        check()
        facts.finish()
        for sysmon in self.sysmon_facts.values():
            sysmon.session = choose(sysmon)
        self.sessions.settled()  # every event has its answer: the tracker's memos go

    def pass_markers(self, place: tuple[int, int, int] | None, order: int) -> int | None:
        """Apply the markers (`markers`) before `place` (time, record id, store id: the event about
        to be scanned, which takes scan order `order`; None: every one left). The time of the next
        marker left, None for none."""
        markers, at = self.markers, self.marked
        while at < len(markers) and (place is None or markers[at].place < place):
            self._marker(markers[at], order)
            at += 1
        self.marked = at
        return markers[at].ts if at < len(markers) else None

    def _marker(self, m: Marker, order: int) -> None:
        """A boot or shutdown marker, placed just before the event of scan order `order`: that
        is where a boot it begins begins."""
        host = m.computer.casefold()
        ref = Ref(m.store_id, m.record_id, m.event_id, m.filetime, m.ts, order)
        if not m.boot:
            self.boots.shutdown(host, ref)
            return
        restart = self.boots.boot(host, self.computers.get(host, m.computer), ref, str(m.event_id),
                                  SAYS[m.event_id], key=ref.key, bound=ref)
        if restart is not None:
            self._restart(restart)

    def _restart(self, restart: Restart) -> None:
        """A computer restarted: its processes, their handles and its sessions end."""
        procs = self.procs
        self.handles.restarted(restart.host, restart.key, restart.text)
        for idx in procs.restart(restart):
            self.handles.process_restarted(procs.procs[idx].handles, restart.ref.ts, restart.text)
        self.sessions.restart(restart)

    def _resolve(self, found: Facts, pid: int, name: str | None = None, grace: bool = True) -> tuple[int, str | None]:
        if self.sysmon.waits:
            self.settle(found.ref.ts, found.ref.order)
        return self.procs.resolve(found.host, found.computer, pid, found.ref, name=name, grace=grace)

    def settle(self, now: int, order: int) -> None:
        """Replay the Sysmon 1s waiting for a 4688 (`SysmonTracker.wait`) that none logged from
        `now` on could be nearer to: before any step that may make a pid's instance anew (that of
        the event at `(now, order)`)."""
        for wait in self.sysmon.over(now):
            self._replay(wait, before=(now, order - 1))

    def _replay(self, wait: Wait, into: tuple[int, Ref] | None = None, rival: Ref | None = None, *,
                before: tuple[int, int]) -> None:
        """The events of `wait`, over: its Sysmon 1 joins `into` (the instance of the 4688 being
        scanned, and that 4688), else its candidate, else begins an instance: the pid's instance
        still alive then lived to the end of the wait, or up to `before` (the event scanned last) if
        earlier: the events of the pid scanned while it waited are that instance's; then the events
        held with it, but those another wait still holds. (Every event of the scan's at or after
        the end of a wait settles it first, but those that do not name a process.)"""
        before = min(before, (wait.until, -1))
        if into is None and wait.candidate is not None:
            made = self.procs.procs[wait.candidate].created
            assert made is not None  # (a candidate is an instance a 4688 created)
            into = (wait.candidate, self.procs.ref(made))
        for n, held in enumerate(wait.events):
            held.waits -= 1
            if held.waits:
                continue
            if n:
                self._sysmon_now(held.ref, held.host, held.computer, held.values)
            else:
                self._sysmon_now(held.ref, held.host, held.computer, held.values, into=into,
                                 fresh=before if into is None else None, rival=rival)

    def _own(self, handle: int, before: int) -> None:
        """Register a handle created by the last tracker call with its owner process."""
        if handle >= before:
            self.procs.procs[self.handles.handles[handle].process].handles.append(handle)

    @staticmethod
    def _subject(found: Facts, values: Values, role: Role) -> None:
        """The event's session and user (its row's `logon_id` and `user` fields). Inlined for
        the usual one-field case: this runs for every model event."""
        names = role.logon_id
        found.logon_id = as_int(values.get(names[0])) if len(names) == 1 else logon_of(values, names)
        domain, name = role.user
        found.user = user_name(values.get(domain), values.get(name))

    def _created(self, found: Facts, values: Values, role: Role) -> None:
        """A 4688: its parent resolved, its new process created. One whose NewProcessId is absent
        or no number still has its parent and session, and says why it names no new process
        (`NO_NEW_PID`): no instance is made for a process that cannot be named."""
        pid = pid_of(values, role.target_pid)
        self._subject(found, values, role)
        ppid = pid_of(values, role.source_pid)
        image = values.get("NewProcessName")
        kind = first_process(image, ppid, values.get(role.source_name))
        if kind is not None:  # the first process of a boot: its computer restarted just now
            restart = self.boots.boot(found.host, found.computer, found.ref, kind,
                                      f"{image} created by the kernel, the first process of a boot",
                                      key=found.ref.key, bound=len(self.facts))
            if restart is not None:
                self._restart(restart)
        parent: int | None = None
        if ppid is not None:
            parent, found.source_note = self._resolve(found, ppid, values.get(role.source_name))
            found.source_pid, found.source_proc = ppid, parent
            if ppid == pid and self.procs.procs[parent].end is None:
                own = OWN_PID.format(pid_text(pid))
                found.source_note = f"{found.source_note}; {own}" if found.source_note else own
        if pid is None:
            self.procs.creations[found.host] += 1  # a 4688 all the same: Process Creation is audited
            found.target_note = NO_NEW_PID
            found.logon_id = logon_of(values, role.new_logon_id)  # the new process's session, as below
            found.user = user_name(values.get("TargetDomainName"), values.get("TargetUserName")) or found.user
            return
        # A Sysmon 1 of the pid waiting for its 4688: this one, if nearer than the 4688 it would
        # join otherwise (joined below, once its instance is made); else it is over (replayed first).
        wait = self.sysmon.take(found.host, pid) if self.sysmon.waits else None
        if wait is not None and not wait.nearer(values.get("NewProcessName"), found.ref.ts):
            self._replay(wait, before=(found.ref.ts, found.ref.order - 1))
            wait = None
        child = self.procs.create(found.host, found.computer, pid, found.ref, values)
        if ppid is not None and self.procs.procs[child].parent_pid is None:
            self.procs.set_parent(child, ppid, parent)
        found.target_pid, found.target_proc = pid, child
        logon = logon_of(values, role.new_logon_id)
        self.procs.procs[child].logon_id = logon
        found.logon_id = logon
        found.user = self.procs.procs[child].user
        if wait is not None:
            made = self.procs.procs[wait.candidate].created if wait.candidate is not None else None
            self._replay(wait, into=(child, found.ref), rival=self.procs.ref(made) if made is not None else None,
                         before=(found.ref.ts, found.ref.order - 1))

    def _exited(self, found: Facts, values: Values, role: Role) -> None:
        self._subject(found, values, role)
        pid = pid_of(values, role.source_pid)
        if pid is None:
            return
        # (no grace: a process exits once, a second 4689 is another instance's)
        idx, found.source_note = self._resolve(found, pid, values.get(role.source_name), grace=False)
        found.source_pid, found.source_proc = pid, idx
        self.procs.exit(idx, found.ref)
        self.handles.process_exited(idx, found.ref, self.procs.procs[idx].handles)

    def _duplicated(self, found: Facts, values: Values, role: Role) -> None:
        self._subject(found, values, role)
        spid = pid_of(values, role.source_pid)
        tpid = pid_of(values, role.target_pid)
        found.source_hid = as_int(values.get(role.source_handle))
        found.target_hid = as_int(values.get(role.target_handle))
        found.source_pid, found.target_pid = spid, tpid
        if spid is not None:
            found.source_proc, found.source_note = self._resolve(found, spid)
        if tpid is not None:
            found.target_proc, found.target_note = self._resolve(found, tpid)
        if found.source_proc is None or spid is None or found.source_hid is None:
            return
        before = self.handles.count
        target = self.handles.duplicate(
            found.host,
            found.computer,
            found.ref,
            found.source_proc,
            spid,
            found.source_hid,
            found.target_proc,
            tpid,
            found.target_hid,
            at=len(self.facts),
        )
        if target is not None:
            self._own(target, before)
            found.target_handle = target

    def _session_event(self, found: Facts, values: Values, role: Role) -> None:
        self._subject(found, values, role)
        lid = found.logon_id
        if not lid:
            if lid is None and any(values.get(name) for name in role.logon_id):  # said, not lost silently
                self.sessions.unreadable += 1
            return
        if role.act is Act.PRIVILEGES:
            self.sessions.privileged(found.host, found.computer, lid, found.ref, found.user, at=len(self.facts))
        elif role.act is Act.LOGON:
            self.sessions.logon(found.host, found.computer, lid, found.ref, values, at=len(self.facts))
        else:
            self.sessions.logoff(found.host, found.computer, lid, found.ref, values, at=len(self.facts))

    def _sysmon_event(self, ref: Ref, host: str, computer: str, values: Values) -> None:
        """A Sysmon event (`core.correlate.sysmon`); an event of another provider with a
        Sysmon EventID is not in the model. A Sysmon 1 may wait for its 4688, and the events
        naming it with it (`SysmonTracker.wait`)."""
        role = SYSMON.get(ref.event_id)
        sysmon = self.sysmon
        if role is None or not sysmon.is_sysmon(values, role):
            return
        creates = role.act is SysmonAct.CREATE
        if sysmon.waits:
            self.settle(ref.ts, ref.order)
            pid = as_int(values.get(role.target.pid)) if creates else None
            wait = sysmon.take(host, pid) if pid is not None else None
            if wait is not None:  # the pid's next Sysmon 1: the waiting one's process came before
                self._replay(wait, before=(ref.ts, ref.order - 1))
            if sysmon.waits and sysmon.keep(host, computer, ref, values, role):
                return
        if creates and sysmon.wait(host, computer, ref, values, role):
            return
        self._sysmon_now(ref, host, computer, values)

    def _sysmon_now(self, ref: Ref, host: str, computer: str, values: Values, *,
                    into: tuple[int, Ref] | None = None, fresh: tuple[int, int] | None = None,
                    rival: Ref | None = None) -> None:
        """`_sysmon_event`'s step (a Sysmon 1 that waited: with what was decided)."""
        role = SYSMON[ref.event_id]
        found = self.sysmon_facts[ref.store_id] = SysmonFacts(ref, host, computer)
        source, target = self.sysmon.event(host, computer, ref, values, role, into=into, fresh=fresh, rival=rival)
        found.source_pid, found.source_proc, found.source_note = source.pid, source.process, source.note
        found.target_pid, found.target_proc, found.target_note = target.pid, target.process, target.note
        found.source_confidence, found.target_confidence = source.confidence, target.confidence
        if role.logon_id:
            found.logon_id = as_int(values.get(role.logon_id))
            user = values.get("User")
            found.user = user if user and user != "-" else None
        if role.act is SysmonAct.ACCESS:
            self.access.accessed(ref, host, source.process, target.process, values.get(role.target.image),
                                 as_int(values.get("GrantedAccess")))
