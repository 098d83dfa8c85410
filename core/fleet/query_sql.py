"""The filter language compiled for the fleet's engines: one compiler, several SQL dialects.

About 630 lines: the meaning of every term and of every stack, once, for both engines; the
stack's pairs (`_named_pairs`) say in SQL what `core.query.stack` counts, beside the terms
whose matching they mirror, so the two are read together.

The query's syntax tree (`core.query.parser`) becomes an sqlglot expression tree over the fleet
table (`core.fleet.schema.EVENTS`), which sqlglot renders for Spark SQL or DuckDB: the meaning of
every term is decided once, here, and the dialects only differ in spelling (`FILTER(...)` vs
`LIST_FILTER(...)`, how a string literal escapes a quote). The term rules (aliases, which names
are columns, lists, dates, globs) are the SQLite compiler's own (`core.query.compile`), read from
it rather than copied, so a term means the same everywhere; only the SQL shapes differ (the
fleet table has EventData inline, as `fields`, where SQLite has `postings`). The SQLite compiler
could move onto this module by adding an `sqlite` rendering of a postings-shaped `_fields_any`.

User text reaches the SQL only as string or number literals built by sqlglot, which escapes them
for the dialect. Case folding is the engines' LOWER/ILIKE (Unicode), where SQLite folds ASCII
letters only: `KÖLN` matches `köln` here and not in the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Literal

from sqlglot import exp

from core.model.event import FILETIME_END, FILETIME_MIN
from core.model.values import LOGGER_PID_CHANNELS, as_int
from core.query import compile as sq
from core.query.lexer import Kind, QueryError, Token
from core.query.parser import And, Node, Not, Or, Term, parse
from core.query.stack import (
    COMPUTER_NAMES,
    COUNTED,
    HEADER_COMPUTER,
    HEADER_COMPUTER_LABELS,
    HEADER_NAMES,
    HEADER_USER_SID,
    Header,
)
from core.store.schema import SYSTEM_FIELDS

Dialect = Literal["spark", "duckdb"]
TABLE = "events"
#: View order, as the store's (`core.store.store.TIME_ORDER`): time (no time first), EventRecordID,
#: then the event's place in its input.
ORDER = ("ts", "record_id", "source", "place")


def where_expr(text: str) -> exp.Expr:
    """The query `text` as a boolean expression over the fleet table; TRUE for an empty query.
    Raises QueryError exactly where the SQLite compiler would."""
    node = parse(text)
    if node is None:
        return exp.true()
    return _node(node)


def to_sql(expression: exp.Expr, dialect: Dialect) -> str:
    return expression.sql(dialect=dialect)


def select_events(text: str, limit: int | None = None, columns: tuple[str, ...] = ()) -> exp.Select:
    """The matching events in view order."""
    query = exp.select(*(columns or ("*",))).from_(TABLE).where(where_expr(text)).order_by(*_order())
    return query.limit(limit) if limit is not None else query


def count_events(text: str) -> exp.Select:
    return exp.select(exp.Count(this=exp.Star()).as_("n")).from_(TABLE).where(where_expr(text))


# -- stacks and timelines: the SQL parts; `core.fleet.api` combines them exactly as the store's
# `core.query.stack` / `core.query.timeline` do (the same counts, the same buckets).

#: SQLite's NOCASE folds ASCII letters only: the fleet folds the same way (TRANSLATE, not LOWER).
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _ascii_fold(this: exp.Expr) -> exp.Expr:
    return exp.Translate(this=this, from_=exp.Literal.string(_UPPER), to=exp.Literal.string(_UPPER.lower()))


def _pairs(text: str, names: tuple[str, ...]) -> exp.Select:
    """One row per (event, pair) counted for `names` over the matching events: (source, place,
    name, value), `value` the row it counts for (`_named_pairs`)."""
    return exp.select("source", "place", "name", "value").from_(
        _named_pairs(text, names, nth=False, overlapping=True).subquery("r"))


def _named_pairs(text: str, names: tuple[str, ...], *, nth: bool, overlapping: bool = False) -> exp.Select:
    """(source, place, name, value[, nth]) of the matching events' pairs counted for `names`
    (`core.query.stack.StackField.names`): EventData names, and the header and COUNTED names
    of `core.query.stack`, each pair's `value` the spelling its row shows there, so that
    grouping them by folded text (`core.query.stack._merge`) groups them as the store's stack
    does: a number as a number (`_keyed_pairs`). (The computer's are counted from its counts per
    value: `_computer_stack`.) `nth`: the pair's place in `fields` (0 for a column's). `overlapping`:
    only the events that may hold more than one (what the overlaps count: not those holding the
    header column's value alone, most events in a stack of `level`)."""
    columns = ["source", "place", "name", "value", *(["nth"] if nth else [])]
    pairs = _keyed_pairs(text, names, overlapping)
    return exp.select(*columns).from_(pairs.subquery("k"))


def _keyed_pairs(text: str, names: tuple[str, ...], overlapping: bool = False) -> exp.Select:
    """The pairs of `names`, each keyed as the query compares it (`_key_of`: a number as a
    number, text folded; a text column's value as text, and a number of the fields linked to it
    through a field spelling it alike: `_linked`), shown as the store's stack shows the key
    (`_shown_by_key`); a COUNTED name's pair and a COUNTED column's value only for a key of the
    other names (the SIDs `user:` reads beside the account names)."""
    row_header = next(((n, HEADER_NAMES[n]) for n in names if n in HEADER_NAMES and not HEADER_NAMES[n].counted),
                      None)
    counted_header = next((HEADER_NAMES[n] for n in names if n in HEADER_NAMES and HEADER_NAMES[n].counted), None)
    data = tuple(n for n in names if n not in HEADER_NAMES and not n.startswith(COUNTED))
    counted = tuple(n[len(COUNTED):] for n in names if n.startswith(COUNTED))
    numbers = "" if row_header is None else row_header[1].numbers
    data_rows = _data_rows(text, data, numbers)
    rows: exp.Select | exp.Union = data_rows
    # (the pairs and their spellings are CTEs, each read once: as subqueries DuckDB read the pairs
    # again for every use, and a stack of `user` over 139,160 events took 2.4 s, 1.1 s so)
    shown = exp.table_("ks", alias="s")
    parts: list[exp.Select] = [_with_shown(exp.table_("kr", alias="r"), shown)]
    if row_header is not None and row_header[1].text:  # (its least spelling shows a value it shares)
        head = _header_rows(text, *row_header)
        rows = exp.union(_linked(data_rows, head), head, distinct=False)
    elif row_header is not None:  # (an integer column's value shows as its number: no spelling to pick)
        head = _header_rows(text, *row_header)
        parts.append(exp.select("source", "place", "name", "value", "nth").from_(head.subquery("h")))
    if counted:
        parts.append(_with_shown(_data_rows(text, counted, "").subquery("r"), shown))
    if counted_header is not None:
        parts.append(_column_with_shown(text, counted_header, shown))
    found: exp.Select | exp.Union = parts[0]
    for part in parts[1:]:
        found = exp.union(found, part, distinct=False)
    pairs = exp.select(*(exp.column(c, "u").as_(c) for c in ("source", "place", "name", "value", "nth"))).from_(
        found.subquery("u"))
    if overlapping and row_header is not None:  # (an event's header pair alone overlaps nothing)
        several = (exp.select("source", "place").distinct().from_("kr")
                   .where(exp.EQ(this=exp.column("prio"), expression=exp.Literal.number(1))))
        same = exp.and_(*(exp.EQ(this=exp.column(c, "u"), expression=exp.column(c, "d")) for c in ("source", "place")))
        pairs = pairs.join(several.subquery("d"), on=same)
    return pairs.with_("kr", as_=rows).with_("ks", as_=_shown_by_key(exp.table_("kr", alias="r")))


#: The columns of a keyed pair: its event, name, value (as shown when a number is: `_shown_number`),
#: number, place in `fields`, and what orders its spelling (`prio` 0 for a column's, whose least
#: spelling `hv` comes first), and its key (`_key_of`).
_KEYED = ("source", "place", "name", "value", "num", "nth", "prio", "hv", "key")


def _key_of(num: exp.Expr, value: exp.Expr) -> exp.Expr:
    """As `core.query.stack._key`: `n<number>`, or `t<ASCII-folded text>` for a value no number."""
    as_number = exp.DPipe(this=exp.Literal.string("n"), expression=_text(num), safe=True)
    as_text = exp.DPipe(this=exp.Literal.string("t"), expression=_ascii_fold(value), safe=True)
    return exp.Case().when(exp.Is(this=num, expression=exp.null()), as_text).else_(as_number)


def _text(this: exp.Expr) -> exp.Expr:
    return exp.Cast(this=this, to=exp.DataType.build("text"))


def _shown_number(num: exp.Expr, value: exp.Expr, numbers: str) -> exp.Expr:
    """As `core.query.stack._shown`: a number in hex (`_number_text`) or decimal, else `value`."""
    if not numbers:
        return value
    if numbers == "hex":
        return _number_text(num, value)
    return exp.Case().when(exp.Is(this=num, expression=exp.null()), value).else_(_text(num))


def _data_rows(text: str, names: tuple[str, ...], numbers: str) -> exp.Select:
    """The matching events' EventData pairs named in `names`, as `_KEYED` rows: each event's
    pairs of those names filtered in a list (`named`) before any is unnested, which DuckDB does
    ten times faster than unnesting every pair (50 against 550 ms over 139,160 events, by
    `SubjectUserName` or by a name no event holds). `nth` is the pair's place among them, which
    orders an event's pairs of one name as their place in `fields` does."""
    num, value = _pair("num"), _pair("value")
    named = exp.ArrayFilter(this=exp.column("fields"),
                            expression=exp.Lambda(this=exp.In(this=_f("name"), expressions=[
                                exp.Literal.string(n) for n in names]), expressions=[exp.to_identifier("f")]))
    events = exp.select(exp.column("source"), exp.column("place"), named.as_("named")).from_(TABLE).where(
        where_expr(text))
    columns = [exp.column("source"), exp.column("place"), _pair("name"), _shown_number(num, value, numbers), num,
               exp.ArrayPosition(this=exp.column("named"), expression=exp.column("pair")), exp.Literal.number(1),
               exp.Literal.string(""), _key_of(num, value)]
    unnest = exp.Unnest(expressions=[exp.column("named")],
                        alias=exp.TableAlias(this=exp.to_identifier("t"), columns=[exp.to_identifier("pair")]))
    return (exp.select(*(c.as_(n) for c, n in zip(columns, _KEYED, strict=True))).from_(events.subquery("m"))
            .join(unnest))


def _header_rows(text: str, name: str, header: Header) -> exp.Select:
    """A `_KEYED` row named `name` per matching event with a value in the header's column
    (outside LOGGER_PID_CHANNELS only, for a header that says so): a text column's value keyed
    as text, an integer column's as a number."""
    col = exp.column(header.column)
    cond = exp.and_(where_expr(text), exp.Not(this=exp.Is(this=col, expression=exp.null())))
    if header.own:
        cond = exp.and_(cond, _own_pid_channel())
    num: exp.Expr = exp.Cast(this=exp.null(), to=exp.DataType.build("bigint")) if header.text else col
    value = _text(col) if header.text else _shown_number(col, _text(col), header.numbers)
    key = (exp.DPipe(this=exp.Literal.string("t"), expression=_ascii_fold(_text(col)), safe=True) if header.text
           else _key_of(col, _text(col)))
    columns = [exp.column("source"), exp.column("place"), exp.Literal.string(name), value, num, exp.Literal.number(0),
               exp.Literal.number(0), value, key]
    return exp.select(*(c.as_(n) for c, n in zip(columns, _KEYED, strict=True))).from_(TABLE).where(cond)


def _linked(rows: exp.Select, head: exp.Select) -> exp.Select:
    """`rows` with a number spelled in some pair as a text column's value is (`keywords:0x10`
    finds the column's `0x10` and the fields holding 16) keyed as that value, once per such
    value. (The store links a number to the column's values by `as_int`; here through a field
    spelling it as the column does, which real logs do: the number no field so spells stays a
    row of its own.)"""
    fold = _ascii_fold
    bridge = (exp.select(exp.column("num", "r").as_("bnum"), exp.column("key", "h").as_("bkey")).distinct()
              .from_(rows.subquery("r"))
              .join(head.subquery("h"), on=exp.EQ(this=fold(exp.column("value", "r")),
                                                  expression=fold(exp.column("value", "h"))))
              .where(exp.Not(this=exp.Is(this=exp.column("num", "r"), expression=exp.null()))))
    columns = [exp.column(c, "r").as_(c) for c in _KEYED[:-1]]
    key = exp.Coalesce(this=exp.column("bkey", "b"), expressions=[exp.column("key", "r")]).as_("key")
    return (exp.select(*columns, key).from_(rows.subquery("r"))
            .join(bridge.subquery("b"), on=exp.EQ(this=exp.column("num", "r"), expression=exp.column("bnum", "b")),
                  join_type="left"))


def _shown_by_key(rows: exp.Expr) -> exp.Select:
    """(skey, shown) per key of `rows` (a relation aliased `r`): the spelling the store's stack
    shows for it, the first by (prio, hv, name, source, place, nth): a column's least, else the
    first event's under the first name (the store's first posting row: `stack_pairs` says why)."""
    order = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(c), expression=exp.column(c))
                                    for c in ("prio", "hv", "name", "source", "place", "nth")])
    spellings = (exp.select("key", "value", exp.Min(this=order).as_("o")).from_(rows)
                 .group_by("key", "value"))
    first = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(c), expression=exp.column(c))
                                    for c in ("o", "value")])
    shown = exp.Dot(this=exp.Paren(this=exp.Min(this=first)), expression=exp.to_identifier("value"))
    return exp.select(exp.column("key").as_("skey"), shown.as_("shown")).from_(spellings.subquery("s")).group_by("key")


