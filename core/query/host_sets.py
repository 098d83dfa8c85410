"""A filter's computer terms (`host:`, `computer:`) as the computers they name, read from the
store's `strings` table.

The compiler writes a computer term as `computer = ? COLLATE NOCASE OR computer LIKE ?`
(`core.query.compile.HOST_TERM`: the name whole, or its first label): SQLite cannot search the
computer index for that OR, so a count passes every entry of it (10M events: 0.9 s, a computer
no event has included) and a page of a computer no event has passes every event of the time
index (3.4 s). A store keeps every distinct computer it holds in `strings` (beside channels,
providers and user SIDs, a few thousand values at most), so the term becomes `computer COLLATE
NOCASE IN (the spellings found there)`, which the index answers (the same events: every
spelling of a computer matching under NOCASE is listed, and the empty name, which `strings`
leaves out, when the term matches it), or nothing at all when none is.

Only for a store that no longer changes (as `core.query.term_sets`), and terms naming at most
`MAX_HOSTS` values; others stay as they are.
"""

from __future__ import annotations

from core.query.compile import HOST_GLOB, HOST_TERM
from core.query.term_sets import placeholders
from core.store.filter import Filter
from core.store.store import Store

#: Computers a term may name and still be read as a list of them.
MAX_HOSTS = 256
#: Each term's computers among `strings`, and whether it matches an empty computer too (which
#: `strings` leaves out; a hostile log may log one).
_FIND = {
    HOST_TERM: "SELECT value FROM strings WHERE value = ? COLLATE NOCASE OR value LIKE ? ESCAPE '\\' LIMIT ?",
    HOST_GLOB: "SELECT value FROM strings WHERE value LIKE ? ESCAPE '\\' LIMIT ?",
}
_EMPTY = {
    HOST_TERM: "SELECT '' = ? COLLATE NOCASE OR '' LIKE ? ESCAPE '\\'",
    HOST_GLOB: "SELECT '' LIKE ? ESCAPE '\\'",
}


def settled_hosts(store: Store, which: Filter) -> Filter:
    """`which` with each computer term read as the computers it names (see the module)."""
    sql, params = which.sql, which.params
    if "e.computer " not in sql or which.ids is not None:
        return which
    pieces: list[str] = []
    args: list[object] = []
    done = used = 0
    while True:
        found = [(at, term) for term in _FIND if (at := sql.find(term, done)) >= 0]
        if not found:
            break
        at, term = min(found)
        before = placeholders(sql, done, at)
        pieces.append(sql[done:at])
        args += params[used : used + before]
        used += before
        count = term.count("?")
        own = params[used : used + count]
        used += count
        names = [str(r[0]) for r in store.conn.execute(_FIND[term], (*own, MAX_HOSTS + 1))]
        if store.conn.execute(_EMPTY[term], own).fetchone()[0]:
            names.append("")
        if len(names) > MAX_HOSTS:
            pieces.append(term)
            args += own
        elif names:
            pieces.append(f"(e.computer COLLATE NOCASE IN ({', '.join('?' * len(names))}))")
            args += names
        else:
            pieces.append("(0)")
        done = at + len(term)
    if not pieces:
        return which
    pieces.append(sql[done:])
    args += params[used:]
    return Filter.from_sql("".join(pieces), args)
