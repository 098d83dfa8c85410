"""The Sessions view: every logon session as one compact row, and the selected one's details
and processes in a tree below.

A session is (computer, logon id) from its 4624 to its 4634/4647 (`core.correlate.sessions`, via the
correlation model); a 4672 marks it privileged. Logon ids are unique only until a reboot, so a
process belongs to the session with its logon id on its computer that began last before it
(never to one on another computer). SYSTEM (0x3e7), LOCAL SERVICE (0x3e5) and NETWORK SERVICE
(0x3e4) have no 4624 (they begin at boot): their processes are one "well-known" row rather than
shown as missing. The list holds what an analyst scans for (start, computer, user, type, source,
auth, privileged, processes, end); the tree the rest (`tui.session_detail`). `enter` moves from
the list to the tree, and on a tree node jumps to its event.

Once shown from the model, the list (cells, what `/` searches) and each line's tree are stored with
the log (`stored_sessions`, `tui.stored_views`): a reopen shows both, without building the model.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, Tree

from core.correlate.model import CorrelationModel
from core.correlate.process_table import ProcessesAt
from core.correlate.sessions import Session
from core.model.text import one_line, printable
from core.model.values import hex_id
from core.store.store import Store
from tui.list_pages import Lines, MadeLines, StoredLines, read_first
from tui.list_tree_view import BUILDING
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import NavTree, SearchInput, TreeItem, ViewNode
from tui.session_detail import SessionRow, linked_index, linked_session, session_tree, type_text, when
from tui.session_rows import (
    SessionRows,
    orphan_rows,
    session_counts,
    session_order,
    sessions_in_order,
    status_text,
)
from tui.stored_links import links_tree
from tui.stored_views import TREE_LINES, MadeRows, StoredRow, ViewRows, load_info, load_subtree
from tui.tree_views import READING, TreeViewScreen, activate
from tui.wide_table import WideTable
from tui.workspace import Workspace

#: (heading, width) of the list's columns: fixed widths keep the layout stable; cells are cut
#: with an ellipsis. Start, computer, user and type fit in 80 columns; the rest scroll.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Start (UTC)", 19),
    ("Computer", 18),
    ("User", 20),
    ("Type", 20),
    ("Source", 15),
    ("Auth", 9),
    ("Privileged", 10),
    ("Processes", 9),
    ("End (UTC)", 19),
)


SEARCH_HINT = "search: in the list, the sessions (user, address, logon id...); in the tree, its lines"


def _time_cell(text: str) -> str:
    return text[:19].replace("T", " ")


def privileged_text(session: Session | None) -> str:
    """`yes` (a 4672 for the logon), `elevated` (an elevated token without a 4672), `no`."""
    if session is None:
        return "-"
    if session.privileged:
        return "yes"
    return "elevated" if session.elevated_token else "no"


#: Cells already made, by (column, text): most cells repeat (computers, users, types, packages),
#: and making a `Text` is most of a row's cost (20,000 rows: 5.5 s without, see `_listed`).
CellCache = dict[tuple[int, str], Text]


#: The columns whose cells are each row's own (start, end): not shared, so not remembered.
_OWN = frozenset((0, 8))


def row_cells(row: SessionRow, cache: CellCache | None = None) -> tuple[Text, ...]:
    """The cells of one row, in `COLUMNS` order (log text literal, cut to the column). Equal
    cells may be one shared `Text` (`cache`): the table only reads them."""
    s = row.session
    if s is None:
        start, kind, source, auth, end = "before the log", "-", "-", "-", "-"
    else:
        start = _time_cell(when(s.logon)) if s.logon is not None else "no 4624"
        kind = type_text(s.logon_type)
        source = s.remote_ip or s.workstation or s.ip or "-"
        auth = s.lm_package or s.auth_package or "-"
        end = _time_cell(when(s.end)) if s.end is not None else "still open"
    cells = (start, row.computer, row.user, kind, source, auth, privileged_text(s), f"{len(row.processes):,}", end)
    memo: CellCache = {} if cache is None else cache
    out: list[Text] = []
    for column, value in enumerate(cells):
        text = memo.get((column, value))
        if text is None:
            text = Text(one_line(value, COLUMNS[column][1]))
            if column not in _OWN:
                memo[(column, value)] = text
            if column == 6 and value == "yes":
                text.stylize("bold red")
            elif column == 7:
                text.justify = "right"
        out.append(text)
    return tuple(out)


def row_text(row: SessionRow) -> str:
    """What `/` in the list searches: the row's whole values, not the cut cells."""
    s = row.session
    parts = [f"{hex_id(row.logon_id)}", row.computer, row.user]
    if s is not None:
        parts += [s.ip or "", s.workstation or "", s.auth_package or "", s.lm_package or "", s.logon_type or "",
                  type_text(s.logon_type), s.logon_process or "", s.user_sid or "", privileged_text(s)]
    return " ".join(parts)


