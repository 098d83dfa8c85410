"""What the app's case keys do: `m` mark, `M` note, `u`/`U` next/previous mark, `e` export,
`y` copy the event, `Y` copy the correlation tree.

These are plain functions of the app and its `Workspace` (the case, the store, the query, the
selected event), so the main app binds keys to them and any screen can call them; they ask the
app to jump or to read the marks again with messages (`JumpToEvent`, `MarksChanged`). Store
reads use their own read-only connection; exports run in the export dialog's worker. A failure
to save the case (disk full, permissions) is shown, never raised into the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.text import Text
from textual.app import App
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.correlate.links import Node
from core.model.text import printable
from core.report.case import Case
from core.report.export import (
    TREE_FORMATS,
    VIEW_FORMATS,
    default_name,
    event_text,
    tree_lines,
)
from core.report.export import (
    export_tree as write_tree,
)
from core.report.export import (
    export_view as write_view,
)
from core.store.store import Store, StoredEvent
from tui.export_dialog import ExportDialog
from tui.marks import MarksScreen, NoteDialog
from tui.messages import JumpToEvent, MarksChanged
from tui.nav_tree import TreeItem, ViewNode, node_reason
from tui.workspace import Workspace

D = TypeVar("D")
#: The app's return type (any app can host the case keys).
R = TypeVar("R")

#: Beyond this many nodes `Y` copies the subtree under the cursor, not the whole tree.
MAX_COPY_NODES = 5000
#: Evidence records are looked up for at most this many nodes of a copied tree.
MAX_LOOKUPS = 1000


# -- helpers ------------------------------------------------------------------------------------


def _case(app: App[R], ws: Workspace) -> Case | None:
    case = ws.case
    if case is None:
        app.notify("marks are not available yet (the case opens once the log is indexed)", severity="warning")
        return None
    return case


def _selected(app: App[R], ws: Workspace) -> StoredEvent | None:
    se = ws.selection()
    if se is None:
        app.notify("no event selected", severity="warning")
    return se


def _store(app: App[R], ws: Workspace) -> Store | None:
    path = ws.store_path
    if path is None or not path.exists():
        app.notify("the log is not open yet", severity="warning")
        return None
    return Store(path, readonly=True)


def _bind(app: App[R], ws: Workspace, case: Case, se: StoredEvent) -> None:
    """Make sure the case knows the path of the event's source (inputs appear while loading)."""
    if se.event.source in case.sources:
        return
    store = _store(app, ws)
    if store is not None:
        with store:
            case.bind(store)


def _refresh(app: App[R]) -> None:
    app.post_message(MarksChanged())
    for screen in app.screen_stack:
        if isinstance(screen, MarksScreen):
            screen.refresh_marks()


def _save_failed(app: App[R], exc: Exception) -> None:
    """Say that the case was not saved. Any exception, not only OSError: the analyst's session
    outlives a save that failed for a reason nobody foresaw (it once was a file name UTF-8
    cannot encode); the message may quote a path, so it is escaped."""
    app.notify(printable(f"could not save the case: {exc}"), severity="error", markup=False)


def _describe(se: StoredEvent) -> str:
    ev = se.event
    return f"record {ev.record_id} (EventID {ev.event_id} on {printable(ev.computer)})"


# -- marks and notes ----------------------------------------------------------------------------


def toggle_mark(app: App[R], ws: Workspace) -> None:
    """`m`: mark the selected event, or unmark it (its note goes with it)."""
    case, se = _case(app, ws), _selected(app, ws)
    if case is None or se is None:
        return
    _bind(app, ws, case, se)
    try:
        marked = case.toggle(se)
    except Exception as exc:  # never into the UI: see _save_failed
        _save_failed(app, exc)
        return
    app.notify(("marked " if marked else "unmarked ") + _describe(se), markup=False)
    _refresh(app)


