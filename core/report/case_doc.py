"""The case file's document: its marks, its format, and reading it back from a file that may
be damaged (`core.report.case` opens, keeps and saves it).

A case file is ours only until something else writes it: a disk error, a sync tool, a hand
edit or a crafted file can hand the reader anything. Whatever cannot be a case (no JSON,
nesting deeper than the decoder's recursion, an integer of thousands of digits, the wrong
shape) raises CaseError, so that `Case.open` falls back to the `.bak` as for any damaged file,
never a traceback. A single mark whose time is no FILETIME at all is dropped and named instead
(`CaseDoc.dropped`): the other marks are still the analyst's work, and the file holding it is
moved aside, not overwritten, at the next save. A FILETIME past the dates (a log may hold one,
and the app marks its event like any other) is kept, and said (`CaseDoc.invalid_times`): every
view words it as an invalid time (`core.model.event.iso_from_filetime`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.model.event import datetime_to_filetime
from core.model.small_files import read_small

FORMAT = "evtx-explorer-case"
VERSION = 1
#: A case file larger than this is not read (it is not one we wrote: even 100k marks with
#: notes stay far below it).
MAX_CASE_BYTES = 64 * 1024 * 1024
#: Notes are free text typed by the analyst; bound them so a paste accident cannot bloat the case.
MAX_NOTE_CHARS = 20_000
#: A FILETIME is an unsigned 64-bit count: no event carries a time outside it.
FILETIME_LIMIT = 1 << 64
#: The FILETIMEs a date can hold (0001-01-01 to 9999-12-31): past them a time shows as invalid.
DATE_TICKS = range(datetime_to_filetime(_dt.datetime.min), datetime_to_filetime(_dt.datetime.max) + 10)
#: Store ids are SQLite rowids (positive, signed 64-bit); another value is no hint at all.
ROWID_MAX = (1 << 63) - 1
#: Marks named one by one in a warning about them (the rest are counted).
NAMED_MARKS = 3


class CaseError(Exception):
    """A case file that cannot be used (damaged, not a case file, unreadable)."""


class MarkDropped(CaseError):
    """One mark no event can match, its time being no FILETIME (the others are kept)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A marked event and its note. Identity: (source_path, record_id, event_id, computer,
    filetime); `store_id` is only a hint (a cache rebuild may renumber ids)."""

    source_path: str
    source: int
    record_id: int | None
    event_id: int
    computer: str
    filetime: int | None
    store_id: int | None = None
    note: str = ""
    marked_at: str = ""

    @property
    def key(self) -> tuple[str, int | None, int, str, int | None]:
        return (self.source_path, self.record_id, self.event_id, self.computer, self.filetime)

    def sort_key(self) -> tuple[int, int, int]:
        """Time order like the event table (no time sorts last)."""
        ft = self.filetime if self.filetime is not None else 1 << 62
        return (ft, self.record_id if self.record_id is not None else -1, self.store_id or 0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(obj: Any) -> Mark:
        """Validate one mark read from a file: a wrong type is a damaged file (CaseError); a
        time that is no FILETIME is MarkDropped; a store id no row can have is no hint (None).
        Record and event ids stay exact whatever their size: the store keeps an event's own."""
        if not isinstance(obj, dict):
            raise CaseError("a mark is not an object")

        def opt_int(name: str) -> int | None:
            v = obj.get(name)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int):
                raise CaseError(f"mark field {name!r} is not an integer")
            return v

        def text(name: str) -> str:
            v = obj.get(name, "")
            if not isinstance(v, str):
                raise CaseError(f"mark field {name!r} is not text")
            return v

        event_id = opt_int("event_id")
        source = opt_int("source")
        filetime = opt_int("filetime")
        store_id = opt_int("store_id")
        if event_id is None:
            raise CaseError("mark without event_id")
        if filetime is not None and not 0 <= filetime < FILETIME_LIMIT:
            raise MarkDropped(f"its time {str(filetime)[:40]} is no FILETIME (an unsigned 64-bit count)")
        return Mark(
            source_path=text("source_path"),
            source=source if source is not None and 0 <= source <= ROWID_MAX else -1,
            record_id=opt_int("record_id"),
            event_id=event_id,
            computer=text("computer"),
            filetime=filetime,
            store_id=store_id if store_id is not None and 0 < store_id <= ROWID_MAX else None,
            note=text("note")[:MAX_NOTE_CHARS],
            marked_at=text("marked_at"),
        )


