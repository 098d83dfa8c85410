"""The correlation of one event as a tree (key `c` on the selected event).

`CorrelationScreen(workspace, store_id)` shows what the engine (`core.correlate.model`) links to
the event: processes, handles, logon session, related events. Every node says how sure the
link is, as a word and a colour (`tui.nav_tree`); `enter` on a node jumps to its event in the
event table. The tree widget and the views' base screen live in `tui.nav_tree` and
`tui.tree_views`.

The tree is read from the store when it is kept there (`stored_correlation`: the events the
Handles and Process access views list, stored with the log's correlation tables), so that a
reopened log shows it without building the model (15-30 s and a gigabyte at a million events);
it is the model's otherwise. Both are the same nodes, labels, confidences and jumps.
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
from core.store import correlation_tables
from core.store.store import Store, StoredEvent
from tui.model_cache import ViewDataError
from tui.nav_tree import MAX_TREE_NODES, NavTree, SearchInput, TreeItem
from tui.stored_views import fetch_event_children, load_event_tree
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


def stored_correlation(store: Store, loaded: bool, store_id: int) -> tuple[list[TreeItem], int] | None:
    """(the roots of event `store_id`'s correlation tree as stored with the log, how many nodes
    it has), or None when only the model can tell: the log still loading, the correlation tables
    not (or no longer) written, or an event no list view shows (its tree is not stored). Whole
    up to MAX_TREE_NODES nodes, as the model's tree is shown; above, a page at a time."""
    if not loaded or not store.shareable:
        return None
    try:
        if not (correlation_tables.complete(store) and correlation_tables.ready(store)):
            return None
        return load_event_tree(store, store_id, MAX_TREE_NODES)
    except Exception:  # noqa: BLE001 - a table missing or locked (SQLite): the model answers instead
        return None


class CorrelationScreen(TreeViewScreen):
    """The correlation tree of one event (`store_id` = its store row id)."""

    @dataclass
    class Ready(Message):
        """The worker's result: the event, its tree's roots, or why there are none."""

        stored: StoredEvent | None
        roots: list[TreeItem]
        partial: bool
        error: str | None

    class Building(Message):
        """The tree is not stored: the worker builds the model (the status says so)."""

    #: The status while the tree is looked up in the store, and while the model is built.
    READING = "reading the correlation..."
    BUILDING = "building the correlation model..."

    def __init__(self, workspace: Workspace, store_id: int) -> None:
        super().__init__(workspace)
        self.store_id = store_id

    def compose(self) -> ComposeResult:
        with Vertical(id="correlation-body"):
            yield Static(Text("Correlation"), id="view-title", classes="view-title")
            yield Static(Text(self.READING), id="view-status", classes="view-status")
            yield NavTree(id="correlation-tree")
            yield SearchInput(placeholder="search the tree", id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        self.query_one(NavTree).focus()
        self._load()

    def on_correlation_screen_building(self, _message: CorrelationScreen.Building) -> None:
        self.query_one("#view-status", Static).update(Text(self.BUILDING))
        self._follow_model_progress()

    @work(thread=True, exclusive=True, group="correlation")
    def _load(self) -> None:
        ws = self.workspace
        try:
            with Store(ws.require_store(), readonly=True) as store:
                stored = store.get(self.store_id)
                kept = stored_correlation(store, ws.loaded, self.store_id) if stored is not None else None
            if stored is None:
                raise ViewDataError(f"no event with store id {self.store_id}")
            if kept is not None:
                roots, partial = kept[0], False
            else:
                self.post_message(self.Building())
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

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        """A page of a big stored tree's node's children (`stored_correlation`)."""
        return fetch_event_children(self.workspace.require_store(), parent, -1 if after is None else after)

    @on(Tree.NodeSelected, "#correlation-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
