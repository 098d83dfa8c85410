"""Records loaded more than once (a log and its shadow copy, two collections of one host that
overlap), counted per input for `stats`: each copy is a row of the event table (it comes from its
own file), and the correlation answers it as its first copy (`core.model.same_records`), but
nothing said how much two inputs overlap. A copy is an event with the same time, record id,
EventID, computer (case aside) and EventData as an event stored before it (by store id), as
the model's `CopyFilter` decides it.

Only the events that may be copies are read (`_ROWS`): the time index gives the groups of one
(time, record id) without a sort, the record index the events near a rounded time; they come
sorted in time order, which is the filter's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.model.rows import data_pairs, source_of
from core.model.same_records import MS_TICKS, MS_WITHIN, US_TICKS, US_WITHIN, CopyFilter, SameRecords
from core.store.store import Store

#: Rows handed to the filter at a time.
_BATCH = 4096

#: The events of a (time, record id) held by more than one event, and those of a record id, an
#: EventID and a time apart by less than a rounded time lost (`same_records.same_time`: a dump at
#: whole microseconds or milliseconds), looked up from the events at such times only (a tenth of
#: a log at random, and its dumps' events).
_ROWS = f"""
SELECT e.id, e.ts, e.record_id, e.event_id, e.computer, e.data FROM events e WHERE e.id IN (
  SELECT e2.id FROM (SELECT ts, record_id FROM events INDEXED BY events_time
                     GROUP BY ts, record_id HAVING count(*) > 1) g
  JOIN events e2 INDEXED BY events_time ON e2.ts IS g.ts AND e2.record_id = g.record_id
  UNION
  SELECT n.id FROM (
    SELECT r.id AS a, o.id AS b FROM events r
    JOIN events o INDEXED BY events_record ON o.record_id = r.record_id AND o.id != r.id
    WHERE r.ts % {US_TICKS} = 0 AND o.event_id = r.event_id AND o.ts != r.ts
      AND abs(o.ts - r.ts) <= CASE WHEN r.ts % {MS_TICKS} = 0 THEN {MS_WITHIN} ELSE {US_WITHIN} END
  ) p JOIN events n ON n.id IN (p.a, p.b))
ORDER BY e.ts, e.record_id, e.id
"""


@dataclass
class Copies:
    """An input's events that are copies of earlier ones, and of which inputs (source -> count)."""

    records: int = 0
    of: dict[int, int] = field(default_factory=dict)


def _decode(data: Any) -> Any:
    return data_pairs(data)


def _batches(store: Store) -> Iterator[list[tuple[Any, ...]]]:
    cursor = store.conn.execute(_ROWS)
    while batch := cursor.fetchmany(_BATCH):
        yield batch


class _Counted(SameRecords):
    """The filter's notes counted per input as they come, not kept (16 bytes a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_source: dict[int, Copies] = {}

    def add(self, copy: int, first: int) -> None:
        entry = self.by_source.setdefault(source_of(copy), Copies())
        entry.records += 1
        entry.of[source_of(first)] = entry.of.get(source_of(first), 0) + 1


def copies_by_source(store: Store) -> dict[int, Copies]:
    """Input (source id) -> its copies of earlier events; inputs without any are left out."""
    counted = _Counted()
    keep = CopyFilter(counted, _decode)
    with store.snapshot():
        for batch in _batches(store):
            keep(batch)
    return counted.by_source
