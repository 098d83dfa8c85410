"""The event model shared by every loader, the store, the engine and the UI.

One frozen, slotted dataclass per event keeps millions of events cheap and makes it impossible
for a consumer to mutate what a parser produced. Raw XML is not kept: it is fetched lazily from
the source (see `locator`) when a user asks for it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from core.model.slots import slot_maker

#: FILETIME ticks (100 ns) between 1601-01-01 and 1970-01-01.
EPOCH_AS_FILETIME = 116_444_736_000_000_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
#: The ticks a `datetime` can hold are FILETIME_MIN (0001-01-01) <= ticks < FILETIME_END
#: (10000-01-01). A log's FILETIME is any unsigned 64-bit count, up to year 30828 or past 2**63
#: (which Windows itself refuses): such a time is kept exactly, ordered and compared by its
#: ticks, and worded by `invalid_time_text`; converting it would raise.
FILETIME_MIN = -504_911_232_000_000_000
FILETIME_END = 2_650_467_744_000_000_000
#: How every output words a time out of that range (the ticks follow): text, JSON, CSV, the app.
INVALID_TIME = "invalid FILETIME "


def time_in_range(ticks: int) -> bool:
    """Whether `ticks` can be converted to a datetime and worded as a date."""
    return FILETIME_MIN <= ticks < FILETIME_END


def invalid_time_text(ticks: int) -> str:
    """The one wording of a time no date can show: the exact ticks behind a marker, so that a
    reader sees the value the log holds and no tool mistakes it for a date."""
    return f"{INVALID_TIME}{ticks}"


def filetime_to_datetime(ticks: int) -> _dt.datetime:
    """Convert FILETIME ticks to an aware UTC datetime, truncating to microseconds.

    Integer arithmetic only: python-evtx goes through a float and is off by 1-2 us in about
    half the values; we keep the exact ticks and derive the datetime from them. Raises
    OverflowError for ticks out of the datetime range (check `time_in_range` first).
    """
    if not FILETIME_MIN <= ticks < FILETIME_END:
        raise OverflowError(f"FILETIME {ticks} is out of the datetime range")
    micros = (ticks - EPOCH_AS_FILETIME) // 10
    return _EPOCH + _dt.timedelta(microseconds=micros)


def datetime_to_filetime(value: _dt.datetime) -> int:
    """Convert an aware (or naive = UTC) datetime to FILETIME ticks."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * 10 + EPOCH_AS_FILETIME


def iso_from_filetime(ticks: int | None) -> str | None:
    """Render FILETIME ticks as ISO 8601 UTC with a `Z`, keeping all 7 fractional digits
    when they are not zero (as Windows does), microseconds otherwise. A time out of the date
    range is worded by `invalid_time_text`: every view and report words times here, and one
    bad value in a log must not stop them."""
    if ticks is None:
        return None
    if not FILETIME_MIN <= ticks < FILETIME_END:
        return invalid_time_text(ticks)
    seconds, frac = divmod(ticks - EPOCH_AS_FILETIME, 10_000_000)
    # The seconds part by `strftime` (5 us) once per second seen lately: the tables' writer
    # words a million events' times, most of them close to the last ones.
    text = _SECONDS.get(seconds)
    if text is None:
        if len(_SECONDS) >= SECONDS_KEPT:
            _SECONDS.clear()
        text = _SECONDS[seconds] = filetime_to_datetime(ticks).isoformat()[:19]  # (strftime: year 1 as `1`)
    return text + f".{frac:07d}Z"


#: Seconds worded by `iso_from_filetime` remembered (their text, by seconds since 1970).
SECONDS_KEPT = 4096
_SECONDS: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class Event:
    """One Windows event, whatever file format it came from.

    `record_number` is the record header's number (EVTX) or the 1-based position of the event
    in its input (XML, JSON); `record_id` is the EventRecordID from the System block (or
    `RecordNumber` in NXLog-style JSON), which differs from the header number in filtered
    exports; it is None when the input carries none (the store then uses the position).
    `filetime` holds the exact time in 100 ns ticks since 1601 (UTC); None means "no time"
    (a zero FILETIME is no time, not 1601).
    `data` holds the EventData/UserData name -> value pairs in document order; unnamed
    `<Data>` elements are named `Data`, `Data[1]`, `Data[2]`, ... Values are strings exactly as
    Windows renders them (hex stays hex; see `core.model.values.as_int` to compare numbers).
    `locator` says where the event sits in its source, to fetch raw XML later: the byte offset of
    the record for EVTX, the 1-based position for other formats.
    """

    source: int
    record_number: int
    record_id: int | None
    filetime: int | None
    event_id: int
    version: int | None = None
    level: int | None = None
    task: int | None = None
    opcode: int | None = None
    keywords: str | None = None
    channel: str = ""
    provider: str = ""
    computer: str = ""
    pid: int | None = None
    tid: int | None = None
    user_sid: str | None = None
    data: tuple[tuple[str, str], ...] = ()
    locator: int | None = None

    @property
    def time(self) -> _dt.datetime | None:
        """The event time as an aware UTC datetime (microseconds), or None (also for a time
        out of the datetime range: `iso_from_filetime` words that one)."""
        ft = self.filetime
        return None if ft is None or not FILETIME_MIN <= ft < FILETIME_END else filetime_to_datetime(ft)

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of the EventData field `name` (case-insensitive), or `default`.

        Callers nearly always spell the name as the log does: that exact match is found first
        without lower-casing every key (findings call this a dozen times per event), and only
        the keys before it that could differ only in case are compared case-insensitively."""
        data = self.data
        for i, (key, value) in enumerate(data):
            if key == name:
                if i:
                    low = name.lower()
                    for k, v in data[:i]:
                        if (len(k) == len(name) or not k.isascii()) and k.lower() == low:
                            return v
                return value
        low = name.lower()
        for key, value in data:
            if key.lower() == low:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of the EventData field `name` (case-insensitive), in document order: a
        name the event holds twice (a crafted or converted log) has its later values looked at
        too, so a detection cannot be hidden behind a harmless first value."""
        low = name.lower()
        return [value for key, value in self.data
                if key == name or ((len(key) == len(name) or not key.isascii()) and key.lower() == low)]


