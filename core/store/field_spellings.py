"""EventData names as the events spell them (`CommandLine`): the store's posting lists keep
names lower-cased (`postings.name`: a query's names match whatever the case), so the columns
dialog listed `commandline` and a field column was headed so. Each name's spelling is read from
one event holding it (the first id of one of its lists), not kept apart at ingest time."""

from __future__ import annotations

from collections.abc import Iterable

from core.model.rows import data_pairs
from core.store.store import Store

#: Names spelled at most per call (a crafted log may hold any number of names: the rest stay
#: lower-cased, which a query and a column key use anyway).
MAX_NAMES = 5_000


def field_spellings(store: Store, names: Iterable[str] | None = None) -> dict[str, str]:
    """Lower-cased EventData name -> its spelling in an event holding it, for `names` (lower-
    cased; default every name of the store, `Store.field_names`), at most `MAX_NAMES` of them.
    A name no event holds is left out; one whose event cannot say (a list without its first
    id, a damaged blob) maps to itself."""
    wanted = store.field_names() if names is None else sorted({n.lower() for n in names})
    conn = store.conn
    out: dict[str, str] = {}
    with store.snapshot():
        for name in wanted[:MAX_NAMES]:
            row = conn.execute("SELECT p.lo FROM postings p WHERE p.name = ? LIMIT 1", (name,)).fetchone()
            if row is None:
                continue
            out[name] = _spelled(store, row[0], name)
        out.update((name, name) for name in wanted[MAX_NAMES:])
    return out


def _spelled(store: Store, event_id: object, name: str) -> str:
    if not isinstance(event_id, int):
        return name
    found = store.conn.execute("SELECT data FROM events WHERE id = ?", (event_id,)).fetchone()
    try:
        pairs = data_pairs(found[0]) if found is not None else ()
    except ValueError:  # (a damaged blob: the name as typed)
        return name
    for pair in pairs if isinstance(pairs, tuple) else ():
        if isinstance(pair, tuple) and pair and isinstance(pair[0], str) and pair[0].lower() == name:
            return pair[0]
    return name