def _with_shown(rows: exp.Expr, shown: exp.Expr) -> exp.Select:
    """(source, place, name, value, nth) of `rows` (a relation aliased `r`) whose key has a row
    in `shown` (aliased `s`), `value` its spelling."""
    on = exp.EQ(this=exp.column("key", "r"), expression=exp.column("skey", "s"))
    return (exp.select(exp.column("source", "r").as_("source"), exp.column("place", "r").as_("place"),
                       exp.column("name", "r").as_("name"), exp.column("shown", "s").as_("value"),
                       exp.column("nth", "r").as_("nth"))
            .from_(rows).join(shown, on=on))


def _column_with_shown(text: str, header: Header, shown: exp.Expr) -> exp.Select:
    """A pair per matching event whose COUNTED column holds a row's spelling (compared as text,
    as `user:` reads the System UserID), its value that spelling."""
    col = exp.column(header.column)
    on = exp.EQ(this=_ascii_fold(col), expression=_ascii_fold(exp.column("shown", "s")))
    cond = exp.and_(where_expr(text), exp.Not(this=exp.Is(this=col, expression=exp.null())))
    return (exp.select(exp.column("source"), exp.column("place"), exp.Literal.string(HEADER_USER_SID).as_("name"),
                       exp.column("shown", "s").as_("value"), exp.Literal.number(0).as_("nth"))
            .from_(TABLE).join(shown, on=on).where(cond))


