"""The tree every view shows: `NavTree`, its node type, and the search box under it.

A view's tree holds `TreeItem`s: the engine's `Node` (`core.correlate.model`: correlations,
process forests) or a `ViewNode` a view builds itself (computer branches, sessions, findings).
Both say the same four things: a label, how sure the link is (a WORD: exact / inferred /
ambiguous / missing, and a colour, so it still reads with NO_COLOR or in 16 colours), the
store id of the event behind the node, and the children.

Labels hold attacker-controlled text (images, command lines, object names): they are built as
`rich.text.Text` from `core.model.text.printable`, never as markup (Textual's `Tree` would parse
a `str` label as markup).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import length_hint
from typing import ClassVar, TypeAlias

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from core.correlate.model import Node
from core.model.text import printable

#: Colour per confidence; the word itself is always shown too (NO_COLOR, colour-blind users).
CONFIDENCE_STYLES = {
    "exact": "bold green",
    "inferred": "bold yellow",
    "ambiguous": "bold magenta",
    "missing": "bold red",
}
#: Trees above this many nodes are cut (a hostile or huge log must not freeze the UI).
MAX_TREE_NODES = 50_000
#: Nodes a tree adds at once; more are added a slice at a time (`NavTree.fill`).
FILL_SLICE = 1500


@dataclass(frozen=True)
class ViewNode:
    """A tree node built by a view itself (not by the engine): `label` may be a ready `Text`
    (already made of printable pieces) or a plain string (made printable here)."""

    label: Text | str
    store_id: int | None = None
    children: tuple[TreeItem, ...] = ()
    confidence: str | None = None
    reason: str | None = None


#: What a view's tree holds (see the module docstring).
TreeItem: TypeAlias = "Node | ViewNode"
#: A node of a view's tree: its data is None only on the "... cut" lines.
ItemNode: TypeAlias = "TreeNode[TreeItem]"


def confidence_text(confidence: str | None) -> Text:
    """The confidence badge: a fixed-width word in its colour."""
    word = (confidence or "").strip().lower()
    if not word:
        return Text("")
    return Text(f"{printable(word):<9}", style=CONFIDENCE_STYLES.get(word, "bold"))


def node_reason(node: TreeItem) -> str | None:
    """Why a view's node has the confidence it has (engine nodes say it in their label)."""
    return node.reason if isinstance(node, ViewNode) else None


def node_label(node: TreeItem) -> Text:
    """One tree line: confidence badge, label, and the reason when the label does not say it."""
    text = Text()
    if node.confidence:
        text.append_text(confidence_text(node.confidence))
        text.append(" ")
    raw = node.label
    if isinstance(raw, Text):
        text.append_text(raw)
        label = raw.plain
    else:
        label = printable(raw)
        text.append(label)
    reason = node_reason(node)
    if reason and reason not in label:
        text.append(" - " + printable(reason), style="italic")
    return text


