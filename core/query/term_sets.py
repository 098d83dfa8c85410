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

from collections.abc import Callable

from core.store.filter import Filter
from core.store.id_sets import ID_SETS
from core.store.store import Store

#: How the compiler writes a term read from the posting lists (FIELD_IDS, free text).
TERM_OPEN = "e.id IN (SELECT j.value AS id FROM "
_IN = "e.id IN ("


def settled_terms(store: Store, which: Filter) -> Filter:
    """`which` with its first ID_SETS posting-list terms read from id sets (`Store.id_set`):
    the same events, the same parameters for the rest of its SQL. Sets tested side by side
    (`a b`) are tested smallest first (`_smallest_first`)."""
    sizes: dict[str, int] = {}

    def settle(_: int, term: Filter) -> Filter:
        got = store.id_set(term)
        sizes[got.sql] = store.count_ids(got)
        return got

    settled = map_terms(which, settle, ID_SETS)
    return _smallest_first(settled, sizes) if len(sizes) > 1 else settled


def _smallest_first(which: Filter, sizes: dict[str, int]) -> Filter:
    """`which` with the id-set tests among its top-level conjuncts (`sizes`: each test's SQL and
    its set's size) in their places smallest first. SQLite looks up the events of the first
    such test and tests the others on them: `handle:0x438 needle` at 10M events (2.5M and 100
    ids) counted in 1.4 s, 1 ms the other way round. The tests have no parameters: the rest of
    the SQL and its parameters stay in order."""
    sql = which.sql
    start, end = 0, len(sql)
    while start < end and sql[start] == "(" and closing(sql, start + 1) == end - 1:
        start, end = start + 1, end - 1
    pieces = _conjuncts(sql, start, end)
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


def _conjuncts(sql: str, start: int, end: int) -> list[tuple[int, int]]:
    """Where the operands of `AND` at the top level of `sql[start:end]` lie (outside quoted
    text and parentheses)."""
    pieces: list[tuple[int, int]] = []
    quoted, depth, at, begin = False, 0, start, start
    while at < end:
        ch = sql[at]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and sql.startswith(" AND ", at):
            pieces.append((begin, at))
            at += len(" AND ")
            begin = at
            continue
        at += 1
    pieces.append((begin, end))
    return pieces


def map_terms(which: Filter, replace: Callable[[int, Filter], Filter], limit: int | None = None) -> Filter:
    """`which` with each of its (first `limit`) posting-list terms, the n-th a filter of its own
    (`term.ids` its SQL), in place of `replace(n, term)`, parameters in their order."""
    sql, params = which.sql, which.params
    at = sql.find(TERM_OPEN)
    if at < 0:
        return which
    pieces: list[str] = []
    args: list[object] = []
    done = used = terms = 0
    while at >= 0 and (limit is None or terms < limit):
        before = placeholders(sql, done, at)
        pieces.append(sql[done:at])
        args += params[used : used + before]
        used += before
        end = closing(sql, at + len(_IN))
        inner = sql[at + len(_IN) : end]
        count = placeholders(sql, at, end)
        term = Filter.from_sql(f"{_IN}{inner})", params[used : used + count], inner)
        got = replace(terms, term)
        pieces.append(got.sql)  # (one predicate: a term stands where `e.id IN (...)` stood)
        args += got.params
        used += count
        terms += 1
        done = end + 1
        at = sql.find(TERM_OPEN, done)
    pieces.append(sql[done:])
    args += params[used:]
    return Filter.from_sql("".join(pieces), args)


def terms_of(which: Filter) -> list[Filter]:
    """The posting-list terms of `which`, in order (`map_terms`)."""
    found: list[Filter] = []

    def keep(_: int, term: Filter) -> Filter:
        found.append(term)
        return term

    map_terms(which, keep)
    return found


def placeholders(sql: str, start: int, end: int) -> int:
    """The `?` parameters in `sql[start:end]`, outside quoted text (which `start` is not in)."""
    quoted, count = False, 0
    for ch in sql[start:end]:
        if ch == "'":
            quoted = not quoted  # (a doubled quote inside text turns it off and on again)
        elif ch == "?" and not quoted:
            count += 1
    return count


def closing(sql: str, start: int) -> int:
    """Where the parenthesis open just before `start` closes (outside quoted text)."""
    quoted, depth = False, 1
    for at in range(start, len(sql)):
        ch = sql[at]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                return at
    raise ValueError("unbalanced filter SQL")