def _computer_keys(text: str) -> exp.Select:
    """(ckey, shown, n, first) per ASCII-folded computer of the matching events: its least
    spelling (the store's `min(e.computer)`), its events and the first of them. Grouped by the
    exact name first, then folded over those few rows (folding every event's name: 90 ms against
    12 over 139,160 events)."""
    col = exp.column("computer")
    held = exp.and_(where_expr(text), exp.Not(this=exp.Is(this=col, expression=exp.null())))
    first = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(c), expression=e) for c, e in
                                    (("source", exp.column("source")), ("place", exp.column("place")),
                                     ("nth", exp.Literal.number(0)))])
    exact = (exp.select(col, exp.Count(this=exp.Star()).as_("n"), exp.Min(this=first).as_("first"))
             .from_(TABLE).where(held).group_by(col))
    return (exp.select(_ascii_fold(col).as_("ckey"), exp.Min(this=col).as_("shown"),
                       exp.Sum(this=exp.column("n")).as_("n"), exp.Min(this=exp.column("first")).as_("first"))
            .from_(exact.subquery("x")).group_by(_ascii_fold(col)))


def _computer_labels() -> exp.Select:
    """(shown, n, first) per computer of the CTE `ck` (`_computer_keys`) that others begin with,
    then a dot (`computer:dc1` finds `DC1.corp.local`): those others' events. From the counts
    per computer, a handful of rows: no event is read twice."""
    whole, begun = exp.column("ckey", "k"), exp.column("ckey", "o")
    begins = exp.EQ(this=exp.Substring(this=begun, start=exp.Literal.number(1),
                                       length=exp.Add(this=exp.Length(this=whole), expression=exp.Literal.number(1))),
                    expression=exp.DPipe(this=whole, expression=exp.Literal.string("."), safe=True))
    return (exp.select(exp.column("shown", "k").as_("shown"), exp.Sum(this=exp.column("n", "o")).as_("n"),
                       exp.Min(this=exp.column("first", "o")).as_("first"))
            .from_(exp.table_("ck", alias="k")).join(exp.table_("ck", alias="o"), on=begins)
            .group_by(exp.column("shown", "k")))


