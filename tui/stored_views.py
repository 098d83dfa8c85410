"""The views' trees and lists as rows of the store's correlation tables, and back.

A view decides what its nodes and cells say (labels, styles, confidence words) from the model;
`tree_rows` / `list_rows` turn that into the rows `core.store.correlation_tables` keeps, and
`load_tree` / `fetch_children` / `load_list` turn rows back into the same `ViewNode`s and cells,
so that a reopened log shows its views from the store without building the model. A label's
styles travel as JSON next to its plain text: the text is never parsed as markup on the way
back (it holds attacker-controlled log data).

Small trees come back whole (the view unfolds them as it always did); big ones come back as
their top two levels, each deeper level fetched, a page at a time, when its node is unfolded.
A list may keep a small tree per line (the Sessions view: the tree of the highlighted line,
`load_subtree`) and a note on the whole list (`ViewRows.info`); or the correlation tree of each
line's event (the Handles and Process access views, `load_event_tree`: stored deduplicated,
`core.store.event_trees`). `/` in a tree read a page at a time searches the stored tree
(`search_stored`) and the view unfolds the way to the hit (`window`).

About 515 lines: the writing of a view's rows and their reading back share the rows' shapes
(`NodeRow`, `LineRow`, the labels' parts) and are kept together.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

from rich.style import Style
from rich.text import Span, Text

from core.correlate.links import Node
from core.correlate.tree import shared_subtrees
from core.store import correlation_tables as tables
from core.store import event_trees
from core.store.correlation_tables import LineRow, NodeRow
from core.store.filter import Filter, Order
from core.store.gc_pause import gc_paused
from core.store.store import Store, StoredEvent
from tui.nav_tree import TreeItem, ViewNode, node_reason

T = TypeVar("T")

#: Children fetched at once when a node of a big tree is unfolded (and per "more" line).
PAGE = 200


@dataclass(frozen=True)
class StoredNode(ViewNode):
    """A node read back from the store: `node_id` its row, `kids` how many children it has
    there (its `children` are empty until fetched). A "more" line (`more_after` set) stands
    for the children of `parent_id` after the child `more_after`, not yet fetched."""

    node_id: int = 0
    kids: int = 0
    parent_id: int = 0
    more_after: int | None = None
    #: A "more" line standing for the children before this one only (a search unfolded a
    #: page further on), None: up to the last.
    more_before: int | None = None


class ListedRow(Protocol):
    """A line of a list view: its event, its cells and the line that explains it."""

    @property
    def store_id(self) -> int | None: ...

    @property
    def cells(self) -> tuple[Text, ...]: ...

    @property
    def why(self) -> Text: ...


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A list line read back from the store (`ListedRow`), with what its view kept besides
    (`extra`, see `ViewRows`)."""

    store_id: int | None
    cells: tuple[Text, ...]
    why: Text
    extra: Any = None


@dataclass(frozen=True)
class ViewRows:
    """What a view stores: a tree (its top-level nodes), a list (its lines, and `total`, what
    its status line counts: 4690s, accesses...), or both (a tree per line, top-level node n
    holding line n's). A line's `extra` attribute, if it has one, is stored with it as JSON
    (what `/` searches...); `info` is JSON about the whole list (`load_info`). A list whose
    lines each show their event's correlation tree gives `event_tree` (the event -> its tree's
    roots): the trees of its lines' events are stored too (`load_event_tree`)."""

    tree: Iterable[TreeItem] | None = None
    rows: Sequence[ListedRow] | None = None
    total: int = 0
    info: Any = None
    event_tree: Callable[[StoredEvent], list[TreeItem]] | None = None


#: How a view makes what it stores from the model.
ViewBuilder = Callable[[Any], ViewRows]

S = TypeVar("S")


