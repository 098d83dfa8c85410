"""The Processes forest's order: every process instance sorted by its start, `(ts, order)` of
its creation's event, else of its first event (`core.correlate.tree.start_key`), ties in index
order (as a stable sort of the indexes leaves them).

A start is an event's position in the facts table, positions follow the scan's order and the
scan reads the events in time order (`core.correlate.model.model_from_store`): sorting the
instances by the position they start at is sorting them by their keys. So the positions (small
ints packed with their index) are sorted, and the facts then read in that order and checked to
run forward (`FactsTable.runs_forward`: no key made), ties only between instances starting at
the same event (index order there, as the sort left them). Where they do not (a start that is
not a position, as a Sysmon event's `Ref`, a time kept aside, facts in another order), the keys
themselves are packed and sorted (`_packed`). At ten million churn events (512,037 processes)
that took 1.3-1.5 s of the Processes view's 2.8 s, this 0.7 s.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.correlate.process_table import ProcessTable

#: Instances whose start keys are read at once.
ORDER_CHUNK = 1 << 12
#: The bits of a key's `order` (the scan's count of events) in `_packed`'s keys.
ORDER_BITS = 48


def start_order(table: ProcessTable) -> array[int]:
    """Every instance's index of `table` sorted by its start key (see the module docstring)."""
    by_position = _by_position(table)
    return by_position if by_position is not None else _packed(table)


def _starts(table: ProcessTable, lo: int, hi: int) -> tuple[Sequence[int], list[Any]]:
    """(index, held start: creation, else first event) of the rows `lo` to `hi`."""
    indexes, created = table.by_rows("created_at", lo, hi)
    firsts = table.by_rows("first_seen_at", lo, hi)[1]
    return indexes, [c if c is not None else f for c, f in zip(created, firsts, strict=True)]


def _by_position(table: ProcessTable) -> array[int] | None:
    """The order sorted by start position, if the keys of the positions run forward in it
    (`FactsTable.runs_forward`; None if not, or if a start is not a position)."""
    facts: Any = table.facts
    if not hasattr(facts, "runs_forward"):
        return None
    n = len(table)
    width = max(1, n.bit_length())
    packed: list[int] = []  # (position << width) | index: a small int each, sorted alone
    for lo in range(0, n, ORDER_CHUNK):
        indexes, starts = _starts(table, lo, min(lo + ORDER_CHUNK, n))
        if set(map(type, starts)) - {int} or min(starts, default=0) < 0:  # a Sysmon event's `Ref`, a bound
            return None
        packed += [(h << width) | i for h, i in zip(starts, indexes, strict=True)]
    packed.sort()  # rows come about in start order: runs, merged
    mask = (1 << width) - 1
    order = array("q")
    step = ORDER_CHUNK - 1
    for lo in range(0, n, step):
        part = packed[max(0, lo - 1):lo + step]  # from the last chunk's last on: ORDER_CHUNK
        if not facts.runs_forward([key >> width for key in part]):
            return None
        order.extend([key & mask for key in part[1 if lo else 0:]])
    return order


def _packed(table: ProcessTable) -> array[int]:
    """The order sorted by the keys themselves: each key and its index packed into one int
    (`ts`, `order` below 2**ORDER_BITS, the index), read `ORDER_CHUNK` rows at a time, and
    that list sorted alone (a (ts, order) tuple per instance, its ints and the lists they were
    read through were ~280 bytes per process at their peak)."""
    n = len(table)
    width, limit = max(1, n.bit_length()), 1 << ORDER_BITS
    packed: list[int] = []
    for lo in range(0, n, ORDER_CHUNK):
        indexes, starts = _starts(table, lo, min(lo + ORDER_CHUNK, n))
        keys = table.keys(starts)
        try:
            if all(0 <= order < limit for _, order in keys):
                packed += [(((ts << ORDER_BITS) | order) << width) | i
                           for i, (ts, order) in zip(indexes, keys, strict=True)]
                continue
        except (TypeError, ValueError):  # a key that is not (ts, order) of ints
            pass
        # (never met in a log: keys that do not pack sort as the tuples they are)
        starts = table.start_keys()
        return array("q", sorted(range(n), key=starts.__getitem__))
    packed.sort()
    mask = (1 << width) - 1
    out = array("q")
    for lo in range(0, n, ORDER_CHUNK):
        out.extend([key & mask for key in packed[lo:lo + ORDER_CHUNK]])
    return out
