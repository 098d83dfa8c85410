"""The correlation of one event as a tree (key `c` on the selected event).

`CorrelationScreen(workspace, store_id)` shows what the engine (`core.correlate.model`) links to
the event: processes, handles, logon session, related events. Every node says how sure the
link is, as a word and a colour (`tui.nav_tree`); `enter` on a node jumps to its event in the
event table. The tree widget and the views' base screen live in `tui.nav_tree` and
`tui.tree_views`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Static, Tree

from core.correlate.model import CorrelationModel
from core.model.event import iso_from_filetime
from core.model.text import printable
from core.store.store import Store, StoredEvent
from tui.model_cache import ViewDataError
from tui.nav_tree import NavTree, SearchInput, TreeItem
from tui.tree_views import TreeViewScreen, activate
from tui.workspace import Workspace


def event_heading(stored: StoredEvent) -> Text:
    """`record 1234  4690  WS01  2024-...Z` for the heading of a correlation."""
    event = stored.event
    parts = [
        f"record {event.record_id if event.record_id is not None else event.record_number}",
        f"EventID {event.event_id}",
        printable(event.computer),
        iso_from_filetime(event.filetime) or "no time",
    ]
    return Text("  ".join(parts))


def correlation_roots(model: CorrelationModel, stored: StoredEvent) -> list[TreeItem]:
    """The engine's tree for one event, as the list of nodes to show."""
    return [model.correlate(stored).tree()]


class CorrelationScreen(TreeViewScreen):
    """The correlation tree of one event (`store_id` = its store row id)."""

    @dataclass
    class Ready(Message):
        """The worker's result: the event, its tree's roots, or why there are none."""

        stored: StoredEvent | None
        roots: list[TreeItem]
        partial: bool
        error: str | None

    def __init__(self, workspace: Workspace, store_id: int) -> None:
        super().__init__(workspace)
        self.store_id = store_id

    def compose(self) -> ComposeResult:
        with Vertical(id="correlation-body"):
            yield Static(Text("Correlation"), id="view-title", classes="view-title")
            yield Static(Text("building the correlation model..."), id="view-status", classes="view-status")
            yield NavTree(id="correlation-tree")
            yield SearchInput(placeholder="search the tree", id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        self.query_one(NavTree).focus()
        self._follow_model_progress()
        self._load()

    @work(thread=True, exclusive=True, group="correlation")
    def _load(self) -> None:
        ws = self.workspace
        try:
            store = Store(ws.require_store(), readonly=True)
            try:
                stored = store.get(self.store_id)
            finally:
                store.close()
            if stored is None:
                raise ViewDataError(f"no event with store id {self.store_id}")
            model, partial = ws.model()
            roots = correlation_roots(model, stored)
        except ViewDataError as exc:
            self.post_message(self.Ready(None, [], not ws.loaded, str(exc)))
        except Exception as exc:
            reason = f"correlation failed: {type(exc).__name__}: {exc}"
            self.post_message(self.Ready(None, [], not ws.loaded, reason))
        else:
            self.post_message(self.Ready(stored, roots, partial, None))

    def on_correlation_screen_ready(self, message: CorrelationScreen.Ready) -> None:
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error or message.stored is None:
            status.update(Text(message.error or "no event", style="bold"))
            return
        title = Text("Correlation of ")
        title.append_text(event_heading(message.stored))
        self.query_one("#view-title", Static).update(title)
        added = tree.fill(message.roots)
        note = "enter: jump to the node's event"
        if message.partial:
            note = "still loading: links may be missing until the log is read   " + note
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(f"{added} nodes   {note}"))
        tree.move_cursor_to_line(0) if added else None

    @on(Tree.NodeSelected, "#correlation-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