def _describe(position: int, obj: dict[str, Any]) -> str:
    """A mark as the analyst knows it: its place in the file, EventID and record."""
    event_id, record_id = obj.get("event_id"), obj.get("record_id")
    return f"mark {position} (EventID {str(event_id)[:20]}, record {str(record_id)[:40]})"


@dataclass
class CaseDoc:
    """A case file read: its inputs and marks, the marks dropped (one line each) and those
    kept whose time no date holds (one line each)."""

    inputs: list[str]
    marks: list[Mark]
    dropped: list[str] = field(default_factory=list)
    invalid_times: list[str] = field(default_factory=list)

    def warnings(self, path: Path) -> list[str]:
        """What the analyst is told on opening (a line per kind, the first few marks named)."""
        out = []
        if self.dropped:
            out.append(f"case file {path}: {len(self.dropped)} mark(s) dropped (still in the file, which a save "
                       f"moves aside rather than overwrites): {_named(self.dropped)}")
        if self.invalid_times:
            out.append(f"case file {path}: {len(self.invalid_times)} mark(s) with a time no date can hold, kept "
                       f"and shown as an invalid time: {_named(self.invalid_times)}")
        return out


def _named(marks: list[str]) -> str:
    more = f"; {len(marks) - NAMED_MARKS} more" if len(marks) > NAMED_MARKS else ""
    return "; ".join(marks[:NAMED_MARKS]) + more


def parse_case(raw: bytes) -> CaseDoc:
    """A case file's bytes read (CaseError when they are no case). RecursionError and the
    ValueError of an integer past Python's digit limit are the decoder's answer to a hostile
    file, not bugs: a damaged file."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise CaseError("not valid JSON (nested too deep)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CaseError(f"not valid JSON ({str(exc)[:200]})") from None
    except ValueError:  # (Python's limit on the digits of an integer it converts)
        raise CaseError("not valid JSON (a number too long to read)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CaseError("not an evtx-explorer case file")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > VERSION:
        raise CaseError(f"case file version {str(version)[:40]} is newer than this program understands")
    inputs = doc.get("inputs", [])
    marks = doc.get("marks")
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise CaseError("'inputs' is not a list of paths")
    if not isinstance(marks, list):
        raise CaseError("'marks' is missing")
    count = doc.get("count")
    if isinstance(count, int) and count != len(marks):
        raise CaseError(f"incomplete: {len(marks)} of {count} marks")
    read = CaseDoc(inputs, [])
    for position, obj in enumerate(marks, start=1):
        try:
            mark = Mark.from_json(obj)
        except MarkDropped as exc:
            read.dropped.append(f"{_describe(position, obj)}: {exc}")
            continue
        read.marks.append(mark)
        if mark.filetime is not None and mark.filetime not in DATE_TICKS:
            read.invalid_times.append(f"{_describe(position, obj)}: FILETIME {mark.filetime}")
    return read


def read_case(path: Path) -> CaseDoc:
    """`parse_case` of the file at `path` (CaseError when it cannot be read)."""
    try:
        size = path.stat().st_size
        if size > MAX_CASE_BYTES:
            raise CaseError(f"too large ({size} bytes)")
        raw = read_small(path, MAX_CASE_BYTES)  # (a backup may be a pipe too: never waited on)
    except OSError as exc:
        raise CaseError(f"cannot read it ({exc.strerror or exc})") from None
    return parse_case(raw)
