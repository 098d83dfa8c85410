"""Each image's process instances by the span of their lives, for the Process access view.

A 4656 names its target process by image path only: the instance it opened is the one of that
image alive at the event (`core.correlate.access`). `Lives` holds one image's instances sorted by
start, with a segment tree of their ends, so that `alive` finds them in logarithmic time and
`first_alive` sweeps many look-ups at once. Its bounds are event keys, `(time, scan order)`,
held unboxed (`Keys`).
"""

from __future__ import annotations

import bisect
import heapq
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, cast, overload

from core.correlate.facts import FactsTable
from core.correlate.process_instance import Bound
from core.correlate.process_table import ProcessTable

if TYPE_CHECKING:
    from core.correlate.processes import Process
    from core.correlate.refcolumn import RefSource

#: Bounds standing for "before the log" (no start) and "to the end of the log" (no end).
BEFORE_LOG = (-(1 << 62), 0)
AFTER_LOG = (1 << 62, 0)


class Keys(Sequence[tuple[int, int]]):
    """Event keys `(time, scan order)` as two arrays of 64-bit ints, read back as tuples (made
    when read): a tuple and its two ints cost ~128 bytes a key, these 16. Keys that do not fit
    (a time kept aside as out of range) are held as they are, in a list."""

    __slots__ = ("_orders", "_times", "_tuples")

    def __init__(self, keys: Iterable[tuple[int, int]]) -> None:
        keys = keys if isinstance(keys, list) else list(keys)
        self._tuples: list[tuple[int, int]] | None = None
        try:
            self._times = array("q", [key[0] for key in keys])
            self._orders = array("q", [key[1] for key in keys])
        except (OverflowError, TypeError):
            self._times = self._orders = array("q")
            self._tuples = keys

    def __len__(self) -> int:
        return len(self._tuples) if self._tuples is not None else len(self._times)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._tuples) if self._tuples is not None else zip(self._times, self._orders, strict=True)

    @overload
    def __getitem__(self, i: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[int, int]]: ...
    def __getitem__(self, i: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if self._tuples is not None:
            return self._tuples[i]
        if isinstance(i, slice):
            return list(zip(self._times[i], self._orders[i], strict=True))
        return self._times[i], self._orders[i]


def bounds(processes: Sequence[Process], indexes: Sequence[int], which: str) -> list[tuple[int, int] | None]:
    """`p.start` (`which` "start_at") or `p.end` ("end_at") of the instances `indexes`: the
    bounds held as facts-table positions read in one pass (`FactsTable.keys`), as a look-up each
    cost a third of the Process access view's time at a million events; from the columns of a
    `ProcessTable` (no `Process` made)."""
    procs: list[Process] = []
    facts: RefSource | None
    if isinstance(processes, ProcessTable):
        held: list[Bound] = processes.values(which, indexes)
        facts = processes.facts
    else:
        procs = [processes[i] for i in indexes]
        held = [getattr(p, which) for p in procs]
        facts = procs[0].facts if procs else None
    at = [n for n, bound in enumerate(held) if type(bound) is int]
    if not at:  # each a key or None already (`Process._bound`)
        return cast(list[tuple[int, int] | None], held)
    if not isinstance(facts, FactsTable) or (procs and any(procs[n].facts is not facts for n in at)):
        return [p.start if which == "start_at" else p.end for p in (procs or [processes[i] for i in indexes])]
    out = cast(list[tuple[int, int] | None], held)
    for n, key in zip(at, facts.keys([cast(int, held[n]) for n in at]), strict=True):
        out[n] = key
    return out



class Lives:
    """The lives of one image's instances: starts sorted with their ends, and a max-end segment
    tree over them made on the first `alive` (the list's sweep needs none). The bounds are held
    as `Keys` (two arrays), the indexes as an array: as tuples of ints in lists, the images' lives
    the tables' writer looked up held ~40 MB of small objects at ten million churn events."""

    __slots__ = ("_tree", "ends", "indexes", "size", "starts")

    def __init__(self, processes: Sequence[Process], indexes: Sequence[int]) -> None:
        # Each bound read once, all of them at once (`bounds`); ties on start in index order.
        starts, ends = bounds(processes, indexes, "start_at"), bounds(processes, indexes, "end_at")
        items = sorted(zip((s or BEFORE_LOG for s in starts), indexes,
                           (e or AFTER_LOG for e in ends), strict=True))
        del starts, ends
        self.starts = Keys([start for start, _, _ in items])
        self.indexes = array("q", [index for _, index, _ in items])
        self.ends = Keys([end for _, _, end in items])
        size = 1
        while size < len(items):
            size *= 2
        self.size = size
        self._tree: Keys | None = None

    @property
    def tree(self) -> Keys:
        if self._tree is None:
            size, ends = self.size, self.ends
            tree = [BEFORE_LOG] * (2 * size)
            tree[size:size + len(ends)] = ends
            for node in range(size - 1, 0, -1):
                left, right = tree[2 * node], tree[2 * node + 1]
                tree[node] = left if left > right else right
            self._tree = Keys(tree)
        return self._tree

    def alive(self, at: tuple[int, int]) -> list[int]:
        count = bisect.bisect_right(self.starts, at)  # the first `count` began at or before `at`
        tree, size, indexes = self.tree, self.size, self.indexes
        # The nodes covering exactly the leaves 0..count-1, then down each where an end >= at:
        # every node visited is in the tree once, so the walk is bounded by its size.
        roots: list[int] = []
        lo, hi = size, size + count
        while lo < hi:
            if lo & 1:
                roots.append(lo)
                lo += 1
            if hi & 1:
                hi -= 1
                roots.append(hi)
            lo //= 2
            hi //= 2
        out: list[int] = []
        for root in roots:
            if tree[root] < at:
                continue
            stack = [root]
            while stack:
                node = stack.pop()
                if node >= size:
                    out.append(indexes[node - size])
                    continue
                node *= 2
                if tree[node] >= at:
                    stack.append(node)
                if tree[node + 1] >= at:
                    stack.append(node + 1)
        out.sort()
        return out

    def first_alive(self, ats: list[tuple[int, int]], limit: int) -> list[list[int]]:
        """`alive(at)[:limit]` for each of `ats`, by one sweep in time order: the instances begun
        join a sorted list of those alive, and leave it (by a heap of ends) once ended, so each
        instance is added and removed once whatever the number of look-ups."""
        out: list[list[int]] = [[] for _ in ats]
        alive: list[int] = []  # indexes, ascending
        heap: list[tuple[tuple[int, int], int]] = []  # (end, index) of those in `alive`
        starts, indexes, ends = self.starts, self.indexes, self.ends
        begun = 0
        for n in sorted(range(len(ats)), key=ats.__getitem__):
            at = ats[n]
            while begun < len(starts) and starts[begun] <= at:
                bisect.insort(alive, indexes[begun])
                heapq.heappush(heap, (ends[begun], indexes[begun]))
                begun += 1
            while heap and heap[0][0] < at:
                del alive[bisect.bisect_left(alive, heapq.heappop(heap)[1])]
            out[n] = alive[:limit]
        return out