class EventKeys(NamedTuple):
    """What the correlation engine reads of an event (`Store.iter_keys`): its store id, keys
    and EventData pairs. `record_id` is the EventRecordID, else the record number."""

    id: int
    source: int
    filetime: int | None
    record_id: int
    event_id: int
    computer: str
    data: tuple[tuple[str, str], ...]


#: The Event's field names in declaration order.
EVENT_FIELDS = tuple(Event.__dataclass_fields__)


#: Builds an Event from its fields in declaration order, exactly as `Event(*fields)`, without the
#: frozen dataclass' `__init__` (`core.model.slots`): the decoder makes one per record.
make_event: Callable[..., Event] = slot_maker(Event)


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """A record that could not be decoded: it costs only itself, and is counted and shown.

    `chunk` is the 0-based chunk index (EVTX) or None; `offset` the byte offset of the record
    in the file (EVTX), or the 1-based line/element position for text formats. `filetime` is
    the record header's time (EVTX, FILETIME ticks) when it is readable: it places a damaged
    record on the timeline an analyst is reading.
    """

    source: int
    path: str
    reason: str
    chunk: int | None = None
    offset: int | None = None
    filetime: int | None = None


@dataclass(slots=True)
class SourceInfo:
    """What a loader learnt about one input: its format, and why it failed if it did."""

    path: str
    format: str = "unknown"
    error: str | None = None
    records: int = 0
    parse_issues: list[ParseIssue] = field(default_factory=list)


class InputError(Exception):
    """An input that cannot be read at all. The message is one line naming the file."""


def parse_time(text: str | None) -> int | None:
    """Parse the time renderings we meet into exact FILETIME ticks, or None.

    Accepts Windows' `2015-11-12T02:24:52.377352500Z` (7 digits), python-evtx's
    `2016-07-08 18:12:51.681641+00:00`, JSON exports' `2020-10-29T08:23:18.073Z` and
    `2020-10-29 08:23:18`, with any number of fractional digits (extra digits beyond 100 ns
    are dropped) and an optional offset. A zero FILETIME (1601-01-01) is "no time", and so is
    a time `read_time` refuses: a log's bad time costs that time, not the event.
    """
    if not text:
        return None
    try:
        ticks = read_time(text)
    except ValueError:
        return None
    return ticks if ticks > 0 else None


class TimeRangeError(ValueError):
    """A time that reads as one but that we cannot hold: its offset is no real zone's, or it
    falls outside the datetime range. The message says which (a query shows it)."""


#: The widest real UTC offset is +14:00 (Kiribati); the most western -12:00.
MAX_OFFSET_MINUTES = 14 * 60


def read_time(text: str) -> int:
    """`parse_time`'s reading (any ticks in the datetime range, 1601 or not), raising
    ValueError for text that is no time, TimeRangeError for a bad offset or a time out of range.

    Integer arithmetic after the calendar check: applying the offset to a datetime overflowed
    at its ends (`9999-12-31T23:59:59-01:00`) and took a whole log down with it."""
    m = _TIME_RE.match(text.strip())
    if not m:
        raise ValueError("not a time")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "")[:7].ljust(7, "0")
    tz = m.group(8)
    offset = 0
    if tz and tz not in ("Z", "z"):
        hh, mm = int(tz[1:3]), int(tz[-2:])
        if mm >= 60:
            raise TimeRangeError(f"offset {tz}: minutes beyond 59")
        if hh * 60 + mm > MAX_OFFSET_MINUTES:
            raise TimeRangeError(f"offset {tz} beyond ±14:00")
        offset = (hh * 60 + mm) * (1 if tz[0] == "+" else -1)
    base = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.UTC)  # ValueError: no such date
    ticks = datetime_to_filetime(base) - offset * 600_000_000 + int(frac)
    if not FILETIME_MIN <= ticks < FILETIME_END:
        raise TimeRangeError("out of range (UTC years 1 to 9999)")
    return ticks


_TIME_RE = __import__("re").compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|z|[+-]\d{2}:?\d{2})?\Z"
)
