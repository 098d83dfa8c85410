"""Fleet rows as documents: the `query` JSON-lines shape (the same as `core.report.export`'s for the
store), and evtx_dump-style records that the app's JSON loader (`parsers.jsonlines`) reads back,
so `fleet ... --open` can hand matching events to the app.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.model.data_names import EXPORT_REPEATS_KEY, EXPORT_SYSTEM_KEYS, data_object, repeats_of
from core.model.event import iso_from_filetime
from core.model.text import json_safe

#: At most this many events are written for the app (a fleet result can be millions of rows).
MAX_OPEN = 100_000


def _pairs(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's EventData pairs. A value the part holds as null is "", as the store has it (a
    loader renders a missing value as empty text, `parsers.json_layouts.render`): `str(None)`
    showed the text "None", which no event held."""
    value = row.get("data") or ()
    items = value.items() if isinstance(value, dict) else value
    return [(str(k), "" if v is None else str(v)) for k, v in items]


def event_document(row: dict[str, Any]) -> dict[str, Any]:
    """One fleet event as `evtx-explorer query` prints a stored one (`core.report.export`): the
    System fields the part holds, a repeated name's values numbered and `data_repeats` naming them."""
    pairs = _pairs(row)
    data = data_object(pairs)
    doc: dict[str, Any] = {"file": row["source"], "record_id": row["record_id"], "time": iso_from_filetime(row["ts"]),
                           "event_id": row["event_id"], "computer": row["computer"], "channel": row["channel"],
                           "provider": row["provider"]}
    doc.update((name, row.get(name)) for name in EXPORT_SYSTEM_KEYS)
    doc["data"] = data
    repeats = repeats_of(pairs, data)
    if repeats:
        doc[EXPORT_REPEATS_KEY] = repeats
    return doc


def dump_record(row: dict[str, Any]) -> dict[str, Any]:
    """One fleet event as an evtx_dump JSON record (System + EventData), for the app to load."""
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": row["provider"]}},
        "EventID": row["event_id"],
        "EventRecordID": row["record_id"],
        "Channel": row["channel"],
        "Computer": row["computer"],
    }
    for name in ("version", "level", "task", "opcode", "keywords"):
        if row.get(name) is not None:
            system[name.capitalize()] = row[name]
    if row.get("ts") is not None:
        system["TimeCreated"] = {"#attributes": {"SystemTime": iso_from_filetime(row["ts"])}}
    execution = {k: row[c] for k, c in (("ProcessID", "pid"), ("ThreadID", "tid")) if row.get(c) is not None}
    if execution:
        system["Execution"] = {"#attributes": execution}
    if row.get("user_sid"):
        system["Security"] = {"#attributes": {"UserID": row["user_sid"]}}
    return {"Event": {"System": system, "EventData": data_object(_pairs(row))}}


def write_for_app(rows: Iterable[dict[str, Any]], directory: str | None = None) -> tuple[Path, int]:
    """Write the events (at most MAX_OPEN) as JSON lines in a new temporary file; (path, count)."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the app, which opens it by name
        "w", encoding="utf-8", suffix=".jsonl", prefix="evtx-fleet-", dir=directory, delete=False
    )
    count = 0
    with handle:
        for row in rows:
            if count >= MAX_OPEN:
                break
            handle.write(json_safe(json.dumps(dump_record(row), ensure_ascii=False)) + "\n")
            count += 1
    return Path(handle.name), count
