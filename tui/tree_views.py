"""The views' screens: a tree (or two) filled by a background job, with `/` search.

`TreeViewScreen` is the base of every view (Correlation, Processes, Handles, Sessions,
Findings): `esc` back, `/` search the tree, `n`/`N` next/previous match, `enter` on a node
jumps to its event (`JumpToEvent`). A view built while the inputs still load is marked partial
and built again once loading has finished. `SingleTreeScreen` is a view that is one tree.
Every view reads the open log through the `Workspace` it is given. A view stored with the
log (`tui.stored_views`) is read from the store instead of the model: big trees come a page at
a time, each node's children fetched when it is unfolded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree

from core.model.text import printable
from core.store.store import Store
from tui.messages import JumpToEvent
from tui.nav_tree import MAX_TREE_NODES, ItemNode, NavTree, SearchInput, TreeItem, ViewNode, node_label
from tui.stored_views import PathStep, StoredNode, ViewBuilder, fetch_children, load_tree, search_stored, window
from tui.words import plural
from tui.workspace import PicksEvent, Workspace

CSS_FILE = "views.tcss"
#: The status of a list view while it looks for its list in the store; it says "building the
#: correlation model..." only when it has to build it (`bench.view_ready` waits past both).
READING = "reading the list..."


class TreeViewScreen(PicksEvent, Screen[None]):
    """Base of the views: `esc` back, `/` search the view's tree, `n`/`N` next/previous match."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next(True)", "Next match", show=False),
        Binding("N", "search_next(False)", "Prev match", show=False),
    ]

    _search_text: str = ""
    _search_target: NavTree | None = None
    #: Whether the view waits for the correlation model (and shows how far its build is).
    USES_MODEL: ClassVar[bool] = True

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        if self.USES_MODEL:  # (the Findings view waits for the findings: it holds nothing back)
            workspace.hold_background()

    def _load(self) -> object:
        """Start building the view (subclasses: a `@work(thread=True)` method)."""
        raise NotImplementedError

    def _reload_when_loaded(self) -> None:
        if self.workspace.loaded:
            self._load()
        else:
            self.set_timer(1.0, self._reload_when_loaded)

    def _follow_model_progress(self) -> None:
        """While the correlation model is built (10 s and more for a million events), say in
        the status line how far its reading is; stops once the view shows its result (the
        status no longer starts with the waiting text)."""
        if not self.USES_MODEL:
            return
        status = self.query_one("#view-status", Static)
        waiting = str(status.render()).rstrip(".")

        def tick() -> None:
            shown = str(status.render())
            if not shown.startswith(waiting):
                timer.stop()
                return
            progress = self.workspace.models.model_progress
            if progress is None:
                return
            read, total = progress
            if read < total:
                status.update(Text(f"{waiting}: {read:,} of {plural(total, 'event')} read"))
            else:
                status.update(Text(f"{waiting}: {plural(total, 'event')} read, preparing the view..."))

        timer = self.set_interval(0.25, tick)

    def search_tree(self) -> NavTree | None:
        """The tree `/` searches (the focused one when a view has several)."""
        trees = list(self.query(NavTree))
        focused = self.focused
        for tree in trees:
            if tree is focused:
                return tree
        return trees[0] if trees else None

    # -- stored trees read a page at a time ------------------------------------------------

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        """In a worker: the page of node `parent`'s children of the view's stored tree after
        the child `after` (None: from the first) and before `before`, a "more" line last if
        more remain (subclasses)."""
        raise NotImplementedError

    @on(Tree.NodeExpanded)
    def _unfolded(self, event: Tree.NodeExpanded[TreeItem]) -> None:
        """A stored node unfolded for the first time: fetch its first page of children."""
        data = event.node.data
        if isinstance(data, StoredNode) and data.kids and not event.node.children:
            self._fetch(event.node, data.node_id, None, None, None)

    def fetch_more(self, tree_node: ItemNode, more: StoredNode) -> None:
        """`enter` on a "more" line: it gives way to the next page of its parent's children."""
        parent = tree_node.parent
        if parent is None or more.more_after is None:
            return
        siblings = list(parent.children)
        at = siblings.index(tree_node) if tree_node in siblings else -1
        follows = siblings[at + 1] if 0 <= at < len(siblings) - 1 else None
        tree_node.remove()
        self._fetch(parent, more.parent_id, more.more_after, more.more_before, follows)

    @work(thread=True, group="tree-pages")
    def _fetch(self, tree_node: ItemNode, parent: int, after: int | None, before: int | None,
               follows: ItemNode | None) -> None:
        items = self.fetch_page(parent, after, before)
        self.app.call_from_thread(add_page, tree_node, items, follows)

    def action_back(self) -> None:
        self.app.pop_screen()

    def selected_store_id(self) -> int | None:
        """The event behind the highlighted tree node (what `c`, `m`, `y` act on here)."""
        tree = self.search_tree()
        node = tree.cursor_node if tree is not None else None
        return node.data.store_id if node is not None and node.data is not None else None

    def action_search(self) -> None:
        self._search_target = self.search_tree()
        box = self.query_one(SearchInput)
        box.display = True
        self.set_focus(box)  # at once: keys typed right after `/` are the search text

    def action_search_next(self, forward: bool = True) -> None:
        tree = self._search_target or self.search_tree()
        if tree is None or not self._search_text:
            return
        found = tree.find(self._search_text, forward)
        if found is None:
            # the typed text is shown as typed: `[/]` is no markup (it raised MarkupError)
            self.notify(f"not found: {printable(self._search_text)}", severity="warning", markup=False)
            return
        tree.reveal(found)
        tree.focus()

    @on(Input.Submitted, "SearchInput")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._search_text = event.value
        event.input.display = False
        self.action_search_next(True)

    @on(SearchInput.Closed)
    def _search_closed(self) -> None:
        self.query_one(SearchInput).display = False
        tree = self._search_target or self.search_tree()
        if tree is not None:
            tree.focus()


