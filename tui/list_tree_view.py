"""The layout the Handles and Process access views share: a list of events (one per line, a
line explaining the highlighted one above it) and, beside it (below it on narrow terminals),
the correlation tree of the highlighted event, built in a worker.

The list is read from the store once it is stored there (`tui.stored_views`: a reopen shows it
without building the model), else made from the model; either way every line of it is listed
and only the lines on screen are read or made (`tui.list_pages`); so is the tree beside it: the
stored correlation tree of the line's event (`load_event_tree`, a big one a page at a time;
stored for a list's first `TREE_LINES` lines), else the model's
(`tui.correlation.correlation_roots`) while it is in memory, else the line's links as stored
(`tui.stored_links`: a reopen never builds the model for a line's tree). `enter` in the list
moves to the tree, `enter` on a tree node jumps to its event, `tab` switches between them.
Subclasses name their widgets (the stylesheets know them by id), their columns, their stored
list and their status line.
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

from core.model.text import printable
from core.store.store import Store
from tui.correlation import correlation_roots
from tui.list_pages import Lines, MadeLines, PagedRowsTable, StoredLines, read_first
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import MAX_TREE_NODES, NavTree, SearchInput, TreeItem
from tui.stored_links import links_tree
from tui.stored_views import ListedRow, StoredRow, ViewRows, fetch_event_children, load_event_tree
from tui.tree_views import READING, TreeViewScreen, activate
from tui.workspace import Workspace

#: Terminals at least this wide show the tree beside the list; narrower ones below it.
WIDE = 140


class ListTable(PagedRowsTable):
    """A view's list (j/k move like everywhere else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


#: The status while the list is looked up in the store (`tui.tree_views.READING`), and while the
#: model is built for it.
BUILDING = "building the correlation model..."


