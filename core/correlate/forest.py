"""The Processes forest made as it is read: a process's node makes its children when they are
asked for, and keeps none of them.

`core.correlate.tree.process_forest` makes every node of a computer's forest at once: 5.25
million objects at 10 million churn events (+250-280 MB), held by the Processes view for as
long as it is open and shared with the tables' writer. Here the forest is its order only (per
computer, its processes in start order, each one's children as a linked list in two arrays:
16 bytes a process); a `ProcessNode` makes its line when made and its children (child
processes, then its handles and its exit) each time `children` is read. The view holds only
the nodes its tree shows (`tui.nav_tree.NavTree` adds at most MAX_TREE_NODES) and the writer,
which walks the forest depth first (`tui.stored_views.tree_rows`), only the children lists on
its way down. Nodes, order and numbering are those of `process_forest` (the stored tree and
the screen are the same).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from itertools import compress, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any, TypeAlias

from core.correlate.links import Node
from core.correlate.process_table import ProcessTable
from core.correlate.tree import TREE_EDGE, forest_line, forest_tail, start_key

if TYPE_CHECKING:
    from core.correlate.model import CorrelationModel

#: Per process: how many nodes its subtree has, how many children its node has.
_Sizes: TypeAlias = "tuple[array[int], array[int]]"
#: Instances whose parent is read at once.
_CHUNK = 1 << 12


class LazyForest:
    """The order of a model's process forests (see the module docstring): per computer (by
    its casefolded name) the roots in start order, and per process its first child and next
    sibling (-1: none), children in start order, as `process_forest` orders them."""

    def __init__(self, model: CorrelationModel) -> None:
        self.model = model
        procs = model.processes
        count = len(procs)
        self._first = array("q", [-1]) * count
        self._next = array("q", [-1]) * count
        last = array("q", [-1]) * count
        self._roots: dict[str, array[int]] = {}
        self._sizes: tuple[array[int], array[int]] | None = None
        # The three fields read of every instance, as columns (none made: `ProcessTable`), the
        # start order sorted once for every computer: per process a few bytes, not objects.
        if isinstance(procs, ProcessTable):
            computers = procs.column("computer")
            parents = array("q", [-1]) * count
            for lo in range(0, count, _CHUNK):  # a chunk of rows read by one C call
                indexes, values = procs.by_rows("parent", lo, min(lo + _CHUNK, count))
                for i, parent in compress(zip(indexes, values, strict=True), map(is_not, values, repeat(None))):
                    parents[i] = parent
            order: Sequence[int] = procs.start_order()
        else:
            computers = [p.computer for p in procs]
            parents = array("q", (-1 if p.parent is None else p.parent for p in procs))
            starts = [start_key(p) for p in procs]
            order = sorted(range(count), key=starts.__getitem__)
        folded = {c: c.casefold() for c in set(computers)}
        for computer in dict.fromkeys(computers):  # the computers in the order their first process comes
            self._roots.setdefault(folded[computer], array("q"))
        hosts = list(map(folded.__getitem__, computers))
        del computers
        for i in order:
            host = hosts[i]
            parent = parents[i]
            # A parent on another computer (or none) makes a root, as in `process_forest`.
            if parent < 0 or hosts[parent] != host:
                self._roots[host].append(i)
                continue
            if last[parent] < 0:
                self._first[parent] = i
            else:
                self._next[last[parent]] = i
            last[parent] = i
        #: The start order, until `measure` reads it.
        self._order: Sequence[int] = order

    def hosts(self) -> dict[str, array[int]]:
        """Each computer's (casefolded) roots, in order."""
        return self._roots

    def first_child(self, index: int) -> int:
        """Process `index`'s first child process in the forest, -1 if none."""
        return self._first[index]

    def next_sibling(self, index: int) -> int:
        """The child process after `index` under its parent (or root after it), -1 if none."""
        return self._next[index]

    def measure(self) -> tuple[array[int], array[int]]:
        """(per process: how many nodes its subtree has, how many children its node has),
        counted without making a node (`tail_size`), children before parents; made once."""
        if self._sizes is not None:
            return self._sizes
        procs = self.model.processes
        handles = procs.counts("handles") if isinstance(procs, ProcessTable) else [len(p.handles) for p in procs]
        tails = {h: tail_size(h) for h in set(handles)}
        self._sizes = self._summed(handles, tails) or self._walked(handles, tails)
        self._order = array("q")  # read only here
        return self._sizes

    def _summed(self, handles: Sequence[int], tails: dict[int, tuple[int, int]]) -> _Sizes | None:
        """The sizes summed in reverse start order, children before parents when each parent
        started before its children (the forest of a log: checked, None if one did not). A
        preorder walk first (`_walked`) took 1 s at ten million churn events, this 0.4 s."""
        size = array("q", map({h: 1 + nodes for h, (_, nodes) in tails.items()}.__getitem__, handles))
        kids = array("q", map({h: lines for h, (lines, _) in tails.items()}.__getitem__, handles))
        done = bytearray(len(size))
        first, after = self._first, self._next
        steps = len(size)  # bounded: a process is one list's child once
        for i in reversed(self._order):
            done[i] = 1
            child = first[i]
            while child >= 0:
                steps -= 1
                if not done[child] or steps < 0:  # a child started before its parent
                    return None
                size[i] += size[child]
                kids[i] += 1
                child = after[child]
        return size, kids

    def _walked(self, handles: Sequence[int], tails: dict[int, tuple[int, int]]) -> _Sizes:
        """The sizes summed in reverse preorder (children before parents in any forest)."""
        procs = self.model.processes
        size = array("q", [0]) * len(procs)
        kids = array("q", [0]) * len(procs)
        for roots in self._roots.values():
            order, up = array("q"), array("q")  # preorder, each one's parent (-1: a root)
            stack = [(i, -1) for i in roots]
            while stack:  # bounded: a process is reached once (from its parent or as a root)
                i, parent = stack.pop()
                order.append(i)
                up.append(parent)
                child = self._first[i]
                for _ in range(len(procs)):
                    if child < 0:
                        break
                    stack.append((child, i))
                    child = self._next[child]
            for at in range(len(order) - 1, -1, -1):
                i, parent = order[at], up[at]
                lines, nodes = tails[handles[i]]
                size[i] += 1 + nodes
                kids[i] += lines
                if parent >= 0:
                    size[parent] += size[i]
                    kids[parent] += 1
        return size, kids

    def root_count(self, computer: str) -> int:
        """How many root processes `computer`'s forest has (none made)."""
        return len(self._roots.get(computer.casefold(), ()))

    def roots(self, computer: str) -> list[Node]:
        """The top level of `computer`'s forest, each node making its children when read."""
        return [ProcessNode(self, i) for i in self._roots.get(computer.casefold(), ())]

    def children_of(self, index: int) -> list[Node]:
        """Process `index`'s children in the forest: its child processes, then its handles and
        its exit (made now, none kept)."""
        return list(self.iter_children(index))

    def iter_children(self, index: int) -> Iterator[Node]:
        """`children_of`, each made as it is read: a process may have hundreds of thousands of
        children (the tables' writer made them all at once: +0.6 GB at ten million events)."""
        child = self._first[index]
        for _ in range(len(self._first)):  # bounded: a process is a child once
            if child < 0:
                break
            yield ProcessNode(self, child)
            child = self._next[child]
        yield from forest_tail(self.model, self.model.processes[index])


