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

When the model must be built first (a reopened log's event no list shows: minutes at ten million
events), the event's links as stored with the log (`tui.stored_links`: each process, handle and
session the engine linked it to, with their fields and events) show at once, and the full tree
replaces them once the model is built; if the analyst has moved in them by then, they stay
until `r` (the status says the full tree is ready).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Static, Tree

from core.correlate.model import CorrelationModel
from core.model.event import iso_from_filetime
from core.model.text import printable
from core.store import correlation_links, correlation_tables
from core.store.store import Store, StoredEvent
from tui.model_cache import ViewDataError
from tui.nav_tree import MAX_TREE_NODES, NavTree, SearchInput, TreeItem
from tui.stored_links import links_tree
from tui.stored_views import fetch_event_children, load_event_tree
from tui.tree_views import TreeViewScreen, activate
from tui.words import plural
from tui.workspace import Workspace

T = TypeVar("T")


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


def _from_tables(store: Store, loaded: bool, read: Callable[[], T], links: bool = False) -> T | None:
    """`read()` of the log's correlation tables, or None when they cannot answer: the log still
    loading, the tables (with `links`, the links too) not or no longer written, or SQLite refusing
    (a table missing or locked): the model answers instead."""
    if not loaded or not store.shareable:
        return None
    try:
        if not (correlation_tables.complete(store) and correlation_tables.ready(store)
                and (not links or correlation_links.links_ready(store))):
            return None
        return read()
    except Exception:  # noqa: BLE001 - see above
        return None


def stored_correlation(store: Store, loaded: bool, store_id: int) -> tuple[list[TreeItem], int] | None:
    """(the roots of event `store_id`'s correlation tree as stored with the log, how many nodes
    it has), or None when only the model can tell (`_from_tables`, or an event no list view
    shows: its tree is not stored). Whole up to MAX_TREE_NODES nodes, as the model's tree is
    shown; above, a page at a time."""
    return _from_tables(store, loaded, lambda: load_event_tree(store, store_id, MAX_TREE_NODES))


#: The first node of an event's links shown while the model is built for its full tree.
INTERIM_NOTE = ("links as stored with the log: the full correlation tree replaces them here once the"
                " correlation model is built (minutes on a big log)")


def interim_links(store: Store, loaded: bool, stored: StoredEvent) -> list[TreeItem] | None:
    """The event's links as stored (`tui.stored_links.links_tree`, under INTERIM_NOTE), to show
    while the model is built for its tree; None when the store holds none to show (`_from_tables`)."""
    return _from_tables(store, loaded, lambda: links_tree(store, stored, INTERIM_NOTE), links=True)


class CorrelationScreen(TreeViewScreen):
    """The correlation tree of one event (`store_id` = its store row id)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "full_tree", "Full tree", show=False),
    ]

    @dataclass
    class Ready(Message):
        """The worker's result: the event, its tree's roots, or why there are none; `interim`
        for the links as stored, shown while the model is built (`interim_links`)."""

        stored: StoredEvent | None
        roots: list[TreeItem]
        partial: bool
        error: str | None
        interim: bool = False

    class Building(Message):
        """The tree is not stored: the worker builds the model (the status says so)."""

    #: The status while the tree is looked up in the store, and while the model is built (with
    #: the links as stored shown meanwhile, or not: "building" first either way, what a wait for
    #: the tree looks for).
    READING = "reading the correlation..."
    BUILDING = "building the correlation model..."
    BUILDING_BESIDE = "building the correlation model for the full tree (the links as stored meanwhile)..."
    #: The status once the full tree is built while the analyst is reading the links.
    FULL_READY = "the full correlation tree is ready: r shows it (the links as stored are shown)"

    def __init__(self, workspace: Workspace, store_id: int) -> None:
        super().__init__(workspace)
        self.store_id = store_id
        #: The links as stored are shown (`interim_links`), the model's tree not yet.
        self.interim = False
        #: The full tree, built while the analyst moved in the links: shown on `r`.
        self._full: CorrelationScreen.Ready | None = None

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
        self.query_one("#view-status", Static).update(Text(self.BUILDING_BESIDE if self.interim else self.BUILDING))
        self._follow_model_progress()

    @work(thread=True, exclusive=True, group="correlation")
    def _load(self) -> None:
        ws = self.workspace
        try:
            with Store(ws.require_store(), readonly=True) as store:
                stored = store.get(self.store_id)
                kept = stored_correlation(store, ws.loaded, self.store_id) if stored is not None else None
                interim = (interim_links(store, ws.loaded, stored)
                           if stored is not None and kept is None and ws.built_model() is None else None)
            if stored is None:
                raise ViewDataError(f"no event with store id {self.store_id}")
            if kept is not None:
                roots, partial = kept[0], False
            else:
                if interim is not None:
                    self.post_message(self.Ready(stored, interim, False, None, interim=True))
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
        if self.interim and (message.error or message.stored is None):
            # The build failed: the links stay, the status says why there is no more.
            why = printable(message.error or "no event")
            status.update(Text(f"{why} (the links as stored are shown)", style="bold"))
            return
        if self.interim and tree.cursor_line > 0:
            self._full = message  # the analyst is in the links: they stay until `r`
            status.update(Text(self.FULL_READY))
            return
        self._show(message)

    def action_full_tree(self) -> None:
        """Replace the links as stored with the full tree once it is built (`FULL_READY`)."""
        if self._full is not None:
            message, self._full = self._full, None
            self._show(message)

    def _show(self, message: CorrelationScreen.Ready) -> None:
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        self.interim = message.interim
        tree.clear()
        if message.error or message.stored is None:
            status.update(Text(printable(message.error or "no event"), style="bold"))
            return
        title = Text("Correlation of ")
        title.append_text(event_heading(message.stored))
        self.query_one("#view-title", Static).update(title)
        added = tree.fill(message.roots)
        if message.interim:
            status.update(Text(self.BUILDING_BESIDE))
            tree.move_cursor_to_line(0) if added else None
            return
        note = "enter: jump to the node's event"
        if message.partial:
            note = "still loading: links may be missing until the log is read   " + note
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(f"{plural(added, 'node')}   {note}"))
        tree.move_cursor_to_line(0) if added else None

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        """A page of a big stored tree's node's children (`stored_correlation`)."""
        return fetch_event_children(self.workspace.require_store(), parent, -1 if after is None else after)

    @on(Tree.NodeSelected, "#correlation-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
