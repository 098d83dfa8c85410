"""Point lookups the engines make one event at a time (the detail pane), as typed calls.

An event's place in the store's time order is `Position` (time, record id, store id): "before"
and "after" follow `core.store.filter.Order.TIME`, the order every view and the engines read in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from core.store.filter import Filter, Order
from core.store.schema import FIELD_IDS
from core.store.store import Store, StoredEvent

_BEFORE = "(e.ts < ? OR (e.ts = ? AND (e.record_id < ? OR (e.record_id = ? AND e.id < ?))))"
_AFTER = "(e.ts > ? OR (e.ts = ? AND (e.record_id > ? OR (e.record_id = ? AND e.id > ?))))"


class Position(NamedTuple):
    """Where an event sits in the store's time order."""

    ts: int
    record_id: int
    store_id: int

    def params(self) -> tuple[int, int, int, int, int]:
        return (self.ts, self.ts, self.record_id, self.record_id, self.store_id)


def _with_field(name: str) -> str:
    return FIELD_IDS.format(cond=f"p.name = '{name}' AND p.num = ?")


def latest_event_with(
    store: Store, event_id: int, computer: str, field: str, number: int, before: Position
) -> StoredEvent | None:
    """The last event `event_id` on `computer` (any case) before `before` whose EventData
    `field` (lower-case posting name) holds `number` (e.g. the 4688 whose NewProcessId is a pid)."""
    found = store.select(
        Filter.from_sql(
            f"e.event_id = ? AND e.computer = ? COLLATE NOCASE AND {_BEFORE} AND e.id IN ({_with_field(field)})",
            (event_id, computer, *before.params(), number),
        ),
        limit=1,
        order=Order.TIME_DESC,
    )
    return found[0] if found else None


def events_with_between(
    store: Store, event_id: int, computer: str, field: str, number: int, after: Position, before: Position
) -> Iterator[StoredEvent]:
    """Events `event_id` on `computer` strictly between `after` and `before` whose EventData
    `field` holds `number` (e.g. a 4689 of a pid between its 4688 and a child's)."""
    return store.iter_events(
        Filter.from_sql(
            f"e.event_id = ? AND e.computer = ? COLLATE NOCASE AND {_AFTER} AND {_BEFORE} AND e.id IN "
            f"({_with_field(field)})",
            (event_id, computer, *after.params(), *before.params(), number),
        )
    )