def edit_note(app: App[R], ws: Workspace) -> None:
    """`M`: add or edit the note of the selected event (marking it)."""
    case, se = _case(app, ws), _selected(app, ws)
    if case is None or se is None:
        return
    _bind(app, ws, case, se)
    current = case.get(se)
    heading = Text("Note on " + _describe(se))

    def done(text: str | None) -> None:
        if text is None or case is None or se is None:
            return
        try:
            case.set_note(se, text)
        except Exception as exc:  # never into the UI: see _save_failed
            _save_failed(app, exc)
            return
        app.notify(("note saved on " if text.strip() else "marked without a note: ") + _describe(se),
                   markup=False)
        _refresh(app)

    app.push_screen(NoteDialog(heading, current.note if current else ""), done)


def _time_key(se: StoredEvent) -> tuple[int, int, int]:
    """The event table's order: time, record id, store id (no time sorts first, as in SQL)."""
    ev = se.event
    ft = ev.filetime if ev.filetime is not None else -1
    return (ft, ev.record_id if ev.record_id is not None else -1, se.id)


def next_mark(app: App[R], ws: Workspace, forward: bool = True) -> None:
    """`u`/`U`: jump to the next/previous marked event in time order (wrapping round)."""
    case = _case(app, ws)
    if case is None:
        return
    if not len(case):
        app.notify("no marks yet: m marks the selected event", severity="warning")
        return
    store = _store(app, ws)
    if store is None:
        return
    with store:
        found = case.resolve(store)
        events = [se for se in (store.get(sid) for sid in found) if se is not None]
    if not events:
        app.notify("none of the marked events is in the loaded inputs", severity="warning")
        return
    events.sort(key=_time_key)
    current = ws.selection()
    target = events[0] if forward else events[-1]
    wrapped = False
    if current is not None:
        here = _time_key(current)
        after = [se for se in events if _time_key(se) > here]
        before = [se for se in events if _time_key(se) < here]
        if forward:
            target, wrapped = (after[0], False) if after else (events[0], True)
        else:
            target, wrapped = (before[-1], False) if before else (events[-1], True)
    index = events.index(target) + 1
    note = f"mark {index}/{len(events)}" + (" (wrapped round)" if wrapped else "")
    app.post_message(JumpToEvent(target.id))
    app.notify(note)


# -- export -------------------------------------------------------------------------------------


def _notify_result(app: App[R]) -> Callable[[str | None], None]:
    def done(message: str | None) -> None:
        if message:
            app.notify(printable(message), markup=False)

    return done


def export_view(app: App[R], ws: Workspace) -> None:
    """`e`: export what the current screen shows: the marks report on the Marks view, the tree
    on a tree view (correlation, handles, processes), else the filtered event view. The events
    screen holds a tree too (the detail pane's fields), so only a screen above it counts as
    a tree view: `e` there exports the rows the analyst filtered, not one event's fields."""
    screen = app.screen
    if isinstance(screen, MarksScreen):
        screen.action_export()
        return
    if screen is not app.screen_stack[0] and _screen_tree(app) is not None:
        export_tree(app, ws)
        return
    store_path = ws.store_path
    if store_path is None:
        app.notify("the log is not open yet", severity="warning")
        return
    compiled, ordered = ws.compiled, ws.table_sort()
    sort, order = ordered if ordered is not None else (None, "")

    def job(fmt: str, target: Path, overwrite: bool) -> int:
        with Store(store_path, readonly=True) as store:
            return write_view(store, compiled, fmt, target, overwrite=overwrite, sort=sort)

    query = ws.query or "(no filter)"
    sorted_by = f", sorted by {order}" if order else ""
    dialog = ExportDialog(f"Export the view: {printable(query)}{sorted_by}", VIEW_FORMATS,
                          Path.cwd() / default_name("view", VIEW_FORMATS[0]), job, unit="rows")
    app.push_screen(dialog, _notify_result(app))


def _screen_tree(app: App[R]) -> Tree[Any] | None:  # query(Tree) finds trees of any data
    """The tree on the current screen: the focused one, else the first with any node."""
    trees = [t for t in app.screen.query(Tree) if t.root.children]
    if not trees:
        return None
    focused = app.screen.focused
    for t in trees:
        if t is focused:
            return t
    return trees[0]


