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
  first seen in another event, which names their image: that names the inferred instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.correlate.processes import INFERRED, ProcessTracker, Ref, join_reason, same_process
from core.correlate.roles import Party, SysmonAct, SysmonRole
from core.model.values import as_int

Values = dict[str, str | None]


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
    value = values.get(name) if name else None
    if not value:
        return None
    value = value.strip().casefold()
    return value if value and value not in ("-", "{00000000-0000-0000-0000-000000000000}") else None


class SysmonTracker:
    """Resolves Sysmon events to the process tracker's instances by GUID (exact), else by pid
    alive at the event's time, naming instances from the event's image fields."""

    def __init__(self, procs: ProcessTracker) -> None:
        self.procs = procs
        self._by_guid: dict[tuple[str, str], int] = {}
        #: Sysmon 1s per computer (the 4688 side counts `ProcessTracker.creations`).
        self.creations: dict[str, int] = {}

    def is_sysmon(self, values: Values, role: SysmonRole) -> bool:
        """Whether the event carries one of its row's GUID fields (other providers reuse the
        small EventIDs Sysmon uses)."""
        return bool(values.get(role.source.guid) or (role.target.guid and values.get(role.target.guid)))

    def created(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole) -> PartyLink:
        """A Sysmon 1: join the 4688 of the same process if it is already there, else begin an
        instance (that a 4688 logged just after joins: `ProcessTracker.create`)."""
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
            current = self.procs.current(host, pid)
            made = self.procs.ref(current.created) if current is not None and current.created is not None else None
            if (current is not None and made is not None and current.sysmon_created is None
                    and made.event_id != ref.event_id and same_process(current, image, made, ref)):
                proc = current
                proc.joined = join_reason(ref, made)
            else:
                proc = self.procs.begin(host, computer, pid, ref)
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

    def event(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole) -> tuple[PartyLink,
                                                                                                   PartyLink]:
        """Any Sysmon event: its (source, target) links; a Sysmon 5 also ends its process."""
        if role.act is SysmonAct.CREATE:
            target = self.created(host, computer, ref, values, role)
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
