"""The Processes view: per computer, the tree of process instances (parent -> children).

Made from the model as it is read (`core.correlate.forest`, the nodes of
`model.process_forest(computer)` each making its children when read): a pid reused on one host is two
instances, so two separate nodes; processes with no 4688 (running before the log began) are
marked `inferred` with the reason; each instance lists its handles and its exit. The same pid
on two computers is two processes: each computer is its own branch. `enter` on a process jumps
to its 4688 (or to the node's event). Once built, the forest is stored with the log
(`tui.stored_views`): a reopen shows it from there, a page of children per unfolded node. A
first open shows a big forest the same way, its pages made from the model (`tui.forest_pages`),
so that the view never holds the whole forest.
"""

from __future__ import annotations

import threading
import weakref
from typing import cast

from textual import on, work
from textual.widgets import Tree

from core.correlate.forest import LazyForest
from core.correlate.model import CorrelationModel
from core.store import correlation_tables
from core.store.store import Store
from tui import nav_tree
from tui.forest_pages import ComputerBranch, ForestPages
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import PathStep, StoredNode, ViewBuilder, ViewRows
from tui.tree_views import SingleTreeScreen, activate
from tui.words import plural

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


#: The worker's result: what the tree shows first (the computer branches, or the top level of
#: a forest read a page at a time), how many nodes (up to UNFOLD_ALL_BELOW for a small one) and
#: the pages (None: the whole forest is shown, it is small).
Forest = tuple[list[TreeItem], int, "ForestPages | None"]


def _forest(model: CorrelationModel) -> Forest:
    """In the worker: a forest of at most MAX_TREE_NODES nodes whole (made as the tree is
    filled), a bigger one as a reopen shows it (`tui.forest_pages`: the top level, a page of
    children per unfolded node)."""
    branches = cast(list[ComputerBranch], computer_branches(model))
    pages = ForestPages(branches)
    total = pages.count()
    if total <= nav_tree.MAX_TREE_NODES:
        return list(branches), count_nodes(list(branches)), None
    return pages.tops(), total, pages


def stored_forest(model: CorrelationModel) -> ViewRows:
    """What the view stores: its computer branches."""
    return ViewRows(tree=computer_branches(model))


def _summary(branches: list[TreeItem]) -> str:
    roots = sum(b.kids if isinstance(b, StoredNode) else b.root_count if isinstance(b, ComputerBranch)
                else len(b.children) for b in branches)
    return f"{plural(len(branches), 'computer')}, {plural(roots, 'root process', 'root processes')}"


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
        self._pages = None  # the store's pages from now on (a partial model's are not its)
        depth = 99 if branches and nodes <= UNFOLD_ALL_BELOW else 1
        self.show_result(None, list(branches), depth=depth, summary=_summary(branches), partial=False,
                         hint="enter: jump")

    #: The forest of the model read a page at a time (a big one on a first open), else None.
    _pages: ForestPages | None = None
    #: Whether `_pages` are those of the whole log's model, the one the tables are written
    #: from (same ids): not those of a model built while the log was still loading.
    _pages_final = False

    def on_model_ready(self, message: ModelReady[Forest]) -> None:
        model = message.model
        branches: list[TreeItem] | None
        branches, nodes, pages = message.prepared if message.prepared is not None else (None, 0, None)
        if message.error or model is None:
            branches, pages = None, None
        self._pages, self._pages_final = pages, not message.partial
        self._paged = pages is not None  # `/` searches the whole forest, not the nodes fetched
        depth = 99 if branches and pages is None and nodes <= UNFOLD_ALL_BELOW else 1
        self.show_result(message.error or (None if model else "no correlation model"), branches, depth=depth,
                         summary=_summary(list(branches or [])),
                         partial=message.partial, hint="enter: jump")

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        pages = self._pages
        if pages is None:
            return super().fetch_page(parent, after, before)
        return pages.page(parent, after or 0, before)

    def search_path(self, text: str, after: int, forward: bool) -> list[PathStep] | None:
        """The stored tree's search once the tables are written (the same ids), the forest
        walked before."""
        pages = self._pages
        if pages is not None and not self._pages_final:
            return pages.search(text, after, forward)
        if pages is not None:
            with Store(self.workspace.require_store(), readonly=True) as store:
                stored = correlation_tables.view_ready(store, self.STORED_TREE)
            if not stored:
                return pages.search(text, after, forward)
        return super().search_path(text, after, forward)

    @on(Tree.NodeSelected, "#processes-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