def session_rows(model: CorrelationModel, limit: int | None = None) -> list[SessionRow]:
    """Every session, and every logon id with processes but no session, in time order (those
    with no session first: they began before the log); only the first `limit` rows when given
    (the others are not made). The view lists them all as `SessionRows` (made when read)."""
    procs = model.processes
    rows = orphan_rows(model)
    if limit is None:
        listed: Sequence[Session] = sessions_in_order(model)
    else:  # the same first rows as sorting them all, holding only those
        rows = rows[:limit]
        listed = heapq.nsmallest(limit - len(rows), model.sessions, key=session_order)
    for s in listed:
        rows.append(SessionRow(s, s.computer, s.logon_id, ProcessesAt(procs, s.processes)))
    return rows


@dataclass(frozen=True, slots=True)
class SessionLine:
    """One line of the list: its 4624, its cells, what `/` searches. From the model it holds
    its row and the session of its linked logon (its tree is made of them); from the store
    neither (its tree is read from there, by its position)."""

    store_id: int | None
    cells: tuple[Text, ...]
    search: str
    row: SessionRow | None = None
    linked: Session | None = None

    @property
    def why(self) -> Text:
        """(`tui.stored_views.ListedRow`: the view has no line explaining a row.)"""
        return Text("")

    @property
    def extra(self) -> dict[str, str]:
        """What is stored with the line besides its cells."""
        return {"search": self.search}


#: What the list is made of: its lines, how many rows and computers in all, how many logon
#: events are in no session (`_counts`).
Listed = tuple[list[SessionLine], int, int, int]
#: The same, each line made when first drawn or searched (`MadeLines`).
Made = tuple[MadeLines[SessionLine], int, int, int]


def _listed(model: CorrelationModel) -> Listed:
    """The lines listed, all made (what is stored), and how many rows and computers there are."""
    made, total, computers, unreadable = _made(model)
    return [line for line in map(made.line, range(made.count)) if line is not None], total, computers, unreadable


def _made(model: CorrelationModel) -> Made:
    """In the worker: the lines listed (each made when first drawn or searched: the view shows
    at once), and how many rows and computers there are."""
    rows = SessionRows(model)
    total, computers, unreadable = session_counts(model)
    return MadeLines(rows, _line_maker(linked_index(model)), lambda line: line.cells), total, computers, unreadable


def _line_maker(index: dict[tuple[str, int], list[Session]]) -> Callable[[SessionRow], SessionLine]:
    """How each line is made (`index`: `linked_index` of the lines' rows; equal cells shared)."""
    cache: CellCache = {}

    def make(row: SessionRow) -> SessionLine:
        return SessionLine(row.store_id, row_cells(row, cache), row_text(row), row, linked_session(index, row.session))

    return make


def line_tree(line: SessionLine) -> list[TreeItem]:
    """The tree of a line made from the model (empty for a line read from the store)."""
    return session_tree(line.row, line.linked) if line.row is not None else []


#: The name of the list and of its trees in the store.
STORED = "sessions"


def stored_sessions(model: CorrelationModel) -> ViewRows:
    """What the view stores: every line, and for the first TREE_LINES lines a top-level node
    each holding its tree (as the other lists: a tree per line of a log with 359,000 sessions
    made its store 1.67x the log instead of 1.19x), made as the tables are written, one line's at
    a time (20,000 lines made up front, with every session's row for their order, took 20 MB at
    36,000 sessions). A reopened line beyond them shows its 4624's stored links."""
    rows = SessionRows(model)
    total, computers, unreadable = session_counts(model)
    index = linked_index(model)
    trees = (ViewNode("session", children=tuple(session_tree(row, linked_session(index, row.session))))
             for row in itertools.islice(rows, TREE_LINES))
    return ViewRows(tree=trees, rows=MadeRows(rows, _line_maker(index), _row_store_id), total=total,
                    info={"computers": computers, "unreadable": unreadable})


def _row_store_id(row: SessionRow) -> int | None:
    return row.store_id


def _search_of(extra: Any) -> str:
    """What `/` searches in a stored line (its `SessionLine.extra`, read back)."""
    return str(extra.get("search", "")) if isinstance(extra, dict) else ""