def _computer_stack(text: str) -> exp.Select:
    """`stack_pairs` of the computer: its rows per computer, and per computer the events of the
    computers it is the first labels of (`_computer_labels`)."""
    own = exp.select(exp.Literal.string(HEADER_COMPUTER).as_("name"), exp.column("shown").as_("value"), "n",
                     "first").from_("ck")
    labels = exp.select(exp.Literal.string(HEADER_COMPUTER_LABELS).as_("name"), exp.column("shown").as_("value"),
                        "n", "first").from_(_computer_labels().subquery("l"))
    return (exp.select("name", "value", "n", "first").from_(exp.union(own, labels, distinct=False).subquery("u"))
            .with_("ck", as_=_computer_keys(text)))


def _number_text(num: exp.Expr, value: exp.Expr) -> exp.Expr:
    """As `core.query.stack.number_text`: `num` in hex (`0x1e0c`), a negative one in decimal;
    `value` when `num` is null (not a number)."""
    hexed = exp.DPipe(this=exp.Literal.string("0x"), expression=exp.Lower(this=exp.Hex(this=num)), safe=True)
    return (exp.Case()
            .when(exp.Is(this=num, expression=exp.null()), value)
            .when(exp.GTE(this=num, expression=exp.Literal.number(0)), hexed)
            .else_(exp.Cast(this=num, to=exp.DataType.build("text"))))


