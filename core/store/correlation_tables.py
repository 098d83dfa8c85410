"""Correlation results kept in the store: instances, links and the views' rows, paged by SQL.

Building the correlation model takes seconds at a million events and about 0.9 GB held in
Python objects; a reopen of a cached store would build it again. Once a model of a completely
loaded store is built, its results are written here, into the store's own database (so they are
cached with it, per input file set, `core.store.cache`), and the views read them back a page at
a time, as the event table reads events:

* `corr_process`, `corr_handle`, `corr_session`: the instances, one row each (`*_COLUMNS`);
* `corr_link`: every link of every correlated event (store id -> role, instance, confidence,
  reason), the reasons deduplicated in `corr_reason`;
* `corr_node`: the views' trees (process forest, sessions), one row per node with its parent,
  so that a view fetches the children of the node it unfolds, a page at a time;
* `corr_row`: the views' lists (handle duplications, process accesses, sessions), by position,
  each line with what its view needs besides its cells (`extra`: what `/` searches...);
* a view may have both: the Sessions list keeps one tree per line (its top-level node at the
  line's position, `subtree`), and a note on the whole list (`view_info`: its computers);
* `corr_tnode`, `corr_tedge`, `corr_etree`: the correlation tree of each event a list view
  shows (Handles, Process access), deduplicated (`core.store.event_trees`).

What a label or a cell says is decided by the engine and the views before it is written; this
module only stores and pages it (labels are opaque strings, with their styles as JSON). The
tables are tagged with CORRELATION_FORMAT in `meta`: a store written by an older version has no
tag or another one and gets them rebuilt (`ready`). The links are written last, under a tag of
their own (`core.store.correlation_links`): a reopen needs the instances and the views' rows, and the links
(every correlated event's, 24 million rows at ten million events) took as long to write as
every view together. Only this module writes their SQL (and `core.store.correlation_copies`, which
copies the rows a second writer wrote: `tui.side_writer`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.store.gc_pause import gc_paused
from core.store.store import Store

#: Bumped whenever what the tables hold changes: older caches rebuild them (3: the list
#: views' event trees, `core.store.event_trees`; 4: the links tagged apart, `LINKS_KEY`, their
#: words as codes; 5: the Process access reasons and every label with the log's text escaped,
#: where format 4 wrote some raw; 7: sessions known from their logoff, ambiguous handle closes,
#: inferred copies, processes just after their exit and Sysmon 1s ahead of their 4688; 8: a
#: restart ends a computer's processes, handles and sessions, SYSTEM's session one per boot;
#: 9: the event trees' "why:" lines carry the record they name, to jump to; a Sysmon 1 logged
#: late joins its 4688 by the creation time it says; a handle after a restart says so).
CORRELATION_FORMAT = 9
FORMAT_KEY = "correlation_format"
#: Tags the links (`core.store.correlation_links`), written after the instances and the views.
LINKS_KEY = "correlation_links"

#: Instance columns, in the order the engine's rows give them (`core.correlate.persist`). A
#: session field added by the engine is one more name here and one more value there.
PROCESS_COLUMNS: tuple[str, ...] = (
    "idx", "computer", "pid", "image", "command_line", "parent_pid", "parent", "user", "user_sid", "logon_id",
    "elevation", "integrity", "created", "exited", "replaced_by", "first_seen", "start_ts", "start_order",
    "end_ts", "end_order", "pre_existing", "confidence", "reason", "guid",
)
HANDLE_COLUMNS: tuple[str, ...] = (
    "idx", "computer", "pid", "handle_id", "process", "opened", "duplicated_by", "source", "object_type",
    "object_name", "access", "closed", "close_reason", "first_seen", "confidence", "reason",
)
SESSION_COLUMNS: tuple[str, ...] = (
    "idx", "computer", "logon_id", "logon", "privileges", "privileged", "user", "user_sid", "logon_type", "ip",
    "workstation", "auth_package", "lm_package", "logon_process", "elevated_token", "linked_logon_id", "processes",
    "start_ts", "start_order",
)
LINK_COLUMNS: tuple[str, ...] = ("store_id", "role", "kind", "instance", "confidence", "reason")

_TABLES = ("corr_process", "corr_handle", "corr_session", "corr_link", "corr_reason", "corr_node", "corr_row",
           "corr_tnode", "corr_tedge", "corr_etree")


def _schema() -> str:
    def table(name: str, columns: Sequence[str]) -> str:
        rest = ", ".join(columns[1:])
        return f"CREATE TABLE {name} ({columns[0]} INTEGER PRIMARY KEY, {rest});"

    return "\n".join((
        table("corr_process", PROCESS_COLUMNS),
        table("corr_handle", HANDLE_COLUMNS),
        table("corr_session", SESSION_COLUMNS),
        "CREATE TABLE corr_reason (id INTEGER PRIMARY KEY, text TEXT NOT NULL);",
        # role, kind, confidence: codes (`core.store.correlation_links`), a word without one as itself.
        "CREATE TABLE corr_link (store_id INTEGER NOT NULL, role NOT NULL, kind NOT NULL,"
        " instance INTEGER, confidence NOT NULL, reason INTEGER);",
        # One row per tree node; `id` is its place in the tree read depth first, so that the
        # children of a node are its rows with that `parent`, in `id` order.
        "CREATE TABLE corr_node (tree TEXT NOT NULL, id INTEGER NOT NULL, parent INTEGER NOT NULL,"
        " label TEXT NOT NULL, style TEXT, confidence TEXT, store_id INTEGER, reason TEXT,"
        " kids INTEGER NOT NULL, PRIMARY KEY (tree, id)) WITHOUT ROWID;",
        "CREATE TABLE corr_row (list TEXT NOT NULL, pos INTEGER NOT NULL, store_id INTEGER,"
        " cells TEXT NOT NULL, why TEXT NOT NULL, extra TEXT, PRIMARY KEY (list, pos)) WITHOUT ROWID;",
        # The list views' event trees, each distinct subtree once (`core.store.event_trees`).
        "CREATE TABLE corr_tnode (id INTEGER PRIMARY KEY, label TEXT NOT NULL, style TEXT, confidence TEXT,"
        " store_id INTEGER, reason TEXT, kids INTEGER NOT NULL, size INTEGER NOT NULL);",
        "CREATE TABLE corr_tedge (parent INTEGER NOT NULL, pos INTEGER NOT NULL, child INTEGER NOT NULL,"
        " PRIMARY KEY (parent, pos)) WITHOUT ROWID;",
        "CREATE TABLE corr_etree (store_id INTEGER PRIMARY KEY, root INTEGER NOT NULL);",
    ))


#: Made with the tables: the views' nodes are inserted in their order, a chunk at a time.
_NODE_INDEX = "CREATE INDEX corr_node_parent ON corr_node(tree, parent, id)"


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One stored tree node: `label` and `style` as the view serialised them, `kids` how many
    children it has (fetched with `children`)."""

    id: int
    parent: int
    label: str
    style: str | None
    confidence: str | None
    store_id: int | None
    reason: str | None
    kids: int


