"""Events as compact rows for SQLite, and back.

Encoding is a pure function so that parser worker processes can do it: shipping plain tuples
of str/int between processes is much cheaper than pickling `Event` objects, and the main
process then only runs `executemany`. Only EventData goes into `fields`: System values live in
their `events` columns, which the query compiler matches directly (one row fewer per System
value per event is most of the ingest cost saved).
"""

from __future__ import annotations

import json
from typing import Any

from core.model import Event
from core.values import as_int

#: (source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords,
#:  channel, provider, computer, pid, tid, user_sid, locator, data_json)
EventRow = tuple[Any, ...]
#: (lower-cased name, value, num)
FieldRow = tuple[str, str, int | None]
#: One event ready for the store: its events row (without id) and its fields rows (without event id).
EncodedEvent = tuple[EventRow, list[FieldRow]]

EVENT_COLUMNS = (
    "source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords, "
    "channel, provider, computer, pid, tid, user_sid, locator, data"
)


def encode_event(event: Event, record_id_fallback: int | None = None) -> EncodedEvent:
    """Turn an Event into its store rows. `record_id` falls back to the record number
    (the 1-based position for text formats) when the input carries no EventRecordID."""
    record_id = event.record_id
    if record_id is None:
        record_id = record_id_fallback if record_id_fallback is not None else event.record_number
    row: EventRow = (
        event.source,
        event.record_number,
        record_id,
        event.filetime,
        event.event_id,
        event.version,
        event.level,
        event.task,
        event.opcode,
        event.keywords,
        event.channel,
        event.provider,
        event.computer,
        event.pid,
        event.tid,
        event.user_sid,
        event.locator,
        json.dumps(event.data, ensure_ascii=False, separators=(",", ":")) if event.data else "[]",
    )
    fields = [(name.lower(), value, as_int(value)) for name, value in event.data]
    return row, fields


def decode_row(row: tuple[Any, ...]) -> Event:
    """Rebuild an Event from an `events` row selected as `SELECT_COLUMNS` (id excluded)."""
    (
        source,
        record_number,
        record_id,
        ts,
        event_id,
        version,
        level,
        task,
        opcode,
        keywords,
        channel,
        provider,
        computer,
        pid,
        tid,
        user_sid,
        locator,
        data,
    ) = row
    pairs = tuple((str(k), str(v)) for k, v in json.loads(data)) if data and data != "[]" else ()
    return Event(
        source=source,
        record_number=record_number,
        record_id=record_id,
        filetime=ts,
        event_id=event_id,
        version=version,
        level=level,
        task=task,
        opcode=opcode,
        keywords=keywords,
        channel=channel,
        provider=provider,
        computer=computer,
        pid=pid,
        tid=tid,
        user_sid=user_sid,
        data=pairs,
        locator=locator,
    )
