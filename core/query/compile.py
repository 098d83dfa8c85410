"""The filter bar's language, compiled to parameterised SQL over the store (`core.store.schema`).

    4688 user:dadmin image:*rundll32* -computer:DC01 after:2015-11-12T02:00 "free text"

- A bare integer is an EventID (`4656,4663` is a list). Any other bare word, and any "quoted
  text", is free text: a substring of any EventData value or of the computer, channel,
  provider or user SID (never of a field name). Keywords in quotes are text: `"and"`.
- `name:value` matches the EventData field `name` AND the System field of that name (names
  are case-insensitive). Given the store's field names (`compile_query(text, fields)`), a name
  no event has and no alias covers is an error naming the nearest known ones (`usr:alice`:
  did you mean user?), not a silent 0 rows. Values are compared case-insensitively and whole
  (`*` = any run, `?` = one character; `[*]`, `[?]` and `[[]` are a literal `*`, `?`, `[`). A
  value that is a number (`3212`, `0xc8c`, `0x0000000000000c8c`) is compared as a number, so
  all renderings match. `name:(a OR b)` matches any of the values.
- Aliases: `id` (EventID, lists allowed), `host` (computer; `host:dc01` also matches
  `DC01.corp.local`), `record` (EventRecordID), `user`, `pid` (every process-id field, and the
  System header's outside the Security and Sysmon logs, where it is the logging service on every
  event: `core.model.values.LOGGER_PID_CHANNELS`), `image` (the process's own
  image: never its parent's), `parent` (the parent process's image), `cmd` (the process's own
  command line), `parentcmd`, `logon`, `handle` (field-name lists: `ALIAS_FIELDS`),
  `channel`, `provider`, `file`/`source` (the input's path or file name), `after:`/`before:`
  (UTC ISO date or date-time; `after` is inclusive, `before` exclusive).
- `AND`, `OR`, `NOT` (any case), `-term` (see `core.query.lexer` for when a dash negates),
  parentheses; NOT > AND > OR; adjacent terms AND.

User text only ever reaches SQLite as bound parameters. The SQL shapes are chosen so SQLite
can drive them from the indexes: field matches are `e.id IN (ids from postings WHERE name ...
AND num/value ...)` (indexes `postings_num`, `postings_value`, see `core.store.schema.FIELD_IDS`),
EventIDs and times go to `events_eid`/`events_time`. Free text cannot use an index (substring
search), but it scans the distinct values (`postings`, `strings`), not every event. Case folding
is SQLite's: ASCII letters only (`KÖLN` does not match `köln`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence

from core.model.event import TimeRangeError, read_time
from core.model.values import (
    HANDLE_FIELDS,
    LOGGER_PID_CHANNELS,
    LOGON_FIELDS,
    PID_FIELDS,
    USER_FIELDS,
    as_int,
    column_param,
)
from core.query.lexer import Kind, QueryError, Token
from core.query.parser import And, Node, Not, Or, Term, parse, start
from core.query.sql_depth import (
    FIRST_OPERAND,
    NEGATION,
    NEXT_OPERAND,
    Nesting,
    check_runs,
    list_weight,
    term_weight,
)
from core.store.filter import Filter
from core.store.schema import FIELD_IDS, SYSTEM_FIELDS

__all__ = ["QueryError", "compile_query"]


#: The process's own image and command line, and its parent's: `image:*cmd*` finds cmd.exe
#: itself, not every child cmd.exe started (`core.model.values.IMAGE_FIELDS` mixes them).
OWN_IMAGE_FIELDS: tuple[str, ...] = ("NewProcessName", "ProcessName", "Image", "Application")
PARENT_IMAGE_FIELDS: tuple[str, ...] = ("ParentProcessName", "ParentImage")
OWN_CMD_FIELDS: tuple[str, ...] = ("CommandLine", "ProcessCommandLine")
PARENT_CMD_FIELDS: tuple[str, ...] = ("ParentCommandLine",)

#: Aliases that stand for a set of EventData field names (lower-cased, as `postings.name` is).
#: `user` also covers the SIDs, which is what an analyst pasting `S-1-5-18` expects.
ALIAS_FIELDS: dict[str, tuple[str, ...]] = {
    "user": (*USER_FIELDS, "SubjectUserSid", "TargetUserSid", "TargetSid", "UserSid"),
    "pid": PID_FIELDS,  # plus the System pid column (see _ALIAS_COLUMNS)
    "image": OWN_IMAGE_FIELDS,
    "parent": PARENT_IMAGE_FIELDS,
    "cmd": OWN_CMD_FIELDS,
    "parentcmd": PARENT_CMD_FIELDS,
    "logon": LOGON_FIELDS,
    "handle": HANDLE_FIELDS,
}

#: System fields that the store indexes in `postings` (see `core.model.rows`). None are any more:
#: System values live in their columns only (ingest speed). tests/query/test_query.py checks this set
#: against what the store really writes.
MIRRORED_SYSTEM_FIELDS: frozenset[str] = frozenset()
#: Aliases that also cover a System column: `pid:` the Execution ProcessID (outside the
#: channels where it is the logging service: `LOGGER_PID_CHANNELS`), `user:` the Security UserID.
_ALIAS_COLUMNS = {"pid": "pid", "user": "user_sid"}
#: The events whose header pid `pid:` covers (constants: no user text).
OWN_PID_CHANNEL = "e.channel COLLATE NOCASE NOT IN ({})".format(", ".join(f"'{c}'" for c in LOGGER_PID_CHANNELS))

#: Columns queried directly: EventID and EventRecordID (indexed, numeric), computer (indexed).
_INT_COLUMNS = {"id": "event_id", "eventid": "event_id", "record": "record_id", "eventrecordid": "record_id"}
_HOST_NAMES = ("host", "computer")
#: Channel and provider are compared in their columns although the store mirrors them: a
#: handful of values shared by most events, where `postings` would hand SQLite a list of
#: nearly every event id to sort (0.8 s per million), and a scan in time order stops early.
_TEXT_COLUMNS = ("channel", "provider")
_FILE_NAMES = ("file", "source")
_NULLABLE_INT = {"version", "level", "task", "opcode", "pid", "tid"}
_MAX_LIST = 1000

_ESC = "\\"
_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?\Z")
_ID_LIST_RE = re.compile(r"[0-9]+(?:,[0-9]+)*\Z")


#: Field names the language itself knows (lower-cased), whatever the store holds.
SPECIAL_NAMES: frozenset[str] = frozenset(
    {"after", "before", *_INT_COLUMNS, *_HOST_NAMES, *_FILE_NAMES, *_TEXT_COLUMNS, *SYSTEM_FIELDS}
)


def known_names(fields: Collection[str]) -> frozenset[str]:
    """Every field name a query may use over a store whose EventData names are `fields`."""
    return frozenset({*SPECIAL_NAMES, *ALIAS_FIELDS, *(f.lower() for f in fields)})


def unknown_field(name: str, known: Collection[str], pos: int) -> QueryError:
    """The error for a field name no event has: with the nearest known names, so `usr:alice`
    says what to type instead of quietly matching nothing."""
    near = difflib.get_close_matches(name.lower(), sorted(known), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return QueryError(f"unknown field '{name}'{hint}", pos)


def compile_query(text: str, fields: Collection[str] | None = None) -> Filter:
    """Compile a filter-bar query to the store's `Filter`; an empty or blank one matches
    everything (`Filter.everything`).

    When the whole query is one EventData or free-text term, the filter's `ids` is the SQL
    listing the ids of the matching events (possibly with repeats): `core.query.view.count_view`
    counts those distinct ids instead of looking up every event (a value held by a quarter of a
    million events: 30 ms instead of 110).

    `fields`: the EventData field names of the store (`Store.field_names`); when given, a
    field name that is neither one of them nor known to the language is an error.
    Raises QueryError (with the 0-based position of the culprit) for a malformed query, and for
    one nested deeper than SQLite can parse the SQL written for it (`core.query.sql_depth`):
    every filter this returns prepares, in every statement the store and query layers put it in.
    """
    node = parse(text)
    if node is None:
        return Filter.everything()
    params: list[object] = []
    known = None if fields is None else known_names(fields)
    if known is not None:
        _check_names(node, known)
    nesting = Nesting()
    where = _node_sql(node, params, nesting)
    check_runs(where, nesting)
    ids = None
    if isinstance(node, Term) and where.startswith(_IDS_OPEN):
        ids = where[len(_IDS_OPEN) : -1]
    return Filter.from_sql(where, params, ids)


#: How a term matching a set of event ids (`_in_ids`) starts.
_IDS_OPEN = "e.id IN ("


def _in_ids(ids: str) -> str:
    return f"{_IDS_OPEN}{ids})"


def _check_names(node: Node, known: frozenset[str]) -> None:
    if isinstance(node, Term):
        tok = node.token
        if tok.kind is Kind.FIELD and tok.name.lower() not in known:
            raise unknown_field(tok.name, known, tok.pos)
    elif isinstance(node, Not):
        _check_names(node.child, known)
    else:
        for child in node.children:
            _check_names(child, known)


def _node_sql(node: Node, params: list[object], nesting: Nesting) -> str:
    """SQL for a node. Every leaf is two-valued (never NULL), so NOT is an exact complement.
    `nesting` weighs each level as it is written, and each term's SQL where it stands."""
    if isinstance(node, Term):
        sql, weight = _term_sql(node.token, params)
        nesting.term(weight, node.token.pos)
        return sql
    if isinstance(node, Not):
        with nesting.inside(NEGATION, node.pos):
            return f"(NOT {_node_sql(node.child, params, nesting)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    assert isinstance(node, (And, Or))
    parts = []
    for i, child in enumerate(node.children):
        with nesting.inside(NEXT_OPERAND if i else FIRST_OPERAND, start(child)):
            parts.append(_node_sql(child, params, nesting))
    return "(" + joiner.join(parts) + ")"


