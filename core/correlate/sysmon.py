"""Sysmon process identity: a process instance seen by Sysmon is keyed by its ProcessGuid.

Sysmon gives every process a GUID that is unique even when Windows reuses the pid, so an event
naming a GUID (ProcessGuid, SourceProcessGuid, TargetProcessGuid, ParentProcessGuid) links to
its instance exactly. A Sysmon 1 and the Security 4688 of the same process (same computer, pid
and image, logged within `CHANNEL_SKEW` of each other) are one instance with both records.

Quirks from real logs (OTRF datasets):
* a Sysmon 10 may name its target by a GUID no Sysmon 1 ever carried (a process accessed
  while it is being created gets a provisional GUID): such an event is matched by pid and
  time, and says so;
* processes started before Sysmon (lsass.exe, services.exe) have no Sysmon 1: their GUID is
  first seen in another event, which names their image: that names the inferred instance;
* the channels' clocks differ (`CHANNEL_SKEW`): a Sysmon 1 may be logged before the 4689 of the
  pid's previous process, and its own 4688 after that. The scan is one pass in time order, so a
  Sysmon 1 that a 4688 still to come may be nearer to waits for it (`SysmonTracker.wait`), with
  the Sysmon events naming its GUID or pid, until the 4688 comes or no nearer one can: the scan
  (`core.correlate.scan`) then replays them, in the order logged. Begun at once, its instance
  became the pid's current one and took the previous process's 4689 (exited before it was
  created), and the 4688 joined the wrong one (0.45 s away rather than 0.05 s). Meanwhile the
  Security events of the pid go to the instance alive as the Security channel tells it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.correlate.processes import (
    CHANNEL_SKEW,
    INFERRED,
    ProcessTracker,
    Ref,
    join_reason,
    same_image,
    same_process,
)
from core.correlate.roles import Party, SysmonAct, SysmonRole
from core.model.values import as_int

if TYPE_CHECKING:
    from core.correlate.processes import _Proc

Values = dict[str, str | None]
#: A place on the model's time line, `Ref.key`.
Key = tuple[int, int]

#: No wait is due (`SysmonTracker.soonest`).
_NEVER = 1 << 63


#: Sysmon events held with one waiting Sysmon 1 at most (a wait lasts 2 s of the log's time, which
#: a crafted log can fill with any number of events naming that process).
MAX_HELD = 10_000


@dataclass(slots=True)
class Held:
    """A Sysmon event held back with a waiting Sysmon 1 (`Wait`), replayed once every wait it is
    held by is over (`waits` counts them: a Sysmon 10 between two waiting processes)."""

    ref: Ref
    host: str
    computer: str
    values: Values
    waits: int = 1


@dataclass(slots=True)
class Wait:
    """A Sysmon 1 waiting for a 4688 that may be nearer to it (`SysmonTracker.wait`): `events[0]`
    is the Sysmon 1, the rest the Sysmon events held with it, in time order. Without a nearer 4688
    by `until`, it joins `candidate` (the instance whose 4688 it is within the skew of), or, None,
    begins an instance of its own."""

    host: str
    pid: int
    image: str | None
    ts: int
    candidate: int | None
    until: int
    events: list[Held]
    #: What it holds the events of: (computer, GUID), (computer, pid) (`SysmonTracker.keep`).
    holds: list[tuple[str, str | int]] = field(default_factory=list)

    def nearer(self, image: str | None, ts: int) -> bool:
        """Whether a 4688 of the pid logged at `ts` with `image` is this Sysmon 1's (a nearer one
        than its candidate's, or, without one, any within the skew)."""
        if not same_image(self.image, image):
            return False
        gap = abs(ts - self.ts)
        return gap < self.until - self.ts if self.candidate is not None else gap <= CHANNEL_SKEW


@dataclass(frozen=True, slots=True)
class PartyLink:
    """How a Sysmon event's process field was resolved: `confidence` None means as sure as the
    instance itself (its GUID is the instance's); `note` says how it was matched."""

    pid: int | None
    process: int | None
    confidence: str | None
    note: str | None


_NO_PARTY = PartyLink(None, None, None, None)


def _guid(values: Values, name: str) -> str | None:
    """The GUID in `name`, as one spelling: lower case, in braces (exports write it without them
    too: `22222222-...` is `{22222222-...}`); None for none, `-` or the zero GUID."""
    value = values.get(name) if name else None
    if not value:
        return None
    value = value.strip().strip("{}").strip().casefold()
    return "{" + value + "}" if value and value not in ("-", "00000000-0000-0000-0000-000000000000") else None


