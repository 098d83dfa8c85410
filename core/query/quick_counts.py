"""Compound filters counted from the EventID index and their id sets, no event looked up.

Once settled (`core.query.term_sets`), `4663 ObjectName:C:\\secret.txt` is `e.event_id = ? AND
e.id IN <set>`, and `handle:0x438 ObjectName:C:\\secret.txt` is `e.id IN <set> AND e.id IN <set>`.
SQLite counts both by looking up every event of the first set in the table (its rowid plan: the
set's size, at random places): at 10M events, sets of 2.5M took 1.2-1.9 s. Neither needs an
event:

- EventIDs beside sets (`count_by_event_ids`): the EventID index (`events_eid`: EventID, time
  and the rowid) holds all they read, its entries of those EventIDs each probed in the sets, 0.6 s.
  Which is cheaper depends on the sizes: a set of 100 ids (`4663 Marker:needle`) is 100 lookups,
  against 2.5M index entries. So the EventID side is counted first up to `RATIO` times the
  smallest set (cheap: index entries only, and no further), and the index is used only when it
  has fewer. For filters whose top-level conjuncts are all EventID tests, time bounds and id
  sets (`NOT` ones too): every column they read is in the index.
- Sets alone (`count_in_sets`): the smallest set's ids, each probed in the others, 0.66 s. Every
  id a set holds is a stored event's (`core.store.schema.FIELD_IDS`).
"""

from __future__ import annotations

import re
from typing import Final

from core.query.term_sets import conjuncts
from core.store.filter import EventIndex, Filter
from core.store.id_sets import ID_SET_TEST, NOT_ID_SET
from core.store.store import Store

#: The index entries of the EventID side a set's id may cost: a rowid lookup of the table costs
#: about 0.6 us at 10M events, an index entry and its probe in a set 0.25 us.
RATIO: Final = 2
#: `4663`, `4656,4663`, `(4656 OR 4663)` as the compiler writes them.
_EVENT_ID: Final = re.compile(r"e\.event_id (?:= \?|IN \(\?(?:, \?)*\))|\(e\.event_id = \?(?: OR e\.event_id = \?)+\)")
_TIME: Final = re.compile(r"\(e\.ts IS NOT NULL AND e\.ts [<>]=? \?\)")


def quick_count(store: Store, which: Filter) -> int | None:
    """How many events the settled filter `which` keeps, counted without looking up its events
    (`count_in_sets`, `count_by_event_ids`), or None: count it as usual."""
    found = count_in_sets(store, which)
    return found if found is not None else count_by_event_ids(store, which)


def _pieces(which: Filter) -> tuple[list[str], list[str], list[str]] | None:
    """The top-level conjuncts of `which`: (id-set tests, NOT id-set tests, EventID tests and
    time bounds), or None when it has one of another kind."""
    sql = which.sql
    tests: list[str] = []
    negated: list[str] = []
    rest: list[str] = []
    for start, end in conjuncts(sql):
        piece = sql[start:end]
        if ID_SET_TEST.fullmatch(piece):
            tests.append(piece)
        elif NOT_ID_SET.fullmatch(piece):
            negated.append(piece)
        elif _EVENT_ID.fullmatch(piece) or _TIME.fullmatch(piece):
            rest.append(piece)
        else:
            return None
    return tests, negated, rest


def _table(test: str) -> str:
    """The id set an id-set test (`ID_SET_TEST`, `NOT_ID_SET`) reads."""
    return test.rsplit(" IN ", 1)[1].rstrip(")")


def _size(store: Store, table: str) -> int:
    return store.count_ids(Filter.from_sql(f"e.id IN {table}", (), None, table))


def count_in_sets(store: Store, which: Filter) -> int | None:
    """The count of a filter of id-set tests alone (two or more, `NOT` ones among them), read
    from its smallest set; else None."""
    if which.ids is not None or which.id_table is not None:
        return None
    pieces = _pieces(which)
    if pieces is None or pieces[2] or len(pieces[0]) + len(pieces[1]) < 2 or not pieces[0]:
        return None
    tests, negated, _ = pieces
    tables = sorted((_table(t) for t in tests), key=lambda t: _size(store, t))
    probes = [f"s.id IN {t}" for t in tables[1:]] + [f"NOT s.id IN {_table(t)}" for t in negated]
    row = store.conn.execute(f"SELECT count(*) FROM {tables[0]} s WHERE {' AND '.join(probes)}").fetchone()
    return int(row[0])


def count_by_event_ids(store: Store, which: Filter) -> int | None:
    """How many events `which` keeps, counted through the EventID index, when it is one of
    EventID tests and id sets (see the module docstring) and that index has fewer entries to
    read than its smallest set has events to look up; else None."""
    if which.ids is not None or which.id_table is not None or "e.event_id" not in which.sql:
        return None
    pieces = _pieces(which)
    if pieces is None:
        return None
    tests, negated, rest = pieces
    if not tests or not any(_EVENT_ID.fullmatch(piece) for piece in rest) or not store.has_index(EventIndex.EVENT_ID):
        return None
    smallest = min(_size(store, _table(test)) for test in tests)
    # The id-set tests have no parameters: the rest's are the filter's, in their order.
    side = Filter.from_sql("(" + " AND ".join(rest + negated) + ")", which.params)
    if store.count(side, at_most=RATIO * smallest) >= RATIO * smallest:
        return None
    return store.count(which, index=EventIndex.EVENT_ID)