# -- leaves ----------------------------------------------------------------------------------


def _term_sql(tok: Token, params: list[object]) -> tuple[str, int]:
    """A leaf's SQL, and the parser-stack entries it needs (`core.query.sql_depth`)."""
    if tok.kind is Kind.TEXT:
        if not tok.value:
            raise QueryError("empty search text", tok.pos)
        sql = _free_text(tok.value, params)
    elif tok.kind is Kind.WORD:
        sql = _int_list("event_id", tok.value, tok.pos, params) if _ID_LIST_RE.match(tok.value) \
            else _free_text(tok.value, params)
    elif tok.values:  # name:(a OR b): weighed as the group of terms it is written as
        parts = [_value_sql(tok.name.lower(), v, p, params) for v, p in zip(tok.values, tok.value_spots, strict=True)]
        return "(" + " OR ".join(parts) + ")", list_weight(parts)
    else:
        sql = _value_sql(tok.name.lower(), tok.value, tok.value_pos, params)
    return sql, term_weight(sql)


def _value_sql(name: str, value: str, value_pos: int, params: list[object]) -> str:
    if name in ("after", "before"):
        ticks = parse_date(value, value_pos)
        params.append(ticks)
        op = ">=" if name == "after" else "<"
        return f"(e.ts IS NOT NULL AND e.ts {op} ?)"
    if name in _INT_COLUMNS:
        column = _INT_COLUMNS[name]
        if _has_glob(value):
            params.append(_like(value))
            return f"(CAST(e.{column} AS TEXT) LIKE ? ESCAPE '{_ESC}')"
        return _int_list(column, _literal(value), value_pos, params)
    if name in _HOST_NAMES:
        return _host(value, params)
    if name in _FILE_NAMES:
        return _file(value, params)
    if name in ALIAS_FIELDS:
        sql = _fields_match([n.lower() for n in ALIAS_FIELDS[name]], value, params)
        if name in _ALIAS_COLUMNS:
            column_sql = _column_match(_ALIAS_COLUMNS[name], value, params)
            if name == "pid":
                column_sql = f"({column_sql} AND {OWN_PID_CHANNEL})"
            sql = f"({sql} OR {column_sql})"
        return sql
    if name in _TEXT_COLUMNS:
        return _column_match(name, value, params)
    if name in SYSTEM_FIELDS and name not in MIRRORED_SYSTEM_FIELDS:
        # Not mirrored (level, task, ...): the System column, or an EventData field so named.
        column_sql = _column_match(SYSTEM_FIELDS[name], value, params)
        return f"({column_sql} OR {_fields_match([name], value, params)})"
    return _fields_match([name], value, params)


