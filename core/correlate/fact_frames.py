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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import itemgetter
from typing import Any, Final

from core.correlate.columns import NONE_SLOT, ints_array, pack_slots
from core.correlate.roles import HANDLE_ACTS, ROLES, SYSMON

#: What a row is to the facts table: a handle event (slots from its row), another model event
#: (a row the scan makes whole), a Sysmon event (a place in the scan order, no row).
HANDLE, WHOLE, ORDER_ONLY = range(3)
#: An EventID the scan skips (no order, no row).
SKIPPED: Final = 3


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
_NONE_WIDE: Final = (NONE_SLOT["q"],) * WIDE
_NONE_NARROW: Final = (NONE_SLOT["i"],) * NARROW
_NONE_BYTES: Final = {code: array(code, [none]).tobytes() for code, none in NONE_SLOT.items()}


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


#: What the facts slots take of a handle event's `scan_rows.HandleEvent`: logon id, pid, handle value.
_SAID: Final = itemgetter(0, 2, 3)
#: `said` of a row that is not a handle event: any ints (the scan packs its whole row over
#: them), not None, which would send the column to `pack_slots`' slower mapping.
NOT_SAID: Final = (0, None, 0, 0)


def frame_ints(sids: Sequence[Any], tss: Sequence[Any], record_ids: Sequence[Any], eids: Sequence[int],
               said: Iterable[Sequence[Any]], order: int, kind_of: dict[int, int] | None = None) -> FrameInts:
    """The facts slots of a batch of rows given as columns (store id, time, record id, EventID,
    and what each handle event's data says, `NOT_SAID` for the others), the first model event's
    scan order being `order`: a model event's store id, record id, time, EventID and order, a
    handle event's handle value, logon id and pid too, None in a handle event's other slots
    (the scan packs its instances into them); another event's other slots are placeholders
    (the scan packs its whole row over them). Packed a column at a time, at C speed.
    `kind_of`: `kinds()`, made once by a caller that packs many batches."""
    kind_of = kinds() if kind_of is None else kind_of
    start = order
    got = list(map(kind_of.get, eids, repeat(SKIPPED)))
    lids, pids, hids = zip(*map(_SAID, said), strict=True) if got else ((), (), ())
    columns: list[Sequence[Any]] = [sids, record_ids, tss, hids, lids, eids, pids]
    if got and max(got) >= ORDER_ONLY:  # a Sysmon event (an order, no row), one the scan skips
        modelled = [kind for kind in got if kind != SKIPPED]  # each takes the next order
        orders: Sequence[int] = list(compress(count(order), [kind != ORDER_ONLY for kind in modelled]))
        order += len(modelled)
        kept = [kind < ORDER_ONLY for kind in got]
        columns = [list(compress(column, kept)) for column in columns]
    else:
        orders = range(order, order + len(got))
        order += len(got)
    sid_of, record_id_of, ts_of, hid_of, lid_of, eid_of, pid_of = columns
    rows = len(sid_of)
    wide = array("q", _NONE_WIDE) * rows
    narrow = array("i", _NONE_NARROW) * rows
    wide_aside: dict[int, int] = {}
    narrow_aside: dict[int, int] = {}
    for slots, aside, stride, typecode, parts in (
            (wide, wide_aside, WIDE, "q", ((0, sid_of), (1, record_id_of), (2, ts_of), (3, hid_of), (5, lid_of))),
            (narrow, narrow_aside, NARROW, "i", ((0, eid_of), (1, orders), (2, pid_of)))):
        for at, values in parts:
            packed, kept_aside = _column(values, typecode)
            slots[at::stride] = packed
            for i, value in kept_aside.items():
                aside[i * stride + at] = value
    return FrameInts(start, order, wide, narrow, wide_aside, narrow_aside)


def _column(values: Sequence[Any], typecode: str) -> tuple[array[int], dict[int, int]]:
    """`pack_slots(values)`, without its mapping of each value when every one is an int that
    fits and is not the None slot (the usual case: a column with a None, or a value aside,
    takes `pack_slots`)."""
    packed = ints_array(values, typecode)
    if packed is None or _holds_none(packed):
        return pack_slots(list(values), typecode)
    return packed, {}


def _holds_none(packed: array[int]) -> bool:
    """Whether a slot of `packed` is the None slot: its bytes looked for at C speed (`min` of the
    column compared every value), each place found checked for being a slot's own."""
    data, none, size = packed.tobytes(), _NONE_BYTES[packed.typecode], packed.itemsize
    at = data.find(none)
    while at >= 0:  # bounded: each find starts further on
        if at % size == 0:
            return True
        at = data.find(none, at + 1)
    return False


def aside_between(aside: dict[int, int], lo: int, hi: int) -> dict[int, int]:
    """The entries of `aside` at lo..hi-1, at their index from `lo`."""
    return {at - lo: value for at, value in aside.items() if lo <= at < hi} if aside else {}
