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
from collections.abc import Collection, Iterable
from dataclasses import dataclass

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
    if column == "source":
        paths = {src.id: src.path for src in store.sources()}
        sql = f"SELECT e.source, count(*) FROM events e WHERE {compiled.sql} GROUP BY e.source"
        rows = store.conn.execute(sql, compiled.params).fetchall()
        return _merge((paths.get(int(r[0]), str(r[0])), int(r[1])) for r in rows)
    collate = " COLLATE NOCASE" if column == "computer" else ""
    sql = (f"SELECT e.{column}, count(*) FROM events e{hint} WHERE ({compiled.sql}) AND e.{column} IS NOT NULL "
           f"GROUP BY e.{column}{collate}")
    return _merge((r[0], int(r[1])) for r in store.conn.execute(sql, compiled.params))


def _field_counts(store: Store, compiled: Filter, names: tuple[str, ...]) -> tuple[dict[str, tuple[str, int]], int]:
    """Group EventData values (of any of `names`) over the view, and count the view's events
    holding one. Per posting list, the number of its ids in the view (no list expanded when the
    view is everything). With several names (an alias), an event holding a value, or any
    value, under two of them must count once: `_overlaps` finds those events."""
    name_sql = "p.name = ?" if len(names) == 1 else f"p.name IN ({', '.join('?' * len(names))})"
    if compiled.matches_all:
        id_set = None
        count_sql = "json_array_length(p.ids)"
    else:
        id_set = store.id_set(compiled).id_table
        count_sql = f"(SELECT count(*) FROM json_each(p.ids) j WHERE j.value IN {id_set})"
    lists = ", p.ids" if len(names) > 1 else ""
    rows = store.conn.execute(f"SELECT p.name, p.value, {count_sql}{lists} FROM postings p WHERE {name_sql}",
                              names).fetchall()
    groups = _merge((r[1], int(r[2])) for r in rows if r[2])
    held = sum(int(r[2]) for r in rows)
    if len(names) == 1:
        return groups, held
    # Ids per name, and per (value, name): events under two names are the only double counts.
    by_name: dict[str, set[int]] = {}
    by_value: dict[str, dict[str, set[int]]] = {}
    for name, value, count, ids_json in rows:
        if not count:
            continue
        ids_of = json.loads(ids_json)
        by_name.setdefault(name, set()).update(ids_of)
        by_value.setdefault(_fold(_text(value)), {}).setdefault(name, set()).update(ids_of)
    extra = _overlaps(by_name.values())
    for key, per_name in by_value.items():
        if len(per_name) > 1:
            value_extra = _overlaps(per_name.values())
            if value_extra:
                cut = _in_view(store, id_set, value_extra)
                text, count = groups[key]
                groups[key] = (text, count - cut)
    return groups, held - _in_view(store, id_set, extra)


def _overlaps(sets: Iterable[set[int]]) -> dict[int, int]:
    """Ids found in more than one of `sets`, each with how many times too many it is counted."""
    seen: set[int] = set()
    extra: dict[int, int] = {}
    for ids in sets:
        for again in ids & seen:
            extra[again] = extra.get(again, 0) + 1
        seen |= ids
    return extra


def _in_view(store: Store, id_set: str | None, extra: dict[int, int]) -> int:
    """The surplus of the overlapping ids `extra` that the view holds (all of it for the whole
    store; else the ids are looked up in the view's id set)."""
    if not extra:
        return 0
    if id_set is None:
        return sum(extra.values())
    rows = store.conn.execute(f"SELECT j.value FROM json_each(?) j WHERE j.value IN {id_set}",
                              (json.dumps(list(extra)),))
    return sum(extra[int(r[0])] for r in rows)
