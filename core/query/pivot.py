"""Pivots: the query text for "filter to this value", "exclude it", "add it", "around this event".

Pure functions over query text: the app puts what they return in the filter bar, where the
user sees and can edit it, so they produce the shortest text that means exactly the value:
a plain word when the language would read it back unchanged, else a quoted value with `\\"`
and `\\\\` where needed, and glob characters (`*`, `?`) escaped as `[*]`, `[?]` (a literal `[`
as `[[]` when the value needs them), so `name:value` never widens into a pattern. A character
`printable` would escape (a control, a bidi or invisible one: attacker-controlled text) is never
put in the filter bar, where Textual's input shows it raw to the terminal: it becomes `?`, one
character, which widens the match only to values differing at exactly those places. A field name
the language would not read back as that one name (`4689 OR ProcessName`, a crafted EventData
name) is refused (`QueryError`), never spliced. Every result parses; tests compile and run it and
compare with the events holding the value.
"""

from __future__ import annotations

import datetime as _dt

from core.model.event import Event, datetime_to_filetime, filetime_to_datetime, time_in_range
from core.model.text import printable
from core.query.compile import parse_date
from core.query.lexer import Kind, QueryError, tokenize
from core.query.parser import And, Node, Or, Term, parse
from core.query.parser import start as node_start

#: The event table's columns -> the field a pivot on one of their cells filters (the Summary
#: and Time columns have none: a time pivots with `around`/`within`).
COLUMN_FIELDS: dict[str, str] = {
    "id": "id",
    "eventid": "id",
    "record": "record",
    "computer": "computer",
    "host": "computer",
    "channel": "channel",
    "provider": "provider",
    "user": "user",
    "image": "image",
}

#: Characters that end or split a bare value (or change what it means) in the lexer.
_NEEDS_QUOTES = frozenset(' \t\r\n\f\v"()')
_MINUTE = 60 * 10_000_000
#: The longest term a pivot writes: a longer value is matched as a prefix (`term`), and the query
#: it goes into keeps room under the language's `MAX_QUERY_CHARS` (10,000).
TERM_CHARS = 4_000


def quote_value(value: str, *, prefix: bool = False) -> str:
    """`value` as a `name:value` value the lexer reads back as exactly `value`, compared whole
    (`prefix`: as a glob matching the values that start with `value`)."""
    text = value
    hidden = printable(text) != text
    if hidden or prefix or "*" in text or "?" in text:
        text = text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
    elif "[[]" in text or "[*]" in text or "[?]" in text:
        text = text.replace("[", "[[]")
    if hidden:
        text = "".join("?" if printable(ch) != ch else ch for ch in text)
    if prefix:
        text += "*"
    bare = (
        text != ""
        and not any(ch in _NEEDS_QUOTES or ch.isspace() for ch in text)
        and not text.startswith("(")
    )
    return text if bare else _quoted(text)