def activate(screen: Screen[None], tree_node: ItemNode) -> None:
    """`enter` on a tree node: jump to its event; a node without one folds/unfolds if it has
    children, else says why there is no event."""
    data = tree_node.data
    if data is None:
        return
    if isinstance(data, StoredNode) and data.more_after is not None and isinstance(screen, TreeViewScreen):
        screen.fetch_more(tree_node, data)
        return
    if data.store_id is None and (tree_node.children or (isinstance(data, StoredNode) and data.kids)):
        tree_node.toggle()
        return
    jump_to_node(screen, data)


def add_page(tree_node: ItemNode, items: list[TreeItem], follows: ItemNode | None = None) -> None:
    """One page (PAGE nodes at most, none with children fetched yet) under `tree_node`, before
    `follows` if given: added at once, not by `NavTree.fill`, whose slices would stop a fill
    still going on elsewhere in the tree."""
    for item in items:
        if isinstance(item, StoredNode) and item.kids:
            tree_node.add(node_label(item), data=item, expand=False, before=follows)
        else:
            tree_node.add_leaf(node_label(item), data=item, before=follows)


def _shown_child(node: ItemNode, node_id: int) -> ItemNode | None:
    for child in node.children:
        data = child.data
        if isinstance(data, StoredNode) and data.more_after is None and data.node_id == node_id:
            return child
    return None