def _stored_line(row: StoredRow) -> SessionLine:
    return SessionLine(row.store_id, row.cells, _search_of(row.extra))


class SessionsTable(WideTable):
    """The session list (j/k move like everywhere else; left/right scroll a column at a time:
    at 80 columns the last five are out of view)."""


class SessionsScreen(TreeViewScreen):
    """Logon sessions, one row each; the selected one's details and processes below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]
    #: The list's (and its trees') name in the store, as the other list views name theirs.
    STORED_LIST = STORED

    @dataclass
    class StoredListed(Message):
        """The list read from the store: what it counts, its line count and first lines (the
        rest are read as they are drawn)."""

        total: int
        computers: int
        unreadable: int
        count: int
        first: list[SessionLine]

    class Building(Message):
        """The list is not stored: the worker builds the model (the status says so)."""

    @dataclass
    class StoredTree(Message):
        """The tree of line `line`, read from the store (or why it could not be)."""

        line: int
        items: list[TreeItem]
        error: str | None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._lines: Lines[SessionLine] | None = None
        self._shown: int | None = None
        self._status = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Logon sessions"), id="view-title", classes="view-title")
            yield Static(Text(READING), id="view-status", classes="view-status")
            yield SessionsTable(id="sessions-table", cursor_type="row", zebra_stripes=False)
            yield NavTree(id="sessions-tree")
            yield SearchInput(placeholder=SEARCH_HINT, id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        table = self.query_one(SessionsTable)
        for heading, width in COLUMNS:
            table.add_column(heading, width=width)
        table.focus()
        self._load()

    def action_switch_pane(self) -> None:
        table = self.query_one(SessionsTable)
        tree = self.query_one(NavTree)
        (tree if table.has_focus else table).focus()

    def search_tree(self) -> NavTree | None:
        return self.query_one(NavTree)

    #: Whether `/` was pressed in the list (it then searches the rows, not the tree).
    _search_list = False

    def action_search(self) -> None:
        self._search_list = self.query_one(SessionsTable).has_focus
        super().action_search()

    def action_search_next(self, forward: bool = True) -> None:
        """In the list: the next row (wrapping) whose session holds the text: its cells, logon
        id, full account, address or workstation (any case); in the tree: as every view."""
        if not self._search_list:
            super().action_search_next(forward)
            return
        text, lines = self._search_text, self._lines
        start = self.query_one(SessionsTable).cursor_row
        if not text or lines is None or not lines.count:
            return
        if isinstance(lines, StoredLines):  # over every stored line, also those not read yet
            lines.find(start, forward, text, "search", lambda found: self._found(text, found))
            return
        if isinstance(lines, MadeLines):  # every line made to be tested: in a worker
            self._find_made(lines, start, forward, text)

    @work(thread=True, exclusive=True, group="sessions-find")
    def _find_made(self, lines: MadeLines[SessionLine], start: int, forward: bool, text: str) -> None:
        needle = text.lower()
        found = lines.find(start, forward, lambda line: needle in line.search.lower())
        if self._lines is lines:
            self.app.call_from_thread(self._found, text, found)

    def _found(self, text: str, index: int | None) -> None:
        if index is None:
            self.notify(f"not found: {printable(text)}", severity="warning", markup=False)
            return
        table = self.query_one(SessionsTable)
        table.move_cursor(row=index)
        table.focus()

    @work(thread=True, exclusive=True, group="sessions")
    def _load(self) -> None:
        ws = self.workspace
        try:
            if ws.stored_view(STORED, stored_sessions):
                # Its line count and first page: the rest is read as it is drawn (`tui.list_pages`).
                with Store(ws.require_store(), readonly=True) as store:
                    info: Any = load_info(store, STORED)
                    computers = int(info.get("computers", 0)) if isinstance(info, dict) else 0
                    unreadable = int(info.get("unreadable", 0)) if isinstance(info, dict) else 0
                    total, count, rows = read_first(store, STORED)
                self.post_message(self.StoredListed(total, computers, unreadable, count,
                                                    [_stored_line(r) for r in rows]))
                return
        except ViewDataError as exc:
            self.post_message(ModelReady[Made](None, not ws.loaded, str(exc)))
            return
        self.post_message(self.Building())
        ws.request_model(self, _made)

    def on_sessions_screen_building(self, _message: SessionsScreen.Building) -> None:
        self.query_one("#view-status", Static).update(Text(BUILDING))
        self._follow_model_progress()

    def on_model_ready(self, message: ModelReady[Made]) -> None:
        if message.error or message.model is None or message.prepared is None:
            self._fill(None, 0, 0, 0, message.partial, message.error or "no correlation model")
            return
        lines, total, computers, unreadable = message.prepared
        self._fill(lines, total, computers, unreadable, message.partial)
        if not message.partial:  # shown: now the tables can be written for the next open
            self.workspace.store_views_later(STORED, stored_sessions)

    def on_sessions_screen_stored_listed(self, message: SessionsScreen.StoredListed) -> None:
        reader = self.query_one(SessionsTable).reader(self.workspace.require_store())
        lines = StoredLines(reader, STORED, message.count, message.first, _stored_line, lambda line: line.cells)
        self._fill(lines, message.total, message.computers, message.unreadable, False)

    def _fill(self, lines: Lines[SessionLine] | None, total: int, computers: int, unreadable: int, partial: bool,
              error: str | None = None) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(SessionsTable)
        place = self.workspace.view_places.get(STORED, 0)  # (where it was left: before the new lines move it)
        self._lines, self._shown, self._status = lines, None, ""
        table.show_lines(lines)
        if lines is None:
            status.update(Text(printable(error or "no correlation model"), style="bold"))
            return
        lines.changed.append(self._lines_in)
        text = status_text(total, computers, lines.count, unreadable)
        if partial:
            text += "   (still loading: the list will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        self._status = text + "   enter: to the tree"
        self.call_after_refresh(self._show_status)
        if lines.count:
            at = min(place, lines.count - 1)
            table.move_cursor(row=at)
            self._show(at)

    def _lines_in(self) -> None:
        """Lines read from the store: the highlighted one may be among them."""
        self._show(self.query_one(SessionsTable).cursor_row)

    def _show_status(self) -> None:
        """The status line, saying that left/right reach the columns out of view (if any)."""
        if not self._status:
            return
        hint = "   left/right: columns" if self.query_one(SessionsTable).columns_hidden else ""
        self.query_one("#view-status", Static).update(Text(self._status + hint))

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_status)

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        row = self.query_one(SessionsTable).cursor_row  # (now: see `ListTreeScreen._highlighted`)
        if self._lines is not None and self._lines.count:
            self.workspace.view_places[STORED] = row
        self._show(row)

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_row(self) -> SessionLine | None:
        """The highlighted line (None while it is not read yet)."""
        row = self.query_one(SessionsTable).cursor_row
        return self._lines.line(row) if self._lines is not None else None

    def selected_store_id(self) -> int | None:
        """The highlighted session's 4624 while the list has focus, else the tree node's event."""
        if self.query_one(SessionsTable).has_focus:
            row = self.selected_row()
            return row.store_id if row is not None else None
        return super().selected_store_id()

    def _show(self, number: int) -> None:
        """Fill the tree with row `number`'s details (small: its processes are cut to their
        edges): made from the model, or read from the store in a worker."""
        if number == self._shown:
            return
        line = self._lines.line(number) if self._lines is not None else None
        if line is None:
            return  # not read yet: shown once it is (`_lines_in`)
        self._shown = number
        if line.row is None:
            self._read_tree(number, line.store_id)
            return
        self._show_tree(line_tree(line))

    def _show_tree(self, items: list[TreeItem]) -> None:
        tree = self.query_one(NavTree)
        tree.clear()
        tree.fill(items, expand_depth=1)
        tree.move_cursor_to_line(0)

    @work(thread=True, exclusive=True, group="sessions-tree")
    def _read_tree(self, number: int, store_id: int | None) -> None:
        try:
            with Store(self.workspace.require_store(), readonly=True) as store:
                items = load_subtree(store, STORED, number)
                stored = store.get(store_id) if not items and store_id is not None else None
                if stored is not None:  # a line beyond the stored trees: its logon's links
                    items = links_tree(store, stored)
                elif not items:
                    items = [ViewNode("no tree is stored for this line (a logon id without a 4624)")]
                message = self.StoredTree(number, items, None)
        except Exception as exc:  # the tree says why instead of the worker dying
            message = self.StoredTree(number, [], f"session not read: {type(exc).__name__}: {exc}")
        self.post_message(message)

    def on_sessions_screen_stored_tree(self, message: SessionsScreen.StoredTree) -> None:
        if message.line != self._shown:
            return  # the cursor moved on meanwhile
        if message.error:
            tree = self.query_one(NavTree)
            tree.clear()
            tree.root.add_leaf(Text(message.error, style="bold"))
            return
        self._show_tree(message.items)

    @on(Tree.NodeSelected, "#sessions-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