def _plain(label: Text | str) -> str:
    return label.plain if isinstance(label, Text) else printable(label)


def _from_widget(tree: Tree[D]) -> list[Node]:
    """The tree's nodes as shown (whole tree; the cursor's subtree when it is huge): a view's
    node says its confidence and event; any other tree (the detail pane's fields) its label."""
    roots: list[TreeNode[D]] = list(tree.root.children)
    total = 0
    stack = list(roots)
    while stack and total <= MAX_COPY_NODES:
        node = stack.pop()
        total += 1
        stack.extend(node.children)
    if total > MAX_COPY_NODES and tree.cursor_node is not None and tree.cursor_node is not tree.root:
        roots = [tree.cursor_node]

    def convert(node: TreeNode[D], depth: int) -> Node:
        data = node.data
        kids = [convert(c, depth + 1) for c in node.children] if depth < 200 else []
        if not isinstance(data, Node | ViewNode):
            return Node(_plain(node.label), "", None, kids)
        item: TreeItem = data
        label = _plain(item.label)
        reason = node_reason(item)
        if reason and reason not in label:
            label += " - " + printable(reason)
        return Node(label, item.confidence or "", item.store_id, kids)

    return [convert(n, 0) for n in roots]


class _LimitedStore:
    """A store whose `get` answers at most `limit` lookups (big trees stay quick to copy)."""

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.left = limit

    def get(self, store_id: int) -> StoredEvent | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return self.store.get(store_id)


def _tree_text(ws: Workspace, roots: list[Node], markdown: bool) -> str:
    path = ws.store_path
    lines: list[str] = []
    store = Store(path, readonly=True) if path is not None and path.exists() else None
    try:
        # `tree_lines` takes a Store and only calls its get(): the limited one stands in
        limited: Any = _LimitedStore(store, MAX_LOOKUPS) if store is not None else None
        for root in roots:
            lines.extend(tree_lines(root, limited, markdown=markdown))
    finally:
        if store is not None:
            store.close()
    return "\n".join(lines) + "\n"


def copy_tree(app: App[R], ws: Workspace) -> None:
    """`Y`: copy the correlation tree on screen as indented text (record ids included)."""
    tree = _screen_tree(app)
    if tree is None:
        app.notify("no tree on this screen: c opens the correlation of the selected event", severity="warning")
        return
    copy_text(app, _tree_text(ws, _from_widget(tree), markdown=False))


def export_tree(app: App[R], ws: Workspace) -> None:
    """The tree on screen as Markdown (nested list) or JSON."""
    tree = _screen_tree(app)
    if tree is None:
        app.notify("no tree on this screen", severity="warning")
        return
    roots = _from_widget(tree)
    root: Node = roots[0] if len(roots) == 1 else Node(_plain(app.screen.title or "tree"), "", None, roots)
    path = ws.store_path

    def job(fmt: str, target: Path, overwrite: bool) -> int:
        store = Store(path, readonly=True) if path is not None else None
        try:
            return write_tree(root, fmt, target, store, overwrite=overwrite)
        finally:
            if store is not None:
                store.close()

    dialog = ExportDialog("Export the tree", TREE_FORMATS, Path.cwd() / default_name("tree", TREE_FORMATS[0]),
                          job, unit="nodes")
    app.push_screen(dialog, _notify_result(app))


# -- copy ---------------------------------------------------------------------------------------


def copy_text(app: App[R], text: str) -> None:
    """Put `text` on the clipboard (OSC 52) and say how much."""
    app.copy_to_clipboard(text)
    lines = text.count("\n") + 1
    app.notify(f"copied {lines} line{'s' if lines != 1 else ''} (OSC 52)")


def copy_event(app: App[R], ws: Workspace) -> None:
    """`y`: copy the selected event as readable text (System fields, then EventData)."""
    se = _selected(app, ws)
    if se is None:
        return
    row = ws.sources.get(se.event.source)
    if row is not None:
        source = row.path
    else:
        source = ws.case.sources.get(se.event.source, "") if ws.case is not None else ""
    copy_text(app, event_text(se, source))
