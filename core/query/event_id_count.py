"""Counting EventIDs side by side with id sets through the EventID index alone.

`4663 ObjectName:C:\\secret.txt`, once settled (`core.query.term_sets`), is `e.event_id = ? AND
e.id IN <set>`. SQLite counts it by looking up every event of the set in the table (its rowid
plan: the set's size, at random places) and testing its EventID: at 10M events, a set of 2.5M
took 1.2-1.9 s. The EventID index (`events_eid`: EventID, time and the rowid) answers the same
count without reading an event: its entries of that EventID, each id probed in the set, 0.6 s.
Which is cheaper depends on the sizes: a set of 100 ids (`4663 Marker:needle`) is 100 lookups,
against 2.5M index entries. So the EventID side is counted first up to `RATIO` times the
smallest set (cheap: index entries only, and no further), and the index is used only when it
has fewer.

Only for filters whose top-level conjuncts are all EventID tests, time bounds and id-set tests
(`NOT` included): every column they read is in the index.
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


def count_by_event_ids(store: Store, which: Filter) -> int | None:
    """How many events `which` keeps, counted through the EventID index, when it is one of
    EventID tests and id sets (see the module docstring) and that index has fewer entries to
    read than its smallest set has events to look up; else None (count it as usual)."""
    sql = which.sql
    if which.ids is not None or which.id_table is not None or "e.event_id" not in sql:
        return None
    tests: list[str] = []
    rest: list[str] = []
    for start, end in conjuncts(sql):
        piece = sql[start:end]
        if ID_SET_TEST.fullmatch(piece):
            tests.append(piece)
        elif _EVENT_ID.fullmatch(piece) or _TIME.fullmatch(piece) or NOT_ID_SET.fullmatch(piece):
            rest.append(piece)
        else:
            return None
    if not tests or not any(_EVENT_ID.fullmatch(piece) for piece in rest) or not store.has_index(EventIndex.EVENT_ID):
        return None
    smallest = min(store.count_ids(Filter.from_sql(test, (), None, test.split(" IN ", 1)[1])) for test in tests)
    # The id-set tests have no parameters: the rest's are the filter's, in their order.
    side = Filter.from_sql("(" + " AND ".join(rest) + ")", which.params)
    if store.count(side, at_most=RATIO * smallest) >= RATIO * smallest:
        return None
    return store.count(which, index=EventIndex.EVENT_ID)
