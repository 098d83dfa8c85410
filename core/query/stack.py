"""Stacking (least frequency of occurrence): the distinct values of one field over a view, with
how many events hold each, rarest first.

About 620 lines: one promise, kept in one place. A row's count is what its narrowing filter
finds (`core.query.pivot.add_filter`: the app's `enter` on the row, the view's query AND
`name:value`; `-` excludes them), and every way the query language reads a name
(`core.query.compile._value_sql`: a System column, an EventData field, both, an alias, the
computer by its first labels) is counted here as it matches; split apart, one kind's rules
would drift from the others'. `core.fleet.query_sql` says the same in SQL for the fleet.

The analyst's question is "what is rare here?", asked of a filtered view of up to a million
events, so the counting is SQL over the store's indexes, never a walk over decoded events:
- an EventData field (or an alias naming several) is counted from its posting lists
  (`core.store.schema`): the lists of the view's events only, through an id set of the view
  made once (`Store.id_set`), or every list whole when the view is everything;
- an EventID, channel, provider or input is grouped in the `events` table (its index when it
  has one); the computer too, and a row counts the computers it is the first labels of, as
  `computer:DC1` finds `DC1.corp.local` (the samples' `DC1` row said 1 and narrowed to 4,279);
- a System field the language reads in its column and in an EventData field so named (`level`,
  `task`, `opcode`, `version`, `keywords`, `threadid`, `usersid`, and the process id: `pid`,
  `processid`) is both (`HEADER_NAMES`: the column named among the stack's names): an event
  holding a value in both counts once for it (a UserSid field: the samples' `S-1-5-19` row
  said 389 and narrowed to 1,389);
- `user` stacks the account names, and a row also counts the events holding its text in a SID
  field or the System UserID, which `user:` reads too (`COUNTED`).

Values are grouped as the query compares them: a number as a number (`_fields_match` compares
`p.num`: `0x1e0c`, `7692` and `0x00001E0C` are one row; the samples' `AccessMask` rows `0x1` and
`0x00000001` each narrowed to both), text whole and case-insensitively (SQLite's ASCII folding).
A row shows one spelling: a process id in hex (`number_text`), a number of a System integer
column in decimal, else the spelling first written (the column's before the EventData's: its
least). An event holding a field under two names of an alias with two values counts once for
each value (as `user:a` and `user:b` would both find it). `missing` is the view's events in no
row. Not kept: a value no query term can write exactly (a control or invisible character, which
`core.query.pivot` writes `?`; past `TERM_CHARS`, matched by its first characters) narrows to
every value its pattern matches, while its row counts its own.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.model.values import USER_FIELDS, as_int, hex_id
from core.query.compile import ALIAS_FIELDS, OWN_PID_CHANNEL, QueryError, known_names, unknown_field
from core.query.view import View, count_view, settled, whole_by_index
from core.store.filter import Filter
from core.store.store import Store

#: Stackable System columns: the names a user types -> (events column, the name a query uses).
#: `level` to `usersid` are also read in an EventData field so named (`HEADER_FIELDS`).
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
    "threadid": ("tid", "threadid"),
    "level": ("level", "level"),
    "task": ("task", "task"),
    "opcode": ("opcode", "opcode"),
    "keywords": ("keywords", "keywords"),
    "version": ("version", "version"),
    "file": ("source", "file"),
    "source": ("source", "file"),
}
#: Aliases stacked as one field: their EventData names (see `core.query.compile.ALIAS_FIELDS`).
#: `user` stacks the account names (its SIDs are counted for them: `COUNTED`); `pid`: PID_STACKS.
STACK_ALIASES = ("user", "image", "parent", "cmd", "parentcmd", "logon", "handle", "pid")
#: Names the language reads as something else than an EventData field so named: the record
#: number (`record:` is the EventRecordID) and dates. A stack of such a field could not narrow.
READ_OTHERWISE = frozenset({"record", "eventrecordid", "after", "before"})


@dataclass(frozen=True, slots=True)
class Header:
    """A System column stacked beside the EventData names of a stack (`HEADER_NAMES`)."""

    column: str  # the events column
    own: bool = False  # only its events outside LOGGER_PID_CHANNELS count (`pid:`)
    numbers: str = ""  # a number shown in "hex" or "dec"imal; "" as first spelled
    text: bool = False  # compared as text (keywords, user SID), not as a number
    counted: bool = False  # counts events for the other names' values, never a value of its own


#: The System columns among a stack's names (`StackField.names`), each by a name that is not
#: lower-case, so no EventData name (stored lower-cased, in `postings` and in the fleet's
#: `fields`) is ever one. Named among the names because `core.fleet` stacks from the names alone.
HEADER_PID = "System ProcessID"
HEADER_OWN_PID = "System ProcessID outside LOGGER_PID_CHANNELS"
HEADER_USER_SID = "System UserID for user:"
HEADER_NAMES: dict[str, Header] = {
    HEADER_PID: Header("pid", numbers="hex"),
    HEADER_OWN_PID: Header("pid", own=True, numbers="hex"),
    "System Level": Header("level", numbers="dec"),
    "System Task": Header("task", numbers="dec"),
    "System Opcode": Header("opcode", numbers="dec"),
    "System Version": Header("version", numbers="dec"),
    "System ThreadID": Header("tid", numbers="dec"),
    "System Keywords": Header("keywords", text=True),
    "System UserID": Header("user_sid", text=True),
    HEADER_USER_SID: Header("user_sid", text=True, counted=True),
}
#: The query names read in a System column and in an EventData field so named (`compile.py`:
#: "the System column, or an EventData field so named"), with their column's header name.
HEADER_FIELDS: dict[str, str] = {
    "level": "System Level",
    "task": "System Task",
    "opcode": "System Opcode",
    "version": "System Version",
    "threadid": "System ThreadID",
    "keywords": "System Keywords",
    "usersid": "System UserID",
}
#: Before an EventData name among a stack's names: counted for the other names' values, never a
#: value of its own (the SID fields `user:` reads beside the account names).
COUNTED = "Counted "
#: The computer's names: the column, and its values counted for their first labels.
HEADER_COMPUTER = "System Computer"
HEADER_COMPUTER_LABELS = "System Computer, by its first labels"
COMPUTER_NAMES = (HEADER_COMPUTER, HEADER_COMPUTER_LABELS)
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
#: A value as the query compares it: (0, the number) or (1, its ASCII-folded text).
Key = tuple[int, int | str]
#: Values grouped as the query language compares them: key -> (spelling shown, events).
Groups = dict[Key, tuple[str, int]]
#: Default number of values returned; the rest are counted (`Stack.more`).
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class StackRow:
    """One distinct value (in the spelling shown: see the module docstring) and its events."""

    value: str
    count: int
    share: float  # of the view's events, 0..1


@dataclass(frozen=True, slots=True)
class Stack:
    """A stack of one field over a view. `rows` are the first `limit` values in the order asked;
    `more` the distinct values left out; `missing` the view's events in no row."""

    field: str  # the query name to filter on a value (`core.query.pivot.filter_to`)
    total: int  # events in the view
    rows: tuple[StackRow, ...]
    distinct: int
    more: int
    missing: int


