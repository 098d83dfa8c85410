"""The Processes view's forest on a first open, read a page at a time from the model as a
reopen reads it from the store.

The forest's nodes are numbered depth first as the tables' writer numbers them
(`tui.stored_views.tree_rows`): counted from the model without making a node
(`LazyForest.measure`), a node's id says where it is, so that a page of any node's children is
made from the model alone (the nodes on the way down walked by their subtrees' sizes), as the
same `NodeRow`s the store gives once written. The view then shows what a reopen shows (the
top level, a page of children per unfolded node, "more" lines) and holds those nodes only;
`/` walks the forest (`ForestPages.search`) until the tables are written, then searches them
(`tui.stored_views.search_stored`): the ids are the same.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from dataclasses import replace

from rich.text import Text

from core.correlate.forest import LazyForest, ProcessNode, tail_size
from core.correlate.links import Node
from core.correlate.tree import TREE_EDGE, forest_tail
from core.model.text import printable
from core.store.correlation_tables import NodeRow
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import PAGE, PathStep, StoredNode, label_row, page_of, tree_rows
from tui.words import plural


class ComputerBranch(ViewNode):
    """A computer's branch of the Processes view: its line, and its forest's roots made each
    time `children` is read (`core.correlate.forest`: every node makes its children when
    read, none kept), so that the view holds the nodes its tree shows, not the whole forest."""

    forest: LazyForest
    computer: str
    root_count: int

    def __init__(self, forest: LazyForest, computer: str) -> None:
        roots = forest.root_count(computer)
        label = Text(printable(str(computer)), style="bold")
        label.append(f"  ({plural(roots, 'root process', 'root processes')})" if roots else "  (no process seen)")
        # `ViewNode` is frozen: its fields are set as its own `__init__` does.
        for name, value in (("label", label), ("store_id", None), ("confidence", None), ("reason", None),
                            ("forest", forest), ("computer", computer), ("root_count", roots)):
            object.__setattr__(self, name, value)

    @property
    def children(self) -> tuple[TreeItem, ...]:
        return tuple(self.forest.roots(self.computer))

    def __repr__(self) -> str:  # the dataclass's would make the whole forest
        return f"ComputerBranch({self.computer!r}, roots={self.root_count})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputerBranch) and (other.forest, other.computer) == (self.forest, self.computer)

    __hash__ = None  # type: ignore[assignment]  # as `ViewNode`'s


#: A place in the forest: ("c", branch) a computer, ("p", process) a process, ("t", process,
#: line) a line of a process's tail (`forest_tail`), ("x", process, line) the close line under
#: a handle's line.
Place = tuple[str, int, int]
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _handle_line(handles: int, line: int) -> bool:
    """Whether line `line` of a tail (`tail_size`) is a handle's (with its close line)."""
    if handles <= 2 * TREE_EDGE + 1:
        return line < handles
    return line < 2 * TREE_EDGE + 1 and line != TREE_EDGE