def unfold_path(tree: NavTree, steps: list[PathStep]) -> ItemNode | None:
    """The tree node of a search hit in a tree read a page at a time (`search_stored`), the
    pages on its way fetched where they were not: each in place of the "more" line (or of the
    unfetched children) it belongs to. None if the tree no longer holds the way there."""
    current = tree.root
    for step in steps:
        found = _shown_child(current, step.node)
        if found is None:
            children = list(current.children)
            at = next((i for i, child in enumerate(children) if isinstance(child.data, StoredNode)
                       and child.data.more_after is not None and child.data.more_after < step.node
                       and (child.data.more_before is None or step.node < child.data.more_before)), None)
            if at is None and children:
                return None
            after, before = 0, None
            follows = None
            if at is not None:
                more = children[at].data
                assert isinstance(more, StoredNode)
                after, before = more.more_after or 0, more.more_before
                follows = children[at + 1] if at + 1 < len(children) else None
                children[at].remove()
            add_page(current, window(step, after, before), follows)
            found = _shown_child(current, step.node)
            if found is None:
                return None
        current = found
    return current


def jump_to_node(screen: Screen[None], node: TreeItem) -> None:
    """Jump to the event behind a tree node, or say why there is none. (An engine's "why:"
    line carries the store id of the one record its reason names, found by the engine among
    the link's own events (`core.correlate.tree.named_event`); a line naming none, or several
    ("Sysmon 1 record 9 and 4688 record 8 are one process"), carries none: "not in the log"
    would contradict such a label.)"""
    if node.store_id is None:
        reason = node.reason if isinstance(node, ViewNode) else None
        screen.notify(
            "no event to jump to from this line" + (f": {printable(reason)}" if reason else ""),
            severity="warning",
            markup=False,  # the reason quotes log data
        )
        return
    screen.app.post_message(JumpToEvent(node.store_id))


