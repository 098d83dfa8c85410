"""The Processes view: per computer, the tree of process instances (parent -> children).

Made from the model as it is read (`core.correlate.forest`, the nodes of
`model.process_forest(computer)` each making its children when read): a pid reused on one host is two
instances, so two separate nodes; processes with no 4688 (running before the log began) are
marked `inferred` with the reason; each instance lists its handles and its exit. The same pid
on two computers is two processes: each computer is its own branch. `enter` on a process jumps
to its 4688 (or to the node's event). Once built, the forest is stored with the log
(`tui.stored_views`): a reopen shows it from there, a page of children per unfolded node.
"""

from __future__ import annotations

import threading
import weakref
from typing import cast

from rich.text import Text
from textual import on, work
from textual.widgets import Tree

from core.correlate.forest import LazyForest
from core.correlate.model import CorrelationModel
from core.model.text import printable
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import StoredNode, ViewBuilder, ViewRows
from tui.tree_views import SingleTreeScreen, activate

#: Below this many nodes the whole forest is unfolded; above it only computers and roots are.
UNFOLD_ALL_BELOW = 3000


def count_nodes(nodes: list[TreeItem]) -> int:
    total = 0
    stack = list(nodes)
    while stack and total <= UNFOLD_ALL_BELOW:
        node = stack.pop()
        total += 1
        stack.extend(node.children)
    return total


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
        label.append(f"  ({roots:,} root processes)" if roots else "  (no process seen)")
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


#: The branches last made per model, held weakly (alive while a screen shows them): the tables'
#: writer, which runs while the screen is open, reuses their forest's order instead of sorting
#: the processes again.
_BUILT: weakref.WeakKeyDictionary[CorrelationModel, list[weakref.ref[ViewNode]]] = weakref.WeakKeyDictionary()
_BUILT_LOCK = threading.Lock()


def computer_branches(model: CorrelationModel) -> list[ViewNode]:
    """One branch per computer holding its process forest, made as it is read (the one
    already made for `model` when it is still alive)."""
    with _BUILT_LOCK:
        refs = _BUILT.get(model)
    if refs is not None:
        built = [ref() for ref in refs]
        if all(node is not None for node in built):
            return cast(list[ViewNode], built)
    forest = LazyForest(model)
    branches: list[ViewNode] = [ComputerBranch(forest, computer) for computer in model.computers()]
    with _BUILT_LOCK:
        _BUILT[model] = [weakref.ref(node) for node in branches]
    return branches


#: The worker's result: the computer branches and (up to UNFOLD_ALL_BELOW) how many nodes.
Forest = tuple[list[ViewNode], int]


def _forest(model: CorrelationModel) -> Forest:
    """In the worker: the computer branches and (up to UNFOLD_ALL_BELOW) how many nodes."""
    branches = computer_branches(model)
    return branches, count_nodes(list(branches))


def stored_forest(model: CorrelationModel) -> ViewRows:
    """What the view stores: its computer branches."""
    return ViewRows(tree=computer_branches(model))


def _summary(branches: list[TreeItem]) -> str:
    roots = sum(b.kids if isinstance(b, StoredNode) else b.root_count if isinstance(b, ComputerBranch)
                else len(b.children) for b in branches)
    return f"{len(branches)} computers, {roots:,} root processes"


class ProcessesScreen(SingleTreeScreen):
    """Process instances per computer; `enter` jumps to the node's event (a process: its 4688)."""

    VIEW_TITLE = "Processes"
    WAITING = "building the process model..."
    TREE_ID = "processes-tree"
    SEARCH_HINT = "search processes (image, pid...)"
    STORED_TREE = "processes"

    @work(thread=True, exclusive=True, group="processes")
    def _load(self) -> None:
        try:
            if self.load_stored(stored_forest):
                return
        except ViewDataError as exc:
            self.post_message(ModelReady[Forest](None, not self.workspace.loaded, str(exc)))
            return
        self.workspace.request_model(self, _forest)

    def stored_builder(self) -> ViewBuilder:
        return stored_forest

    def show_stored(self, branches: list[TreeItem], nodes: int) -> None:
        depth = 99 if branches and nodes <= UNFOLD_ALL_BELOW else 1
        self.show_result(None, list(branches), depth=depth, summary=_summary(branches), partial=False,
                         hint="enter: jump")

    def on_model_ready(self, message: ModelReady[Forest]) -> None:
        model = message.model
        branches: list[ViewNode] | None
        branches, nodes = message.prepared if message.prepared is not None else (None, 0)
        if message.error or model is None:
            branches = None
        depth = 99 if branches and nodes <= UNFOLD_ALL_BELOW else 1
        self.show_result(message.error or (None if model else "no correlation model"), branches, depth=depth,
                         summary=_summary(list(branches or [])),
                         partial=message.partial, hint="enter: jump")

    @on(Tree.NodeSelected, "#processes-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