@dataclass(frozen=True, slots=True)
class ListRow:
    """One stored list line: its event, its cells and explanation as the view serialised them,
    and what else its view keeps for it (JSON, or None)."""

    pos: int
    store_id: int | None
    cells: str
    why: str
    extra: str | None


@dataclass
class CorrelationTables:
    """The instance rows of one model (columns as named above). Iterables: they may be
    generated while they are written."""

    processes: Iterable[Sequence[Any]] = ()
    handles: Iterable[Sequence[Any]] = ()
    sessions: Iterable[Sequence[Any]] = ()


def _view_key(name: str) -> str:
    return f"correlation_view:{name}"


def _total_key(name: str) -> str:
    return f"correlation_view_total:{name}"


def _info_key(name: str) -> str:
    return f"correlation_view_info:{name}"


def refused(conn: sqlite3.Connection) -> bool:
    """After the database refused a write: roll back what it left open, and say False (what the
    tables' writers return then)."""
    if conn.in_transaction:
        conn.rollback()
    return False


def ready(store: Store) -> bool:
    """Whether `store` holds the instance tables of the current format (the views' and the
    links' are tagged apart: `view_ready`, `correlation_links.links_ready`)."""
    try:
        return store.get_meta(FORMAT_KEY) == str(CORRELATION_FORMAT)
    except sqlite3.Error:
        return False