class MadeRows(Sequence[ListedRow]):
    """A list view's lines made from its items each time they are read, none kept
    (`ViewRows.rows`): the writer reads each once, as it writes it. The 20,000 Handles lines of
    a million-event log, all made at once, were 4 KB each (their styled cells), 70 MB held while
    their events' trees and then the lines were written. `store_ids` gives the lines' events
    without making them (what the writer of the event trees reads first)."""

    def __init__(self, items: Sequence[S], make: Callable[[S], ListedRow],
                 store_id: Callable[[S], int | None]) -> None:
        self._items: Sequence[Any] = items
        self._make: Callable[[Any], ListedRow] = make
        self._store_id: Callable[[Any], int | None] = store_id

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> ListedRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[ListedRow]: ...

    def __getitem__(self, index: int | slice) -> ListedRow | list[ListedRow]:
        if isinstance(index, slice):
            return [self._make(item) for item in self._items[index]]
        return self._make(self._items[index])

    def __iter__(self) -> Iterator[ListedRow]:
        return map(self._make, self._items)

    def store_ids(self) -> Iterator[int | None]:
        """The store id of each line's event, in order (no line made)."""
        return map(self._store_id, self._items)


def paused(build: ViewBuilder) -> ViewBuilder:
    """`build` run with the cyclic collector paused (`gc_paused`): a view's rows are hundreds of
    thousands of objects without cycles, and each full collection while they were made walked
    all of them again (half of making the Processes, Handles and Process access rows at a
    million events)."""

    @functools.wraps(build)
    def built(model: Any) -> ViewRows:
        with gc_paused():
            return build(model)

    return built


# -- text --------------------------------------------------------------------------------------


def _style(style: str | Style) -> str:
    return str(style) if style else ""


def text_parts(text: Text) -> list[Any]:
    """[plain, base style, [[start, end, style], ...]] and, if set, its justify (a right-aligned
    count): a `Text` as JSON-able parts."""
    parts = [text.plain, _style(text.style), [[s.start, s.end, _style(s.style)] for s in text.spans]]
    return [*parts, text.justify] if text.justify else parts


def text_from(parts: Sequence[Any]) -> Text:
    plain, style, spans = parts[:3]
    text = Text(plain, style=style, justify=parts[3] if len(parts) > 3 else None)
    text.spans[:] = [Span(start, end, span_style) for start, end, span_style in spans]
    return text


def label_row(label: Text | str) -> tuple[str, str | None]:
    """A label as (plain text, styles as JSON or None for a plain string label)."""
    if isinstance(label, str):
        return label, None
    plain, style, spans = text_parts(label)[:3]
    return plain, json.dumps([style, spans])


def label_from(plain: str, style: str | None) -> Text | str:
    if style is None:
        return plain
    base, spans = json.loads(style)
    return text_from([plain, base, spans])


# -- writing -----------------------------------------------------------------------------------


def tree_rows(roots: Iterable[TreeItem]) -> Iterator[NodeRow]:
    """The nodes of a tree depth first, numbered from 1 (iteratively: process chains are deep)."""
    next_id = 1
    stack: list[tuple[int, Iterator[TreeItem]]] = [(0, iter(roots))]
    while stack:
        parent, items = stack[-1]
        node = next(items, None)
        if node is None:
            stack.pop()
            continue
        nid, next_id = next_id, next_id + 1
        label, style = label_row(node.label)
        lazy = getattr(node, "iter_children", None)  # a forest's process: children made as read
        if lazy is not None:
            count: int = node.child_count  # type: ignore[union-attr]
            kids: Iterator[TreeItem] = lazy()
        else:
            made = node.children
            count, kids = len(made), iter(made)
        yield NodeRow(nid, parent, label, style, node.confidence, node.store_id, node_reason(node), count)
        if count:
            stack.append((nid, kids))


def list_rows(rows: Iterable[ListedRow]) -> Iterator[LineRow]:
    for row in rows:
        extra = getattr(row, "extra", None)
        yield (row.store_id, json.dumps([text_parts(c) for c in row.cells]), json.dumps(text_parts(row.why)),
               None if extra is None else json.dumps(extra))


#: Rows between two of the writer's checks (`checked`), which give the pages read back past
#: `tui.model_cache.RELEASE_MB` (at 10M events 256 Process access lines held 60 MB of them, 32
#: up to 56 MB: the pages a block of rows reads are mapped until the check after it).
CHECK_EVERY = 8


