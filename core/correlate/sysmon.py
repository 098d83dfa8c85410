"""Sysmon process identity: a process instance seen by Sysmon is keyed by its ProcessGuid.

(About 670 lines: the waits, the joins with a 4688 by log time and by creation time, and the links by
GUID or pid must agree on which instance a Sysmon 1 makes or joins, so they sit together.)

Sysmon gives every process a GUID that is unique even when Windows reuses the pid, so an event
naming a GUID (ProcessGuid, SourceProcessGuid, TargetProcessGuid, ParentProcessGuid) links to
its instance exactly. A Sysmon 1 and the Security 4688 of the same process (same computer, pid
and image, logged within `CHANNEL_SKEW` of each other) are one instance with both records.

Quirks from real logs (OTRF datasets):
* a Sysmon 10 may name its target by a GUID no Sysmon 1 ever carried (a process accessed
  while it is being created gets a provisional GUID, seen 0 ms after its Sysmon 1), and some
  Sysmon versions give a process another GUID after its Sysmon 1 (the same first three groups,
  the machine's and the start time's, for the process's whole life: aptsimulator_cobaltstrike):
  such an event is matched by pid and time, says so, and its GUID is remembered as the
  instance's other one (`SysmonTracker._aliases`). A GUID that is neither (another start time,
  or another image, or long after the creation) is another process: its own inferred instance
  from that event on, the pid's previous one ending there, never the instance alive with the
  pid. A GUID is taken by an instance that has none (a 4688's without Sysmon 1, an inferred
  one) only when the event's image is the instance's;
* a Sysmon 1 joined to the 4688 of its process may name another parent (ParentProcessGuid /
  ParentProcessId) than the 4688's creator: its parent link is then the Sysmon 1's own parent,
  ambiguous, naming both records (the instance keeps the 4688's);
* processes started before Sysmon (lsass.exe, services.exe) have no Sysmon 1: their GUID is
  first seen in another event, which names their image: that names the inferred instance;
* the channels' clocks differ (`CHANNEL_SKEW`): a Sysmon 1 may be logged before the 4689 of the
  pid's previous process, and its own 4688 after that. The scan is one pass in time order, so a
  Sysmon 1 that a 4688 still to come may be nearer to waits for it (`SysmonTracker.wait`), with
  the Sysmon events naming its GUID or pid, until the 4688 comes or no nearer one can: the scan
  (`core.correlate.scan`) then replays them, in the order logged. Begun at once, its instance
  became the pid's current one and took the previous process's 4689 (exited before it was
  created), and the 4688 joined the wrong one (0.45 s away rather than 0.05 s). Meanwhile the
  Security events of the pid go to the instance alive as the Security channel tells it;
* early in a boot Sysmon's service starts after the boot's first processes, and logs their
  Sysmon 1s when it does (the OTRF persistence sample: 11 s after their 4688s, smss.exe's 26 s):
  past the skew by log time, each began a second instance of its process (and ended the first).
  A Sysmon 1 logged late, more than `LATE` after the creation time it says (`creation_said`: its
  ProcessGuid's start time, to the second; its `UtcTime` where the scan's values carry it), is
  joined by that time instead (`SysmonTracker._late`): to the 4688 of the same pid and image
  within the skew of it, on the same computer in the same boot, no Sysmon 1 joined yet, and no
  other instance of the pid created between the two (a reuse of the pid is never joined; two
  processes of the pid in one second are taken in order, as Sysmon logs them). Exact, as a join
  by log time is: both times are the process's creation. The Sysmon events logged just after it
  naming its pid by a provisional GUID or none go to it (`_late_alias`), not to the instance
  alive with the pid at their log time.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from core.correlate.process_instance import process_label
from core.correlate.processes import (
    AMBIGUOUS,
    CHANNEL_SKEW,
    INFERRED,
    TICKS_PER_SECOND,
    ProcessTracker,
    Ref,
    basename,
    join_reason,
    pid_text,
    same_image,
    same_process,
)
from core.correlate.roles import Party, SysmonAct, SysmonRole
from core.model.event import EPOCH_AS_FILETIME, datetime_to_filetime
from core.model.values import as_int

if TYPE_CHECKING:
    from core.correlate.processes import _Proc

Values = dict[str, str | None]
#: A place on the model's time line, `Ref.key`.
Key = tuple[int, int]

#: No wait is due (`SysmonTracker.soonest`).
_NEVER = 1 << 63


#: Other GUIDs of a process remembered (`SysmonTracker._aliases`): one each at most in the logs seen.
MAX_ALIASES = 1 << 20

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


#: A GUID as Sysmon writes it (`_guid`'s spelling).
_GUID_FORM = re.compile(r"\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}")


def _started(guid: str | None) -> str | None:
    """The first three groups of a Sysmon GUID (the machine's, then the process's start time:
    every GUID Sysmon gives one process has them), None for a GUID not of that form."""
    return guid[:19] if guid and _GUID_FORM.fullmatch(guid) else None


def _seconds(ticks: int) -> str:
    return f"{ticks / TICKS_PER_SECOND:.3f} s"


#: A Sysmon 1's creation time as Sysmon writes it, in UTC: `2020-09-04 07:07:55.793`.
_UTC_TIME = re.compile(r"\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?Z?\s*")
#: The field a Sysmon 1 says it in (read only where the scan's values carry it: `creation_said`).
UTC_TIME = "UtcTime"
#: Instances of one pid looked at back from its current one for a late Sysmon 1 (`_late`): those
#: created since its creation time, a few at most in real logs (a crafted log could make any number).
MAX_LATE_WALK = 64
_HALF_SECOND = TICKS_PER_SECOND // 2
#: How long after the creation time it says (beyond what that time leaves open) a Sysmon 1 is
#: logged late (`SysmonTracker._late`): its log time is then a worse creation time than the one
#: it says. A second: more than Sysmon's own lag (milliseconds) and an export's rounding to it.
LATE = TICKS_PER_SECOND


class Said(NamedTuple):
    """When a Sysmon 1 says its process was created: `at` on the model's time line, give or take
    `slack` (a time to the second: its middle, half a second either way); `utc_time`, its UtcTime
    as logged when it is that (None: its GUID's)."""

    at: int
    slack: int
    utc_time: str | None = None

    @property
    def words(self) -> str:
        """How a join's reason names it (made only then: most Sysmon 1s are not logged late)."""
        if self.utc_time is not None:
            return f"the creation time its UtcTime says, {self.utc_time.strip()}"
        seconds = (self.at - self.slack - EPOCH_AS_FILETIME) // TICKS_PER_SECOND
        when = _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"the second of the creation time its ProcessGuid holds, {when}"


def utc_ticks(text: str | None) -> int | None:
    """A `UtcTime` as FILETIME ticks (the model's time line), None when it is none."""
    found = _UTC_TIME.fullmatch(text) if text else None
    if found is None:
        return None
    y, mo, d, h, mi, sec, frac = found.groups()
    try:
        when = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), tzinfo=_dt.UTC)
    except ValueError:
        return None
    return datetime_to_filetime(when) + (int(frac.ljust(7, "0")) if frac else 0)


