"""How deep SQLite's parser must go into a compiled filter, weighed while the compiler writes it.

A query the language accepts must be SQL that SQLite can run. SQLite parses with a stack of
YYSTACKDEPTH entries (100 in the default build until SQLite 3.46, which grows it): a filter
nested deeper fails in whichever statement runs it first, as `sqlite3.OperationalError:
parser stack overflow` (the CLI's traceback, the app's table "counting..." forever), long
before the parser's own MAX_DEPTH: `(user:u0 OR (user:u1 OR ... 4688))` at 28 levels,
`NOT NOT ... user:alice` at 40. So the compiler counts, for each place in the SQL it writes,
the stack entries the SQL around it holds there (`Nesting`), and refuses a query whose deepest
term would need more than `budget()`, pointing at the NOT or group that went one level too deep.

What each construct holds, as SQLite parses the SQL `core.query.compile` writes for it:
- `(a OR b OR c)` (and AND alike): 1 entry (the `(`) while its first operand is parsed, 3 (the
  `(`, the operands before, the operator) while each next one is: so `a OR (b OR (c ...))`
  costs 3 a level and `((a OR b) OR c)` 1;
- `(NOT a)`: 2 (the `(` and the NOT);
- a term: its own SQL peaks at a height of its own (a field's subquery over `postings`: 13, an
  alias covering a System column too: 14, free text: 18, an EventID: 1), which SQLite itself
  measures here (`term_weight`), once per shape, so a term the compiler writes otherwise is
  weighed as it is written.
A group of one operand writes no SQL of its own (`((4688))` is `e.event_id = ?`) and costs nothing.

The budget is what is left for a filter of SQLite's room (`room`) once the deepest statement
the store and the query layer put a filter in has its share (WRAPPING: an id set made of a
whole filter, `INSERT ... SELECT id FROM (SELECT e.id FROM events e WHERE filter)`, and the
timeline's count per bucket, a subquery in a CTE's select list, hold 11; a page read in the
table's JSON form with the view's position ANDed to it, 8), plus the terms those layers write
anew (`core.query.string_terms` writes a channel term as an IN list: one more), plus MARGIN.
Then `check_runs` prepares the compiled filter with that much room to spare, which catches any
shape these weights miss, and SQLite's other bound: an expression tree deeper than 1000, which
is 497 for a filter in a subquery (the timeline's count per bucket). A list of 256 values ORed
first with 255 other terms reaches it; such a query is refused as too large, not nested.

An SQLite that grows its stack (3.46 on) has room to spare: `room` is measured, up to ROOM_CAP.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from core.query.lexer import QueryError
from core.store.schema import TABLES

#: Stack entries a construct holds while what is inside it is parsed (see the module).
FIRST_OPERAND: Final = 1
NEXT_OPERAND: Final = 3
NEGATION: Final = 2
#: The deepest statement a filter is put in holds this many entries above its WHERE (see the
#: module); the terms rewritten by the query layer need at most REWRITES more; MARGIN for
#: statements to come. HEADROOM is their sum: a filter may use the room less that.
WRAPPING: Final = 11
REWRITES: Final = 1
MARGIN: Final = 4
HEADROOM: Final = WRAPPING + REWRITES + MARGIN
#: At most this much room is measured: enough for any query MAX_DEPTH allows, at 3 a level.
ROOM_CAP: Final = 512

TOO_DEEP: Final = "query nested deeper than SQLite allows"
TOO_LARGE: Final = "query too large for SQLite"
#: The errors SQLite gives for a statement too deep for it to parse.
_DEPTH_ERRORS: Final = ("parser stack overflow", "Expression tree is too large")

#: A filter as SQLite is asked to prepare it here: over the store's tables, empty; in a subquery
#: for `check_runs` (where an expression tree has half the height: see the module).
_PROBE: Final = "SELECT 1 FROM events e WHERE {}"
_IN_SUBQUERY: Final = "SELECT 1 WHERE 1 IN (SELECT e.id FROM events e WHERE {})"
_local = threading.local()


def _connection() -> sqlite3.Connection:
    """This thread's in-memory database with the store's tables (none of its rows): a statement
    over them prepares as it would over a store. Made again in a forked child."""
    held: tuple[int, sqlite3.Connection] | None = getattr(_local, "conn", None)
    if held is None or held[0] != os.getpid():
        conn = sqlite3.connect(":memory:", cached_statements=0)  # (each probe is prepared once)
        conn.executescript(TABLES)
        held = _local.conn = (os.getpid(), conn)
    return held[1]


def _prepares(where: str, parens: int, probe: str = _PROBE) -> str | None:
    """None when `where` inside `parens` parentheses prepares as the filter of `probe`; else
    SQLite's error if it is one of depth (`_DEPTH_ERRORS`). Any other error is the statement's
    business when it runs: None."""
    sql = probe.format("(" * parens + where + ")" * parens)
    try:
        _connection().execute(sql, (None,) * where.count("?")).close()
    except sqlite3.OperationalError as exc:
        text = str(exc)
        return text if text.startswith(_DEPTH_ERRORS) else None
    except sqlite3.Error:  # (prepared, then refused for something else)
        return None
    return None


def _height(where: str, cap: int, probe: str = _PROBE) -> int:
    """The most parentheses (up to `cap`) `where` prepares inside in `probe`, -1 for none (bisected)."""
    lo, hi = -1, cap + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _prepares(where, mid, probe) is None:
            lo = mid
        else:
            hi = mid
    return lo


@functools.cache
def room() -> int:
    """The stack entries SQLite has for a filter: the parentheses `1` prepares inside."""
    return _height("1", ROOM_CAP)


@functools.cache
def _subquery_entries() -> int:
    """The stack entries `check_runs`'s subquery holds above a filter's WHERE."""
    return room() - _height("1", room(), _IN_SUBQUERY)


def budget() -> int:
    """The stack entries a compiled filter may use (`room` less HEADROOM)."""
    return room() - HEADROOM


#: A list of two or more parameters (`IN (?, ?, ?)`): SQLite parses one as deep as another.
_PARAMETERS: Final = re.compile(r"\?(?:, \?)+")


def term_weight(sql: str) -> int:
    """The stack entries the SQL of one term needs above where it stands: measured by SQLite as
    the parentheses it prepares inside fewer than `1` does, once per shape (the compiler writes
    a few dozen). A term too deep alone weighs more than the room."""
    return _measured(_PARAMETERS.sub("?, ?", sql))


@functools.lru_cache(maxsize=256)
def _measured(sql: str) -> int:
    return room() - _height(sql, room())


def list_weight(parts: list[str]) -> int:
    """The weight of a value list `name:(a OR b)`, written `(a OR b)`: its values weighed where
    they stand in it (each is a term of its own shape: the list's whole SQL, up to 256 of them,
    would be a shape for each length)."""
    return max((NEXT_OPERAND if i else FIRST_OPERAND) + term_weight(part) for i, part in enumerate(parts))


class Nesting:
    """The entries the SQL written so far holds around the place being written, level by level,
    each with the position of the construct that opened it (a NOT, a group, a term)."""

    def __init__(self) -> None:
        self._levels: list[tuple[int, int]] = []
        #: The deepest term's entries and position: where `check_runs` points.
        self.deepest = (0, 0)

    def held(self) -> int:
        return self._levels[-1][0] if self._levels else 0

    @contextmanager
    def inside(self, entries: int, pos: int) -> Iterator[None]:
        """Write what is inside a construct holding `entries` more, opened at `pos`."""
        self._levels.append((self.held() + entries, pos))
        try:
            yield
        finally:
            self._levels.pop()

    def term(self, weight: int, pos: int) -> None:
        """Weigh the term written here (`weight`: `term_weight` or `list_weight`; at `pos` in the
        query): past the budget, the error points at the outermost level from which this term no
        longer fits."""
        need = self.held() + weight
        if need > budget():
            blame = next((at for held, at in self._levels if held + weight > budget()), pos)
            raise QueryError(TOO_DEEP, blame)
        if need > self.deepest[0]:
            self.deepest = (need, pos)


def check_runs(where: str, nesting: Nesting) -> None:
    """Refuse a compiled filter SQLite cannot prepare with HEADROOM to spare, in a subquery: the
    net under the weights, and the bound on an expression's height (see the module), pointing at
    the deepest term."""
    parens = HEADROOM - _subquery_entries()
    error = _prepares(where, max(parens, 0), _IN_SUBQUERY)
    if error is None and parens < 0:
        error = _prepares(where, HEADROOM)
    if error is not None:
        raise QueryError(TOO_DEEP if error.startswith(_DEPTH_ERRORS[0]) else TOO_LARGE, nesting.deepest[1])
