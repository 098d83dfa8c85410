"""The filter language compiled for the fleet's engines: one compiler, several SQL dialects.

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

from typing import Literal

from sqlglot import exp

from core.model.values import as_int
from core.query import compile as sq
from core.query.lexer import Kind, QueryError, Token
from core.query.parser import And, Node, Not, Or, Term, parse
from core.store.schema import SYSTEM_FIELDS

Dialect = Literal["spark", "duckdb"]
TABLE = "events"
#: View order, as the store's (`core.store.store.TIME_ORDER`): time (no time first), EventRecordID,
#: then the event's place in its input.
ORDER = ("ts", "record_id", "source", "place")
#: Stack keys that name a column rather than an EventData field (besides SYSTEM_FIELDS).
STACK_COLUMNS = {"id": "event_id", "record": "record_id", "host": "computer", "file": "source", "source": "source"}
#: Timeline buckets, in FILETIME ticks.
BUCKETS = {"1s": 10_000_000, "1m": 600_000_000, "1h": 36_000_000_000, "1d": 864_000_000_000}


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


def stack(text: str, by: str, limit: int | None = None) -> exp.Select:
    """Distinct values of `by` among the matching events with their counts, rarest first (then by
    value, no value first). `by` is a System field, a column alias or an EventData field name;
    an event without the field counts under no value (NULL)."""
    value = exp.Cast(this=_stack_value(by), to=exp.DataType.build("text")).as_("value")
    inner = exp.select(value).from_(TABLE).where(where_expr(text))
    query = (
        exp.select("value", exp.Count(this=exp.Star()).as_("count"))
        .from_(inner.subquery("s"))
        .group_by("value")
        .order_by(exp.Ordered(this=exp.column("count")), exp.Ordered(this=exp.column("value"), nulls_first=True))
    )
    return query.limit(limit) if limit is not None else query


def timeline(text: str, bucket: str) -> exp.Select:
    """Event counts per time bucket (start in FILETIME ticks; NULL for events without a time)."""
    width = BUCKETS[bucket]
    ts = exp.column("ts")
    start = exp.Sub(this=ts, expression=exp.Mod(this=ts, expression=exp.Literal.number(width)))
    inner = exp.select(start.as_("bucket")).from_(TABLE).where(where_expr(text))
    return (
        exp.select("bucket", exp.Count(this=exp.Star()).as_("count"))
        .from_(inner.subquery("s"))
        .group_by("bucket")
        .order_by(exp.Ordered(this=exp.column("bucket"), nulls_first=True))
    )


def _order() -> list[exp.Ordered]:
    return [exp.Ordered(this=exp.column(c), nulls_first=True) for c in ORDER]


def _stack_value(by: str) -> exp.Expr:
    name = by.lower()
    column = STACK_COLUMNS.get(name) or SYSTEM_FIELDS.get(name)
    if column is not None or name in ("pid", "tid", "level", "task", "opcode", "version", "keywords"):
        return exp.column(column or name)
    matches = _filter(exp.EQ(this=_f("name"), expression=exp.Literal.string(name)))
    first = exp.Bracket(this=matches, expressions=[exp.Literal.number(1)], offset=1, safe=True)
    return exp.Dot(this=first, expression=exp.to_identifier("value"))


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
    return _field(tok)


def _field(tok: Token) -> exp.Expr:
    name = tok.name.lower()
    value = tok.value
    if name in ("after", "before"):
        ticks = exp.Literal.number(sq._parse_date(value, tok.value_pos))
        ts = exp.column("ts")
        cmp = exp.GTE(this=ts, expression=ticks) if name == "after" else exp.LT(this=ts, expression=ticks)
        return exp.and_(exp.Not(this=exp.Is(this=ts, expression=exp.null())), cmp)
    if name in sq._INT_COLUMNS:
        column = sq._INT_COLUMNS[name]
        if sq._has_glob(value):
            return _ilike(exp.Cast(this=exp.column(column), to=exp.DataType.build("text")), sq._like(value))
        return _int_list(column, value, tok.value_pos)
    if name in sq._HOST_NAMES:
        return _host(value)
    if name in sq._FILE_NAMES:
        pattern = sq._like(value)
        src = exp.column("source")
        return exp.or_(_ilike(src, pattern), _ilike(src, "%/" + pattern), _ilike(src, "%\\\\" + pattern))
    if name in sq.ALIAS_FIELDS:
        found = _fields_match([n.lower() for n in sq.ALIAS_FIELDS[name]], value)
        if name in sq._ALIAS_COLUMNS:
            found = exp.or_(found, _column_match(sq._ALIAS_COLUMNS[name], value))
        return found
    if name in sq._TEXT_COLUMNS:
        return _column_match(name, value)
    if name in SYSTEM_FIELDS and name not in sq.MIRRORED_SYSTEM_FIELDS:
        return exp.or_(_column_match(SYSTEM_FIELDS[name], value), _fields_match([name], value))
    return _fields_match([name], value)


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
    number = None if sq._has_glob(value) else as_int(value)
    cond: exp.Expr
    if number is not None:
        cond = exp.EQ(this=_f("num"), expression=exp.Literal.number(number))
    elif sq._has_glob(value):
        cond = _ilike(_f("value"), sq._like(value))
    else:
        cond = _lower_eq(_f("value"), value)
    return _fields_any(exp.and_(name_cond, cond))


def _column_match(column: str, value: str) -> exp.Expr:
    col = exp.column(column)
    not_null = exp.Not(this=exp.Is(this=col, expression=exp.null()))
    if sq._has_glob(value):
        return exp.and_(not_null, _ilike(exp.Cast(this=col, to=exp.DataType.build("text")), sq._like(value)))
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
    return exp.or_(_lower_eq(col, value), _ilike(col, sq._like(value) + ".%"))


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
