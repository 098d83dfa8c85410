"""Stacking (least frequency of occurrence): the distinct values of one field over a view, with
how many events hold each, rarest first.

The analyst's question is "what is rare here?", asked of a filtered view of up to a million
events, so the counting is SQL over the store's indexes, never a walk over decoded events:
- an EventData field (or an alias naming several) is counted from its posting lists
  (`core.store.schema`): the lists of the view's events only, through an id set of the view
  made once (`Store.id_set`), or every list whole when the view is everything;
- a System column (computer, channel, provider, EventID, user SID, thread id, ...) is grouped
  in the `events` table (its index when it has one);
- the process id (`pid`, `processid`) is what its query term matches: EventData fields and the
  System header's process id (`PID_STACKS`), numbers grouped as numbers and shown in hex
  (`number_text`): `pid:0x1e0c` and `pid:7692` are one value, and a row is that value's events.

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

from core.model.values import USER_FIELDS, hex_id
from core.query.compile import ALIAS_FIELDS, OWN_PID_CHANNEL, QueryError, known_names, unknown_field
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
#: so a SID row would filter to more events than it counted. `pid`: see PID_STACKS.
STACK_ALIASES = ("user", "image", "parent", "cmd", "parentcmd", "logon", "handle", "pid")
#: The System header's process id among a stack's names (`StackField.names`), stacked beside
#: them: every event's (as `processid:` reads it), or only outside the channels where it is the
#: logging service (`core.model.values.LOGGER_PID_CHANNELS`, as `pid:` reads it). Not
#: lower-case, so no EventData name (stored lower-cased, in `postings` and in the fleet's
#: `fields`) is ever one. Named among the names because `core.fleet` stacks from the names alone.
HEADER_PID = "System ProcessID"
HEADER_OWN_PID = "System ProcessID outside LOGGER_PID_CHANNELS"
#: Each header name -> whether only its events outside LOGGER_PID_CHANNELS count.
HEADER_NAMES: dict[str, bool] = {HEADER_PID: False, HEADER_OWN_PID: True}
#: The process-id stacks, each the field and header its query term matches, so a row narrows to
#: its count: `pid` (what `pid:` matches: every process-id field, and the header outside the
#: Security and Sysmon logs; it stacked the header alone, the logging lsass of every Security
#: event, and `4688 pid:4` then found none of its 22), and `processid` (what `processid:`
#: matches: the header of every event, and an EventData field named ProcessId; on a log whose
#: events hold no such field, the header itself).
PID_STACKS: dict[str, tuple[str, ...]] = {
    "pid": (*(n.lower() for n in ALIAS_FIELDS["pid"]), HEADER_OWN_PID),
    "processid": ("processid", HEADER_PID),
}
#: Values grouped as the query language compares them: folded value -> (spelling shown, events).
Groups = dict[str, tuple[str, int]]
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
    """What to stack: an events column, or a set of EventData names (lower-cased; a header name
    of HEADER_NAMES among them adds the System process id, and groups numbers as numbers)."""

    query_name: str
    column: str | None = None
    names: tuple[str, ...] = ()


def resolve_field(name: str, fields: Collection[str]) -> StackField:
    """The field `name` stands for (a System column, an alias or an EventData name of the store,
    `fields` as `Store.field_names` gives them); QueryError with the nearest names otherwise."""
    key = name.strip().lower()
    if key in PID_STACKS:
        return StackField(key, names=PID_STACKS[key])
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
    rows = _apart_rows(store, column)
    return None if rows is None else _merge(rows)  # (merged in GROUP BY's order: the same spellings)


def _apart_rows(store: Store, column: str) -> list[tuple[object, int]] | None:
    """`_apart_from_the_first`'s (value, count) rows, in SQLite's order, before `_merge`."""
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
    return sorted(rows, key=_sqlite_order)


def _sqlite_order(row: tuple[object, int]) -> tuple[int, Any]:
    """SQLite's order of values (numbers, then text by code point, then blobs)."""
    value = row[0]
    return (0, value) if isinstance(value, (int, float)) else (1, value) if isinstance(value, str) else (2, value)