@dataclass(frozen=True, slots=True)
class StackField:
    """What to stack: an events column, or a set of names: EventData names (lower-cased), and
    HEADER_NAMES, COUNTED or COMPUTER_NAMES ones."""

    query_name: str
    column: str | None = None
    names: tuple[str, ...] = ()


def resolve_field(name: str, fields: Collection[str]) -> StackField:
    """The field `name` stands for (a System column, an alias or an EventData name of the store,
    `fields` as `Store.field_names` gives them); QueryError with the nearest names otherwise, or
    for a name the language reads as something else (READ_OTHERWISE)."""
    key = name.strip().lower()
    if key in PID_STACKS:
        return StackField(key, names=PID_STACKS[key])
    if key in SYSTEM_COLUMNS:
        column, query_name = SYSTEM_COLUMNS[key]
        if query_name in HEADER_FIELDS:
            return StackField(query_name, names=(query_name, HEADER_FIELDS[query_name]))
        if column == "computer":
            return StackField(query_name, names=COMPUTER_NAMES)
        return StackField(query_name, column=column)
    if key == "user":
        sids = (n.lower() for n in ALIAS_FIELDS["user"] if n not in USER_FIELDS)
        return StackField(key, names=(*(n.lower() for n in USER_FIELDS), *(COUNTED + n for n in sids),
                                      HEADER_USER_SID))
    if key in STACK_ALIASES:
        return StackField(key, names=tuple(n.lower() for n in ALIAS_FIELDS[key]))
    if key in READ_OTHERWISE:
        what = "the EventRecordID" if key in ("record", "eventrecordid") else "a date"
        raise QueryError(f"'{name.strip()}' is {what} in a query, whatever the events' own fields hold: "
                         "no stack of it could narrow to its counts", 0)
    lowered = {f.lower() for f in fields}
    if key in lowered:
        return StackField(name.strip(), names=(key,))
    known = known_names(lowered) | SYSTEM_COLUMNS.keys()
    raise unknown_field(name, known - READ_OTHERWISE, 0)


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
    groups: Mapping[Any, tuple[str, int]]
    if target.column is not None:
        groups = _column_counts(store, which, target.column, whole_by_index(store, which))
        held = sum(c for _, c in groups.values())
    elif target.names == COMPUTER_NAMES:
        groups, held = _computer_counts(store, which)
    else:
        groups, held = _field_counts(store, which, target.names)
    rows = tuple(StackRow(v, c, c / total if total else 0.0) for v, c in _ranked(groups, limit, descending))
    return Stack(target.query_name, total, rows, len(groups), len(groups) - len(rows), max(0, total - held))


