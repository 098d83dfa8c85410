"""Stacking (least frequency of occurrence): the distinct values of one field over a view, with
how many events hold each, rarest first.

The analyst's question is "what is rare here?", asked of a filtered view of up to a million
events, so the counting is SQL over the store's indexes, never a walk over decoded events:
- an EventData field (or an alias naming several) is counted from its posting lists
  (`core.store.schema`): the lists of the view's events only, through an id set of the view
  made once (`Store.id_set`), or every list whole when the view is everything;
- a System column (computer, channel, provider, EventID, user SID, process id, ...) is grouped
  in the `events` table (its index when it has one).

Values are grouped case-insensitively (SQLite's ASCII folding) because that is how the query
language compares them: filtering to a stacked value (`core.query.pivot`) then returns exactly
the events counted for it. An event holding a field under two names of an alias with two values
counts once for each value (as `user:a` and `user:b` would both find it).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.model.values import USER_FIELDS
from core.query.compile import ALIAS_FIELDS, QueryError, known_names, unknown_field
from core.query.view import View, count_view, settled, whole_by_index
from core.store.filter import Filter
from core.store.store import Store

#: Stackable System columns: the names a user types -> (events column, the name a query uses).
SYSTEM_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("event_id", "id"),
    "eventid": ("event_id", "id"),
    "computer": ("computer", "computer"),
    "host": ("computer", "computer"),
    "channel": ("channel", "channel"),
    "provider": ("provider", "provider"),
    "usersid": ("user_sid", "usersid"),
    "sid": ("user_sid", "usersid"),
    "pid": ("pid", "processid"),
    "tid": ("tid", "threadid"),
    "level": ("level", "level"),
    "task": ("task", "task"),
    "opcode": ("opcode", "opcode"),
    "keywords": ("keywords", "keywords"),
    "version": ("version", "version"),
    "file": ("source", "file"),
    "source": ("source", "file"),
}
_TEXT = {"computer", "channel", "provider", "user_sid", "keywords"}
#: Aliases stacked as one field: their EventData names (see `core.query.compile.ALIAS_FIELDS`).
#: `user` stacks the account names only: `user:` also matches SIDs in the System UserID column,
#: so a SID row would filter to more events than it counted.
STACK_ALIASES = ("user", "image", "parent", "cmd", "parentcmd", "logon", "handle")
#: Default number of values returned; the rest are counted (`Stack.more`).
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class StackRow:
    """One distinct value (as first seen among its case variants) and the events holding it."""

    value: str
    count: int
    share: float  # of the view's events, 0..1


@dataclass(frozen=True, slots=True)
class Stack:
    """A stack of one field over a view. `rows` are the first `limit` values in the order asked;
    `more` the distinct values left out; `missing` the view's events without the field."""

    field: str  # the query name to filter on a value (`core.query.pivot.filter_to`)
    total: int  # events in the view
    rows: tuple[StackRow, ...]
    distinct: int
    more: int
    missing: int


@dataclass(frozen=True, slots=True)
class StackField:
    """What to stack: an events column, or a set of EventData names (lower-cased)."""

    query_name: str
    column: str | None = None
    names: tuple[str, ...] = ()


def resolve_field(name: str, fields: Collection[str]) -> StackField:
    """The field `name` stands for (a System column, an alias or an EventData name of the store,
    `fields` as `Store.field_names` gives them); QueryError with the nearest names otherwise."""
    key = name.strip().lower()
    if key in SYSTEM_COLUMNS:
        column, query_name = SYSTEM_COLUMNS[key]
        return StackField(query_name, column=column)
    if key in STACK_ALIASES:
        names = USER_FIELDS if key == "user" else ALIAS_FIELDS[key]
        return StackField(key, names=tuple(n.lower() for n in names))
    lowered = {f.lower() for f in fields}
    if key in lowered:
        return StackField(name.strip(), names=(key,))
    known = known_names(lowered) | SYSTEM_COLUMNS.keys()
    raise unknown_field(name, known - {"after", "before", "record", "eventrecordid"}, 0)


def stack(
    store: Store,
    compiled: Filter,
    by: str,
    *,
    limit: int | None = DEFAULT_LIMIT,
    descending: bool = False,
    by_time: bool = True,
) -> Stack:
    """Stack the field `by` over the events `compiled` matches: rarest first, or most common
    first with `descending`; ties by value. Raises QueryError for an unknown field."""
    target = resolve_field(by, store.field_names())
    view = View(compiled, by_time=by_time)
    total = count_view(store, view)
    if limit is not None and limit < 0:
        raise QueryError("the limit must be >= 0", 0)
    which = settled(store, view).filter  # (the view's id sets, made by count_view)
    if target.column is not None:
        groups = _column_counts(store, which, target.column, whole_by_index(store, which))
        held = sum(c for _, c in groups.values())
    else:
        groups, held = _field_counts(store, which, target.names)
    rows = tuple(StackRow(v, c, c / total if total else 0.0) for v, c in _ranked(groups, limit, descending))
    return Stack(target.query_name, total, rows, len(groups), len(groups) - len(rows), max(0, total - held))


