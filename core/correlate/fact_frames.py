"""The facts table's int slots of a batch of the scan's rows, packed from the rows alone.

Of a model event's 14 int slots (`core.correlate.facts`), only the instances it names (source
process and handle) come from the scan's state for a handle event, five events in six of a busy
log; the rest (store id, record id, time, EventID, scan order, handle value, logon id, pid) are
in its row and in what its EventData says (`scan_rows.HandleReader`). Packing all 14 from one
tuple per event at the end of each batch was a fifth of the build's main process. So the child
that reads the rows (`core.correlate.scan_reader`) packs those slots ahead, a batch at a time
(`frame_ints`), and the scan's process only packs the two columns of instances into them (at C
speed, by stride), and the other events' rows whole (`FactsTable.frame`). Without the child the
scan packs them itself, the same way, with the same answers.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from core.correlate.columns import pack_slots
from core.correlate.roles import HANDLE_ACTS, ROLES, SYSMON

#: What a row is to the facts table: a handle event (slots from its row), another model event
#: (a row the scan makes whole), a Sysmon event (a place in the scan order, no row).
HANDLE, WHOLE, ORDER_ONLY = range(3)
def kinds() -> dict[int, int]:
    """Each EventID's kind, from the roles table as it is now."""
    return {**{eid: ORDER_ONLY for eid in SYSMON},
            **{eid: HANDLE if role.act in HANDLE_ACTS else WHOLE for eid, role in ROLES.items()}}


#: Slots per row: `facts._WIDE_INTS` (64-bit) and `facts._NARROW_INTS` (32-bit).
WIDE: Final = 6
NARROW: Final = 8
#: The narrow slots the scan fills in: the source process and handle instances.
SOURCE_PROC: Final = 3
SOURCE_HANDLE: Final = 6
_NO_WIDE: Final = (None,) * WIDE
_NO_NARROW: Final = (None,) * NARROW


@dataclass(slots=True)
class FrameInts:
    """The facts rows of a batch, packed (`frame_ints`): `order` is the scan order of its first
    model event and `end` the one after its last; the slots kept aside by their index."""

    order: int
    end: int
    wide: array[int]
    narrow: array[int]
    wide_aside: dict[int, int]
    narrow_aside: dict[int, int]

    def __len__(self) -> int:
        return len(self.wide) // WIDE


#: What a handle event's row says (`scan_rows.HandleEvent`), by its EventID and stored data.
EventsOf = Callable[[int, Any], tuple[Any, ...]]


def frame_ints(rows: Iterable[tuple[Any, ...]], events_of: EventsOf, order: int,
               kind_of: dict[int, int] | None = None) -> FrameInts:
    """The facts slots of `rows` (raw rows: store id, time, record id, EventID, computer, data),
    the first model event's scan order being `order`: a handle event's as the scan fills them
    but for its instances (left None), another model event's all None (the scan packs its
    whole row over them). `kind_of`: `kinds()`, made once by a caller that packs many batches."""
    wide: list[Any] = []
    narrow: list[Any] = []
    more_wide, more_narrow = wide.extend, narrow.extend
    kind_of = kinds() if kind_of is None else kind_of
    start = order
    for sid, ts, record_id, eid, _, data in rows:
        kind = kind_of.get(eid)
        if kind is None:
            continue
        n = order
        order += 1
        if kind == HANDLE:
            lid, _, pid, hid = events_of(eid, data)[:4]
            more_wide((sid, record_id, ts, hid, None, lid))
            more_narrow((eid, n, pid, None, None, None, None, None))
        elif kind == WHOLE:
            more_wide(_NO_WIDE)
            more_narrow(_NO_NARROW)
    packed_wide, wide_aside = pack_slots(wide, "q")
    packed_narrow, narrow_aside = pack_slots(narrow, "i")
    return FrameInts(start, order, packed_wide, packed_narrow, wide_aside, narrow_aside)


def aside_between(aside: dict[int, int], lo: int, hi: int) -> dict[int, int]:
    """The entries of `aside` at lo..hi-1, at their index from `lo`."""
    return {at - lo: value for at, value in aside.items() if lo <= at < hi} if aside else {}
