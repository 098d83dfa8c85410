"""A compound filter's EventData and free-text terms read from id sets made once.

A term matching EventData values (`core.query.compile`: `e.id IN (SELECT j.value AS id FROM
postings ...)`) expands its posting lists in every statement that uses it: SQLite builds a
b-tree of every id listed before it reads the first event. For a value held by most events
that is most of the statement's time (on a 1 GB log, `NOT SubjectUserSid:S-1-5-18`: 0.22 s for
each page scrolled, 0.67 s to count), and the view's count, each page and each jump paid it
again. `settled_terms` puts each such term's ids in a table of the connection's
(`Store.id_set`, kept for its next statements) and reads the term from there.

Only for a store that no longer changes (the sets are not refreshed), and at most
`ID_SETS` terms of a filter (a set made for a later term must not push out an earlier one
that the same statement reads); the rest stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from core.store.filter import Filter
from core.store.first_listed import field_term, listed_bytes, posting_spans
from core.store.id_sets import ID_SETS
from core.store.store import Store

#: How the compiler writes a term read from the posting lists (FIELD_IDS, free text).
TERM_OPEN = "e.id IN (SELECT j.value AS id FROM "
_IN = "e.id IN ("


def settled_terms(store: Store, which: Filter) -> Filter:
    """`which` with its first ID_SETS posting-list terms read from id sets (`Store.id_set`):
    the same events, the same parameters for the rest of its SQL. Of terms side by side
    (`a b`), the set of the one of the shortest lists is made first, and the others' sets hold
    only its ids (`_within_the_smallest`); the sets are then tested smallest first
    (`_smallest_first`)."""
    narrowed = _within_the_smallest(store, which)
    sizes: dict[str, int] = {}

    def settle(n: int, term: Filter) -> Filter:
        got = store.id_set(narrowed.get(n, term))
        sizes[got.sql] = store.count_ids(got)
        return got

    settled = map_terms(which, settle, ID_SETS)
    return _smallest_first(settled, sizes) if len(sizes) > 1 else settled


def _list_bytes(store: Store, term: Filter) -> int:
    """The bytes of `term`'s posting lists (0 for a term of another shape: free text, taken for
    a short one)."""
    spans = posting_spans(store, term) if field_term(term) else None
    return 0 if spans is None else listed_bytes(spans)


def _within_the_smallest(store: Store, which: Filter) -> dict[int, Filter]:
    """For the terms of `which` (numbered as `map_terms` does) that are top-level conjuncts, all
    but the one of the shortest lists: the term with its ids kept to that one's set (made now).
    Only those ids can be events of the view, and a term of a value held by millions inserts
    them all in its set: `Marker:needle LogonType:2` at 10M events (100 and 2.5M ids) made its
    sets in 0.54 s, 0.27 s this way."""
    pieces = set(conjuncts(which.sql))
    side: list[tuple[int, Filter]] = []
    for n, (at, stop, term) in enumerate(_term_places(which)):
        if n >= ID_SETS:
            break
        if (at, stop) in pieces:
            side.append((n, term))
    if len(side) < 2:
        return {}
    first, base = min(side, key=lambda t: _list_bytes(store, t[1]))
    table = store.id_set(base).id_table
    return {n: Filter.from_sql(f"{_IN}SELECT id FROM ({term.ids}) WHERE id IN {table})", term.params,
                               f"SELECT id FROM ({term.ids}) WHERE id IN {table}")
            for n, term in side if n != first}


def _term_places(which: Filter) -> list[tuple[int, int, Filter]]:
    """Where each posting-list term of `which` lies in its SQL (start, end), and the term. The
    parameters before a term are counted on from the previous one (counted from the start for
    each, a filter of 120 terms, a drill-down's, took 0.45 s to settle, for every page)."""
    places: list[tuple[int, int, Filter]] = []
    sql, params = which.sql, which.params
    at = sql.find(TERM_OPEN)
    used = done = 0
    while at >= 0:
        end = closing(sql, at + len(_IN))
        used += placeholders(sql, done, at)
        inner = sql[at + len(_IN) : end]
        count = placeholders(sql, at, end)
        places.append((at, end + 1, Filter.from_sql(f"{_IN}{inner})", params[used : used + count], inner)))
        used, done = used + count, end
        at = sql.find(TERM_OPEN, end + 1)
    return places


def _smallest_first(which: Filter, sizes: dict[str, int]) -> Filter:
    """`which` with the id-set tests among its top-level conjuncts (`sizes`: each test's SQL and
    its set's size) in their places smallest first. SQLite looks up the events of the first
    such test and tests the others on them: `handle:0x438 needle` at 10M events (2.5M and 100
    ids) counted in 1.4 s, 1 ms the other way round. The tests have no parameters: the rest of
    the SQL and its parameters stay in order."""
    sql = which.sql
    pieces = conjuncts(sql)
    tests = [i for i, (a, b) in enumerate(pieces) if sql[a:b] in sizes]
    if len(tests) < 2:
        return which
    ordered = sorted((sql[pieces[i][0]:pieces[i][1]] for i in tests), key=lambda t: sizes[t])
    out, done = [], 0
    for i, text in zip(tests, ordered, strict=True):
        a, b = pieces[i]
        out += [sql[done:a], text]
        done = b
    out.append(sql[done:])
    return Filter.from_sql("".join(out), which.params)


def conjuncts(sql: str) -> list[tuple[int, int]]:
    """Where the operands of `AND` at the top level of `sql` lie, inside the parentheses that
    enclose all of it (outside quoted text and other parentheses)."""
    start, end = 0, len(sql)
    while start < end and sql[start] == "(" and closing(sql, start + 1) == end - 1:
        start, end = start + 1, end - 1
    pieces: list[tuple[int, int]] = []
    depth, begin = 0, start
    for at, ch in _unquoted(sql, start, end):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and at >= begin and sql.startswith(" AND ", at):
            pieces.append((begin, at))
            begin = at + len(" AND ")
    pieces.append((begin, end))
    return pieces


def map_terms(which: Filter, replace: Callable[[int, Filter], Filter], limit: int | None = None) -> Filter:
    """`which` with each of its (first `limit`) posting-list terms, the n-th a filter of its own
    (`term.ids` its SQL), in place of `replace(n, term)`, parameters in their order."""
    places = _term_places(which)[:limit]
    if not places:
        return which
    sql, params = which.sql, which.params
    pieces: list[str] = []
    args: list[object] = []
    done = used = 0
    for n, (at, stop, term) in enumerate(places):
        before = placeholders(sql, done, at)
        pieces.append(sql[done:at])
        args += params[used : used + before]
        got = replace(n, term)
        pieces.append(got.sql)  # (one predicate: a term stands where `e.id IN (...)` stood)
        args += got.params
        used += before + len(term.params)
        done = stop
    pieces.append(sql[done:])
    args += params[used:]
    return Filter.from_sql("".join(pieces), args)


def terms_of(which: Filter) -> list[Filter]:
    """The posting-list terms of `which`, in order (`map_terms`)."""
    return [term for _, _, term in _term_places(which)]


def _unquoted(sql: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """Each character of `sql[start:end]` outside quoted text, with its place (`start` is not
    in quoted text; a doubled quote inside text turns it off and on again)."""
    quoted = False
    for at in range(start, end):
        ch = sql[at]
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            yield at, ch


def placeholders(sql: str, start: int, end: int) -> int:
    """The `?` parameters in `sql[start:end]`, outside quoted text (which `start` is not in)."""
    return sum(1 for _, ch in _unquoted(sql, start, end) if ch == "?")


def closing(sql: str, start: int) -> int:
    """Where the parenthesis open just before `start` closes (outside quoted text)."""
    depth = 1
    for at, ch in _unquoted(sql, start, len(sql)):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return at
    raise ValueError("unbalanced filter SQL")