def creation_said(values: Values, guid: str | None) -> Said | None:
    """The creation time a Sysmon 1 says: its `UtcTime` (to the millisecond) when the values carry
    it, else the start time its ProcessGuid holds (its second and third groups, the low and high
    halves of the Unix time in seconds: the same second as its UtcTime in every Sysmon 1 of the
    samples, 199 in eight OTRF logs), None when neither says one."""
    text = values.get(UTC_TIME)
    ticks = utc_ticks(text)
    if ticks is not None:
        return Said(ticks, 0, text)
    if _started(guid) is None:
        return None
    assert guid is not None
    begins = EPOCH_AS_FILETIME + int(guid[15:19] + guid[10:14], 16) * TICKS_PER_SECOND
    return Said(begins + _HALF_SECOND, _HALF_SECOND)


def late_join_reason(sysmon: Ref, made: Ref, said: Said) -> str:
    """Why a Sysmon 1 logged late and the 4688 `made` are one process, joined by the creation
    time the Sysmon 1 says (`said`) rather than the time it was logged."""
    gap = made.ts - said.at
    if said.slack and abs(gap) <= said.slack:
        where = "in"
    else:
        gap -= said.slack if gap > 0 else -said.slack
        where = f"{_seconds(gap)} after" if gap >= 0 else f"{_seconds(-gap)} before"
    return (f"Sysmon 1 record {sysmon.record_id} and 4688 record {made.record_id} are one process: same computer, "
            f"boot, pid and image, the 4688 logged {where} {said.words} (within the "
            f"{CHANNEL_SKEW // TICKS_PER_SECOND} s skew between the channels), no other process of the pid created "
            f"between them; the Sysmon 1 was logged {_seconds(sysmon.ts - said.at + said.slack)} after that, late "
            "(Sysmon logs the processes created before its service started once it does), so the time it says is "
            "matched rather than the time it was logged")


