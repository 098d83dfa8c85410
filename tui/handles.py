"""The Handles view: every 4690 (handle duplicated) with its source and target processes named,
and beside it the correlation tree of the selected one.

The list comes from `model.handle_duplications()` (`core.correlate.model`): each row already names
the process instances the engine resolved (by computer + pid + time, never by pid alone), and
how sure that is, as a word. Moving the cursor builds the selected 4690's tree (source process
with its parent, source handle and object with its accesses and close, target process, target
handle, logon session, related events) in a worker; `enter` in the list moves to the tree and
`enter` on a tree node jumps to its event in the event table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, Tree
from textual.worker import get_current_worker

from core.correlate.model import CorrelationModel, Duplication, HandleLink, ProcessLink
from core.model.event import iso_from_filetime
from core.model.text import one_line, printable
from core.store.store import Store
from tui.correlation import correlation_roots, event_heading
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import NavTree, SearchInput, TreeItem, confidence_text
from tui.tree_views import TreeViewScreen, activate
from tui.workspace import Workspace

#: Rows shown at most (a log with millions of 4690s still opens; the status line says so).
MAX_ROWS = 20_000
#: Terminals at least this wide show the tree beside the list; narrower ones below it.
WIDE = 140
#: Confidence words from strongest to weakest (a row shows its weakest link).
ORDER = ("exact", "inferred", "ambiguous", "missing")


def weakest(*confidences: str | None) -> str:
    words = [c for c in confidences if c]
    if not words:
        return ""
    return max(words, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER))


def _pid(value: int | None) -> str:
    return "?" if value is None else f"0x{value:x}"


#: (heading, width) of the list's columns: fixed widths keep the layout stable while rows
#: arrive; cells are cut with an ellipsis. The link word and both processes and handles come
#: first so that they fit in 80 columns (the list is 80 wide beside the tree at 160 too: the
#: target showed as "Ta"/"Sy" behind the time); time, record and computer follow.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Link", 9),
    ("Source process", 20),
    ("Handle", 7),
    ("Target process", 18),
    ("Handle", 7),
    ("Time (UTC)", 19),
    ("Record", 8),
    ("Computer", 24),
)


def process_cell(link: ProcessLink, width: int) -> Text:
    """`lsass.exe 0x2a8`: the resolved image name (literal, cut to fit) and its pid."""
    pid = _pid(link.pid)
    name = printable(link.name or "?")
    return Text(one_line(name, max(4, width - len(pid) - 1)) + " " + pid)


def _links(dup: Duplication) -> list[tuple[str, str, ProcessLink | HandleLink]]:
    """(role, what, link) of the four links a 4690 row stands on, in reading order."""
    def handle(link: HandleLink) -> str:
        return "handle " + _pid(link.handle_id)

    def process(link: ProcessLink) -> str:
        return printable(link.name or "?") + " " + _pid(link.pid)

    return [
        ("source process", process(dup.source), dup.source),
        ("source handle", handle(dup.source_handle), dup.source_handle),
        ("target process", process(dup.target), dup.target),
        ("target handle", handle(dup.target_handle), dup.target_handle),
    ]


def weakest_link(dup: Duplication) -> tuple[str, Text]:
    """The row's link word (its weakest link's) and the line that says which link that is and
    why: the tree's top node is the 4690 itself (exact), so "inferred" in the list needs its
    reason, e.g. `inferred: source handle handle 0x44 - opened after the 4690`."""
    links = _links(dup)
    word = weakest(*(link.confidence for _r, _w, link in links))
    text = Text("weakest link: ")
    if not word:
        return word, text
    if word == "exact":
        text.append("every link is exact (both processes and both handles)")
        return word, text
    role, what, link = next(item for item in links if item[2].confidence == word)
    badge = confidence_text(word)
    badge.rstrip()  # (in place) the badge is padded for the column
    text.append_text(badge)
    text.append(f": {role} {what}")
    reason = link.reason
    if reason:
        text.append(" - " + printable(reason))
    return word, text


def duplication_row(dup: Duplication) -> tuple[Text, ...]:
    """The cells of one 4690 row, in `COLUMNS` order."""
    ref = dup.event
    when = iso_from_filetime(ref.filetime)
    link, _why = weakest_link(dup)
    return (
        confidence_text(link),
        process_cell(dup.source, COLUMNS[1][1]),
        Text(_pid(dup.source_handle.handle_id)),
        process_cell(dup.target, COLUMNS[3][1]),
        Text(_pid(dup.target_handle.handle_id)),
        Text(when[:19].replace("T", " ") if when else "no time"),
        Text(one_line(str(ref.record_id), COLUMNS[6][1])),
        Text(one_line(printable(str(dup.computer)), COLUMNS[7][1])),
    )


class HandlesTable(DataTable[Text]):
    """The 4690 list (j/k move like everywhere else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


#: What the worker makes of the model: how many 4690s, the ones listed and their rows.
Listed = tuple[int, list[Duplication], list[tuple[Text, ...]]]


def _listed(model: CorrelationModel) -> Listed:
    """In the worker: how many 4690s, the first MAX_ROWS of them and their table rows."""
    dups = list(model.handle_duplications())
    shown = dups[:MAX_ROWS]
    return len(dups), shown, [tuple(duplication_row(dup)) for dup in shown]


class HandlesScreen(TreeViewScreen):
    """4690 events with their resolved processes; the selected one's correlation tree beside."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]

    @dataclass
    class TreeReady(Message):
        """The worker's correlation tree of the 4690 `store_id` (or why there is none)."""

        store_id: int
        heading: Text | None
        roots: list[TreeItem]
        error: str | None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._dups: list[Duplication] = []
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Handles: 4690 handle duplications"), id="view-title", classes="view-title")
            yield Static(Text("building the correlation model..."), id="view-status", classes="view-status")
            yield Static(Text(""), id="handles-why", classes="view-status")
            with Container(id="handles-body"):
                yield HandlesTable(id="handles-table", cursor_type="row", zebra_stripes=False)
                yield NavTree(id="handles-tree")
            yield SearchInput(placeholder="search the tree", id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        table = self.query_one(HandlesTable)
        for heading, width in COLUMNS:
            table.add_column(heading, width=width)
        table.focus()
        self._layout(self.size.width)
        self._follow_model_progress()
        self._load()

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one("#handles-body").set_class(width >= WIDE, "-wide")

    def action_switch_pane(self) -> None:
        table = self.query_one(HandlesTable)
        tree = self.query_one(NavTree)
        (tree if table.has_focus else table).focus()

    def search_tree(self) -> NavTree | None:
        return self.query_one(NavTree)

    # -- the list --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="handles")
    def _load(self) -> None:
        self.workspace.request_model(self, _listed)

    def on_model_ready(self, message: ModelReady[Listed]) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(HandlesTable)
        table.clear()
        self._dups = []
        self._shown = None
        if message.error or message.model is None or message.prepared is None:
            status.update(Text(message.error or "no correlation model", style="bold"))
            return
        total, self._dups, rows = message.prepared
        for index, row in enumerate(rows):
            table.add_row(*row, key=str(index))
        text = f"{total:,} handle duplications (4690)"
        if total > MAX_ROWS:
            text += f", the first {MAX_ROWS:,} shown"
        if not total:
            text += ": none in this log"
        if message.partial:
            text += "   (still loading: the list will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(text + "   enter: to the tree"))
        if self._dups:
            table.move_cursor(row=0)
            self._show(0)

    @on(DataTable.RowHighlighted, "#handles-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(DataTable.RowSelected, "#handles-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_store_id(self) -> int | None:
        """The highlighted 4690 while the list has focus, else the tree node's event."""
        if self.query_one(HandlesTable).has_focus:
            dup = self.selected_duplication()
            return int(dup.event.store_id) if dup is not None else None
        return super().selected_store_id()

    def selected_duplication(self) -> Duplication | None:
        row = self.query_one(HandlesTable).cursor_row
        return self._dups[row] if 0 <= row < len(self._dups) else None

    # -- the tree --------------------------------------------------------------------------

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self._dups):
            return
        dup = self._dups[row]
        why = weakest_link(dup)[1]
        obj = str(getattr(dup, "object_name", "") or "")
        if obj:  # what the handle is to (a process handle names the target image)
            why.append(f"   object: {printable(obj)}")
        self.query_one("#handles-why", Static).update(why)
        store_id = int(dup.event.store_id)
        if store_id == self._shown:
            return
        self._shown = store_id
        self._build_tree(store_id)

    @work(thread=True, exclusive=True, group="handles-tree")
    def _build_tree(self, store_id: int) -> None:
        worker = get_current_worker()
        try:
            model, _partial = self.workspace.model()
            store = Store(self.workspace.require_store(), readonly=True)
            try:
                stored = store.get(store_id)
            finally:
                store.close()
            if stored is None:
                raise ViewDataError(f"no event with store id {store_id}")
            heading = event_heading(stored)
            roots = correlation_roots(model, stored)
            message = self.TreeReady(store_id, heading, roots, None)
        except ViewDataError as exc:
            message = self.TreeReady(store_id, None, [], str(exc))
        except Exception as exc:
            reason = f"correlation failed: {type(exc).__name__}: {exc}"
            message = self.TreeReady(store_id, None, [], reason)
        if not worker.is_cancelled:
            self.post_message(message)

    def on_handles_screen_tree_ready(self, message: HandlesScreen.TreeReady) -> None:
        if message.store_id != self._shown:
            return  # the cursor moved on meanwhile
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error:
            tree.root.add_leaf(Text(message.error, style="bold"))
            return
        tree.fill(message.roots, expand_depth=2)
        tree.move_cursor_to_line(0)

    @on(Tree.NodeSelected, "#handles-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