class SysmonTracker:
    """Resolves Sysmon events to the process tracker's instances by GUID (exact), else by pid
    alive at the event's time, naming instances from the event's image fields."""

    def __init__(self, procs: ProcessTracker) -> None:
        self.procs = procs
        self._by_guid: dict[tuple[str, str], int] = {}
        #: Sysmon 1s per computer (the 4688 side counts `ProcessTracker.creations`).
        self.creations: dict[str, int] = {}
        #: The Sysmon 1s waiting for a 4688 (`wait`) by (computer, pid), in time order; the waits
        #: holding the events that name a (computer, GUID) or (computer, pid); the soonest `until`.
        self.waits: dict[tuple[str, int], Wait] = {}
        self._waiting: dict[tuple[str, str | int], list[Wait]] = {}
        self.soonest = _NEVER

    def wait(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole) -> bool:
        """Whether the Sysmon 1 `ref` waits for a 4688 still to come (held here, replayed by the
        scan: `Wait`). It does when the pid's current instance was created by a 4688 and
        - has no Sysmon 1 of its own and is this one's process (same image, within the skew) but
          was logged some time before it: a later 4688 of the pid could be nearer;
        - or is still alive and is not this one's process: this one's 4688 may come, and the
          current one's 4689 before it (the Sysmon clock ahead)."""
        party = role.target
        pid = as_int(values.get(party.pid))
        guid = _guid(values, party.guid)
        if pid is None or (guid and (host, guid) in self._by_guid):
            return False
        current = self.procs.current(host, pid)
        if current is None or current.created is None:
            return False
        made = self.procs.ref(current.created)
        if made.event_id == ref.event_id:  # begun by a Sysmon 1: the pid's reuse is Sysmon's to tell
            return False
        image = values.get(party.image)
        candidate: int | None = None
        if current.sysmon_created is None and same_process(current, image, made, ref):
            gap = ref.ts - made.ts
            if gap <= 0:
                return False
            candidate, until = current.index, ref.ts + gap
            self.procs.awaited.add(candidate)
        elif current.end is None:
            until = ref.ts + CHANNEL_SKEW
        else:
            return False
        w = self.waits[(host, pid)] = Wait(host, pid, image, ref.ts, candidate, until, [Held(ref, host, computer,
                                                                                              values)])
        self._hold(w, host, guid, pid)
        self.soonest = min(self.soonest, until)
        return True

    def _hold(self, w: Wait, host: str, guid: str | None, pid: int | None) -> None:
        for what in (guid, pid):
            if what is not None and what != "":
                held = self._waiting.setdefault((host, what), [])
                if w not in held:
                    held.append(w)
                    w.holds.append((host, what))

    def keep(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole) -> bool:
        """Whether a Sysmon event names a process whose Sysmon 1 waits, by its GUID or its pid
        (another GUID of the same process, a provisional one: as it was read before the wait): it
        then waits with it, replayed in the order logged; a Sysmon 1 it is the parent of too, and
        that one's events after it."""
        waits: list[Wait] = []
        waiting = self._waiting
        for party in (role.source, role.target):
            for what in (_guid(values, party.guid), as_int(values.get(party.pid)) if party.pid else None):
                for w in waiting.get((host, what), ()) if what is not None and what != "" else ():
                    if w not in waits:
                        waits.append(w)
        if not waits or any(len(w.events) >= MAX_HELD for w in waits):
            return False  # (a crafted flood within the wait: taken now, as it would be without one)
        held = Held(ref, host, computer, values, len(waits))
        for w in waits:
            w.events.append(held)
        if role.act is SysmonAct.CREATE:
            guid, pid = _guid(values, role.target.guid), as_int(values.get(role.target.pid))
            for w in waits:
                self._hold(w, host, guid, pid)
        return True

    def take(self, host: str, pid: int) -> Wait | None:
        """The wait of `pid`'s Sysmon 1, no longer waiting (the caller replays it)."""
        w = self.waits.get((host, pid))
        if w is not None:
            self._done(w)
        return w

    def over(self, now: int) -> list[Wait]:
        """The waits no 4688 can end any more at time `now` (a 4688 this late would not be nearer),
        no longer waiting, in time order."""
        if now < self.soonest:
            return []
        done = [w for w in self.waits.values() if w.until <= now]
        for w in done:
            self._done(w)
        return done

    def _done(self, w: Wait) -> None:
        del self.waits[(w.host, w.pid)]
        for key in w.holds:
            held = self._waiting[key]
            held.remove(w)
            if not held:
                del self._waiting[key]
        if w.candidate is not None:
            self.procs.awaited.discard(w.candidate)
        self.soonest = min((o.until for o in self.waits.values()), default=_NEVER)

    def is_sysmon(self, values: Values, role: SysmonRole) -> bool:
        """Whether the event carries one of its row's GUID fields (other providers reuse the
        small EventIDs Sysmon uses)."""
        return bool(values.get(role.source.guid) or (role.target.guid and values.get(role.target.guid)))

    def created(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole, *,
                into: tuple[int, Ref] | None = None, fresh: Key | None = None, rival: Ref | None = None) -> PartyLink:
        """A Sysmon 1: join the 4688 of the same process if it is already there, else begin an
        instance (that a 4688 logged just after joins: `ProcessTracker.create`). A Sysmon 1 that
        waited (`wait`) joins the instance decided, `into` (with its 4688, which may be the event
        being scanned, not in the facts table yet; `rival`: the farther 4688), or, `fresh`,
        begins one, the pid's previous instance, if alive, living up to that key (the events of the
        pid scanned meanwhile are its own)."""
        party = role.target
        pid = as_int(values.get(party.pid))
        guid = _guid(values, party.guid)
        if pid is None:
            return _NO_PARTY
        self.creations[host] = self.creations.get(host, 0) + 1
        image = values.get(party.image)
        known = self._by_guid.get((host, guid)) if guid else None
        if known is not None:
            proc = self.procs.procs[known]
        else:
            current: _Proc | None
            made: Ref | None
            if into is not None:
                current, made = self.procs.procs[into[0]], into[1]
            else:
                current = None if fresh is not None else self.procs.current(host, pid)
                made = self.procs.ref(current.created) if current is not None and current.created is not None else None
            if current is not None and made is not None and (into is not None or (
                    current.sysmon_created is None and made.event_id != ref.event_id
                    and same_process(current, image, made, ref))):
                proc = current
                proc.joined = join_reason(ref, made, rival)
            else:
                proc = self.procs.begin(host, computer, pid, ref, until=fresh)
                proc.command_line = values.get("CommandLine")
                user = values.get("User")
                proc.user = user if user and user != "-" else None
                proc.logon_id = as_int(values.get(role.logon_id)) if role.logon_id else None
            proc.sysmon_created = ref
            proc.add_name(image, ref)
            if guid:
                proc.guid = guid
                self._by_guid[(host, guid)] = proc.index
        if proc.parent_pid is None:
            parent = self.party(host, computer, ref, values, role.source, record=False)
            if parent.pid is not None:
                self.procs.set_parent(proc.index, parent.pid, parent.process)
        return PartyLink(pid, proc.index, None, f"ProcessGuid {proc.guid}" if proc.guid else None)

    def party(self, host: str, computer: str, ref: Ref, values: Values, party: Party, *,
              record: bool = True) -> PartyLink:
        """The instance one process field of a Sysmon event names; `record` adds the event to
        the instance's Sysmon events."""
        if not party.pid:
            return _NO_PARTY
        pid = as_int(values.get(party.pid))
        guid = _guid(values, party.guid)
        idx = self._by_guid.get((host, guid)) if guid else None
        link: PartyLink
        if idx is not None:
            link = PartyLink(pid, idx, None, f"{party.guid} {guid}")
        elif pid is None:
            return _NO_PARTY
        else:
            idx, note = self.procs.resolve(host, computer, pid, ref, name=values.get(party.image))
            proc = self.procs.procs[idx]
            if guid and proc.guid is None:
                proc.guid = guid
                self._by_guid[(host, guid)] = idx
                link = PartyLink(pid, idx, None, note or f"{party.guid} {guid} first seen here; matched by pid alive "
                                 "at this time")
            elif guid:
                origin = proc.sysmon_created
                where = f" (Sysmon 1 record {origin.record_id})" if origin is not None else ""
                link = PartyLink(pid, idx, INFERRED, f"{party.guid} {guid} is not the GUID of the instance alive "
                                 f"with this pid, {proc.guid}{where}: matched by pid and time")
            else:
                link = PartyLink(pid, idx, INFERRED, note or "no GUID: matched by pid alive at this time")
        if record:
            proc = self.procs.procs[idx]
            if proc.sysmon_events is None:
                proc.sysmon_events = [ref]
            elif proc.sysmon_events[-1] is not ref:
                proc.sysmon_events.append(ref)
        return link

    def event(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole, *,
              into: tuple[int, Ref] | None = None, fresh: Key | None = None,
              rival: Ref | None = None) -> tuple[PartyLink, PartyLink]:
        """Any Sysmon event: its (source, target) links; a Sysmon 5 also ends its process. A
        Sysmon 1 that waited says what was decided (`created`)."""
        if role.act is SysmonAct.CREATE:
            target = self.created(host, computer, ref, values, role, into=into, fresh=fresh, rival=rival)
            parent_idx = self.procs.procs[target.process].parent if target.process is not None else None
            ppid = as_int(values.get(role.source.pid))
            source = PartyLink(ppid, parent_idx, None, None) if ppid is not None else _NO_PARTY
            return source, target
        source = self.party(host, computer, ref, values, role.source)
        target = self.party(host, computer, ref, values, role.target)
        if role.act is SysmonAct.EXIT and source.process is not None:
            proc = self.procs.procs[source.process]
            if proc.sysmon_exited is None:
                proc.sysmon_exited = ref
        return source, target