def tail_size(handles: int) -> tuple[int, int]:
    """(lines, nodes) of the tail `forest_tail` makes for a process with `handles` handles:
    a line per handle with its close line under it, the middle of a long list one line
    (TREE_EDGE), then the exit line."""
    if handles <= 2 * TREE_EDGE + 1:
        return handles + 1, 2 * handles + 1
    return 2 * TREE_EDGE + 2, 4 * TREE_EDGE + 2


class ProcessNode(Node):
    """A process's node of a `LazyForest`: its line made at once, its children made each time
    `children` is read (never kept: whoever reads them holds them)."""

    __slots__ = ("_forest", "_index")
    _forest: LazyForest
    _index: int

    def __init__(self, forest: LazyForest, index: int) -> None:
        label, confidence, store_id = forest_line(forest.model.processes[index])
        # `Node` is frozen: its fields are set as its own `__init__` does.
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "store_id", store_id)
        object.__setattr__(self, "_forest", forest)
        object.__setattr__(self, "_index", index)

    @property
    def children(self) -> list[Node]:
        return self._forest.children_of(self._index)

    @property
    def child_count(self) -> int:
        """How many `children` it has (none made: `LazyForest.measure`)."""
        return self._forest.measure()[1][self._index]

    def iter_children(self) -> Iterator[Node]:
        """Its `children`, each made as it is read (see `LazyForest.iter_children`)."""
        return self._forest.iter_children(self._index)

    @property
    def index(self) -> int:
        """The process's index in the model (`CorrelationModel.processes`)."""
        return self._index

    def __repr__(self) -> str:  # the dataclass's would make the whole subtree
        return f"ProcessNode({self.label!r}, {self.confidence!r}, {self.store_id!r}, index={self._index})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, ProcessNode) and other._forest is self._forest
                and other._index == self._index)

    __hash__ = None  # type: ignore[assignment]  # as `Node`'s
