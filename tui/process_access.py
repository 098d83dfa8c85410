"""The Process access view: every handle one process opened to another (Sysmon 10, Security
4656 on a Process object, both joined when they are one access), grouped by target and ranked
by risk (lsass first, rights that read memory, a non-system source, an unusual source image),
with the access decoded (PROCESS_VM_READ...) and the 4690 duplications of the handle under it.

The rows come from `model.process_accesses()` (`core.correlate.access`); moving the cursor builds
the row's correlation tree beside the list (in a worker), `enter` moves into the tree and `enter`
on a tree node jumps to its event. The app pushes `ProcessAccessScreen()` (its number key is the
app's to wire). Event data is shown literally (never as markup).
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

from core.model.event import iso_from_filetime
from core.model.text import one_line, printable
from core.store.store import Store
from tui.correlation import correlation_roots, event_heading
from tui.messages import ModelReady
from tui.model_cache import ViewDataError
from tui.nav_tree import NavTree, SearchInput, confidence_text
from tui.tree_views import TreeViewScreen, activate
from tui.workspace import Workspace

#: Rows shown at most (groups, accesses and duplications together).
MAX_ROWS = 20_000
#: Duplications listed under one access at most.
MAX_DUPLICATIONS = 50
#: Terminals at least this wide show the tree beside the list.
WIDE = 140

COLUMNS: tuple[tuple[str, int], ...] = (
    ("Risk", 5),
    ("Source process", 22),
    ("Target process", 22),
    ("Access", 10),
    ("Twin", 9),
    ("Rights", 36),
    ("Time (UTC)", 19),
    ("Record", 8),
    ("Computer", 20),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the list: a target's heading, an access, or a 4690 under an access; each
    opens the correlation of `store_id`. `why` is the line shown above the list for it."""

    store_id: int
    cells: tuple[Text, ...]
    why: Text


def _pid(value: int | None) -> str:
    return "?" if value is None else f"0x{value:x}"


def _cell(text: str, width: int) -> Text:
    return Text(one_line(printable(text), width))


def _when(ref: Any) -> Text:
    when = iso_from_filetime(ref.filetime)
    return Text(when[:19].replace("T", " ") if when else "no time")


def access_rows(groups: list[Any], limit: int = MAX_ROWS) -> tuple[int, list[Row]]:
    """(how many accesses, the list's rows): per target a heading, then its accesses riskiest
    first, each followed by the 4690s that duplicated its handle."""
    rows: list[Row] = []
    total = 0
    for group in groups:
        total += len(group.accesses)
        if len(rows) >= limit:
            continue
        first = group.accesses[0]
        heading = f"{group.target}: {len(group.accesses)} access" + ("es" if len(group.accesses) != 1 else "")
        rows.append(Row(first.evidence.store_id, (
            Text(str(group.risk), style="bold"), Text(""), Text(one_line(printable(heading), 60), style="bold"),
            Text(""), Text(""), Text(""), Text(""), Text(""), _cell(group.computer, COLUMNS[8][1]),
        ), Text(f"target {printable(group.target)} on {printable(group.computer)}: riskiest first")))
        for access in group.accesses:
            if len(rows) >= limit:
                break
            rows.append(_access_row(access))
            for ref in access.duplications[:MAX_DUPLICATIONS]:
                rows.append(Row(ref.store_id, (
                    Text(""), Text("  4690 duplicated", style="italic"), Text(""), Text(""), Text(""), Text(""),
                    _when(ref), Text(str(ref.record_id)), Text(""),
                ), Text(f"the handle of the access above, duplicated by 4690 record {ref.record_id}")))
    return total, rows[:limit]


def _access_row(access: Any) -> Row:
    src = f"{printable(access.source_name)} {_pid(access.source_pid)}"
    tgt = f"{printable(access.target_name)} {_pid(access.target_pid)}"
    twin = access.twin
    twin_word = confidence_text(twin.confidence) if twin is not None else Text("-")
    ref = access.evidence
    why = Text(f"{ref.event_id} record {ref.record_id}: ")
    why.append("; ".join(access.why_risky) or "no risk marker")
    why.append(f" | access {_pid(access.access)}: {access.rights}")
    if twin is not None:
        why.append(f" | same access as {twin.ref.event_id} record {twin.ref.record_id} ({twin.confidence}): "
                   f"{printable(twin.reason)}")
    if access.target_confidence != "exact":
        why.append(f" | target {access.target_confidence}: {printable(access.target_reason)}")
    return Row(ref.store_id, (
        Text(str(access.risk)),
        Text("  " + one_line(src, COLUMNS[1][1] - 2)),
        _cell(tgt, COLUMNS[2][1]),
        Text(_pid(access.access)),
        twin_word,
        _cell(access.rights, COLUMNS[5][1]),
        _when(ref),
        Text(str(ref.record_id)),
        _cell(access.computer, COLUMNS[8][1]),
    ), why)