#: SQLite's NOCASE folds ASCII letters only: group values the same way in Python.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(value: str) -> str:
    return value.translate(_ASCII_LOWER)


def _merge(rows: Iterable[tuple[object, int]]) -> dict[str, tuple[str, int]]:
    """(value, count) rows grouped as the query language compares text: folded key -> (the
    first spelling met, summed count). (Numbers are grouped before: `_key`.)"""
    groups: dict[str, tuple[str, int]] = {}
    for value, count in rows:
        text = _text(value)
        key = _fold(text)
        seen = groups.get(key)
        groups[key] = (text, count) if seen is None else (seen[0], seen[1] + count)
    return groups


def _ranked(groups: Mapping[Any, tuple[str, int]], limit: int | None, descending: bool) -> list[tuple[str, int]]:
    """Counts ascending (or descending), ties by value; the first `limit`."""
    items = sorted(groups.values(), key=lambda vc: (-vc[1] if descending else vc[1], _fold(vc[0]), vc[0]))
    return items if limit is None else items[:limit]


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _key(value: str, num: int | None) -> Key:
    """A value as the query compares it (`num`: `as_int(value)`, a posting row's `num`)."""
    return (0, num) if num is not None else (1, _fold(value))


def _shown(key: Key, spelling: str, numbers: str) -> str:
    """How a row of `key` shows: a number as `numbers` says ("hex", "dec"), else `spelling`."""
    n = key[1]
    if not numbers or not isinstance(n, int):
        return spelling
    return number_text(n) if numbers == "hex" else str(n)


#: The index holding each column (with the event's id), walked for a big view of id sets.
_COVERING = {"event_id": "events_eid", "computer": "events_computer"}


def _column_counts(store: Store, compiled: Filter, column: str, walk: bool = False) -> dict[str, tuple[str, int]]:
    """Group an events column over the view. Exact-value groups merged in Python: `GROUP BY ...
    COLLATE NOCASE` cost SQLite 1.1 s against 0.65 s at a million events (the computer has a
    NOCASE index: grouped by it directly, shown by its least spelling, as the fleet shows it).
    `walk` (`whole_by_index`): the column's index is walked, each entry tested against the
    view's id sets, when it has one."""
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
    collate, value = (" COLLATE NOCASE", "min(e.computer)") if column == "computer" else ("", f"e.{column}")
    sql = (f"SELECT {value}, count(*) FROM events e{hint} WHERE ({compiled.sql}) AND e.{column} IS NOT NULL "
           f"GROUP BY e.{column}{collate}")
    return _merge((r[0], int(r[1])) for r in store.conn.execute(sql, compiled.params))


def _computer_counts(store: Store, compiled: Filter) -> tuple[dict[str, tuple[str, int]], int]:
    """The computers of the view, each row also counting the computers it is the first labels
    of: `computer:dc1` is the computer whole or `dc1.%` (`core.query.compile._host`, LIKE's ASCII
    folding), so `DC1` counts `dc1.corp.local`, not `DC10`. An event has one computer: a row
    sums its names' counts, and the events holding a computer are the plain counts' sum."""
    groups = _column_counts(store, compiled, "computer", whole_by_index(store, compiled))
    held = sum(c for _, c in groups.values())
    folds = sorted(groups)
    out: dict[str, tuple[str, int]] = {}
    for fold, (text, count) in groups.items():
        labels = fold + "."
        i = bisect_left(folds, labels)
        while i < len(folds) and folds[i].startswith(labels):
            count += groups[folds[i]][1]
            i += 1
        out[fold] = (text, count)
    return out, held


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