#: SQLite's NOCASE folds ASCII letters only: group values the same way in Python.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(value: str) -> str:
    return value.translate(_ASCII_LOWER)


def _merge(rows: Iterable[tuple[object, int]]) -> dict[str, tuple[str, int]]:
    """(value, count) rows grouped as the query language compares values: folded key ->
    (the first spelling met, summed count)."""
    groups: dict[str, tuple[str, int]] = {}
    for value, count in rows:
        text = _text(value)
        key = _fold(text)
        seen = groups.get(key)
        groups[key] = (text, count) if seen is None else (seen[0], seen[1] + count)
    return groups


def _ranked(groups: dict[str, tuple[str, int]], limit: int | None, descending: bool) -> list[tuple[str, int]]:
    """Counts ascending (or descending), ties by value; the first `limit`."""
    items = sorted(groups.values(), key=lambda vc: (-vc[1] if descending else vc[1], _fold(vc[0]), vc[0]))
    return items if limit is None else items[:limit]


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


#: The index holding each column (with the event's id), walked for a big view of id sets.
_COVERING = {"event_id": "events_eid", "computer": "events_computer"}


def _column_counts(store: Store, compiled: Filter, column: str, walk: bool = False) -> dict[str, tuple[str, int]]:
    """Group an events column over the view. Exact-value groups merged in Python: `GROUP BY ...
    COLLATE NOCASE` cost SQLite 1.1 s against 0.65 s at a million events (the computer has a
    NOCASE index: grouped by it directly). `walk` (`whole_by_index`): the column's index is
    walked, each entry tested against the view's id sets, when it has one."""
    hint = f" INDEXED BY {_COVERING[column]}" if walk and column in _COVERING else ""
    if compiled.matches_all and column not in _COVERING and column != "source":
        found = _apart_from_the_first(store, column)
        if found is not None:
            return found
    if column == "source":
        paths = {src.id: src.path for src in store.sources()}
        sql = f"SELECT e.source, count(*) FROM events e WHERE {compiled.sql} GROUP BY e.source"
        rows = store.conn.execute(sql, compiled.params).fetchall()
        return _merge((paths.get(int(r[0]), str(r[0])), int(r[1])) for r in rows)
    collate = " COLLATE NOCASE" if column == "computer" else ""
    sql = (f"SELECT e.{column}, count(*) FROM events e{hint} WHERE ({compiled.sql}) AND e.{column} IS NOT NULL "
           f"GROUP BY e.{column}{collate}")
    return _merge((r[0], int(r[1])) for r in store.conn.execute(sql, compiled.params))


def _apart_from_the_first(store: Store, column: str) -> dict[str, tuple[str, int]] | None:
    """`_column_counts` of every event by a column no index holds, the first event's value
    counted apart: `GROUP BY` sorts every event it groups (10M events by channel: 5.8 s), and a
    log's events mostly share that value (one channel, level 0, one provider), so only the others
    are sorted, and that value's count is every event's less theirs (NULLs grouped with them).
    None for a first event without that value."""
    conn = store.conn
    with store.snapshot():
        first = conn.execute(f"SELECT e.{column} FROM events e ORDER BY e.id LIMIT 1").fetchone()
        if first is None or first[0] is None:
            return None
        every = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        others = conn.execute(f"SELECT e.{column}, count(*) FROM events e WHERE e.{column} IS NOT ? "
                              f"GROUP BY e.{column}", (first[0],)).fetchall()
    rows = [(first[0], every - sum(int(n) for _, n in others))]
    rows += [(value, int(n)) for value, n in others if value is not None]
    return _merge(sorted(rows, key=_sqlite_order))  # (merged in GROUP BY's order: the same spellings)


def _sqlite_order(row: tuple[object, int]) -> tuple[int, Any]:
    """SQLite's order of values (numbers, then text by code point, then blobs)."""
    value = row[0]
    return (0, value) if isinstance(value, (int, float)) else (1, value) if isinstance(value, str) else (2, value)