def number_text(n: int) -> str:
    """How a process-id stack shows a number: in hex, as Windows logs ids (`0x1e0c`, and as the
    table shows them), so every rendering of one number (`7692`, `0x00001e0c`) is one row. A
    negative one (only a crafted log holds one) in decimal: the one text `pid:` reads back as
    that number both in the EventData (`as_int`) and in the header column (`column_param`, which
    reads its hex as the unsigned value, stored as text)."""
    return hex_id(n) if n >= 0 else str(n)


def _header_text(value: object) -> str:
    """A header process id as a stack shows it: a number by `number_text`; the text of one outside
    64 bits (`core.model.storable.int_text`) as stored, which `processid:` matches as stored."""
    return number_text(value) if isinstance(value, int) else _text(value)


def _field_counts(store: Store, compiled: Filter, names: tuple[str, ...]) -> tuple[dict[str, tuple[str, int]], int]:
    """Group EventData values (of any of `names`) over the view, and count the view's events
    holding one. Per posting list, the number of its ids in the view (no list expanded when the
    view is everything): an event holds one value of a name, once, in one list, unless some
    event holds the name twice (`Store.repeated_names`). Such a name, or several (an alias):
    `_alias_counts`, which counts distinct events. A header name among `names` (HEADER_NAMES)
    adds the header's process ids (`_header_counts`), numbers grouped as numbers."""
    header = next((n for n in names if n in HEADER_NAMES), None)
    data = tuple(n for n in names if n not in HEADER_NAMES)
    numbers = header is not None
    name_sql = "p.name = ?" if len(data) == 1 else f"p.name IN ({', '.join('?' * len(data))})"
    id_set = None if compiled.matches_all else store.id_set(compiled).id_table
    extra = {} if header is None else _header_counts(store, compiled, own=HEADER_NAMES[header])
    if header is not None and extra:
        return _alias_counts(store, data, name_sql, id_set, numbers=True, header=(header, extra))
    if len(data) > 1 or data[0] in store.repeated_names():
        return _alias_counts(store, data, name_sql, id_set, numbers=numbers)
    count_sql = ("json_array_length(p.ids)" if id_set is None
                 else f"(SELECT count(*) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    # (in the index's order, rows of one value by when they were written: the spelling shown is
    # the first stored, whatever plan SQLite picks; `core.fleet` shows the same)
    rows = store.conn.execute(f"SELECT p.value, p.num, {count_sql} FROM postings p WHERE {name_sql} "
                              "ORDER BY p.value COLLATE NOCASE, p.rowid", data).fetchall()
    return (_merge((_shown(r[0], r[1], numbers), int(r[2])) for r in rows if r[2]),
            sum(int(r[2]) for r in rows))


def _shown(value: object, num: object, numbers: bool) -> str:
    """A posting row's value as the stack shows it (`numbers`: a number by `number_text`)."""
    return number_text(num) if numbers and isinstance(num, int) else _text(value)


def _header_counts(store: Store, compiled: Filter, *, own: bool) -> Groups:
    """The view's events by header process id (`own`: outside LOGGER_PID_CHANNELS only), as
    `_merge` groups them, each id shown by `_header_text`."""
    if compiled.matches_all and not own:
        rows = _apart_rows(store, "pid")
        if rows is not None:
            return _merge((_header_text(v), n) for v, n in rows)
    sql = (f"SELECT e.pid, count(*) FROM events e WHERE ({compiled.sql}) AND {_header_sql(own)} "
           "GROUP BY e.pid")
    return _merge((_header_text(r[0]), int(r[1])) for r in store.conn.execute(sql, compiled.params))


def _header_sql(own: bool) -> str:
    """The events whose header process id a stack counts (constants: no user text)."""
    return f"e.pid IS NOT NULL AND {OWN_PID_CHANNEL}" if own else "e.pid IS NOT NULL"


#: A bound beyond every store id (SQLite's are 64-bit).
_ANY_ID = 2**64


def _alias_counts(store: Store, names: tuple[str, ...], name_sql: str, id_set: str | None, *, numbers: bool = False,
                  header: tuple[str, Groups] | None = None) -> tuple[Groups, int]:
    """Group the values held under any of `names` over the view (`id_set`: its ids; None: every
    event): each value counts the distinct events holding it under any of the names (as
    `user:value` finds them), and `held` the distinct events holding any. An event's values are
    all in the posting lists of the batch that stored it, whose ids no other batch's lists
    hold: the lists are read a group at a time, the rows whose id ranges overlap (their `lo`
    and `hi` columns, no list read), and only a group's ids are in sets at once. Stacking
    `user` over 10M events with every list in sets at once peaked at 1.48 GB (6.0 s); a group at
    a time at 130 MB (5.1 s), most of it the 164,650 posting rows' spans and values.

    `numbers`: a value that is a number grouped by it (`number_text`). `header`: (a HEADER_NAMES
    name, the view's events by header process id): added to the counts, less the events counted
    twice (a group's events holding a value in a field and the same one in the header: looked
    up by id, the group's only)."""
    conn = store.conn
    values: list[tuple[int, str]] = []  # (row, value) in the order SQLite gives them
    spans: list[tuple[int, int, int]] = []
    for rowid, value, num, first, last in conn.execute(
            f"SELECT p.rowid, p.value, p.num, p.lo, p.hi FROM postings p WHERE {name_sql} "
            "ORDER BY p.name, p.value COLLATE NOCASE, p.rowid", names):
        values.append((rowid, _shown(value, num, numbers)))
        spans.append((*_span(first, last), rowid))
    spans.sort()
    fold_of = {rowid: _fold(value) for rowid, value in values}
    ids_sql = "p.ids" if id_set is None else (
        f"(SELECT json_group_array(j.value) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    header_sql = None if header is None else _header_sql(HEADER_NAMES[header[0]])
    counts: dict[str, int] = {}
    twice: dict[str, int] = {}  # per value, the events holding it in a field and in the header
    holding: set[int] = set()  # rows holding an event of the view
    held = both = 0
    for group in _overlapping(spans):
        lists: dict[str, list[list[int]]] = {}
        for rowid, text in conn.execute(f"SELECT p.rowid, {ids_sql} FROM postings p WHERE p.rowid IN "
                                        "(SELECT value FROM json_each(?))", (json.dumps(group),)):
            ids = json.loads(text)
            if ids:
                holding.add(rowid)
                lists.setdefault(fold_of[rowid], []).append(ids)
        every: set[int] = set()
        sets: dict[str, set[int]] = {}
        for fold, found in lists.items():
            distinct = sets[fold] = set().union(*found)  # (a list repeats an event holding the pair twice)
            counts[fold] = counts.get(fold, 0) + len(distinct)
            every.update(distinct)
        held += len(every)
        if header_sql is not None and every:  # (ids per header value: sets meet in C, not per event)
            for pid, text in conn.execute(f"SELECT e.pid, json_group_array(e.id) FROM events e WHERE e.id IN "
                                          f"(SELECT value FROM json_each(?)) AND {header_sql} GROUP BY e.pid",
                                          (json.dumps(sorted(every)),)):
                ids = json.loads(text)
                both += len(ids)
                fold = _fold(_header_text(pid))
                if fold in sets:
                    twice[fold] = twice.get(fold, 0) + len(sets[fold].intersection(ids))
    groups: dict[str, tuple[str, int]] = {}
    for rowid, value in values:  # each value as first met among the lists holding a view event
        fold = fold_of[rowid]
        if rowid in holding and fold not in groups:
            groups[fold] = (value, counts[fold])
    if header is None:
        return groups, held
    for fold, (text, count) in header[1].items():
        seen = groups.get(fold)
        groups[fold] = (text, count) if seen is None else (seen[0], seen[1] + count - twice.get(fold, 0))
    return groups, held + sum(count for _, count in header[1].values()) - both


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