def _header_key(value: object, header: Header) -> Key:
    """A header column's value as its query term compares it: a text column's as text (`keywords:
    16` does not find the column's `0x10`), an integer column's as a number (a number outside 64
    bits is stored as text, `core.model.storable.int_text`: that text's)."""
    if header.text or not isinstance(value, int):
        text = _text(value)
        return (1, _fold(text)) if header.text else _key(text, as_int(text))
    return (0, value)


def _field_counts(store: Store, compiled: Filter, names: tuple[str, ...]) -> tuple[Groups, int]:
    """Group the values of `names` over the view (EventData names, and HEADER_NAMES or COUNTED
    ones), and count the view's events in a row. Per posting list, the number of its ids in the
    view (no list expanded when the view is everything): an event holds one value of a name,
    once, in one list, unless some event holds the name twice (`Store.repeated_names`). Such a
    name, several (an alias) or a header column with values in the view: `_alias_counts`, which
    counts distinct events. COUNTED names and header: `_counted`."""
    row_header = next((HEADER_NAMES[n] for n in names if n in HEADER_NAMES and not HEADER_NAMES[n].counted), None)
    counted_header = next((HEADER_NAMES[n] for n in names if n in HEADER_NAMES and HEADER_NAMES[n].counted), None)
    data = tuple(n for n in names if n not in HEADER_NAMES and not n.startswith(COUNTED))
    counted = tuple(n[len(COUNTED):] for n in names if n.startswith(COUNTED))
    numbers = "" if row_header is None else row_header.numbers
    head = {} if row_header is None else _header_counts(store, compiled, row_header)
    listed = store.conn.execute(f"SELECT 1 FROM postings p WHERE {_names_sql(data)} LIMIT 1", data).fetchone()
    # (no event holds the field: a System column alone, as `level` mostly is, costs no id set)
    id_set = None if compiled.matches_all or listed is None else store.id_set(compiled).id_table
    if listed is None:
        groups, held = head, sum(count for _, count in head.values())
    elif row_header is not None and head:
        groups, held = _alias_counts(store, data, id_set, numbers=numbers, header=(row_header, head))
    elif len(data) > 1 or data[0] in store.repeated_names():
        groups, held = _alias_counts(store, data, id_set, numbers=numbers)
    else:
        groups, held = _single_counts(store, data[0], id_set, numbers)
    if counted or counted_header is not None:
        return _counted(store, compiled, id_set, (data, counted, counted_header), groups, held)
    return groups, held


def _names_sql(names: tuple[str, ...]) -> str:
    return "p.name = ?" if len(names) == 1 else f"p.name IN ({', '.join('?' * len(names))})"


