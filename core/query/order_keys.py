"""An event's place in time order, and SQL for "the events before (or after) that place".

Time order is `ts`, then EventRecordID, then the store id (`Order.TIME`); events without a time
come first, as SQLite sorts NULLs. The conditions are written as ranges of the time index
(`events_time`), nearest first: one `(e.ts IS NULL OR (...) < (...))` cannot be a range, and
SQLite then walks the index from the far end testing every entry.
"""

from __future__ import annotations

from core.store.filter import Filter
from core.store.store import StoredEvent

#: An event's place in time order: (ts or None, EventRecordID, store id). A stored event always
#: has an EventRecordID (`core.store.schema`); the model's type allows none.
Key = tuple[int | None, int | None, int]


def key_of(ev: StoredEvent) -> Key:
    return (ev.event.filetime, ev.event.record_id, ev.id)


def sort_key(key: Key) -> tuple[bool, int, bool, int, int]:
    """`key` as Python compares it in time order (NULLs first, as SQLite sorts them)."""
    ts, record_id, store_id = key
    return (ts is not None, ts or 0, record_id is not None, record_id or 0, store_id)


def beyond(key: Key, forward: bool, *, inclusive: bool = False, bounded: bool = False) -> list[Filter]:
    """The events after (`forward`) or before `key` in time order (and the event at `key` too
    when `inclusive`), as ranges of the time index nearest first. `bounded` adds the plain
    `e.ts` bound the row value implies, which an index holding `ts` but not EventRecordID
    (`events_eid`) can range over too."""
    sql = Filter.from_sql
    ts, record_id, store_id = key
    op = (">" if forward else "<") + ("=" if inclusive else "")
    if ts is None:
        untimed = sql(f"(e.ts IS NULL AND (e.record_id, e.id) {op} (?, ?))", (record_id, store_id))
        return [untimed, sql("(e.ts IS NOT NULL)")] if forward else [untimed]
    if bounded:
        timed = sql(f"((e.ts, e.record_id, e.id) {op} (?, ?, ?) AND e.ts {op[0]}= ?)", (ts, record_id, store_id, ts))
    else:
        timed = sql(f"((e.ts, e.record_id, e.id) {op} (?, ?, ?))", (ts, record_id, store_id))
    return [timed] if forward else [timed, sql("(e.ts IS NULL)")]
