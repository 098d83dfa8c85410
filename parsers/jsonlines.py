"""The JSON loader: JSON lines (or one JSON array) of Windows events, plain or zipped.

Each record is read by `parsers.json_layouts` (evtx_dump, Winlogbeat, flat NXLog/OTRF; one file
may mix them); record splitting is in `parsers.jsonrecords`.

Records are streamed: one line at a time (a line over `MAX_RECORD_CHARS` is skipped and
reported), or one array element at a time. A malformed record costs only itself (ParseIssue
with its 1-based position as `offset`); a value nested too deep to decode costs only itself
(`parsers.jsonrecords.cut_deep`: the record is kept, the value replaced by a stand-in that says
so, and a parse issue names its key path). A plain JSON file none of whose records is a Windows
event, or even holds the fields one needs (`parsers.json_layouts.carries_event_fields`), is no
event log: InputError at its end, as for an XML file without an `<Event>` (`{"hello": 1}`, the
tool's own `correlate --json` output read as 0 events and a parse issue a record, status 0).
A `.zip` is read member by member as one input with one position count; members holding Event
XML are read too (`parsers.eventxml`), other members (EVTX, nested zips, binaries) are reported
as parse issues, not extracted; which members are read, once each and within a decompression
cap, is `parsers.zip_members`' business.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Generator, Iterator

from core.model.event import Event, InputError, ParseIssue
from core.model.slots import slot_maker
from parsers import eventxml, jsonrecords
from parsers.json_layouts import carries_event_fields, event_from_json
from parsers.json_values import BAD_ESCAPE, loads, repair, repeats_made
from parsers.jsonrecords import MAX_DEPTH, cut_deep, records
from parsers.sniff import sniff_format
from parsers.textio import HEAD_SIZE, UNDECODABLE, decoded_chunks, open_input, read_chunks
from parsers.zip_members import read_members

#: ParseIssue(source, path, reason, chunk, offset, filetime) without the frozen dataclass'
#: `__init__` (half the cost): a file of broken records makes one per line.
_issue = slot_maker(ParseIssue)
#: Parse issues held back, at most, while no record of a file has read as an event (or carried
#: an event's fields): a file that turns out to be no event log is said in one line, not with a
#: parse issue for each of its records. Past it they are handed on (memory stays bounded).
HELD_ISSUES = 1000


class _Seen:
    """What a walk met: whether a record that failed to read as an event held an event's fields
    (`carries_event_fields`): then the file is a damaged event log, not some other JSON."""

    __slots__ = ("event_fields",)

    def __init__(self) -> None:
        self.event_fields = False


def iter_text_events(
    chunks: Iterator[str], path: str, source: int, *, start: int = 0, label: str = "", seen: _Seen | None = None
) -> Generator[Event | ParseIssue, None, int]:
    """Events of decoded JSON text, positions counted from `start + 1`; returns the last.

    A bad value costs only itself, reported as a parse issue before its event: text no string
    should hold becomes U+FFFD (`parsers.json_values.repair`), an integer too long for its
    System field is dropped, a time text that reads as no time is kept as a field, a System
    key's repeated values but the last are named (`parsers.json_layouts`). `seen` is told
    when a record that is no event carried an event's fields."""
    position = start
    for raw in records(chunks):
        position += 1
        if raw is None:
            yield ParseIssue(
                source,
                path,
                f"{label}record {position}: longer than {jsonrecords.MAX_RECORD_CHARS} characters; skipped",
                None,
                position,
            )
            continue
        obj = None
        deep: list[str] = []
        try:
            dropped: list[str] = []
            notes: list[str] = []
            made = repeats_made()
            try:
                obj = loads(raw)
                event = event_from_json(obj, source, position, dropped, notes, repeated=repeats_made() != made)
            except RecursionError:  # read again without the values nested too deep (`cut_deep`)
                cut = cut_deep(raw)
                if cut is None:
                    raise
                text, deep = cut
                dropped.clear()
                notes.clear()
                made = repeats_made()
                obj = loads(text)
                event = event_from_json(obj, source, position, dropped, notes, repeated=repeats_made() != made)
        except (ValueError, RecursionError) as exc:
            if seen is not None and not seen.event_fields:
                seen.event_fields = carries_event_fields(obj)
            reason = f"invalid JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield _issue(source, path, f"{label}record {position}: {reason}"[:300], None, position, None)
            continue
        if deep:
            reason = f"{label}record {position}: value nested deeper than {MAX_DEPTH} levels in {', '.join(deep)}"
            yield _issue(source, path, reason[:260] + "; not read (a stand-in says so)", None, position, None)
        if ("\\u" in raw and BAD_ESCAPE.search(raw)) or UNDECODABLE in raw:
            event, bad, kinds = repair(event)
            if bad:
                reason = f"{label}record {position}: invalid text ({', '.join(kinds)}) in {', '.join(bad)}"
                yield _issue(source, path, reason[:270] + "; replaced with U+FFFD", None, position, None)
        if dropped:
            reason = f"{label}record {position}: integer too long in {', '.join(dropped)}"
            yield _issue(source, path, reason[:280] + "; dropped", None, position, None)
        for note in notes:
            yield _issue(source, path, f"{label}record {position}: {note}"[:300], None, position, None)
        yield event
    return position


