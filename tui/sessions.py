"""The Sessions view: every logon session as one compact row, and the selected one's details
and processes in a tree below.

A session is (computer, logon id) from its 4624 to its 4634/4647 (`core.correlate.sessions`, via the
correlation model); a 4672 marks it privileged. Logon ids are unique only until a reboot, so a
process belongs to the session with its logon id on its computer that began last before it
(never to one on another computer). SYSTEM (0x3e7), LOCAL SERVICE (0x3e5) and NETWORK SERVICE
(0x3e4) have no 4624 (they begin at boot): their processes are one "well-known" row rather than
shown as missing. The list holds what an analyst scans for (start, computer, user, type, source,
auth, privileged, processes, end); the tree the rest (`tui.session_detail`). `enter` in the list
moves to the tree, `enter` on a tree node jumps to its event.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static, Tree

from core.correlate.model import CorrelationModel, session_start
from core.correlate.sessions import Session
from core.model.text import one_line, printable
from tui.messages import ModelReady
from tui.nav_tree import NavTree, SearchInput, TreeItem
from tui.session_detail import SessionRow, session_tree, type_text, when
from tui.tree_views import TreeViewScreen, activate
from tui.workspace import Workspace

#: Rows shown at most (a domain controller logs a network logon every few seconds; the status
#: line says when the list is cut).
MAX_ROWS = 20_000

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


def plural(count: int, word: str) -> str:
    """`1 computer`, `2 computers`, `1,234 computers` (headers count what the view lists)."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


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
            text = memo[(column, value)] = Text(one_line(value, COLUMNS[column][1]))
            if column == 6 and value == "yes":
                text.stylize("bold red")
            elif column == 7:
                text.justify = "right"
        out.append(text)
    return tuple(out)


def row_text(row: SessionRow) -> str:
    """What `/` in the list searches: the row's whole values, not the cut cells."""
    s = row.session
    parts = [f"0x{row.logon_id:x}", row.computer, row.user]
    if s is not None:
        parts += [s.ip or "", s.workstation or "", s.auth_package or "", s.lm_package or "", s.logon_type or "",
                  type_text(s.logon_type), s.logon_process or "", s.user_sid or "", privileged_text(s)]
    return " ".join(parts)


#: What the worker makes of the model: every row (the first MAX_ROWS with their cells), how
#: many computers, and each session by (computer, logon id) for the linked-logon lookup.
Listed = tuple[list[SessionRow], list[tuple[Text, ...]], int, dict[tuple[str, int], list[Session]]]


def session_rows(model: CorrelationModel) -> list[SessionRow]:
    """Every session, and every logon id with processes but no session, in time order (those
    with no session first: they began before the log)."""
    procs = model.processes
    _by_session, orphans = model.session_processes()
    rows = [SessionRow(None, computer, lid, tuple(items))
            for (computer, lid), items in sorted(orphans.items(), key=lambda kv: (kv[0][0].casefold(), kv[0][1]))]
    for s in sorted(model.sessions, key=lambda s: (session_start(s), s.index)):
        rows.append(SessionRow(s, s.computer, s.logon_id, tuple(procs[i] for i in s.processes)))
    return rows


def _listed(model: CorrelationModel) -> Listed:
    """In the worker: the rows, the cells of those listed, computers and the session index."""
    rows = session_rows(model)
    cache: CellCache = {}
    cells = [row_cells(row, cache) for row in rows[:MAX_ROWS]]
    computers = len({row.computer.casefold() for row in rows})
    index: dict[tuple[str, int], list[Session]] = {}
    for s in model.sessions:
        index.setdefault((s.computer.casefold(), s.logon_id), []).append(s)
    return rows, cells, computers, index


class SessionsTable(DataTable[Text]):
    """The session list (j/k move like everywhere else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class SessionsScreen(TreeViewScreen):
    """Logon sessions, one row each; the selected one's details and processes below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._rows: list[SessionRow] = []
        self._index: dict[tuple[str, int], list[Session]] = {}
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Logon sessions"), id="view-title", classes="view-title")
            yield Static(Text("building the correlation model..."), id="view-status", classes="view-status")
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
        self._follow_model_progress()
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
        needle = self._search_text.lower()
        table = self.query_one(SessionsTable)
        count = len(self._rows)
        if not needle or not count:
            return
        start = table.cursor_row
        for step in range(1, count + 1):
            index = (start + step) % count if forward else (start - step) % count
            if needle in row_text(self._rows[index]).lower():
                table.move_cursor(row=index)
                table.focus()
                return
        self.notify(f"not found: {printable(self._search_text)}", severity="warning", markup=False)

    @work(thread=True, exclusive=True, group="sessions")
    def _load(self) -> None:
        self.workspace.request_model(self, _listed)

    def on_model_ready(self, message: ModelReady[Listed]) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(SessionsTable)
        table.clear()
        self._rows, self._shown = [], None
        if message.error or message.model is None or message.prepared is None:
            status.update(Text(printable(message.error or "no correlation model"), style="bold"))
            return
        rows, cells, computers, self._index = message.prepared
        self._rows = rows[:MAX_ROWS]
        for number, row in enumerate(cells):
            table.add_row(*row, key=str(number))
        text = f"{plural(len(rows), 'logon session')} on {plural(computers, 'computer')}"
        if len(rows) > MAX_ROWS:
            text += f", the first {MAX_ROWS:,} shown"
        if message.partial:
            text += "   (still loading: the list will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(text + "   enter: to the tree"))
        if self._rows:
            table.move_cursor(row=0)
            self._show(0)

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_row(self) -> SessionRow | None:
        row = self.query_one(SessionsTable).cursor_row
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def selected_store_id(self) -> int | None:
        """The highlighted session's 4624 while the list has focus, else the tree node's event."""
        if self.query_one(SessionsTable).has_focus:
            row = self.selected_row()
            return row.store_id if row is not None else None
        return super().selected_store_id()

    def _linked(self, s: Session | None) -> Session | None:
        """The session of `s`'s TargetLinkedLogonId on its computer, the one begun nearest it."""
        if s is None or s.linked_logon_id is None:
            return None
        found = self._index.get((s.computer.casefold(), s.linked_logon_id), [])
        mine = session_start(s)[0]
        return min(found, key=lambda o: abs(session_start(o)[0] - mine), default=None)

    def _show(self, number: int) -> None:
        """Fill the tree with row `number`'s details (small: its processes are cut to their edges)."""
        if not 0 <= number < len(self._rows) or number == self._shown:
            return
        self._shown = number
        row = self._rows[number]
        tree = self.query_one(NavTree)
        tree.clear()
        tree.fill(session_tree(row, self._linked(row.session)), expand_depth=1)
        tree.move_cursor_to_line(0)

    @on(Tree.NodeSelected, "#sessions-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
