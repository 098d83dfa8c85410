"""A filter's terms on the computer, channel, provider and user SID read as the values they name,
found in the store's `strings` table.

The compiler writes a computer term as `computer = ? COLLATE NOCASE OR computer LIKE ?`
(`core.query.compile.HOST_TERM`: the name whole, or its first label): SQLite cannot search the
computer index for that OR, so a count passes every entry of it (10M events: 0.9 s, a computer
no event has included) and a page of a computer no event has passes every event of the time
index (3.4 s). The channel, provider and user SID have no index at all: a channel no event has
was counted over every event (1.1 s at 10M). A store keeps every distinct value of these four
columns in `strings` (a few thousand values at most), so a term becomes `column IN (the spellings
found there)` (under NOCASE for the computer, whose index is NOCASE: the same events either way,
as every spelling matching under NOCASE is listed, and the empty value, which `strings` leaves
out, when the term matches it), or nothing at all when none is.

Only for a store that no longer changes (as `core.query.term_sets`), and terms naming at most
`MAX_VALUES` values; others stay as they are.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import NamedTuple

from core.query.compile import HOST_GLOB, HOST_TERM, column_glob, column_term
from core.query.term_sets import placeholders
from core.store.filter import Filter
from core.store.store import Store

#: Values a term may name and still be read as a list of them.
MAX_VALUES = 256

_EXACT_LIKE = "value = ? COLLATE NOCASE OR value LIKE ? ESCAPE '\\'"
_EQUAL = "value = ? COLLATE NOCASE"
_GLOB = "value LIKE ? ESCAPE '\\'"


class _Term(NamedTuple):
    """A term as the compiler writes it, what it asks of a value (its own parameters), and the
    column (NOCASE: the list compared as the computer's index sorts)."""

    text: str
    test: str
    column: str
    nocase: bool


_TERMS = [
    _Term(HOST_TERM, _EXACT_LIKE, "computer", True),
    _Term(HOST_GLOB, _GLOB, "computer", True),
    *(_Term(column_term(c), _EQUAL, c, False) for c in ("channel", "provider", "user_sid")),
    *(_Term(column_glob(c), _GLOB, c, False) for c in ("channel", "provider", "user_sid")),
]


#: The last filters read per store and highest event id (every page of a view settles its filter
#: again), dropped with the store, as `core.query.marks` keeps its marks.
_KEPT: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[str, tuple[object, ...]], Filter]] = \
    weakref.WeakKeyDictionary()
KEPT = 8


def settled_strings(store: Store, which: Filter) -> Filter:
    """`which` with each such term read as the values it names (see the module)."""
    if which.ids is not None or not any(t.text in which.sql for t in _TERMS):
        return which
    kept = _KEPT.setdefault(store, OrderedDict())
    key = (which.sql, (store.last_id(), *which.params))  # (events added since: read again)
    found = kept.get(key)
    if found is None:
        found = kept[key] = _read(store, which)
        while len(kept) > KEPT:
            kept.popitem(last=False)
    else:
        kept.move_to_end(key)
    return found


def _read(store: Store, which: Filter) -> Filter:
    sql, params = which.sql, which.params
    pieces: list[str] = []
    args: list[object] = []
    done = used = 0
    while True:
        found = [(at, i) for i, t in enumerate(_TERMS) if (at := sql.find(t.text, done)) >= 0]
        if not found:
            break
        at, i = min(found)
        term = _TERMS[i]
        before = placeholders(sql, done, at)
        pieces.append(sql[done:at])
        args += params[used : used + before]
        used += before
        count = term.text.count("?")
        own = params[used : used + count]
        used += count
        values = [str(r[0]) for r in store.conn.execute(
            f"SELECT value FROM strings WHERE {term.test} LIMIT ?", (*own, MAX_VALUES + 1))]
        if store.conn.execute(f"SELECT {term.test.replace('value', chr(39) * 2)}", own).fetchone()[0]:
            values.append("")
        if len(values) > MAX_VALUES:
            pieces.append(term.text)
            args += own
        elif values:
            listed = f"IN ({', '.join('?' * len(values))})"
            # (IS NOT NULL as the compiler writes it: under NOT, a NULL IN (...) would drop the event)
            pieces.append(f"(e.computer COLLATE NOCASE {listed})" if term.nocase
                          else f"(e.{term.column} IS NOT NULL AND e.{term.column} {listed})")
            args += values
        else:
            pieces.append("(0)")
        done = at + len(term.text)
    pieces.append(sql[done:])
    args += params[used:]
    return Filter.from_sql("".join(pieces), args)