def _field_counts(store: Store, compiled: Filter, names: tuple[str, ...]) -> tuple[dict[str, tuple[str, int]], int]:
    """Group EventData values (of any of `names`) over the view, and count the view's events
    holding one. Per posting list, the number of its ids in the view (no list expanded when the
    view is everything): an event holds one value of a name, once, in one list, unless some
    event holds the name twice (`Store.repeated_names`). Such a name, or several (an alias):
    `_alias_counts`, which counts distinct events."""
    name_sql = "p.name = ?" if len(names) == 1 else f"p.name IN ({', '.join('?' * len(names))})"
    id_set = None if compiled.matches_all else store.id_set(compiled).id_table
    if len(names) > 1 or names[0] in store.repeated_names():
        return _alias_counts(store, names, name_sql, id_set)
    count_sql = ("json_array_length(p.ids)" if id_set is None
                 else f"(SELECT count(*) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    # (in the index's order, rows of one value by when they were written: the spelling shown is
    # the first stored, whatever plan SQLite picks; `core.fleet` shows the same)
    rows = store.conn.execute(f"SELECT p.value, {count_sql} FROM postings p WHERE {name_sql} "
                              "ORDER BY p.value COLLATE NOCASE, p.rowid", names).fetchall()
    return _merge((r[0], int(r[1])) for r in rows if r[1]), sum(int(r[1]) for r in rows)


#: A bound beyond every store id (SQLite's are 64-bit).
_ANY_ID = 2**64


def _alias_counts(store: Store, names: tuple[str, ...], name_sql: str,
                  id_set: str | None) -> tuple[dict[str, tuple[str, int]], int]:
    """Group the values held under any of `names` over the view (`id_set`: its ids; None: every
    event): each value counts the distinct events holding it under any of the names (as
    `user:value` finds them), and `held` the distinct events holding any. An event's values are
    all in the posting lists of the batch that stored it, whose ids no other batch's lists
    hold: the lists are read a group at a time, the rows whose id ranges overlap (their `lo`
    and `hi` columns, no list read), and only a group's ids are in sets at once. Stacking
    `user` over 10M events with every list in sets at once peaked at 1.48 GB (6.0 s); a group at
    a time at 130 MB (5.1 s), most of it the 164,650 posting rows' spans and values."""
    conn = store.conn
    values: list[tuple[int, str]] = []  # (row, value) in the order SQLite gives them
    spans: list[tuple[int, int, int]] = []
    for rowid, value, first, last in conn.execute(
            f"SELECT p.rowid, p.value, p.lo, p.hi FROM postings p WHERE {name_sql} "
            "ORDER BY p.name, p.value COLLATE NOCASE, p.rowid", names):
        values.append((rowid, _text(value)))
        spans.append((*_span(first, last), rowid))
    spans.sort()
    fold_of = {rowid: _fold(value) for rowid, value in values}
    ids_sql = "p.ids" if id_set is None else (
        f"(SELECT json_group_array(j.value) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    counts: dict[str, int] = {}
    holding: set[int] = set()  # rows holding an event of the view
    held = 0
    for group in _overlapping(spans):
        lists: dict[str, list[list[int]]] = {}
        for rowid, text in conn.execute(f"SELECT p.rowid, {ids_sql} FROM postings p WHERE p.rowid IN "
                                        "(SELECT value FROM json_each(?))", (json.dumps(group),)):
            ids = json.loads(text)
            if ids:
                holding.add(rowid)
                lists.setdefault(fold_of[rowid], []).append(ids)
        every: set[int] = set()
        for fold, found in lists.items():
            distinct = set().union(*found)  # (a list repeats an event holding the pair twice)
            counts[fold] = counts.get(fold, 0) + len(distinct)
            every.update(distinct)
        held += len(every)
    groups: dict[str, tuple[str, int]] = {}
    for rowid, value in values:  # each value as first met among the lists holding a view event
        fold = fold_of[rowid]
        if rowid in holding and fold not in groups:
            groups[fold] = (value, counts[fold])
    return groups, held


def _span(first: int | None, last: int | None) -> tuple[int, int]:
    """The first and last ids of a posting list (ascending); a list without them spans every
    id (its group is then every list)."""
    if first is None or last is None:
        return -_ANY_ID, _ANY_ID
    return int(first), int(last)


def _overlapping(spans: list[tuple[int, int, int]]) -> Iterator[list[int]]:
    """The rows of `spans` (first id, last id, row; sorted) in groups whose id ranges overlap."""
    group: list[int] = []
    end = -_ANY_ID
    for first, last, rowid in spans:
        if group and first > end:
            yield group
            group = []
        group.append(rowid)
        end = max(end, last)
    if group:
        yield group
