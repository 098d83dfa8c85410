"""The correlation of one event as a tree, and the tree widget the other views share.

`CorrelationScreen(store_id)` (key `c` on the selected event) shows what the engine
(`core.correlate.model`) links to the event: processes, handles, logon session, related events.
Every node says how sure the link is, as a WORD (exact / inferred / ambiguous / missing, with
the reason) and a colour, so it still reads with NO_COLOR or in 16 colours; `enter` on a node
jumps to its event in the event table.

Labels hold attacker-controlled text (images, command lines, object names): they are built as
`rich.text.Text` from `core.model.text.printable`, never as markup (Textual's `Tree` would parse a
`str` label as markup).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import length_hint
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from core.model.event import iso_from_filetime
from core.model.text import printable
from core.store.store import Store
from tui.model_cache import ViewDataError, app_loaded, cache_for, get_model, store_path

CSS_FILE = "views.tcss"

#: Colour per confidence; the word itself is always shown too (NO_COLOR, colour-blind users).
CONFIDENCE_STYLES = {
    "exact": "bold green",
    "inferred": "bold yellow",
    "ambiguous": "bold magenta",
    "missing": "bold red",
}
#: Trees above this many nodes are cut (a hostile or huge log must not freeze the UI).
MAX_TREE_NODES = 50_000
#: Nodes a tree adds at once; more are added a slice at a time (`NavTree.fill`).
FILL_SLICE = 1500


@dataclass(frozen=True)
class ViewNode:
    """A tree node built by a view itself (not by the engine): `label` may be a ready `Text`
    (already made of printable pieces) or a plain string (made printable here)."""

    label: Text | str
    store_id: int | None = None
    children: tuple[Any, ...] = ()
    confidence: str | None = None
    reason: str | None = None


def confidence_text(confidence: str | None) -> Text:
    """The confidence badge: a fixed-width word in its colour."""
    word = (confidence or "").strip().lower()
    if not word:
        return Text("")
    return Text(f"{printable(word):<9}", style=CONFIDENCE_STYLES.get(word, "bold"))


def node_label(node: Any) -> Text:
    """One tree line: confidence badge, label, and the reason when the label does not say it."""
    text = Text()
    confidence = getattr(node, "confidence", None)
    if confidence:
        text.append_text(confidence_text(str(confidence)))
        text.append(" ")
    raw = getattr(node, "label", node)
    if isinstance(raw, Text):
        text.append_text(raw)
        label = raw.plain
    else:
        label = printable(str(raw))
        text.append(label)
    reason = getattr(node, "reason", None)
    if reason and str(reason) not in label:
        text.append(" - " + printable(str(reason)), style="italic")
    return text


def node_children(node: Any) -> list[Any]:
    return list(getattr(node, "children", None) or ())


@dataclass
class _Fill:
    """A `NavTree.fill` in progress: the stack of node iterators, how many nodes are in, and
    the share of MAX_TREE_NODES the current top-level branch may take."""

    serial: int
    base: TreeNode[Any]
    frames: list[tuple[TreeNode[Any], Iterator[Any], int]]
    expand_depth: int
    tops_left: int
    added: int = 0
    branch: TreeNode[Any] | None = None
    branch_limit: int = 0
    branch_start: int = 0
    cut_at: set[int] = field(default_factory=set)

    def start_branch(self, node: TreeNode[Any]) -> None:
        self.branch, self.branch_start = node, self.added
        self.branch_limit = self.added + max(1, (MAX_TREE_NODES - self.added) // max(1, self.tops_left))
        self.tops_left -= 1

    def cut(self) -> None:
        """Say where the nodes stop (under the branch being filled, else at the end)."""
        where = self.branch if self.branch is not None else self.base
        if id(where) in self.cut_at:
            return
        self.cut_at.add(id(where))
        shown = self.added - self.branch_start
        label = f"... cut: {shown:,} nodes of this branch shown (a view shows {MAX_TREE_NODES:,} at most)"
        where.add_leaf(Text(label, style="italic"))


class NavTree(Tree[Any]):
    """A `Tree` driven from the keyboard: j/k move, enter selects (jumps), space folds.

    Node data is the engine node (or any object with `store_id`); `enter` does not fold, it
    posts `NodeSelected`, which the screens turn into a jump.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("h", "cursor_parent", "Parent", show=False),
        Binding("space", "toggle_node", "Fold"),
    ]

    def __init__(self, label: str = "", **kwargs: Any) -> None:
        super().__init__(Text(label), **kwargs)
        self.auto_expand = False
        self.show_root = False
        self.guide_depth = 3

    _fill_serial = 0

    def process_label(self, label: str | Text) -> Text:
        """A label as literal text (never markup: labels hold log data), its first line only.
        Ours are made printable (no newline) already: rich's line split, 30 us a node, is
        skipped for them."""
        text = Text(label) if isinstance(label, str) else label
        return text.split()[0] if "\n" in text.plain else text

    def clear(self) -> NavTree:
        self._fill_serial += 1  # a fill still going on stops
        super().clear()
        return self

    def fill(self, roots: Iterable[Any], expand_depth: int = 99, parent: TreeNode[Any] | None = None) -> int:
        """Add engine nodes (label/confidence/store_id/children) under `parent` (the root by
        default), iteratively (deep process chains must not hit the recursion limit); nodes
        down to `expand_depth` are expanded. Returns how many nodes were added at once.

        FILL_SLICE nodes are added at once, the rest a slice at a time from a timer, so that
        keys and redraws get their turn: adding a node costs ~70 us, and a quarter of a million
        processes added in one go froze the screen for 3.4 s. At most MAX_TREE_NODES are added,
        shared between the top-level branches (each gets its part of what the ones before it
        left), so that one huge branch (a computer with 250,000 processes) cannot push the
        others (every other computer of a forwarded log) out of the tree."""
        base = self.root if parent is None else parent
        tops = list(roots)
        self._fill_serial += 1
        state = _Fill(self._fill_serial, base, [(base, iter(tops), 0)], expand_depth, len(tops))
        return self._fill_slice(state)

    @property
    def filling(self) -> bool:
        """Whether a fill still has nodes to add."""
        return self._filling == self._fill_serial

    _filling = -1

    def _fill_slice(self, f: _Fill) -> int:
        if f.serial != self._fill_serial:
            return f.added  # cleared or filled again meanwhile
        frames = f.frames
        limit = min(MAX_TREE_NODES, f.added + FILL_SLICE)
        while frames and f.added < limit:
            into, nodes, depth = frames[-1]
            if not length_hint(nodes):  # (list iterators: exact)
                frames.pop()
                continue
            if depth > 0 and f.added >= f.branch_limit:  # this branch has had its part
                del frames[1:]
                f.cut()
                continue
            node = next(nodes, None)
            if node is None:
                frames.pop()
                continue
            kids = node_children(node)
            if kids:
                tree_node = into.add(node_label(node), data=node, expand=depth < f.expand_depth)
                frames.append((tree_node, iter(kids), depth + 1))
            else:
                tree_node = into.add_leaf(node_label(node), data=node)
            if depth == 0:
                f.start_branch(tree_node)
            f.added += 1
        while frames and not length_hint(frames[-1][1]):
            frames.pop()  # nothing left at this level: nothing to cut or to come back for
        if frames and f.added < MAX_TREE_NODES:
            self._filling = f.serial
            self.set_timer(0.001, lambda: self._fill_slice(f))
        else:
            self._filling = -1
            if frames:
                f.cut()
        return f.added

    def walk(self) -> Iterator[TreeNode[Any]]:
        """Every node in display order (folded ones included), root excluded."""
        stack = list(reversed(self.root.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def reveal(self, node: TreeNode[Any]) -> None:
        """Unfold the ancestors of `node` and put the cursor on it."""
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(self.move_cursor, node)

    def find(self, needle: str, forward: bool = True) -> TreeNode[Any] | None:
        """The next node (after the cursor, wrapping) whose text contains `needle` (any case)."""
        needle = needle.lower()
        nodes = list(self.walk())
        if not nodes or not needle:
            return None
        current = self.cursor_node
        start = nodes.index(current) if current in nodes else -1
        count = len(nodes)
        for step in range(1, count + 1):
            index = (start + step) % count if forward else (start - step) % count
            candidate = nodes[index]
            label = candidate.label
            text = label if isinstance(label, str) else label.plain
            if needle in text.lower():
                return candidate
        return None


class SearchInput(Input):
    """The `/` search box under a tree (hidden until asked for)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        pass

    def action_close(self) -> None:
        self.post_message(self.Closed())


class TreeViewScreen(Screen[None]):
    """Base of the views: `esc` back, `/` search the view's tree, `n`/`N` next/previous match."""

    CSS_PATH = CSS_FILE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next(True)", "Next match", show=False),
        Binding("N", "search_next(False)", "Prev match", show=False),
    ]

    _search_text: str = ""
    _search_target: NavTree | None = None
    #: Whether the view waits for the correlation model (and shows how far its build is).
    USES_MODEL: ClassVar[bool] = True

    def _load(self) -> object:
        """Start building the view (subclasses: a `@work(thread=True)` method)."""
        raise NotImplementedError

    def _reload_when_loaded(self) -> None:
        if app_loaded(self.app):
            self._load()
        else:
            self.set_timer(1.0, self._reload_when_loaded)

    def _follow_model_progress(self) -> None:
        """While the correlation model is built (10 s and more for a million events), say in
        the status line how far its reading is; stops once the view shows its result (the
        status no longer starts with the waiting text)."""
        if not self.USES_MODEL:
            return
        status = self.query_one("#view-status", Static)
        waiting = str(status.render()).rstrip(".")

        def tick() -> None:
            shown = str(status.render())
            if not shown.startswith(waiting):
                timer.stop()
                return
            progress = cache_for(self.app).model_progress
            if progress is None:
                return
            read, total = progress
            if read < total:
                status.update(Text(f"{waiting}: {read:,} of {total:,} events read"))
            else:
                status.update(Text(f"{waiting}: {total:,} events read, preparing the view..."))

        timer = self.set_interval(0.25, tick)

    def search_tree(self) -> NavTree | None:
        """The tree `/` searches (the focused one when a view has several)."""
        trees = list(self.query(NavTree))
        focused = self.focused
        for tree in trees:
            if tree is focused:
                return tree
        return trees[0] if trees else None

    def action_back(self) -> None:
        self.app.pop_screen()

    def selected_store_id(self) -> int | None:
        """The event behind the highlighted tree node (what `c`, `m`, `y` act on here)."""
        tree = self.search_tree()
        node = tree.cursor_node if tree is not None else None
        store_id = getattr(node.data, "store_id", None) if node is not None else None
        return store_id if isinstance(store_id, int) else None

    def action_search(self) -> None:
        self._search_target = self.search_tree()
        box = self.query_one(SearchInput)
        box.display = True
        self.set_focus(box)  # at once: keys typed right after `/` are the search text

    def action_search_next(self, forward: bool = True) -> None:
        tree = self._search_target or self.search_tree()
        if tree is None or not self._search_text:
            return
        found = tree.find(self._search_text, forward)
        if found is None:
            # the typed text is shown as typed: `[/]` is no markup (it raised MarkupError)
            self.notify(f"not found: {printable(self._search_text)}", severity="warning", markup=False)
            return
        tree.reveal(found)
        tree.focus()

    @on(Input.Submitted, "SearchInput")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._search_text = event.value
        event.input.display = False
        self.action_search_next(True)

    @on(SearchInput.Closed)
    def _search_closed(self) -> None:
        self.query_one(SearchInput).display = False
        tree = self._search_target or self.search_tree()
        if tree is not None:
            tree.focus()


def activate(screen: Screen[Any], tree_node: TreeNode[Any]) -> None:
    """`enter` on a tree node: jump to its event; a node without one folds/unfolds if it has
    children, else says why there is no event."""
    data = tree_node.data
    if data is None:
        return
    if getattr(data, "store_id", None) is None and tree_node.children:
        tree_node.toggle()
        return
    jump_to_node(screen, data)


def jump_to_node(screen: Screen[Any], node: Any) -> None:
    """Jump to the event behind a tree node, or say why there is none."""
    store_id = getattr(node, "store_id", None)
    if store_id is None:
        reason = getattr(node, "reason", None)
        screen.notify(
            "no event in the log for this node" + (f": {printable(str(reason))}" if reason else ""),
            severity="warning",
            markup=False,  # the reason quotes log data
        )
        return
    jump = getattr(screen.app, "jump_to_event", None)
    if jump is None:
        screen.notify("this app cannot jump to events", severity="error")
        return
    jump(int(store_id))


def event_heading(stored: Any) -> Text:
    """`record 1234  4690  WS01  2024-...Z` for the heading of a correlation."""
    event = stored.event
    parts = [
        f"record {event.record_id if event.record_id is not None else event.record_number}",
        f"EventID {event.event_id}",
        printable(event.computer),
        iso_from_filetime(event.filetime) or "no time",
    ]
    return Text("  ".join(parts))


def correlation_roots(model: Any, stored: Any) -> list[Any]:
    """The engine's tree for one event, as the list of nodes to show (the root's children when
    the root is only a heading)."""
    correlation = model.correlate(stored)
    root = correlation.tree()
    if isinstance(root, list | tuple):
        return list(root)
    return [root]



class SingleTreeScreen(TreeViewScreen):
    """A view that is one tree filled by a background job: title, status line, the tree, and a
    search box. Subclasses name them and implement `_load` (a thread worker)."""

    VIEW_TITLE = ""
    WAITING = ""
    TREE_ID = ""
    SEARCH_HINT = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.VIEW_TITLE), id="view-title", classes="view-title")
            yield Static(Text(self.WAITING), id="view-status", classes="view-status")
            yield NavTree(id=self.TREE_ID)
            yield SearchInput(placeholder=self.SEARCH_HINT, id="tree-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SearchInput).display = False
        self.query_one(NavTree).focus()
        self._follow_model_progress()
        self._load()


    def show_result(
        self, error: str | None, branches: list[ViewNode] | None, *, depth: int, summary: str, partial: bool,
        hint: str = "enter: open/jump",
    ) -> None:
        """Fill the tree from a background result (or show why there is none). A result built
        while the inputs were still loading is shown, and rebuilt once loading has finished."""
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        tree.clear()
        if error or branches is None:
            status.update(Text(printable(error or "nothing to show"), style="bold"))
            return
        tree.fill(branches, expand_depth=depth)
        if partial:
            summary += "   (still loading: the tree will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(f"{summary}   {hint}"))
        if branches:
            tree.move_cursor_to_line(0)

class CorrelationReady(Message):
    def __init__(self, stored: Any, roots: list[Any], partial: bool, error: str | None) -> None:
        super().__init__()
        self.stored = stored
        self.roots = roots
        self.partial = partial
        self.error = error


class CorrelationScreen(TreeViewScreen):
    """The correlation tree of one event (`store_id` = its store row id)."""

    def __init__(self, store_id: int) -> None:
        super().__init__()
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
        app = self.app
        try:
            store = Store(store_path(app), readonly=True)
            try:
                stored = store.get(self.store_id)
            finally:
                store.close()
            if stored is None:
                raise ViewDataError(f"no event with store id {self.store_id}")
            model, partial = get_model(app)
            roots = correlation_roots(model, stored)
        except ViewDataError as exc:
            self.post_message(CorrelationReady(None, [], not app_loaded(app), str(exc)))
        except Exception as exc:
            reason = f"correlation failed: {type(exc).__name__}: {exc}"
            self.post_message(CorrelationReady(None, [], not app_loaded(app), reason))
        else:
            self.post_message(CorrelationReady(stored, roots, partial, None))

    def on_correlation_ready(self, message: CorrelationReady) -> None:
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error:
            status.update(Text(message.error, style="bold"))
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
    def _selected(self, event: Tree.NodeSelected[Any]) -> None:
        event.stop()
        activate(self, event.node)