def _name_in(names: tuple[str, ...]) -> exp.Expr:
    return exp.In(this=_pair("name"), expressions=[exp.Literal.string(n) for n in names])


def _pair(attr: str) -> exp.Expr:
    """`pair.<attr>`: a member of an unnested `fields` element (not `f`: the filters' lambdas use it)."""
    return exp.Dot(this=exp.to_identifier("pair"), expression=exp.to_identifier(attr))


def _unnest() -> exp.Unnest:
    """`UNNEST(fields) AS t(pair)` (Spark: `LATERAL VIEW EXPLODE(fields) t AS pair`)."""
    return exp.Unnest(expressions=[exp.column("fields")],
                      alias=exp.TableAlias(this=exp.to_identifier("t"), columns=[exp.to_identifier("pair")]))


def stack_pairs(text: str, names: tuple[str, ...]) -> exp.Select:
    """Per (name, value) of `names`: how many matching events hold it (each event once, as a
    posting list lists it once), and `first`, the first of them as the store has them, for the
    spelling shown. The store's stack shows the first spelling of a value it meets
    (`core.query.stack._merge`), reading posting rows through their index on (name, value
    NOCASE), as SQLite does for a store of real logs: by name, then in the order the rows were
    written, which is its events' order (input, place, the pair's place in the event's
    EventData; exact but for a row first written for an event outside the view in the same
    ingest batch). (A store of a few dozen posting rows is scanned in written order instead:
    an alias's spellings under two of its names may then show the other way.) So `first` is one
    event's (source, place, nth), `nth` the pair's first place in its `fields`, compared whole
    (not each part's least over different events), and the rows go by (name, first).
    (The computer's: `_computer_stack`, from its counts.)"""
    if names == COMPUTER_NAMES:
        return _computer_stack(text)
    inner = (exp.select("source", "place", "name", "value", exp.Min(this=exp.column("nth")).as_("nth"))
             .from_(_named_pairs(text, names, nth=True).subquery("r"))
             .group_by("source", "place", "name", "value"))
    first = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(c), expression=exp.column(c))
                                    for c in ("source", "place", "nth")])
    return (exp.select("name", "value", exp.Count(this=exp.Star()).as_("n"), exp.Min(this=first).as_("first"))
            .from_(inner.subquery("s")).group_by("name", "value"))


def stack_value_overlaps(text: str, names: tuple[str, ...]) -> exp.Select:
    """Per folded value: how many times too many the events holding it are counted (`stack_pairs`
    counts an event once per distinct (name, value): under two names of an alias, or one name
    held twice with two spellings of the value; the store counts such an event once per value).
    (An event has one computer: never for the computer.)"""
    if names == COMPUTER_NAMES:
        return exp.select(exp.column("ckey").as_("fold"), exp.column("n").as_("extra")).from_(
            _computer_keys(text).subquery("c")).where(exp.LT(this=exp.column("n"), expression=exp.Literal.number(0)))
    per_event = (exp.select("source", "place", _ascii_fold(exp.column("value")).as_("fold"),
                            exp.Count(this=exp.Star()).as_("k"))
                 .from_(_pairs(text, names).distinct().subquery("p")).group_by("source", "place", "fold"))
    extra = exp.Sum(this=exp.Sub(this=exp.column("k"), expression=exp.Literal.number(1))).as_("extra")
    return (exp.select("fold", extra).from_(per_event.subquery("s"))
            .where(exp.GT(this=exp.column("k"), expression=exp.Literal.number(1))).group_by("fold"))


