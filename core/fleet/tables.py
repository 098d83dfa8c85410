"""Store rows (`core.model.rows.EventRow`) as Arrow tables of the fleet schema (`core.fleet.schema.EVENTS`).

Parquet holds what SQLite holds less leniently: text must be UTF-8 and integers must fit their
column (int64, int32 for the EventID and the other small System fields). A decoder can hand over
either (an EVTX string with a lone UTF-16 surrogate, a FILETIME or UInt64 with a flipped high
bit), and one such value made the whole input fail ("cannot be read"). As the store does
(`core.model.storable`), a bad value costs only itself: a batch is built as it is (the fast
path) and only when that fails are its rows repaired, text with U+FFFD and an out-of-range
integer as null, each repaired record a parse issue naming the record and the fields.
"""

from __future__ import annotations

import marshal
from typing import Any

import pyarrow as pa

from core.fleet.schema import EVENTS, FIELD_TYPE, TIME_MAX_US, TIME_MIN_US, stored_text
from core.model.data_names import data_object
from core.model.event import EPOCH_AS_FILETIME, Event, ParseIssue
from core.model.rows import MAX_PLACE, EventRow
from core.model.storable import ROW_COLUMNS, storable_row
from core.model.values import as_int

_INT64 = (-(1 << 63), (1 << 63) - 1)
_INT32 = (-(1 << 31), (1 << 31) - 1)
#: The range of each integer field of a row that goes into a column (by position in the row).
_RANGES = {ROW_COLUMNS.index(name): _INT32 if EVENTS.field(name).type == pa.int32() else _INT64
           for name in ("record_number", "record_id", "ts", "event_id", "version", "level", "task", "opcode",
                        "pid", "tid", "locator")}
_NUMBER_AT = ROW_COLUMNS.index("record_number")
_LOCATOR_AT = ROW_COLUMNS.index("locator")


def event_row(place: int, ev: Event) -> EventRow:
    """An Event as a store row (the shape the EVTX workers produce)."""
    data = marshal.dumps(ev.data) if ev.data else b""
    record_id = ev.record_number if ev.record_id is None else ev.record_id
    return (place, ev.source, ev.record_number, record_id, ev.filetime, ev.event_id, ev.version, ev.level, ev.task,
            ev.opcode, ev.keywords, ev.channel, ev.provider, ev.computer, ev.pid, ev.tid, ev.user_sid, ev.locator, data)


def micros(ts: int | None) -> int | None:
    """The `time` column's value for FILETIME ticks: microseconds since 1970, or None when a
    datetime cannot hold it (see `core.fleet.schema`)."""
    if ts is None:
        return None
    us = (ts - EPOCH_AS_FILETIME) // 10
    return us if TIME_MIN_US <= us <= TIME_MAX_US else None


def events_table(rows: list[EventRow], path: str, key: str) -> tuple[pa.Table, list[ParseIssue]]:
    """The rows of one partition as a table, and a parse issue per row whose values had to be
    repaired to fit (none on the fast path)."""
    try:
        return _table(rows, path, key), []
    except (OverflowError, UnicodeEncodeError, pa.ArrowInvalid):
        fixed, issues = repaired(rows, path)
        return _table(fixed, path, key), issues


def repaired(rows: list[EventRow], path: str) -> tuple[list[EventRow], list[ParseIssue]]:
    """Rows whose every value fits its column: lone surrogates replaced with U+FFFD (as the store
    does), integers outside their column's range null; a ParseIssue per row changed."""
    out: list[EventRow] = []
    issues: list[ParseIssue] = []
    for row in rows:
        fitted = list(row)
        problems: list[str] = []
        for at, (lo, hi) in _RANGES.items():
            value = fitted[at]
            if value is not None and not lo <= value <= hi:
                fitted[at] = None
                problems.append(f"{ROW_COLUMNS[at]} {value} out of range (kept as no value)")
        new, texts = storable_row(fitted)  # (its integers now fit: only the text is changed)
        if texts:
            problems.append(f"invalid text (lone UTF-16 surrogate) in {', '.join(texts)}; replaced with U+FFFD")
        if problems:
            reason = f"record {row[_NUMBER_AT]}: " + "; ".join(problems)
            issues.append(ParseIssue(row[1], path, reason[:400], None, row[_LOCATOR_AT]))
        out.append(new)
    return out, issues


def _table(rows: list[EventRow], path: str, key: str) -> pa.Table:
    """Built column by column (EventData flattened once into name/value/number arrays): a dict
    per event through `Table.from_pylist` cost three times as much."""
    columns = list(zip(*rows, strict=True))
    (sids, _sources, numbers, record_ids, ts, eids, versions, levels, tasks, opcodes, keywords, channels,
     providers, computers, pids, tids, user_sids, locators, blobs) = columns
    offsets = [0]
    map_offsets = [0]
    names: list[str] = []
    values: list[str] = []
    map_keys: list[str] = []
    map_values: list[str] = []
    for blob in blobs:
        pairs: tuple[tuple[str, str], ...] = marshal.loads(blob) if blob else ()
        for name, value in pairs:
            names.append(name)
            values.append(value)
        # The map's keys are unique (DuckDB refuses a map that repeats one): a repeated name's
        # later values numbered as `export` numbers them, where the first one alone was kept.
        data_map = data_object(pairs) if len({name for name, _ in pairs}) < len(pairs) else dict(pairs)
        map_keys.extend(data_map)
        map_values.extend(data_map.values())
        offsets.append(len(names))
        map_offsets.append(len(map_keys))
    lowered = [n.lower() for n in names]
    nums = [as_int(v) for v in values]
    fields = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.StructArray.from_arrays([pa.array(lowered, pa.string()), pa.array(values, pa.string()),
                                    pa.array(nums, pa.int64())], fields=list(FIELD_TYPE)),
    )
    data = pa.MapArray.from_arrays(pa.array(map_offsets, pa.int32()), pa.array(map_keys, pa.string()),
                                   pa.array(map_values, pa.string()))
    n = len(rows)
    arrays: dict[str, Any] = {
        "computer": computers, "source": [stored_text(path)] * n, "input_key": [key] * n,
        "place": [sid & MAX_PLACE for sid in sids], "record_number": numbers, "record_id": record_ids, "ts": ts,
        "time": [micros(t) for t in ts], "event_id": eids, "version": versions, "level": levels, "task": tasks,
        "opcode": opcodes, "keywords": keywords, "channel": channels, "provider": providers, "pid": pids,
        "tid": tids, "user_sid": user_sids, "locator": locators,
    }
    built = [pa.array(arrays[f.name], f.type) for f in EVENTS if f.name not in ("data", "fields")]
    return pa.Table.from_arrays([*built, data, fields], schema=EVENTS)
