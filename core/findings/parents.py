"""The parent process's 4688, for the "integrity above the parent's" rule.

Two ways to the same answer: `ProcessTable` follows a time-ordered stream (the engine over a
whole store, memory bounded by the processes alive at once), `store_parent_lookup` asks the
store for one event at a time (the detail pane).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.findings.checks import Verdict
from core.findings.rules import Rule, glob_match
from core.model.event import Event
from core.model.sids import decode_label, label_rid
from core.model.values import as_int
from core.store.lookups import Position, events_with_between, latest_event_with
from core.store.store import Store

PROCESS_CREATED = 4688
PROCESS_EXITED = 4689



@dataclass(frozen=True, slots=True)
class ParentInfo:
    """What the integrity rule needs of a parent process: its 4688's label and record."""

    label: str
    image: str
    store_id: int
    record_id: int | None


#: Finds the parent (its 4688) of a 4688 event: (event, store id) -> ParentInfo or None.
ParentLookup = Callable[[Event, int], ParentInfo | None]


def check_above_parent(rule: Rule, event: Event, parent: ParentInfo | None) -> Verdict:
    if parent is None:
        return None
    child_label = (event.get("MandatoryLabel") or "").strip()
    child, mother = label_rid(child_label), label_rid(parent.label)
    if child is None or mother is None or child <= mother:
        return None
    image = event.get("NewProcessName") or "?"
    if glob_match(image, rule.strs("ignore_images")):
        return None
    msg = (
        f"{image} runs at {decode_label(child_label)}, above its parent {parent.image or '?'} "
        f"at {decode_label(parent.label)} (parent record {parent.record_id})"
    )
    return msg, [("MandatoryLabel", child_label), ("parent MandatoryLabel", parent.label)]


class ProcessTable:
    """Live processes per computer, fed in time order: (computer, pid) -> the 4688 that started it.

    A 4688 replaces the entry of its NewProcessId (pids are reused); a 4689 removes its
    ProcessId. So a lookup gives the nearest preceding 4688 of that pid on that computer that no
    4689 has ended, exactly what "the parent" means. Memory is bounded by the number of pids
    alive at once per computer, not by the log.
    """

    def __init__(self) -> None:
        self._live: dict[tuple[str, int], ParentInfo] = {}

    def feed(self, store_id: int, event: Event) -> None:
        if event.event_id == PROCESS_CREATED:
            pid = as_int(event.get("NewProcessId"))
            if pid is not None:
                self._live[(event.computer.lower(), pid)] = ParentInfo(
                    (event.get("MandatoryLabel") or "").strip(),
                    event.get("NewProcessName") or "",
                    store_id,
                    event.record_id,
                )
        elif event.event_id == PROCESS_EXITED:
            pid = as_int(event.get("ProcessId"))
            if pid is not None:
                self._live.pop((event.computer.lower(), pid), None)

    def parent(self, event: Event) -> ParentInfo | None:
        ppid = as_int(event.get("ProcessId"))
        return None if ppid is None else self._live.get((event.computer.lower(), ppid))


def store_parent_lookup(store: Store) -> ParentLookup:
    """A ParentLookup answered by SQL over the store (for one event at a time, in the UI).

    Same definition as `ProcessTable` in the store's time order (ts, record_id, id): the
    nearest preceding 4688 whose NewProcessId is the event's ProcessId on the same computer,
    unless a 4689 of that pid lies between the two.
    """

    def lookup(event: Event, store_id: int) -> ParentInfo | None:
        ppid = as_int(event.get("ProcessId"))
        if ppid is None or event.filetime is None:
            return None
        rid = event.record_id if event.record_id is not None else event.record_number
        here = Position(event.filetime, rid, store_id)
        found = latest_event_with(store, PROCESS_CREATED, event.computer, "newprocessid", ppid, here)
        if found is None:
            return None
        parent = found.event
        if parent.filetime is None:
            return None
        prid = parent.record_id if parent.record_id is not None else parent.record_number
        born = Position(parent.filetime, prid, found.id)
        exits = events_with_between(store, PROCESS_EXITED, event.computer, "processid", ppid, born, here)
        # `processid` also mirrors the System ProcessID: check the EventData value itself.
        if any(as_int(ex.event.get("ProcessId")) == ppid for ex in exits):
            return None
        return ParentInfo(
            (parent.get("MandatoryLabel") or "").strip(), parent.get("NewProcessName") or "", found.id, parent.record_id
        )

    return lookup