def _fields_match(names: Sequence[str], value: str, params: list[object]) -> str:
    """Events with a field in `names` whose value matches: by number when the value is one
    (so every hex/decimal rendering matches), else whole and case-insensitive, or by glob."""
    if len(names) == 1:
        name_sql = "p.name = ?"
    else:
        name_sql = f"p.name IN ({', '.join('?' * len(names))})"
    params.extend(names)
    number = None if _has_glob(value) else as_int(_literal(value))
    if number is not None:
        params.append(number)
        cond = "p.num = ?"
    elif _has_glob(value):
        params.append(_like(value))
        cond = f"p.value LIKE ? ESCAPE '{_ESC}'"
    else:
        params.append(_literal(value))
        cond = "p.value = ? COLLATE NOCASE"
    return _in_ids(FIELD_IDS.format(cond=f"{name_sql} AND {cond}"))


def column_term(column: str) -> str:
    """How `_column_match` writes a text column equal to a value (`core.query.string_terms`)."""
    return f"(e.{column} IS NOT NULL AND e.{column} = ? COLLATE NOCASE)"


def column_glob(column: str) -> str:
    """How `_column_match` writes a column matching a glob (`core.query.string_terms`)."""
    return f"(e.{column} IS NOT NULL AND CAST(e.{column} AS TEXT) LIKE ? ESCAPE '{_ESC}')"