def checked(items: Iterable[T], check: Callable[[], None] | None, every: int = CHECK_EVERY) -> Iterator[T]:
    """`items`, calling `check()` (which raises to stop) every `every` of them: a write's rows
    are made as they are written, so a write told to stop ends between two rows."""
    if check is None:
        yield from items
        return
    it = iter(items)
    while True:  # a block at a time: one test per item was a tenth of writing the links
        block = list(itertools.islice(it, every))
        if not block:
            return
        check()
        yield from block


def _shown(node: TreeItem) -> event_trees.Shown:
    if type(node) is Node:  # the engine's (a million of them per list view): a plain label, no reason
        return node.label, None, node.confidence, node.store_id, None
    label, style = label_row(node.label)
    return label, style, node.confidence, node.store_id, node_reason(node)


#: Events read at once for their trees (one statement each, not one per event: 34,000 at 1M).
FETCHED = 500
#: A list's first lines whose events' trees are stored (`write_event_trees`): every line of a
#: list is stored, but a tree per line is ~0.35 ms of the writer's CPU and ~1 KB of the store
#: (deduplicated), and a 10M-event log lists hundreds of thousands of lines. A line beyond them
#: shows the model's tree while the model is in memory, else its links as stored
#: (`tui.stored_links`).
TREE_LINES = 20_000


def write_event_trees(store: Store, built: dict[str, ViewRows], check: Callable[[], None] | None = None,
                      events: Store | None = None) -> bool:
    """Store the correlation tree of every event the first TREE_LINES lines of each list of
    `built` show that is not stored yet (`ViewRows.event_tree`); False when the database
    refuses; `check` as in `checked`. The events are read from `events` (default `store`: a
    second writer's database holds none, `tui.side_writer`)."""
    source = store if events is None else events

    def trees() -> Iterator[tuple[int, list[TreeItem]]]:
        for rows in built.values():
            if rows.event_tree is None or rows.rows is None:
                continue
            ids = rows.rows.store_ids() if isinstance(rows.rows, MadeRows) else (r.store_id for r in rows.rows)
            firsts = itertools.islice(ids, TREE_LINES)
            wanted = list(dict.fromkeys(store_id for store_id in firsts if store_id is not None))
            have = event_trees.stored_events(store.conn, wanted)
            todo = [store_id for store_id in wanted if store_id not in have]
            for start in range(0, len(todo), FETCHED):
                part = todo[start:start + FETCHED]
                found = {e.id: e for e in source.select(Filter.store_ids(*part), order=Order.FILE, limit=len(part))}
                for store_id in part:
                    stored = found.get(store_id)
                    if stored is not None:
                        yield store_id, rows.event_tree(stored)

    with shared_subtrees():  # neighbouring lines' trees share their instances' nodes: made once
        return event_trees.write_trees(store.conn, _shown, checked(trees(), check, every=1))  # a tree reads a few MB


def write_views(store: Store, built: dict[str, ViewRows], check: Callable[[], None] | None = None, *,
                events: Store | None = None) -> bool:
    """Store what the views built (`ViewBuilder`), by view name: their event trees first, so
    that a view is tagged as stored only with them; `check` as in `checked`; `events` as in
    `write_event_trees`.

    Written with the cyclic collector paused (`gc_paused`; a view's rows and trees have no
    cycles): the hundreds of thousands of objects of a view's rows are alive meanwhile, and each
    full collection walked them all again, a fifth of the views' writing at a million events."""
    with gc_paused():
        return _write_views(store, built, check, events)


def _write_views(store: Store, built: dict[str, ViewRows], check: Callable[[], None] | None,
                 events: Store | None) -> bool:
    if tables.ready(store) and not write_event_trees(store, built, check, events):
        return False
    trees: dict[str, Iterable[NodeRow]] = {}
    lists: dict[str, tuple[Iterable[LineRow], int]] = {}
    infos: dict[str, str] = {}
    for name, rows in built.items():
        if rows.tree is not None:
            trees[name] = checked(tree_rows(rows.tree), check)
        if rows.rows is not None or rows.tree is None:
            lists[name] = checked(list_rows(rows.rows or ()), check), rows.total
        if rows.info is not None:
            infos[name] = json.dumps(rows.info)
    return tables.write_views(store, trees, lists, infos)


