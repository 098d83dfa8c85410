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

import json
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from core.model.storable import bindable
from core.query.view import View, settled
from core.store.filter import Filter
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


@dataclass(frozen=True, slots=True)
class _Sorted:
    """A view's ids in ascending order (table `name`, `pos` from 1): the `keyed` first ones
    have the sort key, the others (in time order) do not; `total` in all."""

    name: str
    keyed: int
    total: int

    def ascending(self, position: int, descending: bool) -> int:
        """The ascending position of display `position` (and back: the map is its own
        inverse). Descending reads the keyed rows backwards, then the others backwards."""
        if not descending:
            return position
        k, n = self.keyed, self.total
        return k - 1 - position if position < k else k + n - 1 - position

    def runs(self, descending: bool) -> list[tuple[int, int, bool]]:
        """The ascending positions in display order: (first, last, walked backwards)."""
        if not descending:
            return [(0, self.total - 1, False)]
        return [(0, self.keyed - 1, True), (self.keyed, self.total - 1, True)]


_TABLES: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[object, ...], _Sorted]] = weakref.WeakKeyDictionary()
_SERIAL = [0]


def sorted_table(store: Store, view: View, sort: Sort) -> _Sorted:
    """`view`'s event ids in `sort`'s ascending order, in a temporary table made once and kept
    for the last KEPT (view, column) pairs of this connection: a descending sort reads the
    same table backwards, so flipping the order costs nothing."""
    view = settled(store, view)
    kept = _TABLES.setdefault(store, OrderedDict())
    where = view.filter.sql
    key = (where, view.filter.params, sort.column, sort.field)
    found = kept.get(key)
    if found is not None:
        kept.move_to_end(key)
        return found
    _SERIAL[0] += 1
    bare = f"sorted_{_SERIAL[0]}"
    name = f"temp.{bare}"
    ties = ", ".join(_TIES)
    params = bindable(view.filter.params)
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
            # The whole log: go from the events that have the field (SQLite would walk them all
            # and look each up: twice as long). A filter: from its own index, as SQLite picks.
            join = (f"{name}_rank k CROSS JOIN events e ON e.id = k.id" if view.matches_all
                    else f"events e JOIN {name}_rank k ON k.id = e.id")
            keyed = conn.execute(
                f"INSERT INTO {bare}(id) SELECT e.id FROM {join} WHERE {where} ORDER BY k.r, {ties}",
                params).rowcount
            rest = conn.execute(
                f"INSERT INTO {bare}(id) SELECT e.id FROM events e WHERE ({where}) "
                f"AND e.id NOT IN (SELECT id FROM {name}_rank) ORDER BY {ties}", params).rowcount
            conn.execute(f"DROP TABLE {name}_rank")
        else:
            expr = SYSTEM_SORTS[sort.column]
            # Time: the time index itself, no sort at all (events without a time first, as
            # in the table's own order).
            keys = ties if sort.column == "time" else f"{expr}, {ties}"
            if sort.column in NULLABLE:
                keyed = conn.execute(
                    f"INSERT INTO {bare}(id) SELECT e.id FROM events e WHERE ({where}) "
                    f"AND {expr} IS NOT NULL ORDER BY {keys}", params).rowcount
                rest = conn.execute(
                    f"INSERT INTO {bare}(id) SELECT e.id FROM events e WHERE ({where}) "
                    f"AND {expr} IS NULL ORDER BY {ties}", params).rowcount
            else:
                keyed = conn.execute(
                    f"INSERT INTO {bare}(id) SELECT e.id FROM events e WHERE {where} ORDER BY {keys}",
                    params).rowcount
                rest = 0
    made = kept[key] = _Sorted(name, keyed, keyed + rest)
    while len(kept) > KEPT:
        _, old = kept.popitem(last=False)
        with conn:
            conn.execute(f"DROP TABLE {old.name}")
    return made