def view_ready(store: Store, name: str) -> bool:
    """Whether the view `name`'s tree or list is stored, over instances of the current format."""
    try:
        return ready(store) and store.get_meta(_view_key(name)) == str(CORRELATION_FORMAT)
    except sqlite3.Error:
        return False


def complete(store: Store) -> bool:
    """Whether every input of `store` was read (only then are its correlation results final)."""
    return store.get_meta("complete") == "1"


#: Rows written per transaction: the tables take tens of seconds to write at a million events,
#: and another writer of the store (the Sigma results) must not wait that long for its turn.
CHUNK = 20_000


def write_instances(store: Store, tables: CorrelationTables) -> bool:
    """Replace every correlation table of `store` (a writable one) by the instances of `tables`
    (the views' rows and the links of an older model go too), CHUNK rows per transaction;
    tagged with CORRELATION_FORMAT in the last one, so that a write cut short is never taken
    as done. The views and the links follow (`write_views`, `correlation_links.write_links`).
    False when the database refuses (disk full, read-only cache directory, locked): the views
    then use the model."""
    conn = store.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM meta WHERE key IN (?, ?) OR key LIKE 'correlation_view%'", (FORMAT_KEY, LINKS_KEY))
        for name in _TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {name}")
        for statement in _schema().split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(_NODE_INDEX)
        conn.commit()
        _insert(conn, "corr_process", PROCESS_COLUMNS, tables.processes)
        _insert(conn, "corr_handle", HANDLE_COLUMNS, tables.handles)
        _insert(conn, "corr_session", SESSION_COLUMNS, tables.sessions)
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (FORMAT_KEY, str(CORRELATION_FORMAT)))
        conn.commit()
    except sqlite3.Error:
        return refused(conn)
    return True


#: A list line to write: (store id, cells, why, extra).
LineRow = tuple[int | None, str, str, str | None]


def write_views(store: Store, trees: dict[str, Iterable[NodeRow]],
                lists: dict[str, tuple[Iterable[LineRow], int]], infos: dict[str, str] | None = None) -> bool:
    """Replace the named trees (nodes depth first, ids from 1, parent 0 at the top), lists
    ((lines in order, what the list counts)) and notes (`view_info`) of `store`, CHUNK rows per
    transaction, each tagged as ready once whole; False when the database refuses or holds no
    instance tables of the current format."""
    conn = store.conn
    try:
        if store.get_meta(FORMAT_KEY) != str(CORRELATION_FORMAT):
            return False
        names = (*trees, *lists)
        for name in names:
            conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (_view_key(name), _info_key(name)))
        conn.commit()
        for tree, nodes in trees.items():
            conn.execute("DELETE FROM corr_node WHERE tree = ?", (tree,))
            _chunked(conn, "INSERT INTO corr_node(tree, id, parent, label, style, confidence, store_id, reason, kids)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     ((tree, n.id, n.parent, n.label, n.style, n.confidence, n.store_id, n.reason, n.kids)
                      for n in nodes))
            count = conn.execute("SELECT count(*) FROM corr_node WHERE tree = ?", (tree,)).fetchone()[0]
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_total_key(tree), str(count)))
        for name, (rows, total) in lists.items():
            conn.execute("DELETE FROM corr_row WHERE list = ?", (name,))
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_total_key(name), str(total)))
            _chunked(conn, "INSERT INTO corr_row(list, pos, store_id, cells, why, extra) VALUES (?, ?, ?, ?, ?, ?)",
                     ((name, pos, sid, cells, why, extra) for pos, (sid, cells, why, extra) in enumerate(rows)))
        for name, info in (infos or {}).items():
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_info_key(name), info))
        for name in names:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         (_view_key(name), str(CORRELATION_FORMAT)))
        conn.commit()
    except sqlite3.Error:
        return refused(conn)
    return True