def _single_counts(store: Store, name: str, id_set: str | None, numbers: str) -> tuple[Groups, int]:
    """`_field_counts` of one name no event holds twice: the lists' counts summed per value."""
    count_sql = ("json_array_length(p.ids)" if id_set is None
                 else f"(SELECT count(*) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    # (in the index's order; the spelling shown is the first stored, whatever plan SQLite picks,
    # as `core.fleet` shows it)
    rows = store.conn.execute(f"SELECT p.rowid, p.value, p.num, {count_sql} FROM postings p WHERE p.name = ? "
                              "ORDER BY p.value COLLATE NOCASE, p.rowid", (name,)).fetchall()
    groups: Groups = {}
    first: dict[Key, int] = {}
    held = 0
    for rowid, value, num, n in rows:
        if not n:
            continue
        held += int(n)
        key = _key(value, num)
        seen = groups.get(key)
        if seen is None or rowid < first[key]:
            first[key] = rowid
            groups[key] = (_shown(key, value, numbers), int(n) + (0 if seen is None else seen[1]))
        else:
            groups[key] = (seen[0], seen[1] + int(n))
    return groups, held


def _header_counts(store: Store, compiled: Filter, header: Header) -> Groups:
    """The view's events by a header column's value (`own`: outside LOGGER_PID_CHANNELS only),
    grouped as its query term compares them (`_header_key`), each shown by `numbers` or its
    least spelling."""
    rows = _apart_rows(store, header.column) if compiled.matches_all and not header.own else None
    if rows is None:
        sql = (f"SELECT e.{header.column}, count(*) FROM events e WHERE ({compiled.sql}) AND {_header_sql(header)} "
               f"GROUP BY e.{header.column}")
        rows = sorted(((r[0], int(r[1])) for r in store.conn.execute(sql, compiled.params)), key=_sqlite_order)
    groups: Groups = {}
    for value, count in rows:
        key = _header_key(value, header)
        seen = groups.get(key)
        groups[key] = (_shown(key, _text(value), header.numbers), count) if seen is None else (seen[0], seen[1] + count)
    return groups


def _header_sql(header: Header) -> str:
    """The events whose header value a stack counts (constants: no user text)."""
    held = f"e.{header.column} IS NOT NULL"
    return f"{held} AND {OWN_PID_CHANNEL}" if header.own else held


#: A bound beyond every store id (SQLite's are 64-bit).
_ANY_ID = 2**64


def _alias_counts(store: Store, names: tuple[str, ...], id_set: str | None, *, numbers: str = "",
                  header: tuple[Header, Groups] | None = None) -> tuple[Groups, int]:
    """Group the values held under any of `names` over the view (`id_set`: its ids; None: every
    event): each value counts the distinct events holding it under any of the names (as
    `user:value` finds them), and `held` the distinct events holding any. An event's values are
    all in the posting lists of the batch that stored it, whose ids no other batch's lists
    hold: the lists are read a group at a time, the rows whose id ranges overlap (their `lo`
    and `hi` columns, no list read), and only a group's ids are in sets at once. Stacking
    `user` over 10M events with every list in sets at once peaked at 1.48 GB (6.0 s); a group at
    a time at 130 MB (5.1 s), most of it the 164,650 posting rows' spans and values.

    `numbers`: how a number shows (`_shown`). `header`: (a HEADER_NAMES column, the view's events
    by its values): added to the counts, less the events counted twice (a group's events holding
    a value in a field and the same one in the header: looked up by id, the group's only). A
    text column's value that is a number also counts the fields holding that number (`keywords:
    0x10` finds a Keywords field's `16`): such a number is no row of its own."""
    conn = store.conn
    head: Groups = {} if header is None else header[1]
    links: dict[Key, list[Key]] = {}
    if header is not None and header[0].text:
        for key, (text, _) in head.items():
            number = as_int(text)
            if number is not None:
                links.setdefault((0, number), []).append(key)
    values: list[tuple[str, int, Key, str]] = []  # (name, row, key, value)
    targets: dict[int, list[Key]] = {}  # the rows each posting row's events count for
    spans: list[tuple[int, int, int]] = []
    if names:
        for rowid, name, value, num, first, last in conn.execute(
                f"SELECT p.rowid, p.name, p.value, p.num, p.lo, p.hi FROM postings p WHERE {_names_sql(names)} "
                "ORDER BY p.name, p.value COLLATE NOCASE, p.rowid", names):
            key = _key(value, num)
            values.append((name, rowid, key, value))
            targets[rowid] = links.get(key, [key])
            spans.append((*_span(first, last), rowid))
    spans.sort()
    ids_sql = "p.ids" if id_set is None else (
        f"(SELECT json_group_array(j.value) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    header_sql = None if header is None else _header_sql(header[0])
    counts: dict[Key, int] = {}
    twice: dict[Key, int] = {}  # per value, the events holding it in a field and in the header
    holding: set[int] = set()  # rows holding an event of the view
    held = both = 0
    for group in _overlapping(spans):
        lists: dict[Key, list[list[int]]] = {}
        for rowid, text in conn.execute(f"SELECT p.rowid, {ids_sql} FROM postings p WHERE p.rowid IN "
                                        "(SELECT value FROM json_each(?))", (json.dumps(group),)):
            ids = json.loads(text)
            if ids:
                holding.add(rowid)
                for target in targets[rowid]:
                    lists.setdefault(target, []).append(ids)
        every: set[int] = set()
        sets: dict[Key, set[int]] = {}
        for key, found in lists.items():
            distinct = sets[key] = set().union(*found)  # (a list repeats an event holding the pair twice)
            counts[key] = counts.get(key, 0) + len(distinct)
            every.update(distinct)
        held += len(every)
        if header is not None and every:  # (ids per header value: sets meet in C, not per event)
            column = header[0].column
            for value, text in conn.execute(f"SELECT e.{column}, json_group_array(e.id) FROM events e WHERE e.id IN "
                                            f"(SELECT value FROM json_each(?)) AND {header_sql} GROUP BY e.{column}",
                                            (json.dumps(sorted(every)),)):
                ids = json.loads(text)
                both += len(ids)
                key = _header_key(value, header[0])
                if key in sets:
                    twice[key] = twice.get(key, 0) + len(sets[key].intersection(ids))
    groups: Groups = {}
    for _, rowid, _, value in sorted(v for v in values if v[1] in holding):  # (first spelled: by name, row)
        for target in targets[rowid]:
            if target not in groups and target not in head:
                groups[target] = (_shown(target, value, numbers), counts[target])
    for key, (text, count) in head.items():
        groups[key] = (text, count + counts.get(key, 0) - twice.get(key, 0))
    return groups, held + sum(count for _, count in head.values()) - both


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


def _lists(store: Store, rowids: Collection[int], id_set: str | None) -> dict[int, set[int]]:
    """The view's ids in each of these posting rows."""
    ids_sql = "p.ids" if id_set is None else (
        f"(SELECT json_group_array(j.value) FROM json_each(p.ids) j WHERE j.value IN {id_set})")
    rows = store.conn.execute(f"SELECT p.rowid, {ids_sql} FROM postings p WHERE p.rowid IN "
                              "(SELECT value FROM json_each(?))", (json.dumps(sorted(rowids)),))
    return {int(rowid): set(json.loads(text)) for rowid, text in rows}


def _counted(store: Store, compiled: Filter, id_set: str | None,
             sources: tuple[tuple[str, ...], tuple[str, ...], Header | None], groups: Groups,
             held: int) -> tuple[Groups, int]:
    """`groups` (the values of the names `sources[0]`) with the events the query term of each
    also finds in the COUNTED names `sources[1]` (compared as there: `_key`) and the COUNTED
    header column `sources[2]` (as text, its spelling shown): `user:-` finds `-` in a SID field
    too. A value of theirs no name holds is no row. Such a text in a SID or the System UserID is
    rare: they are found first among the SID fields' distinct values and the store's distinct
    SIDs (`strings`), and only the events of those read."""
    names, counted, column = sources
    conn = store.conn
    extra: dict[Key, set[int]] = {}
    if counted and groups:
        key_of = {int(rowid): _key(value, num) for rowid, value, num in conn.execute(
            f"SELECT p.rowid, p.value, p.num FROM postings p WHERE {_names_sql(counted)}", counted)}
        wanted = [rowid for rowid, key in key_of.items() if key in groups]
        for rowid, ids in _lists(store, wanted, id_set).items():
            if ids:
                extra.setdefault(key_of[rowid], set()).update(ids)
    if column is not None and groups:
        by_fold = {_fold(text): key for key, (text, _) in groups.items()}
        texts = [str(s) for (s,) in conn.execute("SELECT value FROM strings") if _fold(str(s)) in by_fold]
        texts += [""] if "" in by_fold else []  # (`strings` leaves out the empty text)
        if texts:
            sql = (f"SELECT e.id, e.{column.column} FROM events e WHERE ({compiled.sql}) AND "
                   f"e.{column.column} IN (SELECT value FROM json_each(?))")
            for eid, text in conn.execute(sql, (*compiled.params, json.dumps(texts))):
                extra.setdefault(by_fold[_fold(str(text))], set()).add(int(eid))
    if not extra:
        return groups, held
    own_rows = {int(rowid): _key(value, num) for rowid, value, num in conn.execute(
        f"SELECT p.rowid, p.value, p.num FROM postings p WHERE {_names_sql(names)}", names)}
    own: dict[Key, set[int]] = {}
    for rowid, ids in _lists(store, [r for r, k in own_rows.items() if k in extra], id_set).items():
        own.setdefault(own_rows[rowid], set()).update(ids)
    added: set[int] = set()
    for key, ids in extra.items():
        new = ids - own.get(key, set())
        text, count = groups[key]
        groups[key] = (text, count + len(new))
        added |= new
    return groups, held + len(added - _holding_any(store, names, added))


def _holding_any(store: Store, names: tuple[str, ...], ids: set[int]) -> set[int]:
    """Those of `ids` holding a value of any of `names` (the lists whose id range meets theirs)."""
    if not ids:
        return set()
    sql = (f"SELECT DISTINCT j.value FROM postings p, json_each(p.ids) j WHERE {_names_sql(names)} AND "
           "(p.lo IS NULL OR p.hi IS NULL OR (p.lo <= ? AND p.hi >= ?)) "
           "AND j.value IN (SELECT value FROM json_each(?))")
    rows = store.conn.execute(sql, (*names, max(ids), min(ids), json.dumps(sorted(ids))))
    return {int(r[0]) for r in rows}