def _column_match(column: str, value: str, params: list[object]) -> str:
    """A System column compared like a field value (numbers as numbers); never NULL."""
    if _has_glob(value):
        params.append(_like(value))
        return column_glob(column)
    value = _literal(value)
    if column in _NULLABLE_INT:
        number = column_param(value)
        if number is None:
            return "0"
        params.append(number)
        return f"(e.{column} IS NOT NULL AND e.{column} = ?)"
    params.append(value)
    return column_term(column)


def _int_list(column: str, value: str, pos: int, params: list[object]) -> str:
    """`column = n` or `column IN (n, m, ...)` for a comma list of integers (hex allowed)."""
    numbers: list[int | str] = []
    offset = pos
    items = value.split(",")
    if len(items) > _MAX_LIST:
        raise QueryError(f"more than {_MAX_LIST} values in a list", pos)
    for item in items:
        number = column_param(item)
        if number is None:
            if not item.strip():
                what = "empty list item"
            elif item.strip().lstrip("-").isdigit():
                what = f"'{item}' is out of range"
            else:
                what = f"'{item}' is not a number"
            raise QueryError(what, offset)
        numbers.append(number)
        offset += len(item) + 1
    params.extend(numbers)
    if len(numbers) == 1:
        return f"e.{column} = ?"
    return f"e.{column} IN ({', '.join('?' * len(numbers))})"


#: How the compiler writes a computer term (`_host`): whole or by its first label, or a glob.
#: `core.query.string_terms` finds them to read the computers named from the `strings` table.
HOST_TERM = f"(e.computer = ? COLLATE NOCASE OR e.computer LIKE ? ESCAPE '{_ESC}')"
HOST_GLOB = f"(e.computer LIKE ? ESCAPE '{_ESC}')"


def _host(value: str, params: list[object]) -> str:
    """The computer, whole, or as the first label of a dotted name (`dc01` ~ `DC01.corp.local`)."""
    if _has_glob(value):
        params.append(_like(value))
        return HOST_GLOB
    params.extend((_literal(value), _like(value) + ".%"))
    return HOST_TERM


def _file(value: str, params: list[object]) -> str:
    """Events of inputs whose path, or file name, matches (`file:security.evtx`)."""
    pattern = _like(value)
    params.extend((pattern, "%/" + pattern, "%" + _ESC + _ESC + pattern))
    like = f"LIKE ? ESCAPE '{_ESC}'"
    return f"e.source IN (SELECT id FROM sources WHERE path {like} OR path {like} OR path {like})"