def stack_event_overlaps(text: str, names: tuple[str, ...]) -> exp.Select:
    """How many times too many the events holding values under several of `names`, or several
    values of one, are counted as events holding the field. (The computer's: every first-labels
    pair of an event is one too many, `_computer_labels`.)"""
    if names == COMPUTER_NAMES:
        return (exp.select(exp.Sum(this=exp.column("n")).as_("extra")).from_(_computer_labels().subquery("l"))
                .with_("ck", as_=_computer_keys(text)))
    per_event = (exp.select("source", "place", exp.Count(this=exp.Star()).as_("k"))
                 .from_(_pairs(text, names).distinct().subquery("p")).group_by("source", "place"))
    extra = exp.Sum(this=exp.Sub(this=exp.column("k"), expression=exp.Literal.number(1))).as_("extra")
    return (exp.select(extra).from_(per_event.subquery("s"))
            .where(exp.GT(this=exp.column("k"), expression=exp.Literal.number(1))))


def stack_column(text: str, column: str) -> exp.Select:
    """Per value of an events column among the matching events (no value left out)."""
    col = exp.column(column)
    cond = exp.and_(where_expr(text), exp.Not(this=exp.Is(this=col, expression=exp.null())))
    return (exp.select(col.as_("value"), exp.Count(this=exp.Star()).as_("n")).from_(TABLE).where(cond)
            .group_by(col).order_by(exp.Ordered(this=exp.column("value"))))


def field_names(among: Collection[str] = ()) -> exp.Select:
    """Every EventData name of the dataset (lower-cased), or those of `among` it holds: for
    `resolve_field`'s errors and `check_names`."""
    query = exp.select(_pair("name").as_("name")).distinct().from_(TABLE).join(_unnest())
    if among:
        query = query.where(exp.In(this=_pair("name"), expressions=[exp.Literal.string(n) for n in sorted(among)]))
    return query


def data_names(text: str) -> frozenset[str]:
    """The field names the query `text` uses (lower-cased) that the language itself does not
    know (`core.query.compile.known_names`): what only the dataset's EventData can make known.
    A query without any (only aliases, ids, free text) costs no look-up of the dataset's names."""
    node = parse(text)
    language = sq.known_names(())
    return frozenset(name for name in _names(node) if name not in language) if node is not None else frozenset()


def _names(node: Node) -> Iterator[str]:
    if isinstance(node, Term):
        if node.token.kind is Kind.FIELD:
            yield node.token.name.lower()
    elif isinstance(node, Not):
        yield from _names(node.child)
    else:
        for child in node.children:
            yield from _names(child)


def check_names(text: str, fields: Collection[str]) -> None:
    """Raise the store's QueryError (`core.query.compile.compile_query(text, fields)`: the same
    culprit, position and nearest names) when `text` names a field neither the language nor
    `fields` (the dataset's EventData names) knows: `usr:alice` is a typo to point at, not a
    silent 0 rows (nor, as `-usr:alice`, every event)."""
    node = parse(text)
    if node is not None:
        sq._check_names(node, sq.known_names(fields))


def _timed() -> exp.Expr:
    """The event has a time a date can word (`core.model.event.time_in_range`): one out of that
    range counts as none, as in the store's timeline (it would stretch the span over millennia)."""
    ts = exp.column("ts")
    return exp.and_(exp.GTE(this=ts, expression=exp.Literal.number(FILETIME_MIN)),
                    exp.LT(this=ts, expression=exp.Literal.number(FILETIME_END)))


def time_span(text: str) -> exp.Select:
    """The matching events' first and last time (in the date range), and how many there are."""
    ts = exp.Case().when(_timed(), exp.column("ts"))
    return exp.select(exp.Min(this=ts).as_("first"), exp.Max(this=ts).as_("last"),
                      exp.Count(this=exp.Star()).as_("n")).from_(TABLE).where(where_expr(text))


