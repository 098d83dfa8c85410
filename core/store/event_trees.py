"""The correlation trees of the events the list views show, kept in the store, deduplicated.

The Handles and Process access views show, beside the highlighted line, the correlation tree
of its event (`model.correlate(event).tree()`). A reopen must show it without building the
model (30 s and 1.2 GB at a million events), so the trees of the listed events are written
with the other correlation tables (those of a list's first 20,000 lines: `tui.stored_views`).
Stored as they are, they would be big: a line's tree has about 90 nodes (the source and target
processes with their parents, the handle with its accesses, the session, the related events).
But most of a
tree repeats in its neighbours' (one process opened a thousand handles: its node, its parent,
its image... are the same in each tree), so the nodes are stored once per distinct subtree:

* `corr_tnode`: one row per distinct subtree (a node and, recursively, its children):
  what the node shows, how many children it has (`kids`) and how many nodes its whole subtree
  has (`size`: a big one is read a page at a time);
* `corr_tedge`: the children of a node, by position (parent, pos -> child);
* `corr_etree`: an event's tree: the store id -> a node whose children are the tree's roots.

On the Cobalt Strike sample's 1,254 Process access lines (1,099 events) that is 4,634 nodes
instead of 112,021. Labels and styles are opaque (as in `core.store.correlation_tables`);
only this module writes these tables' SQL. The tables are created, dropped and tagged with the
others (`correlation_tables.write_instances`, CORRELATION_FORMAT).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import count, islice, repeat
from typing import Any

from core.store.correlation_tables import CHUNK, NodeRow, refused
from core.store.gc_pause import gc_paused

#: Nodes of one tree read at most (a hostile log's tree beyond it is read a page at a time).
MAX_WALK = 1_000_000
#: Event trees made and written at once with the cyclic collector paused (`write_trees`).
TREES_PAUSED = 20
#: Distinct subtrees a writer remembers (a few hundred bytes each: their labels): a list's trees
#: share mostly with their neighbours', and all of them were 115 MB at a million events (20,000
#: Handles lines). 1 << 16 of them held 18 MB more of the writer's heap at its end (1M churn
#: events, bench/first_peak.py) for 6% fewer nodes stored; 1 << 12 saves 2 MB more for 12% more.
SUBTREES_KEPT = 1 << 14
#: Nodes with children a writer knows by the object (`TreeWriter._objects`): each keeps its
#: subtree alive.
OBJECTS_KEPT = 1 << 10


@dataclass(frozen=True, slots=True)
class _Top:
    """The node above a tree's roots (stored unlabelled: an event's tree may have several)."""

    children: tuple[Any, ...]


#: What a node shows, as stored: (label, style, confidence, store id, reason).
Shown = tuple[str, str | None, str | None, int | None, str | None]

#: What the node above a tree's roots shows: nothing.
_TOP_SHOWN: Shown = ("", None, None, None, None)


class TreeWriter:
    """Writes event trees into a store's `corr_t*` tables, each distinct subtree once among
    the last SUBTREES_KEPT written by this writer (what they show and their children's ids are
    kept; one seen again after that is written again, under another id). A tree is any nodes with `children`;
    `shown(node)` says what each one shows."""

    def __init__(self, conn: sqlite3.Connection, shown: Callable[[Any], Shown]) -> None:
        self._conn = conn
        self._shown = shown
        #: (what a node shows, its children's ids) -> (node id, subtree size)
        self._ids: dict[tuple[Shown, tuple[int, ...]], tuple[int, int]] = {}
        #: The same for the last few nodes with children written, by the object (its id, and
        #: the node itself, kept so that its id names no other object): a node shared by the
        #: trees (`core.correlate.tree.shared_subtrees`) is known without a walk of its subtree.
        #: Forgotten with `_ids`, so that what is written does not depend on it.
        self._objects: dict[int, tuple[Any, int, int]] = {}
        row = conn.execute("SELECT coalesce(max(id), 0) FROM corr_tnode").fetchone()
        self._next = int(row[0]) + 1
        self._nodes: list[tuple[object, ...]] = []
        self._edges: list[tuple[int, int, int]] = []
        self._trees: list[tuple[int, int]] = []

    def add(self, store_id: int, roots: Sequence[Any]) -> None:
        """Keep the tree of event `store_id` (written by `flush`, or when enough are pending)."""
        if len(self._ids) >= SUBTREES_KEPT:
            self._ids.clear()
            self._objects.clear()
        self._trees.append((store_id, self._node(_Top(tuple(roots)))))
        if len(self._nodes) + len(self._edges) >= CHUNK:
            self.flush()

    def _node(self, top: Any) -> int:
        """The id of `top`'s subtree, written if new: children first (iteratively: no depth
        limit from the interpreter's stack). A million nodes a view: the loop is kept lean (a
        leaf is visited once, a node with children twice, `None` on the stack marking the
        second visit; a subtree is known by what it shows and its children's ids, compared
        whole: no digest computed per node)."""
        ids, shown_of, objects = self._ids, self._shown, self._objects
        nodes, edges = self._nodes, self._edges
        done: dict[int, tuple[int, int]] = {}  # id(node) -> (node id, subtree size), within this tree
        stack: list[Any] = [top]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            if node is None:  # its children are done
                node = pop()
                children = node.children
            else:
                children = node.children
                if children:
                    known = objects.get(id(node))
                    if known is not None and known[0] is node:  # written whole, lately
                        done[id(node)] = known[1:]
                        continue
                    todo = [child for child in children if id(child) not in done]
                    if todo:
                        push(node)
                        push(None)
                        stack.extend(reversed(todo))
                        continue
            shown = _TOP_SHOWN if node is top else shown_of(node)
            if children:
                below = [done[id(child)] for child in children]
                key = (shown, tuple([kid[0] for kid in below]))
            else:
                below = []
                key = (shown, ())
            found = ids.get(key)
            if found is None:
                nid = self._next
                self._next += 1
                size = 1 + sum(kid[1] for kid in below) if below else 1
                found = ids[key] = (nid, size)
                nodes.append((nid, *shown, len(below), size))
                if below:
                    edges.extend(zip(repeat(nid), count(), key[1]))
            done[id(node)] = found
            if children and node is not top:
                if len(objects) >= OBJECTS_KEPT:
                    objects.clear()
                objects[id(node)] = (node, *found)
        return done[id(top)][0]

    def flush(self) -> None:
        """Write what is pending, in one transaction."""
        self._conn.executemany("INSERT INTO corr_tnode(id, label, style, confidence, store_id, reason, kids, size)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._nodes)
        self._conn.executemany("INSERT INTO corr_tedge(parent, pos, child) VALUES (?, ?, ?)", self._edges)
        self._conn.executemany("INSERT OR IGNORE INTO corr_etree(store_id, root) VALUES (?, ?)", self._trees)
        self._conn.commit()
        self._nodes, self._edges, self._trees = [], [], []


def write_trees(conn: sqlite3.Connection, shown: Callable[[Any], Shown],
                trees: Iterable[tuple[int, Sequence[Any]]]) -> bool:
    """Write the (event store id, tree roots) of `trees` (`TreeWriter`); False when the
    database refuses (what was written whole stays: each event's tree goes in with its nodes)."""
    try:
        writer = TreeWriter(conn, shown)
        it = iter(trees)
        while True:
            # TREES_PAUSED trees made and kept at a time with the cyclic collector paused: a tree
            # is thousands of fresh objects without cycles, which it walked again and again.
            with gc_paused():
                block = list(islice(it, TREES_PAUSED))
                for store_id, roots in block:
                    writer.add(store_id, roots)
                done = not block
                block, roots = [], ()  # before the collector is back: it would walk them once more
            if done:
                break
        writer.flush()
    except sqlite3.Error:
        return refused(conn)
    except BaseException:  # told to stop (the app ends): the tree being written is not kept
        if conn.in_transaction:
            conn.rollback()
        raise
    return True


def stored_events(conn: sqlite3.Connection, store_ids: Iterable[int]) -> set[int]:
    """Which of `store_ids` have their tree stored already (another view wrote it)."""
    wanted = sorted(set(store_ids))
    have: set[int] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        cur = conn.execute(f"SELECT store_id FROM corr_etree WHERE store_id IN ({', '.join('?' * len(part))})",
                           part)
        have.update(int(row[0]) for row in cur)
    return have


# -- reading ----------------------------------------------------------------------------------

_NODE = "n.id, {parent}, n.label, n.style, n.confidence, n.store_id, n.reason, n.kids"


def event_root(conn: sqlite3.Connection, store_id: int) -> tuple[int, int] | None:
    """(the node holding event `store_id`'s tree roots, how many nodes the tree has), or None
    when no tree is stored for it."""
    row = conn.execute("SELECT t.root, n.size - 1 FROM corr_etree t JOIN corr_tnode n ON n.id = t.root"
                       " WHERE t.store_id = ?", (store_id,)).fetchone()
    return (int(row[0]), int(row[1])) if row is not None else None


def children(conn: sqlite3.Connection, parent: int, *, after: int = -1, limit: int = 500) -> list[tuple[int, NodeRow]]:
    """(position, node) of the children of `parent` after position `after`, at most `limit`
    (a node's `parent` is the `parent` asked for: a shared subtree has several)."""
    cur = conn.execute(
        f"SELECT e.pos, {_NODE.format(parent='e.parent')} FROM corr_tedge e JOIN corr_tnode n ON n.id = e.child"
        " WHERE e.parent = ? AND e.pos > ? ORDER BY e.pos LIMIT ?",
        (parent, after, limit),
    )
    return [(int(row[0]), NodeRow(*row[1:])) for row in cur]


def whole(conn: sqlite3.Connection, root: int) -> dict[int, list[NodeRow]]:
    """The children of every node below `root` (each distinct node's once), by node id; read
    a level at a time, at most MAX_WALK nodes."""
    kids: dict[int, list[NodeRow]] = {}
    level = [root]
    read = 0
    while level and read < MAX_WALK:
        found: list[NodeRow] = []
        for start in range(0, len(level), 500):
            part = level[start:start + 500]
            cur = conn.execute(
                f"SELECT {_NODE.format(parent='e.parent')} FROM corr_tedge e JOIN corr_tnode n ON n.id = e.child"
                f" WHERE e.parent IN ({', '.join('?' * len(part))}) ORDER BY e.parent, e.pos", part)
            found.extend(NodeRow(*row) for row in cur)
        read += len(found)
        for row in found:
            kids.setdefault(row.parent, []).append(row)
        level = list(dict.fromkeys(row.id for row in found if row.kids and row.id not in kids))
    return kids