class ForestPages:
    """The computer branches' forest as numbered rows, read a page at a time (see the module
    docstring)."""

    def __init__(self, branches: Sequence[ComputerBranch]) -> None:
        self._branches = list(branches)
        self._forest = branches[0].forest if branches else None
        self._size: Sequence[int] = ()
        self._kids: Sequence[int] = ()
        if self._forest is not None:
            self._size, self._kids = self._forest.measure()
        self._tops = [1 + sum(self._size[i] for i in self._roots(b)) for b in self._branches]

    def _roots(self, branch: ComputerBranch) -> Sequence[int]:
        return branch.forest.hosts().get(branch.computer.casefold(), ())

    def count(self) -> int:
        """How many nodes the forest has (as the store will hold)."""
        return sum(self._tops)

    def _entries(self, place: Place | None) -> Iterator[tuple[Place, int]]:
        """The children of `place` (None: the top level) with their subtrees' sizes."""
        if place is None:
            yield from ((("c", b, 0), size) for b, size in enumerate(self._tops))
            return
        kind, at, line = place
        forest, size = self._forest, self._size
        if forest is None:
            return
        if kind == "c":
            yield from ((("p", i, 0), size[i]) for i in self._roots(self._branches[at]))
        elif kind == "p":
            child = forest.first_child(at)
            for _ in range(len(size)):  # bounded: a process is a child once
                if child < 0:
                    break
                yield ("p", child, 0), size[child]
                child = forest.next_sibling(child)
            handles = len(forest.model.processes[at].handles)
            for k in range(tail_size(handles)[0]):
                yield ("t", at, k), 2 if _handle_line(handles, k) else 1
        elif kind == "t" and _handle_line(len(forest.model.processes[at].handles), line):
            yield ("x", at, line), 1

    def _locate(self, node: int) -> Place | None:
        """The place of node `node`, walked down by the subtrees' sizes."""
        place: Place | None = None
        base = 0
        for _ in range(self.count()):  # bounded: one level down a step
            nid = base + 1
            for child, size in self._entries(place):
                if node < nid + size:
                    if node == nid:
                        return child
                    place, base = child, nid
                    break
                nid += size
            else:
                return None
        return None

    def _row(self, place: Place, nid: int, parent: int, tails: dict[int, list[Node]]) -> NodeRow:
        kind, at, line = place
        if kind == "c":
            branch = self._branches[at]
            label, style = label_row(branch.label)
            return NodeRow(nid, parent, label, style, None, None, None, branch.root_count)
        assert self._forest is not None
        if kind == "p":
            node: Node = ProcessNode(self._forest, at)
            return NodeRow(nid, parent, node.label, None, node.confidence, node.store_id, None, self._kids[at])
        tail = tails.get(at)
        if tail is None:
            tail = tails[at] = forest_tail(self._forest.model, self._forest.model.processes[at])
        node = tail[line] if kind == "t" else tail[line].children[0]
        return NodeRow(nid, parent, node.label, None, node.confidence, node.store_id, None, len(node.children))

    def children(self, parent: int, *, after: int = 0, before: int | None = None, limit: int = PAGE + 1,
                 ) -> list[NodeRow]:
        """The rows of node `parent`'s children (0: the top level) after the child `after` and
        before the child `before`, at most `limit` (as `correlation_tables.children`)."""
        place = self._locate(parent) if parent else None
        if parent and place is None:
            return []
        out: list[NodeRow] = []
        tails: dict[int, list[Node]] = {}
        nid = parent + 1  # depth first: the first child follows its parent
        for child, size in self._entries(place):
            if before is not None and nid >= before:
                break
            if nid > after:
                out.append(self._row(child, nid, parent, tails))
                if len(out) >= limit:
                    break
            nid += size
        return out

    def page(self, parent: int, after: int = 0, before: int | None = None) -> list[TreeItem]:
        """A page of node `parent`'s children as the view shows it (`stored_views.page_of`)."""
        return page_of(self.children(parent, after=after, before=before), parent, before)

    def tops(self) -> list[TreeItem]:
        """The top level, each computer with its first page of children (as `load_tree`)."""
        out: list[TreeItem] = []
        for top in self.page(0):
            if isinstance(top, StoredNode) and top.kids:
                top = replace(top, children=tuple(self.page(top.node_id)))
            out.append(top)
        return out

    def _previous(self, parent: int, node: int) -> int:
        """The id of the child of `parent` just before `node`, 0 if it is the first."""
        place = self._locate(parent) if parent else None
        previous, nid = 0, parent + 1
        for _child, size in self._entries(place):
            if nid >= node:
                break
            previous, nid = nid, nid + size
        return previous

    def search(self, text: str, after: int, forward: bool = True) -> list[PathStep] | None:
        """The way to the next node after node `after` (before it when not `forward`,
        wrapping) whose label, confidence or reason holds `text` (any ASCII case, as the
        stored search), None if none does: the whole forest walked, its nodes made and
        dropped one at a time."""
        needle = text.translate(_ASCII_LOWER)
        if not needle:
            return None
        first: list[int] | None = None  # the way to the first match, the last one, ...
        last: list[int] | None = None
        before_after: list[int] | None = None
        path: list[int] = []
        for row in tree_rows(self._branches):
            while path and path[-1] != row.parent:
                path.pop()
            path.append(row.id)
            if not any(needle in field.translate(_ASCII_LOWER)
                       for field in (row.label, row.confidence, row.reason) if field):
                continue
            if forward and row.id > after:
                return self._steps(path)
            if first is None:
                first = list(path)
            if row.id < after:
                before_after = list(path)
            last = list(path)
        found = first if forward else (before_after or last)
        return self._steps(found) if found else None

    def _steps(self, path: list[int]) -> list[PathStep]:
        steps: list[PathStep] = []
        parent = 0
        for node in path:
            steps.append(PathStep(parent, node, self._previous(parent, node),
                                  self.children(parent, after=node - 1, limit=PAGE + 1)))
            parent = node
        return steps