def timeline(text: str, width: int) -> exp.Select:
    """Event counts per bucket of `width` ticks (start in FILETIME ticks, aligned to the width
    in UTC as the store's: floored, `ts // width`, also before 1601 where SQL's `%` is negative),
    events with a time in the date range only."""
    ts = exp.column("ts")
    w = exp.Literal.number(width)
    floor_mod = exp.Mod(this=exp.Paren(this=exp.Add(this=exp.Mod(this=ts, expression=w), expression=w)), expression=w)
    start = exp.Sub(this=ts, expression=floor_mod)
    inner = exp.select(start.as_("bucket")).from_(TABLE).where(exp.and_(where_expr(text), _timed()))
    return (
        exp.select("bucket", exp.Count(this=exp.Star()).as_("count"))
        .from_(inner.subquery("s"))
        .group_by("bucket")
        .order_by(exp.Ordered(this=exp.column("bucket")))
    )


def _order() -> list[exp.Ordered]:
    return [exp.Ordered(this=exp.column(c), nulls_first=True) for c in ORDER]


# -- the tree -----------------------------------------------------------------------------------


def _node(node: Node) -> exp.Expr:
    """Every leaf is two-valued (COALESCE(.., FALSE)), so NOT is an exact complement, as in SQLite."""
    if isinstance(node, Term):
        return exp.Paren(this=exp.Coalesce(this=_term(node.token), expressions=[exp.false()]))
    if isinstance(node, Not):
        return exp.Not(this=exp.Paren(this=_node(node.child)))
    parts = [_node(child) for child in node.children]
    joined = exp.and_(*parts) if isinstance(node, And) else exp.or_(*parts)
    assert isinstance(node, (And, Or))
    return exp.Paren(this=joined)


def _term(tok: Token) -> exp.Expr:
    if tok.kind is Kind.TEXT:
        if not tok.value:
            raise QueryError("empty search text", tok.pos)
        return _free_text(tok.value)
    if tok.kind is Kind.WORD:
        if sq._ID_LIST_RE.match(tok.value):
            return _int_list("event_id", tok.value, tok.pos)
        return _free_text(tok.value)
    name = tok.name.lower()
    if tok.values:  # name:(a OR b): any of the values, each meaning what `name:a` means (as SQLite's)
        return exp.or_(*(_value(name, v, p) for v, p in zip(tok.values, tok.value_spots, strict=True)))
    return _value(name, tok.value, tok.value_pos)


def _value(name: str, value: str, value_pos: int) -> exp.Expr:
    """`name:value` (`name` lower-cased), as `core.query.compile._value_sql` compiles it: a
    value compared whole has its `[*]`-style escapes resolved (`sq._literal`) as there."""
    if name in ("after", "before"):
        ticks = exp.Literal.number(sq.parse_date(value, value_pos))
        ts = exp.column("ts")
        cmp = exp.GTE(this=ts, expression=ticks) if name == "after" else exp.LT(this=ts, expression=ticks)
        return exp.and_(exp.Not(this=exp.Is(this=ts, expression=exp.null())), cmp)
    if name in sq._INT_COLUMNS:
        column = sq._INT_COLUMNS[name]
        if sq._has_glob(value):
            return _ilike(exp.Cast(this=exp.column(column), to=exp.DataType.build("text")), sq._like(value))
        return _int_list(column, sq._literal(value), value_pos)
    if name in sq._HOST_NAMES:
        return _host(value)
    if name in sq._FILE_NAMES:
        pattern = sq._like(value)
        src = exp.column("source")
        return exp.or_(_ilike(src, pattern), _ilike(src, "%/" + pattern), _ilike(src, "%\\\\" + pattern))
    if name in sq.ALIAS_FIELDS:
        found = _fields_match([n.lower() for n in sq.ALIAS_FIELDS[name]], value)
        if name in sq._ALIAS_COLUMNS:
            header = _column_match(sq._ALIAS_COLUMNS[name], value)
            if name == "pid":
                header = exp.and_(header, _own_pid_channel())
            found = exp.or_(found, header)
        return found
    if name in sq._TEXT_COLUMNS:
        return _column_match(name, value)
    if name in SYSTEM_FIELDS and name not in sq.MIRRORED_SYSTEM_FIELDS:
        return exp.or_(_column_match(SYSTEM_FIELDS[name], value), _fields_match([name], value))
    return _fields_match([name], value)


def _own_pid_channel() -> exp.Expr:
    """As `core.query.compile.OWN_PID_CHANNEL`: the channel is not one whose header pid is the
    logging service (a missing channel is not one)."""
    channel = exp.Lower(this=exp.Coalesce(this=exp.column("channel"), expressions=[exp.Literal.string("")]))
    return exp.Not(this=exp.In(this=channel, expressions=[exp.Literal.string(c.lower()) for c in LOGGER_PID_CHANNELS]))