def _listed(model: Any) -> tuple[int, list[Row]]:
    """In the worker: the rows of the model's process accesses."""
    return access_rows(list(model.process_accesses()))


class AccessTreeReady(Message):
    def __init__(self, store_id: int, heading: Text | None, roots: list[Any], error: str | None) -> None:
        super().__init__()
        self.store_id = store_id
        self.heading = heading
        self.roots = roots
        self.error = error


class AccessTable(DataTable[Text]):
    """The access list (j/k move like everywhere else)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class ProcessAccessScreen(TreeViewScreen):
    """Handles opened to other processes, by target and risk; the selected one's tree beside."""

    DEFAULT_CSS = """
    #access-body { layout: vertical; height: 1fr; }
    #access-body.-wide { layout: horizontal; }
    #access-table { height: auto; max-height: 45%; min-height: 4; border: round $primary 40%; }
    #access-table:focus { border: round $accent; }
    #access-body #access-tree { height: 1fr; }
    #access-body.-wide #access-table { width: 1fr; height: 1fr; max-height: 100%; }
    #access-body.-wide #access-tree { width: 1fr; height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane", "List/tree", show=True),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self._rows: list[Row] = []
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Process access: handles opened to other processes"), id="view-title",
                         classes="view-title")
            yield Static(Text("building the correlation model..."), id="view-status", classes="view-status")
            yield Static(Text(""), id="access-why", classes="view-status")
            with Container(id="access-body"):
                yield AccessTable(id="access-table", cursor_type="row", zebra_stripes=False)
                yield NavTree(id="access-tree")
            yield SearchInput(placeholder="search the tree", id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        table = self.query_one(AccessTable)
        for heading, width in COLUMNS:
            table.add_column(heading, width=width)
        table.focus()
        self._layout(self.size.width)
        self._follow_model_progress()
        self._load()

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one("#access-body").set_class(width >= WIDE, "-wide")

    def action_switch_pane(self) -> None:
        table = self.query_one(AccessTable)
        tree = self.query_one(NavTree)
        (tree if table.has_focus else table).focus()

    def search_tree(self) -> NavTree | None:
        return self.query_one(NavTree)

    @work(thread=True, exclusive=True, group="process-access")
    def _load(self) -> None:
        self.workspace.request_model(self, _listed)

    def on_model_ready(self, message: ModelReady[tuple[int, list[Row]]]) -> None:
        status = self.query_one("#view-status", Static)
        table = self.query_one(AccessTable)
        table.clear()
        self._rows = []
        self._shown = None
        if message.error or message.model is None or message.prepared is None:
            status.update(Text(message.error or "no correlation model", style="bold"))
            return
        total, self._rows = message.prepared
        for index, row in enumerate(self._rows):
            table.add_row(*row.cells, key=str(index))
        text = f"{total:,} process accesses (Sysmon 10, 4656 on a process)"
        if len(self._rows) >= MAX_ROWS:
            text += f", the first {MAX_ROWS:,} lines shown"
        if not total:
            text += ": none in this log"
        if message.partial:
            text += "   (still loading: the list will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(text + "   enter: to the tree"))
        if self._rows:
            table.move_cursor(row=0)
            self._show(0)

    @on(DataTable.RowHighlighted, "#access-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(DataTable.RowSelected, "#access-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._show(event.cursor_row)
        self.query_one(NavTree).focus()

    def selected_store_id(self) -> int | None:
        if self.query_one(AccessTable).has_focus:
            row = self.query_one(AccessTable).cursor_row
            return self._rows[row].store_id if 0 <= row < len(self._rows) else None
        return super().selected_store_id()

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self._rows):
            return
        item = self._rows[row]
        self.query_one("#access-why", Static).update(item.why)
        if item.store_id == self._shown:
            return
        self._shown = item.store_id
        self._build_tree(item.store_id)

    @work(thread=True, exclusive=True, group="process-access-tree")
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
            message = AccessTreeReady(store_id, event_heading(stored), correlation_roots(model, stored), None)
        except ViewDataError as exc:
            message = AccessTreeReady(store_id, None, [], str(exc))
        except Exception as exc:
            message = AccessTreeReady(store_id, None, [], f"correlation failed: {type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.post_message(message)

    def on_access_tree_ready(self, message: AccessTreeReady) -> None:
        if message.store_id != self._shown:
            return
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error:
            tree.root.add_leaf(Text(message.error, style="bold"))
            return
        tree.fill(message.roots, expand_depth=2)
        tree.move_cursor_to_line(0)

    @on(Tree.NodeSelected, "#access-tree")
    def _selected(self, event: Tree.NodeSelected[Any]) -> None:
        event.stop()
        activate(self, event.node)
