"""The Processes view: per computer, the tree of process instances (parent -> children).

Built from `model.process_forest(computer)` (`core.correlate.model`): a pid reused on one host is two
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


#: The branches last built per model, held weakly (alive while a screen shows them): the tables'
#: writer, which runs while the screen is open, stores those instead of building a second
#: forest beside them (~140 MB at a million events, the first open's peak memory).
_BUILT: weakref.WeakKeyDictionary[CorrelationModel, list[weakref.ref[ViewNode]]] = weakref.WeakKeyDictionary()
_BUILT_LOCK = threading.Lock()


def computer_branches(model: CorrelationModel) -> list[ViewNode]:
    """One branch per computer holding its process forest (the one already built for `model`
    when it is still alive)."""
    with _BUILT_LOCK:
        refs = _BUILT.get(model)
    if refs is not None:
        built = [ref() for ref in refs]
        if all(node is not None for node in built):
            return cast(list[ViewNode], built)
    branches: list[ViewNode] = []
    for computer in model.computers():
        forest = list(model.process_forest(computer))
        label = Text(printable(str(computer)), style="bold")
        label.append(f"  ({len(forest):,} root processes)" if forest else "  (no process seen)")
        branches.append(ViewNode(label, children=tuple(forest)))
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
    roots = sum(b.kids if isinstance(b, StoredNode) else len(b.children) for b in branches)
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