def _f(attr: str) -> exp.Expr:
    """`f.<attr>`: a member of the lambda's `fields` element."""
    return exp.Dot(this=exp.to_identifier("f"), expression=exp.to_identifier(attr))


def _filter(cond: exp.Expr) -> exp.Expr:
    lam = exp.Lambda(this=cond, expressions=[exp.to_identifier("f")])
    return exp.ArrayFilter(this=exp.column("fields"), expression=lam)


def _fields_any(cond: exp.Expr) -> exp.Expr:
    """Some EventData pair of the event satisfies `cond` (over `f.name`, `f.value`, `f.num`)."""
    return exp.GT(this=exp.ArraySize(this=_filter(cond)), expression=exp.Literal.number(0))


def _ilike(this: exp.Expr, pattern: str) -> exp.Expr:
    like = exp.ILike(this=this, expression=exp.Literal.string(pattern))
    return exp.Escape(this=like, expression=exp.Literal.string(sq._ESC))


def _lower_eq(this: exp.Expr, value: str) -> exp.Expr:
    return exp.EQ(this=exp.Lower(this=this), expression=exp.Lower(this=exp.Literal.string(value)))


def _fields_match(names: list[str], value: str) -> exp.Expr:
    """As `core.query.compile._fields_match`: by number when the value is one, else whole and
    case-insensitive, or by glob."""
    name_cond: exp.Expr
    if len(names) == 1:
        name_cond = exp.EQ(this=_f("name"), expression=exp.Literal.string(names[0]))
    else:
        name_cond = exp.In(this=_f("name"), expressions=[exp.Literal.string(n) for n in names])
    number = None if sq._has_glob(value) else as_int(sq._literal(value))
    cond: exp.Expr
    if number is not None:
        cond = exp.EQ(this=_f("num"), expression=exp.Literal.number(number))
    elif sq._has_glob(value):
        cond = _ilike(_f("value"), sq._like(value))
    else:
        cond = _lower_eq(_f("value"), sq._literal(value))
    return _fields_any(exp.and_(name_cond, cond))


def _column_match(column: str, value: str) -> exp.Expr:
    col = exp.column(column)
    not_null = exp.Not(this=exp.Is(this=col, expression=exp.null()))
    if sq._has_glob(value):
        return exp.and_(not_null, _ilike(exp.Cast(this=col, to=exp.DataType.build("text")), sq._like(value)))
    value = sq._literal(value)
    if column in sq._NULLABLE_INT:
        number = as_int(value)
        if number is None:
            return exp.false()
        return exp.and_(not_null, exp.EQ(this=col, expression=exp.Literal.number(number)))
    return exp.and_(not_null, _lower_eq(col, value))


def _int_list(column: str, value: str, pos: int) -> exp.Expr:
    """`column IN (...)`, validated (and refused) exactly as the SQLite compiler does."""
    numbers: list[object] = []
    sq._int_list(column, value, pos, numbers)
    literals = [exp.Literal.number(int(str(n))) for n in numbers]
    if len(literals) == 1:
        return exp.EQ(this=exp.column(column), expression=literals[0])
    return exp.In(this=exp.column(column), expressions=literals)


def _host(value: str) -> exp.Expr:
    col = exp.column("computer")
    if sq._has_glob(value):
        return _ilike(col, sq._like(value))
    return exp.or_(_lower_eq(col, sq._literal(value)), _ilike(col, sq._like(value) + ".%"))


def _free_text(text: str) -> exp.Expr:
    """A substring of any EventData value (never a name) or of the computer, channel, provider
    or user SID: as the SQLite compiler's free text."""
    pattern = "%" + sq._like(text) + "%"
    columns = [_ilike(exp.column(c), pattern) for c in ("computer", "channel", "provider", "user_sid")]
    return exp.or_(_fields_any(_ilike(_f("value"), pattern)), *columns)


def events_at(keys: list[tuple[str, int]]) -> exp.Select:
    """The events named by (source, place), in view order (for `--open` of a findings or process
    result): one `source = ... AND place IN (...)` per source."""
    by_source: dict[str, list[int]] = {}
    for source, place in keys:
        by_source.setdefault(source, []).append(place)
    parts = [
        exp.and_(exp.EQ(this=exp.column("source"), expression=exp.Literal.string(source)),
                 exp.In(this=exp.column("place"), expressions=[exp.Literal.number(p) for p in sorted(set(places))]))
        for source, places in sorted(by_source.items())
    ]
    cond = exp.or_(*parts) if parts else exp.false()
    return exp.select("*").from_(TABLE).where(cond).order_by(*_order())