# --------------------------------------------------------------------------- files and zips


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})") from None


def _iter_zip(zf: zipfile.ZipFile, path: str, source: int) -> Iterator[Event | ParseIssue]:
    position = 0
    with zf:
        for member in read_members(zf):
            if isinstance(member, str):
                yield ParseIssue(source, path, member[:300])
                continue
            label, fmt = member.label, member.fmt
            chunks = decoded_chunks(member.chunks, mark_undecodable=True)
            if fmt == "jsonl":
                position = yield from iter_text_events(chunks, path, source, start=position, label=label)
            elif fmt == "xml":
                position = yield from eventxml.iter_text_events(chunks, path, source, start=position, label=label)
            elif fmt != "empty":
                what = {"evtx": "an EVTX log", "zip": "a nested zip", "evt": "a legacy .evt log"}
                yield ParseIssue(
                    source,
                    path,
                    f"{label}member skipped: {what.get(fmt, 'not JSON or Event XML')}"
                    + (" (extract it to read it)" if fmt in what else ""),
                )


def _iter_plain(path: str, source: int) -> Iterator[Event | ParseIssue]:
    """The file's events; InputError at its end when it held no event and no record with an
    event's fields (its parse issues, held until then, are not handed on: see `HELD_ISSUES`)."""
    seen = _Seen()
    try:
        with open_input(path) as fh:
            walk = iter_text_events(decoded_chunks(read_chunks(fh), mark_undecodable=True), path, source, seen=seen)
            held: list[ParseIssue] = []
            spilled = False
            for item in walk:  # until the file shows it is an event log
                if seen.event_fields or not isinstance(item, ParseIssue):
                    yield from held
                    yield item
                    break
                if spilled:
                    yield item
                    continue
                held.append(item)
                if len(held) >= HELD_ISSUES:
                    yield from held
                    held, spilled = [], True
            else:
                raise InputError(f"{path}: not an event log (JSON, but no record in it is a Windows event or has "
                                 "an event's fields: EventID, System, Event, winlog, or event_id and data)")
            yield from walk  # the rest, handed on as it comes
    except OSError as exc:
        raise InputError(f"{path}: read error: {exc.strerror or exc}") from None


def _head(path: str) -> bytes:
    try:
        with open_input(path) as fh:
            return fh.read(HEAD_SIZE)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


def iter_events(path: str, source: int = 0) -> Iterator[Event | ParseIssue]:
    """Stream the events of a JSON-lines / JSON-array file, or of a zip of such files.

    Raises InputError at once when the file cannot be opened or is empty, or (for a zip) is
    not a readable archive.
    """
    head = _head(path)
    fmt = sniff_format(head)
    if fmt == "empty":
        raise InputError(f"{path}: empty file (no content), not an event log")
    if fmt == "zip":
        # Opened now so that a broken archive fails here, not at the first next().
        return _iter_zip(_open_zip(path), path, source)
    return _iter_plain(path, source)


def event_json(path: str, locator: int) -> str:
    """The raw record at 1-based position `locator` (a JSON line, or the XML of an event in a
    zipped Event XML member), for the detail pane. Raises ValueError when there is none."""
    if sniff_format(_head(path)) == "zip":
        text = _zip_record(path, locator)
    else:
        text = None
        try:
            with open_input(path) as fh:
                for position, raw in enumerate(records(decoded_chunks(read_chunks(fh))), 1):
                    if position == locator:
                        text = raw if raw is not None else f"(record {locator} is too long to show)"
                        break
        except OSError as exc:
            raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if text is None:
        raise ValueError(f"{path}: no record at position {locator}")
    return text


def _zip_record(path: str, locator: int) -> str | None:
    """The record at `locator`, counting positions as `_iter_zip` does (same members skipped)."""
    zf = _open_zip(path)
    position = 0
    with zf:
        for member in read_members(zf):
            if isinstance(member, str):
                continue
            chunks = decoded_chunks(member.chunks)
            if member.fmt == "jsonl":
                for raw in records(chunks):
                    position += 1
                    if position == locator:
                        return raw if raw is not None else f"(record {locator} is too long to show)"
            elif member.fmt == "xml":
                text, position = eventxml.fragment_at(chunks, locator, start=position)
                if text is not None:
                    return text
    return None
