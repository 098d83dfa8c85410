"""The source handle chosen for every 4690, kept as a few numbers each and worded when read.

A busy log has a 4690 per few dozen events (220,368 at ten million churn events). Kept as a dict
of `SourceChoice` objects by store id, each with its reason written out ("opened by 4656 record
81234, still open at this 4690"), they were ~55 MB of the model's heap there: the object, the
reason string, the boxed store id and handle index, the dict's slot. Nearly every choice is one
of four kinds (`WORDS`) whose reason is made of the chosen handle's first event and the 4690's
time, both in the facts table: `SourceChoices` keeps such a choice as five numbers in arrays (its
store id, kind, handle, the handle's first position and the 4690's position: 33 bytes) and words
it again when read, the same `SourceChoice` the scan chose; the rare others (ambiguous, missing:
reasons that need the scan's state) as the objects themselves.

Read by the correlation of one 4690 and by the tables' writer (once per 4690): a look-up is a
bisection of the sorted store ids, sorted once (`seal`) when the scan is done.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from core.correlate.processes import EXACT, INFERRED, TICKS_PER_SECOND

if TYPE_CHECKING:
    from core.correlate.evidence import Ref
    from core.correlate.refcolumn import RefSource

#: The kinds of choice kept as numbers: their confidence and their reason from the handle's first
#: event (`first`) and the 4690 (`at`).
OPEN_BEFORE, USED_BEFORE, OPEN_AFTER, USED_AFTER = range(4)
#: The confidence of a choice of each kind (`worded`): only a handle open at the 4690 is exact.
KIND_CONFIDENCE: tuple[str, ...] = (EXACT, INFERRED, INFERRED, INFERRED)


def worded(kind: int, first: Ref, at: Ref) -> tuple[str, str]:
    """(confidence, reason) of a choice of `kind` (`HandleTracker._choose`'s words; the confidence
    is `KIND_CONFIDENCE[kind]`)."""
    if kind == OPEN_BEFORE:
        return EXACT, f"opened by {first.event_id} record {first.record_id}, still open at this 4690"
    if kind == USED_BEFORE:
        return INFERRED, (f"its open is not in the log; in use by {first.event_id} record {first.record_id} "
                          "before this 4690")
    seconds = (first.ts - at.ts) / TICKS_PER_SECOND
    if kind == OPEN_AFTER:
        return INFERRED, (f"its {first.event_id} (record {first.record_id}) is logged {seconds:.7f} s after "
                          "this 4690 (out of order): the nearest open of that value by that process")
    if kind == USED_AFTER:
        return INFERRED, (f"its open is not in the log; first used by {first.event_id} record "
                          f"{first.record_id}, {seconds:.7f} s after this 4690")
    raise ValueError(f"no such kind of source choice: {kind}")


@dataclass(frozen=True, slots=True)
class SourceChoice:
    """The source handle chosen for one 4690, with the confidence of that choice."""

    handle: int | None
    confidence: str
    reason: str
    candidates: tuple[int, ...] = ()


def target_said(choice: SourceChoice | None, close_reason: str) -> tuple[str, str]:
    """A 4690's target handle link: the 4690 created it (certain), but its object is its source
    handle's, so the link is no surer than the choice of that source (an inferred source, an
    inferred object all along a chain of copies)."""
    reason = f"created by this 4690; {close_reason}"
    if choice is None or choice.handle is None or choice.confidence == EXACT:
        return EXACT, reason
    return choice.confidence, f"{reason}; its object is its source handle's, which is {choice.confidence}"


class Chosen(NamedTuple):
    """A choice of one of the kinds kept as numbers, as `HandleTracker._choose` makes it."""

    kind: int
    handle: int
    first: int  # the handle's first event, a facts-table position


class SourceChoices(Mapping[int, SourceChoice]):
    """Store id of a 4690 -> its `SourceChoice` (see the module doc). Filled by the scan (`put`,
    a later put of a store id replacing the earlier), read-only once sealed; thread-safe reads."""

    def __init__(self, facts: RefSource) -> None:
        self._facts = facts
        self._sids = array("q")
        self._kinds = array("b")
        self._handles = array("q")
        self._firsts = array("q")
        self._ats = array("q")
        #: Choices kept as objects (a later put of numbers for the store id drops its object).
        self._objects: dict[int, SourceChoice] = {}
        self._order: array[int] | None = None  # rows by store id, the last put of each only
        self._sorted = array("q")  # their store ids
        self._lock = threading.Lock()

    def put(self, sid: int, at: int, choice: SourceChoice | Chosen) -> None:
        """The choice of the 4690 of store id `sid` at facts position `at`."""
        assert self._order is None, "no choice put once read"
        if isinstance(choice, Chosen):
            self._sids.append(sid)
            self._kinds.append(choice.kind)
            self._handles.append(choice.handle)
            self._firsts.append(choice.first)
            self._ats.append(at)
            self._objects.pop(sid, None)
        else:
            self._objects[sid] = choice

    def seal(self) -> None:
        """Sort the store ids for look-ups (done once, on the first read if not before)."""
        with self._lock:
            if self._order is not None:
                return
            sids = self._sids
            rows = sorted(range(len(sids)), key=sids.__getitem__)  # stable: a store id's puts in order
            # The last put of each store id, unless a choice kept as an object replaced it.
            keep = [row for n, row in enumerate(rows) if n + 1 == len(rows) or sids[rows[n + 1]] != sids[row]]
            objects = self._objects
            order = array("q", (row for row in keep if sids[row] not in objects))
            self._sorted = array("q", map(sids.__getitem__, order))
            self._order = order

    def _row(self, sid: int) -> int | None:
        if self._order is None:
            self.seal()
        assert self._order is not None
        at = bisect.bisect_left(self._sorted, sid)
        if at < len(self._sorted) and self._sorted[at] == sid:
            return self._order[at]
        return None

    def _made(self, row: int) -> SourceChoice:
        facts = self._facts
        confidence, reason = worded(self._kinds[row], facts.ref(self._firsts[row]), facts.ref(self._ats[row]))
        return SourceChoice(self._handles[row], confidence, reason)

    def __getitem__(self, sid: int) -> SourceChoice:
        made = self._objects.get(sid)
        if made is not None:
            return made
        row = self._row(sid)
        if row is None:
            raise KeyError(sid)
        return self._made(row)

    def __len__(self) -> int:
        if self._order is None:
            self.seal()
        return len(self._sorted) + len(self._objects)

    def __iter__(self) -> Iterator[int]:
        if self._order is None:
            self.seal()
        yield from self._sorted
        yield from self._objects

    def __contains__(self, sid: object) -> bool:
        return isinstance(sid, int) and (sid in self._objects or self._row(sid) is not None)
