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

Parquet text is UTF-8, and a POSIX file name may be any bytes (Python decodes those that are not
UTF-8 as lone surrogates, U+DC80-U+DCFF): `source` and the issues' text hold such a name with
each of those characters written as the escape `\\udcXX` (`stored_text`), the one the CLI prints
for it (`core.model.text.printable`), so `file:` matches what the user sees. The done-marker
(`inputs/<key>.json`) keeps the exact name (JSON's own `\\udcXX`).

`time` is null when the time is outside what a datetime holds (years 1-9999; FILETIME reaches
year 30828): readers turn it into datetimes (pyarrow's `to_pylist`, pandas, Spark's rows), which
would fail the whole answer. `ts` keeps such a time exactly; it is shown as an invalid time.
A time or a number outside its column's range (`ts` beyond 64 bits, an EventID beyond 32) is
null, as a parse issue naming the record and the field (`core.fleet.tables`).
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

from core.model.event import EPOCH_AS_FILETIME, FILETIME_END, FILETIME_MIN

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

#: The microseconds since 1970 that a datetime can hold (0001-01-01 to 9999-12-31T23:59:59.999999,
#: `core.model.event.time_in_range`): `time` outside them is null (see the module doc).
TIME_MIN_US = (FILETIME_MIN - EPOCH_AS_FILETIME) // 10
TIME_MAX_US = (FILETIME_END - EPOCH_AS_FILETIME) // 10 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def stored_text(value: str) -> str:
    """`value` as UTF-8 can hold it: each lone surrogate (a file name's byte that is not UTF-8,
    as Python decodes it) written as `\\udcXX`, everything else exact (see the module doc)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", value)


def _plain(dtype: pa.DataType) -> pa.DataType:
    """`dtype` with its nested fields' names and nullability dropped, and the large string and
    list types as the plain ones (how a writer names a list's items changes no data)."""
    if pa.types.is_map(dtype):
        return pa.map_(_plain(dtype.key_type), _plain(dtype.item_type))
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return pa.list_(_plain(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([(f.name, _plain(f.type)) for f in dtype])
    if pa.types.is_large_string(dtype):
        return pa.string()
    return dtype


def schema_problem(schema: pa.Schema) -> str | None:
    """Why a part's `schema` is not the dataset's (EVENTS: the columns `convert` writes, of
    their types), or None. A part with a column missing, of another type, or one more (which
    could shadow a partition column) fails every query that reads it, so it is left out."""
    names = schema.names
    missing = [n for n in EVENT_COLUMNS if n not in names]
    if missing:
        return "no column " + ", ".join(missing)
    extra = [n for n in names if n not in EVENT_COLUMNS]
    if extra or len(set(names)) != len(names):
        return "columns not of the dataset: " + ", ".join(extra or sorted({n for n in names if names.count(n) > 1}))
    wrong = [f"{f.name} is {schema.field(f.name).type}, not {f.type}" for f in EVENTS
             if _plain(schema.field(f.name).type) != _plain(f.type)]
    return "; ".join(wrong) if wrong else None

_SAFE = re.compile(r"[^a-z0-9._-]+")


def host_dir(computer: str) -> str:
    """A partition directory name for a computer: its lower-cased safe characters (at most 48)
    and a short hash of the exact name, so distinct names never share or escape a directory."""
    digest = hashlib.sha256(computer.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    stem = _SAFE.sub("_", computer.lower())[:48].strip("._") or "none"
    return f"{stem}-{digest}"


def day_dir(ts: int | None) -> str:
    """The UTC day of FILETIME ticks (`2015-11-12`, the year in 4 digits: `strftime` gives year 1
    as `1`), or `none` for an event without time or with one out of the date range."""
    if ts is None:
        return "none"
    from core.model.event import filetime_to_datetime

    try:
        return filetime_to_datetime(ts).date().isoformat()
    except (OverflowError, ValueError):
        return "none"