# -- reading -----------------------------------------------------------------------------------


def _node(row: NodeRow, children: tuple[TreeItem, ...] = ()) -> StoredNode:
    return StoredNode(label_from(row.label, row.style), row.store_id, children, row.confidence, row.reason,
                      node_id=row.id, kids=row.kids, parent_id=row.parent)


def _more(parent: int, after: int, before: int | None = None) -> StoredNode:
    return StoredNode(f"... more: enter to show the next {PAGE:,}", parent_id=parent, more_after=after,
                      more_before=before)


def _nested(rows: list[NodeRow], root: int = 0) -> list[TreeItem]:
    """A whole tree (or the part below node `root`) from its rows (depth first): children
    before parents, built bottom-up."""
    kids: dict[int, list[TreeItem]] = {}
    for row in reversed(rows):
        node = _node(row, tuple(reversed(kids.pop(row.id, []))))
        kids.setdefault(row.parent, []).append(node)
    return list(reversed(kids.get(root, [])))


def _page(store: Store, tree: str, parent: int, after: int = 0, before: int | None = None) -> list[TreeItem]:
    return page_of(tables.children(store, tree, parent, after=after, before=before, limit=PAGE + 1), parent,
                   before)


def page_of(rows: Sequence[NodeRow], parent: int, before: int | None = None) -> list[TreeItem]:
    """A page of node `parent`'s children from up to PAGE + 1 of their rows: PAGE nodes and a
    "more" line when there are more (standing for those up to `before`)."""
    out: list[TreeItem] = [_node(r) for r in rows[:PAGE]]
    if len(rows) > PAGE:
        out.append(_more(parent, rows[PAGE - 1].id, before))
    return out


def load_tree(store: Store, tree: str, whole_below: int) -> tuple[list[TreeItem], int]:
    """(top-level nodes, how many nodes the tree has): the whole tree when it has at most
    `whole_below` nodes, else the top level with a first page of each top node's children."""
    count = tables.count_nodes(store, tree)
    if count <= whole_below:
        return _nested(tables.whole_tree(store, tree)), count
    tops: list[TreeItem] = []
    for top in _page(store, tree, 0):
        if isinstance(top, StoredNode) and top.kids:
            top = StoredNode(top.label, top.store_id, tuple(_page(store, tree, top.node_id)), top.confidence,
                             top.reason, node_id=top.node_id, kids=top.kids, parent_id=top.parent_id)
        tops.append(top)
    return tops, count


def fetch_children(store_path: Path, tree: str, parent: int, after: int = 0,
                   before: int | None = None) -> list[TreeItem]:
    """The next page of a node's children after the child `after` (and before the child
    `before`: a gap a search left) (blocking: a thread worker's)."""
    with Store(store_path, readonly=True) as store:
        return _page(store, tree, parent, after, before)


def load_list(store: Store, name: str, limit: int, *, start: int = 0) -> tuple[int, int, list[StoredRow]]:
    """(the list's `ViewRows.total`, how many lines it has, `limit` of its lines from line
    `start` on)."""
    total, lines = tables.list_size(store, name)
    memo: dict[tuple[str, str, str], Text] = {}

    def cell(parts: list[Any]) -> Text:
        # Most cells repeat (computers, users, packages): equal ones are one shared `Text`, as
        # the views make them (the table only reads them): 20,000 sessions read in 0.4 s, not 3.3 s.
        plain, style, spans = parts[:3]
        key = (plain, style, json.dumps(parts[2:]) if spans or len(parts) > 3 else "")
        text = memo.get(key)
        if text is None:
            text = memo[key] = text_from(parts)
        return text

    out = [
        StoredRow(r.store_id, tuple(cell(c) for c in json.loads(r.cells)), text_from(json.loads(r.why)),
                  None if r.extra is None else json.loads(r.extra))
        for r in tables.list_rows(store, name, start=start, limit=limit)
    ]
    return total, lines, out


def load_info(store: Store, name: str) -> Any:
    """The list's `ViewRows.info` (None if it stored none)."""
    info = tables.view_info(store, name)
    return None if info is None else json.loads(info)