@dataclass
class _Fill:
    """A `NavTree.fill` in progress: the stack of node iterators, how many nodes are in, and
    the share of MAX_TREE_NODES the current top-level branch may take."""

    serial: int
    base: ItemNode
    frames: list[tuple[ItemNode, Iterator[TreeItem], int]]
    expand_depth: int
    tops_left: int
    added: int = 0
    branch: ItemNode | None = None
    branch_limit: int = 0
    branch_start: int = 0
    cut_at: set[int] = field(default_factory=set)

    def start_branch(self, node: ItemNode) -> None:
        self.branch, self.branch_start = node, self.added
        self.branch_limit = self.added + max(1, (MAX_TREE_NODES - self.added) // max(1, self.tops_left))
        self.tops_left -= 1

    def cut(self) -> None:
        """Say where the nodes stop (under the branch being filled, else at the end)."""
        where = self.branch if self.branch is not None else self.base
        if id(where) in self.cut_at:
            return
        self.cut_at.add(id(where))
        shown = self.added - self.branch_start
        label = f"... cut: {shown:,} nodes of this branch shown (a view shows {MAX_TREE_NODES:,} at most)"
        where.add_leaf(Text(label, style="italic"))


class NavTree(Tree[TreeItem]):
    """A `Tree` driven from the keyboard: j/k move, enter selects (jumps), space folds.

    Node data is a `TreeItem`; `enter` does not fold, it
    posts `NodeSelected`, which the screens turn into a jump.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("h", "cursor_parent", "Parent", show=False),
        Binding("space", "toggle_node", "Fold"),
    ]

    def __init__(self, label: str = "", *, id: str | None = None) -> None:
        super().__init__(Text(label), id=id)
        self.auto_expand = False
        self.show_root = False
        self.guide_depth = 3

    _fill_serial = 0

    def process_label(self, label: str | Text) -> Text:
        """A label as literal text (never markup: labels hold log data), its first line only.
        Ours are made printable (no newline) already: rich's line split, 30 us a node, is
        skipped for them."""
        text = Text(label) if isinstance(label, str) else label
        return text.split()[0] if "\n" in text.plain else text

    def clear(self) -> NavTree:
        self._fill_serial += 1  # a fill still going on stops
        super().clear()
        return self

    def fill(self, roots: Iterable[TreeItem], expand_depth: int = 99, parent: ItemNode | None = None) -> int:
        """Add engine nodes (label/confidence/store_id/children) under `parent` (the root by
        default), iteratively (deep process chains must not hit the recursion limit); nodes
        down to `expand_depth` are expanded. Returns how many nodes were added at once.

        FILL_SLICE nodes are added at once, the rest a slice at a time from a timer, so that
        keys and redraws get their turn: adding a node costs ~70 us, and a quarter of a million
        processes added in one go froze the screen for 3.4 s. At most MAX_TREE_NODES are added,
        shared between the top-level branches (each gets its part of what the ones before it
        left), so that one huge branch (a computer with 250,000 processes) cannot push the
        others (every other computer of a forwarded log) out of the tree."""
        base = self.root if parent is None else parent
        tops = list(roots)
        self._fill_serial += 1
        state = _Fill(self._fill_serial, base, [(base, iter(tops), 0)], expand_depth, len(tops))
        return self._fill_slice(state)

    @property
    def filling(self) -> bool:
        """Whether a fill still has nodes to add."""
        return self._filling == self._fill_serial

    _filling = -1

    def _fill_slice(self, f: _Fill) -> int:
        if f.serial != self._fill_serial:
            return f.added  # cleared or filled again meanwhile
        frames = f.frames
        limit = min(MAX_TREE_NODES, f.added + FILL_SLICE)
        while frames and f.added < limit:
            into, nodes, depth = frames[-1]
            if not length_hint(nodes):  # (list iterators: exact)
                frames.pop()
                continue
            if depth > 0 and f.added >= f.branch_limit:  # this branch has had its part
                del frames[1:]
                f.cut()
                continue
            node = next(nodes, None)
            if node is None:
                frames.pop()
                continue
            kids = node.children
            if kids:
                tree_node = into.add(node_label(node), data=node, expand=depth < f.expand_depth)
                frames.append((tree_node, iter(kids), depth + 1))
            elif getattr(node, "kids", 0):  # a stored node whose children come when unfolded
                tree_node = into.add(node_label(node), data=node, expand=False)
            else:
                tree_node = into.add_leaf(node_label(node), data=node)
            if depth == 0:
                f.start_branch(tree_node)
            f.added += 1
        while frames and not length_hint(frames[-1][1]):
            frames.pop()  # nothing left at this level: nothing to cut or to come back for
        if frames and f.added < MAX_TREE_NODES:
            self._filling = f.serial
            self.set_timer(0.001, lambda: self._fill_slice(f))
        else:
            self._filling = -1
            if frames:
                f.cut()
        return f.added

    def walk(self) -> Iterator[ItemNode]:
        """Every node in display order (folded ones included), root excluded."""
        stack = list(reversed(self.root.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    #: The node `reveal` puts the cursor on once the unfolded lines are laid out (None: settled).
    revealing: ItemNode | None = None

    def reveal(self, node: ItemNode) -> None:
        """Unfold the ancestors of `node` and put the cursor on it (after the next refresh: the
        lines of the unfolded branches have no place before it; `revealing` says it is to come)."""
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.revealing = node
        self.call_after_refresh(self._revealed, node)

    def _revealed(self, node: ItemNode) -> None:
        self.move_cursor(node)
        if self.revealing is node:
            self.revealing = None

    def find(self, needle: str, forward: bool = True) -> ItemNode | None:
        """The next node (after the cursor, wrapping) whose text contains `needle` (any case)."""
        needle = needle.lower()
        nodes = list(self.walk())
        if not nodes or not needle:
            return None
        current = self.cursor_node
        start = nodes.index(current) if current in nodes else -1
        count = len(nodes)
        for step in range(1, count + 1):
            index = (start + step) % count if forward else (start - step) % count
            candidate = nodes[index]
            label = candidate.label
            text = label if isinstance(label, str) else label.plain
            if needle in text.lower():
                return candidate
        return None


class SearchInput(Input):
    """The `/` search box under a tree (hidden until asked for)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        pass

    def action_close(self) -> None:
        self.post_message(self.Closed())
