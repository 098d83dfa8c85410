"""The event table sorted by a column: a typed, whitelisted sort key and the paging of a view in
that order.

A sort names a column, never SQL: `Sort("computer")` or `Sort("field", "commandline")`. System
columns map to a fixed expression (`SYSTEM_SORTS`); an EventData field is ranked through its
posting lists (the field name is bound as a parameter), so no user text reaches the SQL text.

Why a table of positions: `ORDER BY computer` over a million events cannot page by OFFSET
within the table's budget (each page would sort them all again), and keyset paging on an
arbitrary key needs an index per column. So the view's ids are sorted once, in the fetcher
thread, into a temporary table `(pos INTEGER PRIMARY KEY, id)` of this connection (as
`Store.id_set` does for a filter), and every page and count after that is a lookup by
position (a jump to an event scans the positions: ~50 ms). Sorting a million events takes
about a second (0.3 s by time, which walks the time index), once per view and sort.

Events without the sort key (a field the event lacks, a NULL level) come last in both
directions; ties keep time order (reversed when descending), so descending is exactly
ascending read backwards, up to those events.

Only for a store that no longer changes (the table sorts once loading has finished).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass

from core.model.storable import bindable
from core.query.view import View, settled
from core.store.store import Store, StoredEvent

#: Sortable System columns (the table's column keys) -> their SQL expression over `events e`
#: (written as SQLite can walk the matching index, which saves most of the sort).
SYSTEM_SORTS: dict[str, str] = {
    "time": "e.ts",
    "record": "e.record_id",
    "eid": "e.event_id",
    "computer": "e.computer COLLATE NOCASE",
    "channel": "e.channel COLLATE NOCASE",
    "provider": "e.provider COLLATE NOCASE",
    "source": "e.source",
    "level": "e.level",
}
#: The System columns that may be NULL (those events go last, the others need no such test).
NULLABLE = frozenset({"level"})
#: The key of an EventData field sort (its lower-cased name is `Sort.field`).
FIELD = "field"
#: Sorted views a connection keeps (the current one and the one before).
KEPT = 2
_TIES = ("e.ts", "e.record_id", "e.id")


@dataclass(frozen=True, slots=True)
class Sort:
    """Sort by System column `column` (a key of SYSTEM_SORTS), or by EventData `field` when
    `column` is FIELD; `descending` flips it."""

    column: str
    field: str | None = None
    descending: bool = False

    def __post_init__(self) -> None:
        if self.column == FIELD:
            if not self.field:
                raise ValueError("a field sort needs a field name")
        elif self.column not in SYSTEM_SORTS or self.field is not None:
            raise ValueError(f"not a sortable column: {self.column!r}")

    def flipped(self) -> Sort:
        return Sort(self.column, self.field, not self.descending)


_TABLES: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[object, ...], str]] = weakref.WeakKeyDictionary()
_SERIAL = [0]


def _direction(sort: Sort) -> str:
    return " DESC" if sort.descending else ""


def sorted_table(store: Store, view: View, sort: Sort) -> str:
    """The temporary table holding `view`'s event ids in `sort` order (`pos` from 1), made once
    and kept for the last KEPT (view, sort) pairs of this connection."""
    view = settled(store, view)
    kept = _TABLES.setdefault(store, OrderedDict())
    key = (view.where, view.params, sort)
    name = kept.get(key)
    if name is not None:
        kept.move_to_end(key)
        return name
    _SERIAL[0] += 1
    bare = f"sorted_{_SERIAL[0]}"
    name = f"temp.{bare}"
    way = _direction(sort)
    ties = ", ".join(t + way for t in _TIES)
    conn = store.conn
    with conn:  # commits: no read transaction left pinning this connection's snapshot
        conn.execute(f"CREATE TEMP TABLE {bare}(pos INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
        if sort.column == FIELD:
            # Rank the field's distinct values (numbers as numbers, text case-blind), then
            # give each event its value's rank: two integers per event, not the values.
            conn.execute(f"CREATE TEMP TABLE {bare}_rank(id INTEGER PRIMARY KEY, r INTEGER NOT NULL)")
            conn.execute(
                f"INSERT OR IGNORE INTO {bare}_rank SELECT j.value, p.r FROM (SELECT ids, dense_rank() OVER "
                "(ORDER BY num IS NULL, num, value COLLATE NOCASE) AS r FROM postings WHERE name = ?) p, "
                "json_each(p.ids) j",
                (sort.field,),
            )
            conn.execute(
                f"INSERT INTO {bare}(id) SELECT e.id FROM events e LEFT JOIN {name}_rank k ON k.id = e.id "
                f"WHERE {view.where} ORDER BY k.r IS NULL, k.r{way}, {ties}",
                bindable(view.params),
            )
            conn.execute(f"DROP TABLE {name}_rank")
        else:
            expr = SYSTEM_SORTS[sort.column]
            # Time: the time index in reverse, no sort at all (events without time come first
            # ascending, as the table's time order has them).
            keys = ties if sort.column == "time" else f"{expr}{way}, {ties}"
            if sort.column in NULLABLE:
                keys = f"{expr} IS NULL, {keys}"
            conn.execute(
                f"INSERT INTO {bare}(id) SELECT e.id FROM events e WHERE {view.where} ORDER BY {keys}",
                bindable(view.params),
            )
    kept[key] = name
    while len(kept) > KEPT:
        _, old = kept.popitem(last=False)
        with conn:
            conn.execute(f"DROP TABLE {old}")
    return name


def count_sorted(store: Store, view: View, sort: Sort) -> int:
    name = sorted_table(store, view, sort)
    return int(store.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])


def page_sorted(store: Store, view: View, sort: Sort, start: int, page: int) -> list[StoredEvent]:
    """The rows at positions [start, start + page) of `view` in `sort` order."""
    name = sorted_table(store, view, sort)
    ids = [int(r[0]) for r in store.conn.execute(
        f"SELECT id FROM {name} WHERE pos > ? AND pos <= ? ORDER BY pos", (start, start + page))]
    if not ids:
        return []
    rows = {r.id: r for r in store.select(
        f"e.id IN (SELECT id FROM {name} WHERE pos > ? AND pos <= ?)", (start, start + page), limit=len(ids))}
    return [rows[i] for i in ids if i in rows]


def position_sorted(store: Store, view: View, sort: Sort, store_id: int) -> int | None:
    """Where event `store_id` sits in `view` sorted by `sort` (0-based), None if not in it.
    A scan of the positions (about 50 ms at a million events): for jumps, rarer than the
    index on ids that would spare it costs to build (a quarter of a second per sort)."""
    name = sorted_table(store, view, sort)
    row = store.conn.execute(f"SELECT pos FROM {name} WHERE id = ?", (store_id,)).fetchone()
    return None if row is None else int(row[0]) - 1


def find_sorted(
    store: Store, view: View, sort: Sort, term: tuple[str, tuple[object, ...]], after: int | None, forward: bool
) -> tuple[int, bool] | None:
    """The position of the next (or previous) row after position `after` that also matches
    `term` (SQL over `e`), wrapping round once: (position, wrapped), or None."""
    name = sorted_table(store, view, sort)
    cond, params = term[0], bindable(term[1])
    order = "s.pos" if forward else "s.pos DESC"
    sql = f"SELECT s.pos FROM {name} s JOIN events e ON e.id = s.id WHERE ({cond}) {{rel}} ORDER BY {order} LIMIT 1"
    if after is not None:
        rel = "AND s.pos > ?" if forward else "AND s.pos < ?"
        row = store.conn.execute(sql.format(rel=rel), (*params, after + 1)).fetchone()
        if row is not None:
            return int(row[0]) - 1, False
    row = store.conn.execute(sql.format(rel=""), params).fetchone()
    return None if row is None else (int(row[0]) - 1, after is not None)
