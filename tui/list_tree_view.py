"""The layout the Handles and Process access views share: a list of events (one per line, a
line explaining the highlighted one above it) and, beside it (below it on narrow terminals),
the correlation tree of the highlighted event, built in a worker.

The list is read from the store once it is stored there (`tui.stored_views`: a reopen shows it
without building the model), else made from the model; so is the tree beside it: the stored
correlation tree of the line's event (`load_event_tree`, a big one a page at a time), else the
model's (`tui.correlation.correlation_roots`). `enter` in the list moves to the tree, `enter` on a
tree node jumps to its event, `tab` switches between them. Subclasses name their widgets (the
stylesheets know them by id), their columns, their stored list and their status line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, Tree
from textual.worker import get_current_worker

from core.store.store import Store
from tui.correlation import correlation_roots
from tui.list_pages import FixedRowsTable, ListFeeder, read_lines
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import MAX_TREE_NODES, NavTree, SearchInput, TreeItem
from tui.stored_views import ListedRow, ViewRows, fetch_event_children, load_event_tree
from tui.tree_views import TreeViewScreen, activate
from tui.workspace import Workspace

#: Terminals at least this wide show the tree beside the list; narrower ones below it.
WIDE = 140


class ListTable(FixedRowsTable):
    """A view's list (j/k move like everywhere else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class ListTreeScreen(TreeViewScreen):
    """See the module docstring. Subclasses set the class variables and `status_text`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]
    TITLE_TEXT = ""
    #: Widget ids: (body, table, tree, why line).
    IDS: ClassVar[tuple[str, str, str, str]] = ("", "", "", "")
    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = ()
    #: The list's name in the store and the most lines shown.
    STORED_LIST = ""
    MAX_ROWS = 20_000
    TABLE_CLASS: ClassVar[type[ListTable]] = ListTable

    @dataclass
    class Listed(Message):
        """The list (from the store or the model): what it counts, its (first) lines, or why
        none; `lines`: how many lines it has (None: `rows`); `token` names the list its
        `More` pages belong to."""

        total: int
        rows: list[ListedRow]
        partial: bool
        error: str | None
        lines: int | None = None
        token: object = None

    @dataclass
    class More(Message):
        """The next page of a stored list (`Listed.token`) read by the worker."""

        token: object
        rows: list[ListedRow]

    @dataclass
    class TreeReady(Message):
        """The worker's correlation tree of the event `store_id` (or why there is none)."""

        store_id: int
        roots: list[TreeItem]
        error: str | None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._rows: list[ListedRow] = []
        self._shown: int | None = None
        self._token: object = None
        self._feeder: ListFeeder | None = None
        #: Whether the list was read from the store (its lines' trees are read from there too).
        self._stored = False

    def compose(self) -> ComposeResult:
        body, table, tree, why = self.IDS
        with Vertical():
            yield Static(Text(self.TITLE_TEXT), id="view-title", classes="view-title")
            yield Static(Text("building the correlation model..."), id="view-status", classes="view-status")
            yield Static(Text(""), id=why, classes="view-status")
            with Container(id=body):
                yield self.TABLE_CLASS(id=table, cursor_type="row", zebra_stripes=False)
                yield NavTree(id=tree)
            yield SearchInput(placeholder="search the tree", id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        table = self.query_one(ListTable)
        for heading, width in self.COLUMNS:
            table.add_column(heading, width=width)
        self._feeder = ListFeeder(self, table, lambda row: row.cells)
        table.focus()
        self._layout(self.size.width)
        self._follow_model_progress()
        self._load()

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one(f"#{self.IDS[0]}").set_class(width >= WIDE, "-wide")

    def action_switch_pane(self) -> None:
        table = self.query_one(ListTable)
        tree = self.query_one(NavTree)
        (tree if table.has_focus else table).focus()

    def search_tree(self) -> NavTree | None:
        return self.query_one(NavTree)

    # -- the list --------------------------------------------------------------------------

    def build_rows(self, model: Any) -> ViewRows:
        """What the list is made of, from the model (subclasses)."""
        raise NotImplementedError

    def status_text(self, total: int, lines: int) -> str:
        """The status line for a list counting `total` with `lines` lines shown (subclasses)."""
        raise NotImplementedError

    def _from_model(self, model: Any) -> tuple[int, list[ListedRow]]:
        built = self.build_rows(model)
        return built.total, list(built.rows or ())[: self.MAX_ROWS]

    @work(thread=True, exclusive=True, group="list-view")
    def _load(self) -> None:
        ws = self.workspace
        worker = get_current_worker()
        try:
            if ws.stored_view(self.STORED_LIST, self.build_rows):
                # The first page is shown while the rest is read (`tui.list_pages`).
                token = object()
                with Store(ws.require_store(), readonly=True) as store:
                    for page, (total, lines, rows) in enumerate(read_lines(store, self.STORED_LIST, self.MAX_ROWS)):
                        if worker.is_cancelled:
                            return
                        if not page:
                            self._stored = True
                            self.post_message(self.Listed(total, list(rows), False, None, lines, token))
                        else:
                            self.post_message(self.More(token, list(rows)))
                return
        except ViewDataError as exc:
            self.post_message(self.Listed(0, [], not ws.loaded, str(exc)))
            return
        ws.request_model(self, self._from_model)

    def on_model_ready(self, message: ModelReady[tuple[int, list[ListedRow]]]) -> None:
        if message.error or message.model is None or message.prepared is None:
            self._fill(self.Listed(0, [], message.partial, message.error or "no correlation model"))
            return
        total, rows = message.prepared
        self._fill(self.Listed(total, rows, message.partial, None))

    def on_list_tree_screen_listed(self, message: ListTreeScreen.Listed) -> None:
        self._fill(message)

    def on_list_tree_screen_more(self, message: ListTreeScreen.More) -> None:
        if message.token is self._token and self._feeder is not None:
            self._rows.extend(message.rows)
            self._feeder.more()

    def _fill(self, listed: ListTreeScreen.Listed) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(ListTable)
        assert self._feeder is not None
        self._rows = []
        self._shown = None
        self._token = listed.token
        if listed.error:
            self._feeder.reset([], 0)
            status.update(Text(listed.error, style="bold"))
            return
        self._rows = list(listed.rows)
        self._feeder.reset(self._rows, self.MAX_ROWS, listed.lines)
        lines = len(self._rows) if listed.lines is None else min(listed.lines, self.MAX_ROWS)
        text = self.status_text(listed.total, lines)
        if listed.partial:
            text += "   (still loading: the list will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(text + "   enter: to the tree"))
        if not listed.partial:  # shown: now the tables can be written for the next open
            self.workspace.store_views_later(self.STORED_LIST, self.build_rows)
        if self._rows:
            table.move_cursor(row=0)
            self._show(0)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_row(self) -> ListedRow | None:
        """The highlighted line of the list."""
        table = self.query_one(ListTable)
        row = table.cursor_row
        return self._rows[row] if 0 <= row < min(len(self._rows), table.row_count) else None

    def selected_store_id(self) -> int | None:
        """The highlighted line's event while the list has focus, else the tree node's."""
        if self.query_one(ListTable).has_focus:
            row = self.selected_row()
            return row.store_id if row is not None else None
        return super().selected_store_id()

    # -- the tree --------------------------------------------------------------------------

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self._rows):
            return
        item = self._rows[row]
        self.query_one(f"#{self.IDS[3]}", Static).update(item.why)
        if item.store_id is None or item.store_id == self._shown:
            return
        self._shown = item.store_id
        self._build_tree(item.store_id)

    @work(thread=True, exclusive=True, group="list-view-tree")
    def _build_tree(self, store_id: int) -> None:
        worker = get_current_worker()
        try:
            with Store(self.workspace.require_store(), readonly=True) as store:
                kept = load_event_tree(store, store_id, MAX_TREE_NODES) if self._stored else None
                stored = store.get(store_id) if kept is None else None
            if kept is not None:
                message = self.TreeReady(store_id, kept[0], None)
            else:
                if stored is None:
                    raise ViewDataError(f"no event with store id {store_id}")
                model, _partial = self.workspace.model()
                message = self.TreeReady(store_id, correlation_roots(model, stored), None)
        except ViewDataError as exc:
            message = self.TreeReady(store_id, [], str(exc))
        except Exception as exc:
            message = self.TreeReady(store_id, [], f"correlation failed: {type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.post_message(message)

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        return fetch_event_children(self.workspace.require_store(), parent, -1 if after is None else after)

    def on_list_tree_screen_tree_ready(self, message: ListTreeScreen.TreeReady) -> None:
        if message.store_id != self._shown:
            return  # the cursor moved on meanwhile
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error:
            tree.root.add_leaf(Text(message.error, style="bold"))
            return
        tree.fill(message.roots, expand_depth=2)
        tree.move_cursor_to_line(0)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
