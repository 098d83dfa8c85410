"""Restarts: where a computer's boot ends every process, handle and logon session before it.

Process ids, handle values and logon ids (LUIDs) are unique only within one boot, so a restart
ends, on its computer only, every instance alive before it, and no event after it ever links to
one of them (`ProcessTracker.restart`, `HandleTracker.process_restarted`, `SessionTracker.restart`).

What marks a restart (`MARKERS`, each EventID with its provider, case-blind: other providers
reuse these numbers, e.g. Winlogon's 6005/6006 in Application at every logon):

* boot: 4608 "Windows is starting up" (Security), 6005 "The event log service was started"
  (System, EventLog), and in Security a 4688 of the first process of a boot, `Registry` or
  `smss.exe` created by the kernel (no creator, or System), which `first_process` tells;
* shutdown: 4609 "Windows is shutting down", 1100 "The event logging service has shut down"
  (Security), 6006 "The event log service was stopped" (System).

Where the new boot begins: at the first boot marker of a boot. The markers of one boot come from
several channels, up to a minute or more apart (the OTRF persistence sample: Registry's 4688 at
07:07:40, smss, csrss... lsass at 07:07:55, then 4608 at 07:07:55 and 6005 at 07:07:57: the 4608
is logged after the boot's first processes, which are this boot's). So a boot is the cluster of
its markers (`BootClock`): a marker is a new boot unless the current boot of its computer began
less than `BOOT_SPAN` before it, has no marker of its kind yet, and no shutdown marker was
logged since it began.

A shutdown marker is not where the instances end: Windows goes on logging after it while it shuts
down (the same sample logs 228 Security records after its 1100 and before the boot, four processes
created among them, lsass still logging). It only says that the next boot marker begins a new boot, and the restart's
words name it. Microsoft-Windows-Kernel-General 12 ("The operating system started") is left out:
it is logged on a fast startup too, which resumes the hibernated kernel session, its services and
lsass (and their pids) running on; 4608 and 6005 are logged only when lsass and the event log
service start afresh.

The markers outside the model's events (4608, 4609, 1100, 6005, 6006) are read apart, with their
provider (`markers_of`), a handful per boot, and passed to the scan, which applies each where it
falls among the model's events (`core.correlate.scan_rows.feed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from core.correlate.evidence import SYSTEM_PID, TICKS_PER_SECOND, Ref, basename

if TYPE_CHECKING:
    from core.store.store import StoredEvent

#: The events that mark a boot (True) or a shutdown (False), by (EventID, provider case-folded).
MARKERS: dict[tuple[int, str], bool] = {
    (4608, "microsoft-windows-security-auditing"): True,
    (6005, "eventlog"): True,
    (4609, "microsoft-windows-security-auditing"): False,
    (1100, "microsoft-windows-eventlog"): False,
    (6006, "eventlog"): False,
}
#: Their EventIDs (the store reads those events, then keeps the ones of the right provider).
MARKER_EVENT_IDS: tuple[int, ...] = tuple(sorted({eid for eid, _ in MARKERS}))
#: What each boot marker says, as a restart's words name it.
SAYS = {4608: "Windows is starting up", 6005: "the event log service was started"}
#: How long after the first marker of a boot another marker (of another kind, with no shutdown
#: between) is still taken for the same boot: an hour (a boot checking its disks is slow).
BOOT_SPAN = 3600 * TICKS_PER_SECOND
#: The images of the first processes of a boot, which the kernel creates (`first_process`).
FIRST_PROCESSES = frozenset(("registry", "smss.exe"))
_NO_NAME = frozenset(("", "-", "system"))


class Marker(NamedTuple):
    """A boot or shutdown marker outside the model's events, where the model's time order puts
    it (`place`: time, record id, store id) and what it is."""

    ts: int
    record_id: int
    store_id: int
    event_id: int
    filetime: int
    computer: str
    boot: bool

    @property
    def place(self) -> tuple[int, int, int]:
        return self.ts, self.record_id, self.store_id


def marker(store_id: int, event_id: int, provider: str | None, filetime: int | None, record_id: int,
           computer: str) -> Marker | None:
    """The marker an event is, None when it is none (another provider, or no time to place it by)."""
    boot = MARKERS.get((event_id, (provider or "").casefold()))
    if boot is None or filetime is None:
        return None
    return Marker(filetime, record_id, store_id, event_id, filetime, computer, boot)


def markers_of(events: Iterable[StoredEvent]) -> list[Marker]:
    """The markers among `events` (stored events of any EventID: `MARKER_EVENT_IDS` are the ones
    that may be), in the model's time order; a record loaded twice (the same computer, EventID,
    record id and time: a log opened with its copy) once, its first copy."""
    out: list[Marker] = []
    for se in events:
        ev = se.event
        if ev.event_id not in MARKER_EVENT_IDS:
            continue
        record = ev.record_id if ev.record_id is not None else ev.record_number
        found = marker(se.id, ev.event_id, ev.provider, ev.filetime, record, ev.computer)
        if found is not None:
            out.append(found)
    out.sort(key=lambda m: m.place)
    seen: set[tuple[str, int, int, int]] = set()
    kept: list[Marker] = []
    for m in out:
        same = (m.computer.casefold(), m.event_id, m.record_id, m.ts)
        if same not in seen:
            seen.add(same)
            kept.append(m)
    return kept


def first_process(image: str | None, creator: int | None, parent: str | None) -> str | None:
    """The kind of boot marker a 4688 is (its image's file name case-folded) when it creates the
    first process of a boot, `Registry` or `smss.exe`, by the kernel: no creator (or System) and
    no parent image; None otherwise (a session's smss.exe is created by the first one)."""
    name = basename(image).casefold()
    if name not in FIRST_PROCESSES or creator not in (None, 0, SYSTEM_PID):
        return None
    return name if basename(parent).casefold() in _NO_NAME else None


@dataclass(frozen=True, slots=True)
class Restart:
    """A boot of `computer` (`host`: case-folded): `ref` is the event marking it; `key` where
    the new boot begins on the model time line (an event at it or after it is the new boot's);
    `bound` what a process instance keeps as that place (the position of `ref` in the facts table
    when the scan holds it, else `ref`, whose key is `key`); `text` its words in reasons."""

    host: str
    computer: str
    ref: Ref
    key: tuple[int, int]
    bound: Ref | int
    text: str


def restart_text(ref: Ref, says: str, shutdown: Ref | None) -> str:
    """`the restart (4608 record 6: Windows is starting up; after the shutdown at 1100 record 5)`."""
    after = f"; after the shutdown at {shutdown.event_id} record {shutdown.record_id}" if shutdown is not None else ""
    return f"the restart ({ref.event_id} record {ref.record_id}: {says}{after})"


def restart_record(text: str) -> int | None:
    """The record id of the event a restart's words (`restart_text`) name, None if they name none."""
    found = _RESTART_RECORD.match(text)
    return int(found[1]) if found else None


_RESTART_RECORD = re.compile(r"the restart \(\d+ record (\d+):")


@dataclass(slots=True)
class _Boot:
    """The current boot of a computer: where its first marker was, the kinds seen, and whether a
    shutdown marker was logged since it began."""

    ts: int
    kinds: set[str] = field(default_factory=set)
    shut: bool = False


class BootClock:
    """Tells, marker by marker in time order, when a computer begins a new boot (module doc)."""

    def __init__(self) -> None:
        self._boots: dict[str, _Boot] = {}
        #: The last shutdown marker of each computer since its last boot began (named by the restart).
        self._shutdowns: dict[str, Ref] = {}
        #: Every restart, in time order.
        self.restarts: list[Restart] = []

    def shutdown(self, host: str, ref: Ref) -> None:
        self._shutdowns[host] = ref
        boot = self._boots.get(host)
        if boot is not None:
            boot.shut = True

    def boot(self, host: str, computer: str, ref: Ref, kind: str, says: str, *, key: tuple[int, int],
             bound: Ref | int) -> Restart | None:
        """A boot marker of `kind` (`ref`, at `key` on the time line): the restart it begins, or
        None when it is another marker of the current boot."""
        boot = self._boots.get(host)
        if boot is not None and not boot.shut and kind not in boot.kinds and ref.ts - boot.ts <= BOOT_SPAN:
            boot.kinds.add(kind)
            return None
        self._boots[host] = _Boot(ref.ts, {kind})
        restart = Restart(host, computer, ref, key, bound, restart_text(ref, says, self._shutdowns.pop(host, None)))
        self.restarts.append(restart)
        return restart