def count_sorted(store: Store, view: View, sort: Sort) -> int:
    return sorted_table(store, view, sort).total


def page_sorted(store: Store, view: View, sort: Sort, start: int, page: int) -> list[StoredEvent]:
    """The rows at positions [start, start + page) of `view` in `sort` order."""
    table = sorted_table(store, view, sort)
    wanted = [table.ascending(p, sort.descending) for p in range(max(0, start), min(start + page, table.total))]
    if not wanted:
        return []
    lo, hi = min(wanted), max(wanted)
    args: tuple[object, ...]
    if hi - lo >= len(wanted):  # a descending page across the keyed rows' end: two runs
        cond, args = "pos IN (SELECT value FROM json_each(?))", (json.dumps([q + 1 for q in wanted]),)
    else:
        cond, args = "pos BETWEEN ? AND ?", (lo + 1, hi + 1)
    ids = dict(store.conn.execute(f"SELECT pos, id FROM {table.name} WHERE {cond}", args).fetchall())
    rows = {r.id: r for r in store.select(Filter.store_ids(*ids.values()), limit=len(ids))} if ids else {}
    return [rows[ids[q + 1]] for q in wanted if q + 1 in ids and ids[q + 1] in rows]


#: Rows an export reads at a time in sort order (`iter_sorted`).
EXPORT_PAGE = 2000


def iter_sorted(store: Store, view: View, sort: Sort) -> Iterator[StoredEvent]:
    """Every event of `view` in `sort` order, as the table shows them (an export of what the
    analyst sees): the sorted table's pages in turn, so memory stays at one page."""
    total = sorted_table(store, view, sort).total
    for start in range(0, total, EXPORT_PAGE):  # bounded: the view's size, fixed once sorted
        yield from page_sorted(store, view, sort, start, EXPORT_PAGE)


def position_sorted(store: Store, view: View, sort: Sort, store_id: int) -> int | None:
    """Where event `store_id` sits in `view` sorted by `sort` (0-based), None if not in it.
    A scan of the positions (about 50 ms at a million events): an index on ids would cost a
    quarter of a second per sort, in the one reader thread, delaying the moves after it."""
    table = sorted_table(store, view, sort)
    row = store.conn.execute(f"SELECT pos FROM {table.name} WHERE id = ?", (store_id,)).fetchone()
    return None if row is None else table.ascending(int(row[0]) - 1, sort.descending)


def find_sorted(
    store: Store, view: View, sort: Sort, term: Filter, after: int | None, forward: bool
) -> tuple[int, bool] | None:
    """The position of the next (or previous) row after position `after` that also matches
    `term` (SQL over `e`), wrapping round once: (position, wrapped), or None."""
    table = sorted_table(store, view, sort)
    cond, params = term.sql, bindable(term.params)
    runs = table.runs(sort.descending)
    if not forward:
        runs = [(lo, hi, not back) for lo, hi, back in reversed(runs)]
    sql = (f"SELECT s.pos FROM {table.name} s JOIN events e ON e.id = s.id WHERE ({cond}) "
           "AND s.pos BETWEEN ? AND ? ORDER BY s.pos{} LIMIT 1")

    def first(skip_to: int | None) -> int | None:
        """The first match in display order (`forward`), after ascending position `skip_to`."""
        for lo, hi, back in runs:
            if skip_to is not None:
                if not lo <= skip_to <= hi:
                    continue
                lo, hi = (lo, skip_to - 1) if back else (skip_to + 1, hi)
                skip_to = None  # the runs after this one are searched whole
            if lo > hi:
                continue
            row = store.conn.execute(sql.format(" DESC" if back else ""), (*params, lo + 1, hi + 1)).fetchone()
            if row is not None:
                return table.ascending(int(row[0]) - 1, sort.descending)
        return None

    if after is not None:
        found = first(table.ascending(after, sort.descending))
        if found is not None:
            return found, False
    found = first(None)
    return None if found is None else (found, after is not None)