class SysmonTracker:
    """Resolves Sysmon events to the process tracker's instances by GUID (exact), else by pid
    alive at the event's time, naming instances from the event's image fields."""

    def __init__(self, procs: ProcessTracker) -> None:
        self.procs = procs
        self._by_guid: dict[tuple[str, str], int] = {}
        #: A process's other GUIDs (`party`: a provisional one, or another with the same start
        #: time), by (computer, GUID): its instance and the Sysmon event (EventID, record id) that
        #: first named it.
        self._aliases: dict[tuple[str, str], tuple[int, int, int | None]] = {}
        #: Sysmon 1s per computer (the 4688 side counts `ProcessTracker.creations`).
        self.creations: dict[str, int] = {}
        #: The Sysmon 1s waiting for a 4688 (`wait`) by (computer, pid), in time order; the waits
        #: holding the events that name a (computer, GUID) or (computer, pid); the soonest `until`.
        self.waits: dict[tuple[str, int], Wait] = {}
        self._waiting: dict[tuple[str, str | int], list[Wait]] = {}
        self.soonest = _NEVER
        #: The instance a pid's last Sysmon 1 joined late (`_late`) and when that Sysmon 1 was
        #: logged, by (computer, pid), until the pid's next Sysmon 1: the Sysmon events logged with
        #: it name its process by another GUID (`_late_alias`). Few: one per late Sysmon 1 at most.
        self._late_joined: dict[tuple[str, int], tuple[int, int]] = {}

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
            if self._late(host, pid, guid, image, values, ref) is not None:
                return False  # logged late, its 4688 found by its creation time: joined at once (`created`)
            until = ref.ts + CHANNEL_SKEW
        else:
            return False
        w = self.waits[(host, pid)] = Wait(host, pid, image, ref.ts, candidate, until, [Held(ref, host, computer,
                                                                                              values)])
        self._hold(w, host, guid, pid)
        self.soonest = min(self.soonest, until)
        return True

    def _late(self, host: str, pid: int, guid: str | None, image: str | None, values: Values,
              ref: Ref) -> tuple[_Proc, Ref, Said] | None:
        """The instance whose 4688 a Sysmon 1 logged late is of, by the creation time it says
        (`creation_said`), with that 4688 and the time; None when it is not logged late (more than
        `LATE` after that time: then its log time is as good) or no 4688 is its own.

        The pid's instances created since the skew before that time are walked back from its
        current one (a restart begins the walk afresh: the same boot only; an instance frozen
        meanwhile, `ProcessTracker._release`, ends it with None: the Sysmon 1 then begins its own
        instance, as before). One is taken if a 4688 created it with the same image within the
        skew of that time, no Sysmon 1 joined it yet, and no other instance of the pid was created
        between its 4688 and that time (a later reuse of the pid is never joined: the first
        process's Sysmon 1 is nearer the first). The nearest if several are; among those as near
        as the time can tell (a GUID's time is to the second), the first created: Sysmon logs its
        Sysmon 1s in the order the processes were created. Not done for the usual Sysmon 1, which
        joins or waits by its log time: the caller asks only when that found no 4688."""
        procs = self.procs
        p = procs.current(host, pid)
        if p is None:
            return None
        said = creation_said(values, guid)
        if said is None or ref.ts - said.at <= said.slack + LATE:
            return None
        low, high = said.at - said.slack, said.at + said.slack
        walked: list[tuple[_Proc, int]] = []  # (instance, when it began), the latest first
        while True:
            began = procs.key(p.created if p.created is not None else p.first_seen)[0]
            walked.append((p, began))
            if began < low - CHANNEL_SKEW or p.previous is None:
                break
            if len(walked) >= MAX_LATE_WALK:
                return None  # (more instances of the pid since that time than a real log has)
            p = procs.procs[p.previous]
            if p is None:  # frozen
                return None
        best: tuple[int, int, _Proc, Ref] | None = None
        for n, (p, began) in enumerate(walked):
            if p.created is None or p.sysmon_created is not None or not same_image(p.image, image):
                continue
            off = max(0, abs(began - said.at) - said.slack)
            if off > CHANNEL_SKEW:
                continue
            if began < low:  # another created after it and before that time?
                between = any(began < other < low for _, other in walked[:n])
            else:  # ... or after that time and before it
                between = any(high < other < began for _, other in walked[n + 1:])
            if between:
                continue
            made = procs.ref(p.created)
            if made.event_id == 4688 and (best is None or (off, began) <= best[:2]):
                best = (off, began, p, made)
        return (best[2], best[3], said) if best is not None else None

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
                into: tuple[int, Ref] | None = None, fresh: Key | None = None,
                rival: Ref | None = None) -> tuple[PartyLink, PartyLink]:
        """A Sysmon 1: join the 4688 of the same process if it is already there, else begin an
        instance (that a 4688 logged just after joins: `ProcessTracker.create`). A Sysmon 1 that
        waited (`wait`) joins the instance decided, `into` (with its 4688, which may be the event
        being scanned, not in the facts table yet; `rival`: the farther 4688), or, `fresh`,
        begins one, the pid's previous instance, if alive, living up to that key (the events of the
        pid scanned meanwhile are its own). Its (parent, new process) links: the parent its
        instance has, unless the Sysmon 1 names another (`_parent_said`)."""
        party = role.target
        pid = as_int(values.get(party.pid))
        guid = _guid(values, party.guid)
        if pid is None:
            ppid = as_int(values.get(role.source.pid))
            return (PartyLink(ppid, None, None, None) if ppid is not None else _NO_PARTY), _NO_PARTY
        self.creations[host] = self.creations.get(host, 0) + 1
        if self._late_joined:
            self._late_joined.pop((host, pid), None)
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
            late: tuple[_Proc, Ref, Said] | None = None
            if current is not None and made is not None and (into is not None or (
                    current.sysmon_created is None and made.event_id != ref.event_id
                    and same_process(current, image, made, ref))):
                proc = current
                proc.joined = join_reason(ref, made, rival)
            elif fresh is None and (late := self._late(host, pid, guid, image, values, ref)) is not None:
                proc, made, said = late
                proc.joined = late_join_reason(ref, made, said)
                self._late_joined[(host, pid)] = (proc.index, ref.ts)
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
        ppid = as_int(values.get(role.source.pid))
        if proc.parent_pid is None:
            parent = self.party(host, computer, ref, values, role.source, record=False)
            if parent.pid is not None:
                self.procs.set_parent(proc.index, parent.pid, parent.process)
            source = PartyLink(ppid, proc.parent, None, None) if ppid is not None else _NO_PARTY
        else:
            source = self._parent_said(host, computer, ref, values, role.source, proc, ppid)
        return source, PartyLink(pid, proc.index, None, f"ProcessGuid {proc.guid}" if proc.guid else None)

    def _parent_said(self, host: str, computer: str, ref: Ref, values: Values, party: Party, proc: _Proc,
                     ppid: int | None) -> PartyLink:
        """The parent link of a Sysmon 1 whose instance's parent is named already (by the 4688 it
        joined): that parent, unless the Sysmon 1 names another (another pid, or a GUID of
        another instance). Then the link is the Sysmon 1's own parent, ambiguous, naming both
        records; the instance (the process tree) keeps the parent it had."""
        if ppid is None:
            return _NO_PARTY
        guid = _guid(values, party.guid)
        named: int | None = None
        if guid:
            named = self._by_guid.get((host, guid))
            if named is None and (alias := self._aliases.get((host, guid))) is not None:
                named = alias[0]
        if ppid == proc.parent_pid and (named is None or proc.parent is None or named == proc.parent):
            return PartyLink(ppid, proc.parent, None, None)
        by = f"{party.guid} {guid}"
        if named is None:  # (by pid and time, as a Sysmon 1 without a 4688 is)
            named = self.party(host, computer, ref, values, party, record=False).process
            by = f"{party.pid} {ppid} (matched by pid and time)"
        made = self.procs.ref(proc.created) if proc.created is not None else None
        record = (f"{'4688' if made.event_id == 4688 else f'Sysmon {made.event_id}'} record {made.record_id}"
                  if made is not None and made.store_id != ref.store_id else "the event that created it")
        note = (f"this Sysmon 1 names its parent by {by}: {self._label(named, ppid)}; but {record}, the creation "
                f"of the same process, names {self._label(proc.parent, proc.parent_pid)}: the two records "
                f"disagree on the parent (the process tree keeps {record}'s)")
        return PartyLink(ppid, named, AMBIGUOUS, note)

    def _label(self, idx: int | None, pid: int | None) -> str:
        """An instance's label (`Process.label`) and the record that created it (two instances of
        one pid differ by it), or its pid's when none is known (or it is frozen)."""
        proc = self.procs.procs[idx] if idx is not None else None
        if proc is None:
            return f"pid {pid_text(pid)}"
        made = self.procs.ref(proc.created) if proc.created is not None else None
        if made is None:
            return f"{process_label(proc.pid, proc.image)}, inferred (its creation is not in this log)"
        kind = "4688" if made.event_id == 4688 else f"Sysmon {made.event_id}"
        return f"{process_label(proc.pid, proc.image)}, created by {kind} record {made.record_id}"

    def party(self, host: str, computer: str, ref: Ref, values: Values, party: Party, *,
              record: bool = True) -> PartyLink:
        """The instance one process field of a Sysmon event names; `record` adds the event to
        the instance's Sysmon events. A GUID no instance has yet goes to the instance alive with
        the pid only when it may be that process (`_by_pid`)."""
        if not party.pid:
            return _NO_PARTY
        pid = as_int(values.get(party.pid))
        guid = _guid(values, party.guid)
        idx = self._by_guid.get((host, guid)) if guid else None
        link: PartyLink
        if idx is not None:
            link = PartyLink(pid, idx, None, f"{party.guid} {guid}")
        elif guid and (alias := self._aliases.get((host, guid))) is not None:
            idx, eid, rid = alias
            link = PartyLink(pid, idx, INFERRED, f"{party.guid} {guid} is another GUID of the instance with "
                             f"{self.procs.procs[idx].guid}, taken for it by pid and time at Sysmon {eid} record {rid}")
        elif pid is None:
            return _NO_PARTY
        elif self._late_joined and (late := self._late_alias(host, ref, party, pid, guid,
                                                              values.get(party.image))) is not None:
            link = late
            idx = late.process
            assert idx is not None
        else:
            idx, note = self.procs.resolve(host, computer, pid, ref)
            image = values.get(party.image)
            if guid:
                link = self._by_pid(host, computer, ref, party, pid, guid, image, idx, note)
                idx = link.process
                assert idx is not None
            else:
                self.procs.procs[idx].add_name(image, ref, self.procs.hold)
                link = PartyLink(pid, idx, INFERRED, note or "no GUID: matched by pid alive at this time")
        if record:
            proc = self.procs.procs[idx]
            if proc.sysmon_events is None:
                proc.sysmon_events = [ref]
            elif proc.sysmon_events[-1] is not ref:
                proc.sysmon_events.append(ref)
        return link

    def _late_alias(self, host: str, ref: Ref, party: Party, pid: int, guid: str | None,
                    image: str | None) -> PartyLink | None:
        """The link of a pid, without a GUID or with one no instance has yet, named by a Sysmon
        event logged within `CHANNEL_SKEW` after the pid's last Sysmon 1, which joined its 4688
        late (`_late`): that process, as `_by_pid` takes another GUID (a provisional one, or the
        zero GUID) logged within the skew of a creation, if the GUID's start time (if any) is within
        the skew of the process's. Logged late like its Sysmon 1, the event
        would find by pid the instance alive at its log time: another (the pid reused since, or
        none, this one having exited meanwhile), or this one, created long before by that time;
        `_by_pid` would make it another process."""
        joined = self._late_joined.get((host, pid))
        if joined is None:
            return None
        idx, logged = joined
        if ref.ts - logged > CHANNEL_SKEW:
            del self._late_joined[(host, pid)]  # (no event logged this late after it is taken for it)
            return None
        proc = self.procs.procs[idx]
        if proc is None or not same_image(proc.image, image) or ref.ts < logged or proc.created is None:
            return None
        said = creation_said({}, guid)  # (a GUID of another start time is another process)
        if said is not None and abs(said.at - self.procs.key(proc.created)[0]) > CHANNEL_SKEW + said.slack:
            return None
        origin = proc.sysmon_created
        proc.add_name(image, ref, self.procs.hold)
        named = f"{party.guid} {guid} is not the GUID of" if guid else f"no {party.guid} names"
        if guid and len(self._aliases) < MAX_ALIASES:
            self._aliases[(host, guid)] = (idx, ref.event_id, ref.record_id)
        return PartyLink(pid, idx, INFERRED, (
            f"{named} {process_label(pid, proc.image)}{f', {proc.guid}' if proc.guid else ''}"
            f"{f' (Sysmon 1 record {origin.record_id})' if origin is not None else ''}, but the event is logged "
            f"{_seconds(ref.ts - logged)} after that Sysmon 1, which was logged late and joined its 4688 by the "
            "creation time it says (a process accessed while it is being created has a provisional GUID or none): "
            "matched by pid and that Sysmon 1's time"))

    def _by_pid(self, host: str, computer: str, ref: Ref, party: Party, pid: int, guid: str, image: str | None,
                idx: int, note: str | None) -> PartyLink:
        """The link of a GUID no instance has yet, named with `pid`, whose instance alive at `ref`
        is `idx` (`resolve`, its `note`).

        - The instance has no GUID (a 4688's without Sysmon 1, or inferred): it takes this one
          if the event's image is its own (or either is unknown).
        - It has another: this one is the same process's when the image is the same and the two
          GUIDs have the same first three groups (the machine and the start time: some Sysmon
          versions give a process another GUID after its Sysmon 1), or the event is logged within
          `CHANNEL_SKEW` of its creation (a process accessed while it is being created gets a
          provisional GUID): linked, inferred, and remembered (`_aliases`).
        - Else it is another process (the pid reused without a Sysmon 1 or 4688 in this log): an
          inferred instance of its own from this event on, never a link to this one."""
        procs = self.procs
        proc = procs.procs[idx]
        known = proc.guid
        alike = same_image(proc.image, image)
        if known is None:
            if alike:
                proc.add_name(image, ref, procs.hold)
                proc.guid = guid
                self._by_guid[(host, guid)] = idx
                image_said = ("with the same image" if basename(proc.image) and basename(image)
                              else "(no image to compare)")
                return PartyLink(pid, idx, None, note or f"{party.guid} {guid} first seen here; matched by pid "
                                 f"alive at this time, {image_said}: the GUID is taken as this instance's")
            return self._another(host, computer, ref, pid, guid, image, proc, (
                f"{party.guid} {guid} names {basename(image)}, but the instance alive with this pid, "
                f"{process_label(pid, proc.image)}, has no GUID and another image"))
        origin = proc.sysmon_created
        where = f" (Sysmon 1 record {origin.record_id})" if origin is not None else ""
        said = f"{party.guid} {guid} is not the GUID of the instance alive with this pid, {known}{where}"
        gap = ref.ts - procs.key(proc.created)[0] if proc.created is not None else None
        if alike and _started(guid) is not None and _started(guid) == _started(known):
            why = (f"{said}, but has its first three groups (the machine and the process's start time): another "
                   "GUID Sysmon gave the same process, matched by pid and time")
        elif alike and gap is not None and abs(gap) <= CHANNEL_SKEW:
            when = f"{_seconds(gap)} after" if gap >= 0 else f"{_seconds(-gap)} before"
            why = (f"{said}, logged {when} its creation (a process accessed while it is being created gets a "
                   "provisional GUID): matched by pid and time")
        else:
            if not alike:
                other = f"names another image, {basename(image)}"
            elif gap is None:
                other = "its creation is not in this log to tell a provisional GUID"
            else:
                other = f"is logged {_seconds(gap)} after its creation, too late for a provisional GUID"
            return self._another(host, computer, ref, pid, guid, image, proc,
                                 f"{said}, and {other}")
        proc.add_name(image, ref, procs.hold)
        if len(self._aliases) < MAX_ALIASES:
            self._aliases[(host, guid)] = (idx, ref.event_id, ref.record_id)
        return PartyLink(pid, idx, INFERRED, why)

    def _another(self, host: str, computer: str, ref: Ref, pid: int, guid: str, image: str | None, old: _Proc,
                 why: str) -> PartyLink:
        """An inferred instance of `pid` from `ref` on, the process `guid` names (not `old`, the
        instance alive with the pid, whose life ends here if it had not), and the link to it."""
        ended = old.end is not None
        # Begun as a Sysmon 1 begins one (ending `old`), but no creation was logged: inferred.
        proc = self.procs.begin(host, computer, pid, ref)
        proc.created = None
        proc.add_name(image, ref, self.procs.hold)
        proc.guid = guid
        self._by_guid[(host, guid)] = proc.index
        end = "" if ended else f"; {process_label(pid, old.image)} ends here (its exit is not in this log)"
        return PartyLink(pid, proc.index, None, f"{why}: another process, inferred from this event on{end}")

    def event(self, host: str, computer: str, ref: Ref, values: Values, role: SysmonRole, *,
              into: tuple[int, Ref] | None = None, fresh: Key | None = None,
              rival: Ref | None = None) -> tuple[PartyLink, PartyLink]:
        """Any Sysmon event: its (source, target) links; a Sysmon 5 also ends its process. A
        Sysmon 1 that waited says what was decided (`created`)."""
        if role.act is SysmonAct.CREATE:
            return self.created(host, computer, ref, values, role, into=into, fresh=fresh, rival=rival)
        source = self.party(host, computer, ref, values, role.source)
        target = self.party(host, computer, ref, values, role.target)
        if role.act is SysmonAct.EXIT and source.process is not None:
            proc = self.procs.procs[source.process]
            if proc.sysmon_exited is None:
                proc.sysmon_exited = ref
        return source, target