def _quoted(text: str) -> str:
    """`text` (glob characters escaped already) in quotes, `\\"` and `\\\\` where needed."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\" and (i + 1 == len(text) or text[i + 1] in '"\\'):
            out.append("\\\\")  # a backslash the lexer would read as an escape
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def term(field: str, value: str) -> str:
    """The term matching events whose `field` equals `value` (`image:"C:\\Program Files\\x.exe"`);
    `QueryError` for a field name no term can hold (see the module docstring). A value whose
    term would pass TERM_CHARS (a query holds at most `MAX_QUERY_CHARS`: a megabyte command line
    was refused as a bad field name) is matched by its first characters, as a prefix glob
    (`prefix_only` says when: the app tells the analyst)."""
    if not prefix_only(field, value):
        return _term(field, value, prefix=False)
    keep = min(len(value), TERM_CHARS)
    while True:
        size = _size(field, value[:keep], prefix=True)
        if size <= TERM_CHARS or keep <= 1:
            return _term(field, value[:keep], prefix=True)
        keep = max(1, min(keep - 1, keep * TERM_CHARS // size))


def prefix_only(field: str, value: str) -> bool:
    """Whether `term` matches `value` by its first characters only (see there)."""
    return len(field) + len(value) + 1 > TERM_CHARS or _size(field, value, prefix=False) > TERM_CHARS


def _size(field: str, value: str, *, prefix: bool) -> int:
    """The length of `_term`'s text, or a bound past TERM_CHARS (the term is then longer than
    the lexer reads: it is not made)."""
    bound = len(field) + 3 + len(quote_value(value, prefix=prefix))  # (quoted again: 2 more, escapes)
    return bound if bound > TERM_CHARS else len(_term(field, value, prefix=prefix))


def _term(field: str, value: str, *, prefix: bool) -> str:
    quoted = quote_value(value, prefix=prefix)
    text = f"{field}:{quoted}"
    if not quoted.startswith('"') and not _one_term(text, field):  # `C:\x` reads as a path: quote it
        text = f"{field}:{_quoted(quoted)}"
    if not field or printable(field) != field or len(field) > 256 or not _one_term(text, field):
        raise QueryError(f"no query term can name the field {printable(field)[:60]!r}", 0)
    return text


def _one_term(text: str, field: str) -> bool:
    """Whether `text` reads back as one `name:value` term naming exactly `field`."""
    try:
        tokens = tokenize(text)
    except QueryError:
        return False
    return len(tokens) == 1 and tokens[0].kind == Kind.FIELD and tokens[0].name == field


def _grouped(query: str) -> str:
    """`query` safe to AND with another term: parenthesised when its top level is an OR."""
    text = query.strip()
    if not text:
        return ""
    node = parse(text)  # raises QueryError for a query that does not parse: nothing to extend
    return f"({text})" if isinstance(node, Or) else text


def filter_to(field: str, value: str) -> str:
    """Only the events with this value (the filter bar is replaced)."""
    return term(field, value)


def add_filter(query: str, field: str, value: str) -> str:
    """The current query AND this value."""
    base = _grouped(query)
    return f"{base} {term(field, value)}" if base else term(field, value)


def exclude(query: str, field: str, value: str) -> str:
    """The current query without the events holding this value."""
    base = _grouped(query)
    return f"{base} -{term(field, value)}" if base else f"-{term(field, value)}"


def time_text(ticks: int) -> str:
    """FILETIME ticks as an `after:`/`before:` value (UTC, `Z`; sub-second digits only when
    needed, 7 of them, so the bound is exact)."""
    base = filetime_to_datetime(ticks).isoformat()[:19]  # (strftime does not pad a year below 1000)
    frac = ticks % 10_000_000
    return f"{base}.{frac:07d}Z" if frac else f"{base}Z"


def time_range(start: int, end: int) -> str:
    """`after:start before:end` ([start, end): `after` is inclusive, `before` exclusive).

    A bound past what a date can word is left out (a bucket or span reaching beyond 9999
    has no `before:`): the query then also holds the few events whose time is out of range."""
    parts = [f"after:{time_text(start)}" if time_in_range(start) else "",
             f"before:{time_text(end)}" if time_in_range(end) else ""]
    return " ".join(p for p in parts if p)


def within(query: str, start: int, end: int) -> str:
    """The current query restricted to [start, end) (zooming on a histogram bucket). The
    query's own top-level `after:`/`before:` terms are folded into the new range (the tighter
    bound of each kind), so zooming again and again keeps one pair (`4688 after:A before:B
    after:C before:D ...` grew by a pair per zoom)."""
    text = query.strip()
    if text:
        text, start, end = _fold_range(text, start, end)
    base = _grouped(text)
    rng = time_range(start, end)
    return f"{base} {rng}" if base and rng else base or rng


def _fold_range(text: str, start: int, end: int) -> tuple[str, int, int]:
    """`text` without its top-level (ANDed, ungrouped) `after:`/`before:` terms, and [start,
    end) narrowed by them: the same events."""
    node: Node | None = parse(text)  # (QueryError: the caller words it)
    terms = node.children if isinstance(node, And) and node.pos == node_start(node.children[0]) else (node,)
    cuts: list[tuple[int, int]] = []
    for child in terms:
        if not isinstance(child, Term):
            continue
        tok = child.token
        name = tok.name.lower()
        if tok.kind is not Kind.FIELD or name not in ("after", "before") or tok.values:
            continue
        try:
            ticks = parse_date(tok.value, tok.value_pos)
        except QueryError:  # left as typed: compiling the query says what is wrong with it
            continue
        if name == "after":
            start = max(start, ticks)
        else:
            end = min(end, ticks)
        cuts.append((tok.pos, tok.pos + len(tok.text)))
    for begin, stop in reversed(cuts):
        while stop < len(text) and text[stop].isspace():
            stop += 1
        text = text[:begin] + text[stop:]
    return text.strip(), start, end


def around(computer: str, ticks: int, minutes: float = 5) -> str:
    """Everything on `computer` within `minutes` either side of the time `ticks`: the "what
    else happened there then" view of one event (the filter bar is replaced)."""
    span = int(minutes * _MINUTE)
    end = ticks + span + 1  # `before` is exclusive: keep the events exactly `minutes` after
    return f"computer:{quote_value(computer)} {time_range(max(0, ticks - span), end)}"


def around_datetime(computer: str, when: _dt.datetime, minutes: float = 5) -> str:
    """`around` for a datetime (naive = UTC)."""
    return around(computer, datetime_to_filetime(when), minutes)


def around_event(event: Event, minutes: float = 5) -> str | None:
    """`around` the event's computer and time; None for an event without a time, or with one
    no date can word (no span around it can be written as a query)."""
    if event.filetime is None or not time_in_range(event.filetime):
        return None
    return around(event.computer, event.filetime, minutes)


def column_field(column: str) -> str | None:
    """The query field for a table column's cell (`COLUMN_FIELDS`), or None (Summary, Time)."""
    return COLUMN_FIELDS.get(column.strip().lower())