class ListTreeScreen(TreeViewScreen):
    """See the module docstring. Subclasses set the class variables and `status_text`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]
    TITLE_TEXT = ""
    #: Widget ids: (body, table, tree, why line).
    IDS: ClassVar[tuple[str, str, str, str]] = ("", "", "", "")
    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = ()
    #: The list's name in the store.
    STORED_LIST = ""
    TABLE_CLASS: ClassVar[type[ListTable]] = ListTable

    @dataclass
    class Listed(Message):
        """The list (from the store or the model): what it counts, its lines, or why none.
        From the store: `count` lines, of which `first` are read (the rest are read as they are
        drawn); from the model: `made`, and `total` None while it is being counted."""

        total: int | None
        partial: bool
        error: str | None
        made: Lines[ListedRow] | None = None
        count: int = 0
        first: list[StoredRow] | None = None

    class Building(Message):
        """The list is not stored: the worker builds the model (the status says so)."""

    @dataclass
    class Counted(Message):
        """Worked out after the list's first lines showed: what it counts (`count_later`), and
        how many lines it has when the lines shown were only its first (`lines_later`)."""

        total: int | None
        lines: Lines[ListedRow]
        count: int | None = None

    @dataclass
    class TreeReady(Message):
        """The worker's correlation tree of the event `store_id` (or why there is none)."""

        store_id: int
        roots: list[TreeItem]
        error: str | None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._lines: Lines[ListedRow] | None = None
        self._shown: int | None = None
        #: Whether the list was read from the store (its lines' trees are read from there too).
        self._stored = False
        self._partial = False
        self._total: int | None = None
        #: Whether the lines shown are the list's first, the rest being laid out (`lines_later`).
        self._growing = False

    def compose(self) -> ComposeResult:
        body, table, tree, why = self.IDS
        with Vertical():
            yield Static(Text(self.TITLE_TEXT), id="view-title", classes="view-title")
            yield Static(Text(READING), id="view-status", classes="view-status")
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
        table.focus()
        self._layout(self.size.width)
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
        """What the list is made of, from the model (subclasses): what is stored."""
        raise NotImplementedError

    def model_lines(self, model: Any) -> tuple[int | None, Lines[ListedRow]]:
        """(what the list counts, its lines) from the model, shown before they are stored:
        subclasses make each line when it is drawn (`MadeLines`); here, all of `build_rows`."""
        built = self.build_rows(model)
        return built.total, MadeLines(list(built.rows or ()), lambda row: row, lambda row: row.cells)

    def status_text(self, total: int, lines: int) -> str:
        """The status line for a list counting `total` with `lines` lines shown (subclasses)."""
        raise NotImplementedError

    def counting_text(self, lines: int) -> str:
        """The status line while what the list counts is being worked out (`count_later`)."""
        return "counting..."

    def count_later(self, model: Any) -> int:
        """What the list counts when `model_lines` gave None (subclasses that do: in a worker)."""
        raise NotImplementedError

    def lines_pending(self, lines: Lines[ListedRow]) -> bool:
        """Whether `lines` (`model_lines`') are only the list's first, shown before the rest is
        laid out (subclasses that do so: `lines_later` then lays it out)."""
        return False

    def lines_later(self, lines: Lines[ListedRow]) -> int:
        """Lay out the rest of the list (in a worker): how many lines it has in all."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="list-view")
    def _load(self) -> None:
        ws = self.workspace
        try:
            if ws.stored_view(self.STORED_LIST, self.build_rows):
                # Its line count and first page: the rest is read as it is drawn (`tui.list_pages`).
                with Store(ws.require_store(), readonly=True) as store:
                    total, count, first = read_first(store, self.STORED_LIST)
                self._stored = True
                self.post_message(self.Listed(total, False, None, count=count, first=first))
                return
        except ViewDataError as exc:
            self.post_message(self.Listed(0, not ws.loaded, str(exc)))
            return
        self.post_message(self.Building())
        ws.request_model(self, self.model_lines)

    def on_list_tree_screen_building(self, _message: ListTreeScreen.Building) -> None:
        self.query_one("#view-status", Static).update(Text(BUILDING))
        self._follow_model_progress()

    def on_model_ready(self, message: ModelReady[tuple[int | None, Lines[ListedRow]]]) -> None:
        if message.error or message.model is None or message.prepared is None:
            self._fill(self.Listed(0, message.partial, message.error or "no correlation model"))
            return
        total, lines = message.prepared
        self._fill(self.Listed(total, message.partial, None, made=lines))

    def on_list_tree_screen_listed(self, message: ListTreeScreen.Listed) -> None:
        self._fill(message)

    def _fill(self, listed: ListTreeScreen.Listed) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(ListTable)
        place = self.workspace.view_places.get(self.STORED_LIST, 0)  # (before the new lines move it)
        self._shown = None
        if listed.error:
            self._lines = None
            table.show_lines(None)
            status.update(Text(printable(listed.error), style="bold"))
            return
        if listed.made is not None:
            lines = listed.made
        else:
            reader = table.reader(self.workspace.require_store())
            lines = StoredLines(reader, self.STORED_LIST, listed.count, listed.first or [], lambda row: row,
                                lambda row: row.cells)
        lines.changed.append(self._lines_in)
        self._lines = lines
        table.show_lines(lines)
        self._partial = listed.partial
        self._total = listed.total
        self._growing = listed.made is not None and self.lines_pending(lines)
        status.update(self._status_line(listed.total, lines.count))
        if listed.partial:
            self.set_timer(1.0, self._reload_when_loaded)
        # The count, the rest of the lines and the tables' writer start once the first screen is
        # painted: begun at once, their Python work shared the GIL with that paint (a third of
        # the Process access view's 1.5 s at ten million events went after its lines were made).
        if listed.total is None or self._growing:
            self.call_after_refresh(self._count, lines, listed.total is None)
        if not listed.partial and listed.made is not None:  # shown: now the tables can be written
            self.call_after_refresh(self.workspace.store_views_later, self.STORED_LIST, self.build_rows)
        if lines.count:
            at = min(place, lines.count - 1)
            table.move_cursor(row=at)
            self._show(at)

    def _status_line(self, total: int | None, lines: int) -> Text:
        text = self.counting_text(lines) if total is None else self.status_text(total, lines)
        if self._growing:
            text += f", the first {lines:,} lines shown: the rest being laid out..."
        if self._partial:
            text += "   (still loading: the list will be rebuilt)"
        return Text(text + "   enter: to the tree")

    @work(thread=True, exclusive=True, group="list-view-count")
    def _count(self, lines: Lines[ListedRow], total_wanted: bool) -> None:
        worker = get_current_worker()
        try:
            model, _partial = self.workspace.model()
            total = self.count_later(model) if total_wanted else None
            if total is not None and not worker.is_cancelled:  # said at once, the lines may take longer
                self.post_message(self.Counted(total, lines))
            count = self.lines_later(lines) if self._growing else None
        except ViewDataError:
            return  # the list says why when it is rebuilt
        if count is not None and not worker.is_cancelled:
            self.post_message(self.Counted(total, lines, count))

    def on_list_tree_screen_counted(self, message: ListTreeScreen.Counted) -> None:
        lines = self._lines
        if lines is None or message.lines is not lines:
            return  # another list shows now
        if message.total is not None:
            self._total = message.total
        if message.count is not None and isinstance(lines, MadeLines):
            lines.grow()
            self._growing = False
            self.query_one(ListTable).grow(lines.count)
        self.query_one("#view-status", Static).update(self._status_line(self._total, lines.count))

    def _lines_in(self) -> None:
        """Lines read from the store: the highlighted one may be among them."""
        self._show(self.query_one(ListTable).cursor_row)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        # The row the cursor is on now: a highlight posted by `show_lines` for the first row
        # comes after `_fill` moved to the line kept (`view_places`).
        row = self.query_one(ListTable).cursor_row
        if self._lines is not None and self._lines.count:
            self.workspace.view_places[self.STORED_LIST] = row
        self._show(row)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_row(self) -> ListedRow | None:
        """The highlighted line of the list (None while it is not read yet)."""
        table = self.query_one(ListTable)
        return self._lines.line(table.cursor_row) if self._lines is not None else None

    def selected_store_id(self) -> int | None:
        """The highlighted line's event while the list has focus, else the tree node's."""
        if self.query_one(ListTable).has_focus:
            row = self.selected_row()
            return row.store_id if row is not None else None
        return super().selected_store_id()

    # -- the tree --------------------------------------------------------------------------

    def _show(self, row: int) -> None:
        item = self._lines.line(row) if self._lines is not None else None
        if item is None:
            return  # not read yet: shown once it is (`_lines_in`)
        self.query_one(f"#{self.IDS[3]}", Static).update(item.why)
        if item.store_id is None or item.store_id == self._shown:
            return
        self._shown = item.store_id
        self._build_tree(item.store_id)

    @work(thread=True, exclusive=True, group="list-view-tree")
    def _build_tree(self, store_id: int) -> None:
        worker = get_current_worker()
        try:
            # Read from the store: the line's stored tree; for a line beyond the first
            # TREE_LINES none is, and the model is used only if it is in memory already
            # (building it for one line's tree took minutes at 10M events): else its links.
            model = self.workspace.built_model() if self._stored else None
            with Store(self.workspace.require_store(), readonly=True) as store:
                kept = load_event_tree(store, store_id, MAX_TREE_NODES) if self._stored else None
                stored = store.get(store_id) if kept is None else None
                if kept is None and self._stored and model is None and stored is not None:
                    kept = (links_tree(store, stored), 0)
            if kept is not None:
                message = self.TreeReady(store_id, kept[0], None)
            else:
                if stored is None:
                    raise ViewDataError(f"no event with store id {store_id}")
                if model is None:
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
            tree.root.add_leaf(Text(printable(message.error), style="bold"))
            return
        tree.fill(message.roots, expand_depth=2)
        tree.move_cursor_to_line(0)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