class SingleTreeScreen(TreeViewScreen):
    """A view that is one tree filled by a background job: title, status line, the tree, and a
    search box. Subclasses name them and implement `_load` (a thread worker)."""

    VIEW_TITLE = ""
    WAITING = ""
    TREE_ID = ""
    SEARCH_HINT = ""
    #: The view's tree in the store (`tui.stored_views`), "" when it is not stored.
    STORED_TREE: ClassVar[str] = ""

    @dataclass
    class StoredTree(Message):
        """The view's tree read from the store: its top nodes and how many nodes it has."""

        branches: list[TreeItem]
        nodes: int

    def load_stored(self, build: ViewBuilder) -> bool:
        """In the load worker: post the view's tree read from the store (stored first, with
        the model, when it is not yet) and say so; False when the view must use the model.
        Raises ViewDataError."""
        ws = self.workspace
        if not self.STORED_TREE or not ws.stored_view(self.STORED_TREE, build):
            return False
        with Store(ws.require_store(), readonly=True) as store:
            branches, nodes = load_tree(store, self.STORED_TREE, MAX_TREE_NODES)
        self.post_message(self.StoredTree(branches, nodes))
        return True

    def stored_builder(self) -> ViewBuilder | None:
        """What the view stores (`tui.stored_views`), None when it stores nothing."""
        return None

    def _store_when_filled(self, tree: NavTree, build: ViewBuilder) -> None:
        """Once the tree is filled (the view is shown), have the tables written for the next
        open: not before, where the write would compete with the fill for the interpreter."""
        if tree.filling:
            self.set_timer(0.25, lambda: self._store_when_filled(tree, build))
            return
        self.workspace.store_views_later(self.STORED_TREE, build)

    def show_stored(self, branches: list[TreeItem], nodes: int) -> None:
        """Show the tree read from the store (subclasses: summary and unfolding)."""
        raise NotImplementedError

    #: Whether the tree shown was read from the store a page at a time: `/` then searches the
    #: stored tree through SQL (most of its nodes are not fetched).
    _paged = False

    #: Whether the tree being shown was read from the store: nothing to write for it then.
    _from_store = False

    def on_single_tree_screen_stored_tree(self, message: SingleTreeScreen.StoredTree) -> None:
        self._paged = message.nodes > MAX_TREE_NODES
        self._from_store = True
        self.show_stored(message.branches, message.nodes)

    def action_search_next(self, forward: bool = True) -> None:
        if not self._paged or not self._search_text:
            super().action_search_next(forward)
            return
        node = self.query_one(NavTree).cursor_node
        data = node.data if node is not None else None
        after = 0
        if isinstance(data, StoredNode):
            after = data.more_after if data.more_after is not None else data.node_id
        self._search_stored(self._search_text, after, forward)

    @work(thread=True, exclusive=True, group="tree-search")
    def _search_stored(self, text: str, after: int, forward: bool) -> None:
        try:
            steps = self.search_path(text, after, forward)
        except Exception as exc:  # noqa: BLE001 - said in a notification instead of the worker dying
            self.app.call_from_thread(self.notify, f"search failed: {type(exc).__name__}: {exc}",
                                      severity="error", markup=False)
            return
        self.app.call_from_thread(self._show_hit, text, steps)

    def search_path(self, text: str, after: int, forward: bool) -> list[PathStep] | None:
        """In a worker: the way to the next hit of `/` in the tree read a page at a time (the
        stored tree's, `search_stored`)."""
        return search_stored(self.workspace.require_store(), self.STORED_TREE, text, after, forward)

    def _show_hit(self, text: str, steps: list[PathStep] | None) -> None:
        tree = self.query_one(NavTree)
        found = unfold_path(tree, steps) if steps else None
        if found is None:
            self.notify(f"not found: {printable(text)}", severity="warning", markup=False)
            return
        tree.reveal(found)
        tree.focus()

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        return fetch_children(self.workspace.require_store(), self.STORED_TREE, parent, after or 0, before)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.VIEW_TITLE), id="view-title", classes="view-title")
            yield Static(Text(self.WAITING), id="view-status", classes="view-status")
            yield NavTree(id=self.TREE_ID)
            yield SearchInput(placeholder=self.SEARCH_HINT, id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        self.query_one(NavTree).focus()
        self._follow_model_progress()
        self._load()

    def show_result(
        self, error: str | None, branches: Sequence[TreeItem] | None, *, depth: int, summary: str, partial: bool,
        hint: str = "enter: open/jump",
    ) -> None:
        """Fill the tree from a background result (or show why there is none). A result built
        while the inputs were still loading is shown, and rebuilt once loading has finished."""
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        tree.clear()
        if error or branches is None:
            status.update(Text(printable(error or "nothing to show"), style="bold"))
            return
        tree.fill(branches, expand_depth=depth)
        build = self.stored_builder()
        from_store, self._from_store = self._from_store, False
        # A tree read from the store asks for no write: the check alone imported every view's
        # module in a thread (0.1-0.3 s of interpreter time) while the next view opened.
        if not partial and build is not None and not from_store:
            self._store_when_filled(tree, build)
        if partial:
            summary += "   (still loading: the tree will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(f"{summary}   {hint}"))
        if branches:
            place = self.workspace.tree_places.get(self.TREE_ID)
            tree.move_cursor_to_line(0)
            if place is not None and place[0] > 0:
                self._back_to(tree, place)

    def _back_to(self, tree: NavTree, place: tuple[int, int | None]) -> None:
        """Once the tree is filled, the cursor back on the line the analyst left the view at
        (`Workspace.tree_places`), when that line still holds the same event and the analyst
        has not moved meanwhile."""
        if tree.filling:
            self.set_timer(0.05, lambda: self._back_to(tree, place))
            return
        line, store_id = place
        node = tree.get_node_at_line(line) if line <= tree.last_line else None
        if tree.cursor_line == 0 and node is not None and node.data is not None and node.data.store_id == store_id:
            tree.move_cursor_to_line(line)
            tree.scroll_to_line(line)

    @on(Tree.NodeHighlighted)
    def _keep_place(self, event: Tree.NodeHighlighted[TreeItem]) -> None:
        tree = self.query_one(NavTree)
        node = tree.cursor_node
        if node is not None and event.node is node:
            self.workspace.tree_places[self.TREE_ID] = (tree.cursor_line, node.data.store_id if node.data else None)