def _chunked(conn: sqlite3.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """`executemany`, committed every CHUNK rows, each chunk made and written with the cyclic
    collector paused (see `_write_links`)."""
    it = iter(rows)
    while True:
        with gc_paused():
            chunk = list(itertools.islice(it, CHUNK))
            if not chunk:
                return
            conn.executemany(sql, chunk)
            conn.commit()
            del chunk  # before the collector is back: it would walk the chunk's rows once more


def _insert(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    places = ", ".join("?" * len(columns))
    _chunked(conn, f"INSERT INTO {table}({', '.join(columns)}) VALUES ({places})", rows)


# -- reading ----------------------------------------------------------------------------------


def count_nodes(store: Store, tree: str) -> int:
    """How many nodes the tree has (counted once, as it was written)."""
    return int(store.get_meta(_total_key(tree)) or 0)


def whole_tree(store: Store, tree: str) -> list[NodeRow]:
    """Every node of a (small) tree, depth first."""
    cur = store.conn.execute(
        "SELECT id, parent, label, style, confidence, store_id, reason, kids FROM corr_node WHERE tree = ? ORDER BY id",
        (tree,),
    )
    return [NodeRow(*row) for row in cur]


def children(store: Store, tree: str, parent: int, *, after: int = 0, before: int | None = None,
             limit: int = 500) -> list[NodeRow]:
    """The children of node `parent` (0: the top level) after the child `after` (and before
    the child `before`), at most `limit`."""
    # By the parent index, named: SQLite otherwise walks the primary key in id order for the
    # ORDER BY, through every node of the tree after `after` (80 ms for the top level of a
    # 577,000-node forest, a third of a reopened Processes view's time).
    cur = store.conn.execute(
        "SELECT id, parent, label, style, confidence, store_id, reason, kids FROM corr_node"
        " INDEXED BY corr_node_parent WHERE tree = ? AND parent = ? AND id > ? AND id < ? ORDER BY id LIMIT ?",
        (tree, parent, after, 2**62 if before is None else before, limit),
    )
    return [NodeRow(*row) for row in cur]


def list_size(store: Store, name: str) -> tuple[int, int]:
    """(what the list counts, as its view said when storing it; how many lines it has)."""
    # The lines are at positions 0..n-1 (`write_views` numbers them): the last one's position
    # is one seek in the primary key, where count(*) read every line with its cells (20,000
    # lines: 40-100 ms of a reopened list view's time, and again for every page read).
    last = store.conn.execute("SELECT pos FROM corr_row WHERE list = ? ORDER BY pos DESC LIMIT 1",
                              (name,)).fetchone()
    return int(store.get_meta(_total_key(name)) or 0), 0 if last is None else int(last[0]) + 1


def list_rows(store: Store, name: str, *, start: int = 0, limit: int = 500) -> list[ListRow]:
    """Lines `start`.. of a list, at most `limit`."""
    cur = store.conn.execute(
        "SELECT pos, store_id, cells, why, extra FROM corr_row WHERE list = ? AND pos >= ? ORDER BY pos LIMIT ?",
        (name, start, limit),
    )
    return [ListRow(*row) for row in cur]


def list_extra_field(store: Store, name: str, field: str, *, limit: int) -> list[str]:
    """The text field `field` of what the first `limit` lines of a list keep besides their
    cells (`ListRow.extra`, a JSON object), in order ("" where none): a view searches them all
    while their cells are still being read. Extracted by SQLite, without parsing in Python."""
    cur = store.conn.execute("SELECT coalesce(json_extract(extra, '$.' || ?), '') FROM corr_row WHERE list = ?"
                             " ORDER BY pos LIMIT ?", (field, name, limit))
    return [str(row[0]) for row in cur]


def find_line(store: Store, name: str, field: str, text: str, *, after: int, forward: bool = True,
              limit: int) -> int | None:
    """The position of the next line of a list (wrapping, among its first `limit`) after line
    `after` (before it when not `forward`) whose text field `field` of `ListRow.extra` holds
    `text` in any case (as `str.lower` folds it, beyond ASCII: compared here, not by LIKE), or
    None. One pass over the list's lines at most, by its primary key, without parsing its cells."""
    needle = text.lower()
    if not needle:
        return None
    order, first, wrap = ("ASC", "pos > ?", "pos <= ?") if forward else ("DESC", "pos < ?", "pos >= ?")
    for bound in (first, wrap):
        cur = store.conn.execute(
            f"SELECT pos, coalesce(json_extract(extra, '$.' || ?), '') FROM corr_row"
            f" WHERE list = ? AND pos < ? AND {bound} ORDER BY pos {order}", (field, name, limit, after))
        for pos, value in cur:
            if needle in str(value).lower():
                return int(pos)
    return None


def view_info(store: Store, name: str) -> str | None:
    """The note a view stored on its whole list (`write_views`), or None."""
    return store.get_meta(_info_key(name))


def subtree(store: Store, tree: str, nth: int) -> tuple[int, list[NodeRow]]:
    """(the id of the `nth` top-level node of a tree, or 0 if it has none; every node below
    it, depth first): ids are depth first, so they are those between it and the next top node."""
    tops = [row[0] for row in store.conn.execute(
        "SELECT id FROM corr_node WHERE tree = ? AND parent = 0 ORDER BY id LIMIT 2 OFFSET ?", (tree, nth))]
    if not tops:
        return 0, []
    end = tops[1] if len(tops) > 1 else None
    cur = store.conn.execute(
        "SELECT id, parent, label, style, confidence, store_id, reason, kids FROM corr_node"
        " WHERE tree = ? AND id > ? AND id < ? ORDER BY id",
        (tree, tops[0], end if end is not None else 2**62),
    )
    return tops[0], [NodeRow(*row) for row in cur]


def instance(store: Store, kind: str, index: int) -> dict[str, Any] | None:
    """One instance row (`kind`: process, handle or session) by its index, as a dict."""
    columns = {"process": PROCESS_COLUMNS, "handle": HANDLE_COLUMNS, "session": SESSION_COLUMNS}[kind]
    row = store.conn.execute(f"SELECT {', '.join(columns)} FROM corr_{kind} WHERE idx = ?", (index,)).fetchone()
    return dict(zip(columns, row, strict=True)) if row is not None else None


def instance_count(store: Store, kind: str) -> int:
    if kind not in ("process", "handle", "session"):
        raise ValueError(kind)
    return int(store.conn.execute(f"SELECT count(*) FROM corr_{kind}").fetchone()[0])


#: How deep `path_to` climbs at most (a process chain is a few dozen deep; a hostile log's
#: could be longer: the search then stops short of unfolding it).
MAX_DEPTH = 10_000


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\': the text's own `%`, `_` and `\\` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(store: Store, tree: str, text: str, *, after: int, forward: bool = True) -> int | None:
    """The id of the next node of the tree (depth first, wrapping) after node `after` (before
    it when not `forward`) whose label, confidence or reason holds `text` (any ASCII case, as
    LIKE compares), or None. One indexed scan of the tree's nodes at most, from `after` on and
    then from the other end."""
    if not text:
        return None
    pattern = like_pattern(text)
    match = ("tree = ? AND (label LIKE ? ESCAPE '\\' OR confidence LIKE ? ESCAPE '\\'"
             " OR reason LIKE ? ESCAPE '\\')")
    args = (tree, pattern, pattern, pattern)
    order, first, wrap = ("ASC", "id > ?", "id <= ?") if forward else ("DESC", "id < ?", "id >= ?")
    for bound in (first, wrap):
        row = store.conn.execute(f"SELECT id FROM corr_node WHERE {match} AND {bound} ORDER BY id {order} LIMIT 1",
                                 (*args, after)).fetchone()
        if row is not None:
            return int(row[0])
    return None


def path_to(store: Store, tree: str, node: int) -> list[int]:
    """The ids from the top-level ancestor of `node` down to `node` (MAX_DEPTH at most)."""
    cur = store.conn.execute(
        "WITH RECURSIVE up(id, parent, depth) AS ("
        " SELECT id, parent, 0 FROM corr_node WHERE tree = ? AND id = ?"
        " UNION ALL SELECT n.id, n.parent, up.depth + 1 FROM corr_node n JOIN up ON n.tree = ? AND n.id = up.parent"
        " WHERE up.depth < ?)"
        " SELECT id FROM up ORDER BY depth DESC",
        (tree, node, tree, MAX_DEPTH),
    )
    return [int(row[0]) for row in cur]


def previous_sibling(store: Store, tree: str, parent: int, node: int) -> int:
    """The id of the child of `parent` just before `node`, 0 if it is the first."""
    row = store.conn.execute("SELECT max(id) FROM corr_node INDEXED BY corr_node_parent"
                             " WHERE tree = ? AND parent = ? AND id < ?",
                             (tree, parent, node)).fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0
