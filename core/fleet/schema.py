"""The fleet dataset's one schema, whatever the input format, and its layout on disk.

    DIR/events/host=<host>/day=<YYYY-MM-DD>/<input key>-<n>.parquet   the events
    DIR/issues/<input key>.parquet                                     parse issues, per input
    DIR/inputs/<input key>.json                                        done marker + summary

System fields are typed columns; EventData is `data` (map<string,string>, document order; a name
repeated within one event keeps its first value, as map keys are unique). `fields` is the search
index of the same pairs (lower-cased name, value, and the value as a number when it is one:
`core.model.values.as_int`), what the store's `postings` table is to SQLite: query compilers
need no hex parsing in SQL. `source` is the input path and `place` the event's place in it (the
byte offset of an EVTX record, the 1-based position otherwise), so (ts, record_id, source,
place) orders events exactly as the SQLite store does for one input.

The partition directory names are derived (`host_dir`), never the attacker-controlled computer
name itself: the `computer` column holds that, verbatim.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

#: Bump when the columns or their meaning change: a converted input is then converted again.
FLEET_SCHEMA_VERSION = 1

FIELD_TYPE = pa.struct([("name", pa.string()), ("value", pa.string()), ("num", pa.int64())])

EVENTS = pa.schema(
    [
        ("computer", pa.string()),
        ("source", pa.string()),
        ("input_key", pa.string()),
        ("place", pa.int64()),
        ("record_number", pa.int64()),
        ("record_id", pa.int64()),
        ("ts", pa.int64()),  # FILETIME ticks (100 ns since 1601, UTC); null = no time
        ("time", pa.timestamp("us", tz="UTC")),
        ("event_id", pa.int32()),
        ("version", pa.int32()),
        ("level", pa.int32()),
        ("task", pa.int32()),
        ("opcode", pa.int32()),
        ("keywords", pa.string()),
        ("channel", pa.string()),
        ("provider", pa.string()),
        ("pid", pa.int64()),
        ("tid", pa.int64()),
        ("user_sid", pa.string()),
        ("locator", pa.int64()),
        ("data", pa.map_(pa.string(), pa.string())),
        ("fields", pa.list_(FIELD_TYPE)),
    ]
)

ISSUES = pa.schema(
    [("source", pa.string()), ("input_key", pa.string()), ("chunk", pa.int64()), ("offset", pa.int64()),
     ("reason", pa.string())]
)

#: Column names of EVENTS, in order.
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENTS.names)

_SAFE = re.compile(r"[^a-z0-9._-]+")


def host_dir(computer: str) -> str:
    """A partition directory name for a computer: its lower-cased safe characters (at most 48)
    and a short hash of the exact name, so distinct names never share or escape a directory."""
    digest = hashlib.sha256(computer.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    stem = _SAFE.sub("_", computer.lower())[:48].strip("._") or "none"
    return f"{stem}-{digest}"


def day_dir(ts: int | None) -> str:
    """The UTC day of FILETIME ticks (`2015-11-12`), or `none` for an event without time."""
    if ts is None:
        return "none"
    from core.model.event import filetime_to_datetime

    try:
        return filetime_to_datetime(ts).strftime("%Y-%m-%d")
    except (OverflowError, ValueError):
        return "none"