def load_subtree(store: Store, tree: str, line: int) -> list[TreeItem]:
    """The whole tree kept for line `line` of a list (`ViewRows`: small, read at once)."""
    top, rows = tables.subtree(store, tree, line)
    return _nested(rows, top) if top else []


def _nested_dag(kids: dict[int, list[NodeRow]], root: int) -> list[TreeItem]:
    """The nodes below `root` from `event_trees.whole` (children first, iteratively; a shared
    subtree is one shared node)."""
    made: dict[int, StoredNode] = {}
    stack: list[tuple[NodeRow, bool]] = [(row, False) for row in kids.get(root, [])]
    while stack:
        row, expanded = stack.pop()
        if row.id in made:
            continue
        below = kids.get(row.id, [])
        if not expanded and any(child.id not in made for child in below):
            stack.append((row, True))
            stack.extend((child, False) for child in below if child.id not in made)
            continue
        made[row.id] = _node(row, tuple(made[child.id] for child in below if child.id in made))
    return [made[row.id] for row in kids.get(root, []) if row.id in made]


def _event_page(store: Store, parent: int, after: int = -1) -> list[TreeItem]:
    found = event_trees.children(store.conn, parent, after=after, limit=PAGE + 1)
    out: list[TreeItem] = [_node(row) for _pos, row in found[:PAGE]]
    if len(found) > PAGE:
        out.append(_more(parent, found[PAGE - 1][0]))
    return out


def load_event_tree(store: Store, store_id: int, whole_below: int) -> tuple[list[TreeItem], int] | None:
    """(the roots of event `store_id`'s stored correlation tree, how many nodes it has), None
    when none is stored: the whole tree up to `whole_below` nodes, else its top level with a
    first page of each top node's children (`fetch_event_children` the rest)."""
    found = event_trees.event_root(store.conn, store_id)
    if found is None:
        return None
    root, count = found
    if count <= whole_below:
        return _nested_dag(event_trees.whole(store.conn, root), root), count
    tops: list[TreeItem] = []
    for top in _event_page(store, root):
        if isinstance(top, StoredNode) and top.kids:
            top = replace(top, children=tuple(_event_page(store, top.node_id)))
        tops.append(top)
    return tops, count


def fetch_event_children(store_path: Path, parent: int, after: int = -1) -> list[TreeItem]:
    """The next page of an event tree node's children after position `after` (blocking)."""
    with Store(store_path, readonly=True) as store:
        return _event_page(store, parent, after)


# -- `/` in a tree read a page at a time ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step down to a search hit: the child `node` of `parent` (0: the top level), the
    child before it (`previous`, 0 if none) and a page of children from it on (PAGE + 1: the
    last says whether more follow)."""

    parent: int
    node: int
    previous: int
    page: list[NodeRow]


def search_stored(store_path: Path, tree: str, text: str, after: int, forward: bool) -> list[PathStep] | None:
    """The path to the next node of a stored tree after node `after` whose text holds `text`
    (SQL: the nodes not fetched yet too), None when none does (blocking: a worker's)."""
    with Store(store_path, readonly=True) as store:
        hit = tables.search(store, tree, text, after=after, forward=forward)
        if hit is None:
            return None
        steps: list[PathStep] = []
        parent = 0
        for node in tables.path_to(store, tree, hit):
            steps.append(PathStep(parent, node, tables.previous_sibling(store, tree, parent, node),
                                  tables.children(store, tree, parent, after=node - 1, limit=PAGE + 1)))
            parent = node
        return steps


def window(step: PathStep, after: int, before: int | None) -> list[TreeItem]:
    """What takes the place of a "more" line standing for the children of `step.parent`
    between `after` and `before` (exclusive) once a search shows `step.node` among them: a
    "more" line for those before it (if any), a page from it on, a "more" line for the rest."""
    page = [row for row in step.page if before is None or row.id < before]
    out: list[TreeItem] = []
    if step.previous > after:
        out.append(_more(step.parent, after, step.node))
    out.extend(_node(row) for row in page[:PAGE])
    if len(page) > PAGE:
        out.append(_more(step.parent, page[PAGE - 1].id, before))
    return out