def _free_text(text: str, params: list[object]) -> str:
    """Substring search over every EventData value and the computer, channel, provider and
    user SID columns, as a list of event ids.

    Both parts search distinct values, never every event: EventData values in `postings`
    (never field names: `CommandLine` does not match itself), System values in `strings`, and
    only the events holding a System value that matched are looked up (usually none: CROSS JOIN
    keeps `strings` the outer loop). So a rare string is found at once in any log, the cost
    growing with the matches, not the events.
    """
    pattern = "%" + _like(text) + "%"
    params.extend([pattern] * 2)
    return _in_ids(FREE_TEXT_IDS)


_TEXT_LIKE = f"LIKE ? ESCAPE '{_ESC}'"
#: The posting rows a free-text term reads (its pattern the one parameter): the values are matched
#: in the `postings_value` index (name and value only; CROSS JOIN keeps that scan the outer loop),
#: never in the table, whose rows carry their lists: a table scan read every list's first pages (a
#: large EVTX log has a row per pair per worker task, `core.store.evtx_ingest`), 2-4 times slower
#: at 1.4 million events.
FREE_TEXT_ROWS = f"SELECT rowid AS r FROM postings WHERE value {_TEXT_LIKE}"
#: The ids a free-text term lists (`_free_text`), its pattern twice as parameters.
FREE_TEXT_IDS = (
    f"SELECT j.value AS id FROM ({FREE_TEXT_ROWS}) m CROSS JOIN postings p ON p.rowid = m.r, json_each(p.ids) j"
    f" UNION ALL SELECT s.id FROM strings t CROSS JOIN events s WHERE t.value {_TEXT_LIKE} AND (s.computer = t.value"
    " OR s.channel = t.value OR s.provider = t.value OR s.user_sid = t.value)"
)
#: What the System half of FREE_TEXT_IDS says of one event `e` (its pattern four times): every
#: computer, channel, provider and user SID but the empty one is in `strings`, as equal text.
FREE_TEXT_SYSTEM = " OR ".join(f"(e.{column} <> '' AND e.{column} {_TEXT_LIKE})"
                               for column in ("computer", "channel", "provider", "user_sid"))


# -- values ----------------------------------------------------------------------------------


#: A literal `*`, `?` or `[` inside a value: `[*]`, `[?]`, `[[]` (as in fnmatch).
_GLOB_ESCAPES = {"[*]": "*", "[?]": "?", "[[]": "["}


def _glob_chars(value: str) -> list[tuple[str, bool]]:
    """`value` as (character, is_wildcard) pairs, the `[*]` escapes resolved to literals."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(value):
        literal = _GLOB_ESCAPES.get(value[i : i + 3])
        if literal is not None:
            out.append((literal, False))
            i += 3
            continue
        out.append((value[i], value[i] in "*?"))
        i += 1
    return out


def _has_glob(value: str) -> bool:
    return ("*" in value or "?" in value) and any(wild for _, wild in _glob_chars(value))


def _literal(value: str) -> str:
    """The value compared whole: its `[*]`-style escapes resolved."""
    return value if "[" not in value else "".join(ch for ch, _ in _glob_chars(value))


def _like_literal(value: str) -> str:
    """`value` escaped for LIKE ... ESCAPE '\\': `%`, `_` and `\\` match themselves."""
    return value.replace(_ESC, _ESC + _ESC).replace("%", _ESC + "%").replace("_", _ESC + "_")


def _like(value: str) -> str:
    """A LIKE pattern for a glob (`*` any run, `?` one character, `[*]` a literal `*`); all
    else literal."""
    return "".join(("%" if ch == "*" else "_") if wild else _like_literal(ch) for ch, wild in _glob_chars(value))


def parse_date(value: str, pos: int) -> int:
    """`2015-11-12`, `2015-11-12T02:00`, `...T02:00:05.5Z` (UTC unless an offset is given).
    A date whose offset is no zone's or that falls past 9999 UTC says so (not a traceback)."""
    m = _DATE_RE.match(value.strip())
    if m:
        date, hm, sec, zone = m.groups()
        try:
            return read_time(f"{date}T{hm or '00:00'}{sec or ':00'}{zone or 'Z'}")
        except TimeRangeError as exc:
            raise QueryError(f"bad date '{value}': {exc}", pos) from None
        except ValueError:
            pass
    raise QueryError(f"bad date '{value}' (use 2015-11-12 or 2015-11-12T02:00:00)", pos)
