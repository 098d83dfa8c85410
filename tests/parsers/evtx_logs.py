"""EVTX logs built byte by byte for the decoder's tests (`build_log`: file header, chunks, records
each with a resident template: `<Event><System><EventID/><Computer/></System><EventData><Data
Name=.../></EventData>`), and the decoded items split into events and issues."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from core.model.event import Event, ParseIssue

HEADER, CHUNK = 0x1000, 0x10000
TICKS = 132000000000000000


def _name(text: str) -> bytes:
    return struct.pack("<IHH", 0, 0, len(text)) + text.encode("utf-16-le") + b"\x00\x00"


class _Body:
    """A template body whose element names are stored inline (`start`: its chunk offset)."""

    def __init__(self, start: int) -> None:
        self.start, self.b = start, bytearray(b"\x0f\x01\x01\x00")

    def open(self, name: str, attr: tuple[str, int, int] | None = None) -> None:
        at = len(self.b)
        self.b += (b"\x41" if attr else b"\x01") + b"\xff\xff" + struct.pack("<II", 0, 0)
        if attr:
            self.b += struct.pack("<I", 0)
        struct.pack_into("<I", self.b, at + 7, self.start + len(self.b))
        self.b += _name(name)
        if attr:
            aname, index, vtype = attr
            self.b += b"\x06" + struct.pack("<I", self.start + len(self.b) + 5) + _name(aname)
            self.b += b"\x0d" + struct.pack("<HB", index, vtype)
        self.b += b"\x02"

    def sub(self, index: int, vtype: int) -> None:
        self.b += b"\x0d" + struct.pack("<HB", index, vtype)

    def close(self) -> None:
        self.b += b"\x04"


def event_head(start: int) -> _Body:
    """A template body at `start` holding `<Event><System><EventID/><Computer/></System>` (values
    0 and 1) and `<EventData>` opened: what every template of these logs begins with."""
    b = _Body(start)
    b.open("Event")
    b.open("System")
    b.open("EventID")
    b.sub(0, 0x06)
    b.close()
    b.open("Computer")
    b.sub(1, 0x01)
    b.close()
    b.close()
    b.open("EventData")
    return b


def _template(start: int) -> bytes:
    b = event_head(start)
    b.open("Data", ("Name", 3, 0x01))
    b.sub(2, 0x01)
    b.close()
    b.close()
    b.close()
    return bytes(b.b + b"\x00")


Value = tuple[int, bytes]


def wide(text: str) -> Value:
    return (0x01, text.encode("utf-16-le"))


def record(at: int, number: int, values: list[Value], ticks: int = TICKS) -> bytes:
    """A record at chunk offset `at` whose resident template follows its instance."""
    return record_of(at, number, _template, values, ticks)


def record_of(at: int, number: int, template: Callable[[int], bytes], values: list[Value],
              ticks: int = TICKS) -> bytes:
    """A record at chunk offset `at` holding `values`, its resident template the body `template`
    writes at the offset it is given (right after the instance's header)."""
    tpl = at + 24 + 4 + 10
    body = template(tpl + 24)
    top = b"\x0f\x01\x01\x00\x0c\x01" + struct.pack("<II", number, tpl)
    top += struct.pack("<I", 0) + struct.pack("<I", number) + bytes(12) + struct.pack("<I", len(body)) + body
    top += struct.pack("<I", len(values)) + b"".join(struct.pack("<HBB", len(d), t, 0) for t, d in values)
    top += b"".join(d for _, d in values)
    size = 24 + len(top) + 4
    size += -size % 8
    raw = b"**\x00\x00" + struct.pack("<IQQ", size, number, ticks) + top
    return raw + bytes(size - 4 - len(raw)) + struct.pack("<I", size)


def event_values(event_id: int = 4688, data: Value | None = None, name: str = "CommandLine") -> list[Value]:
    return [(0x06, struct.pack("<H", event_id)), wide("HOST"), data or wide("cmd.exe /c ver"), wide(name)]


def chunk(rows: list[list[Value]], first: int = 1) -> bytes:
    """A chunk of one record per value list, numbered from `first`."""
    data = bytearray()
    for n, values in enumerate(rows):
        data += record(0x200 + len(data), first + n, values)
    out = bytearray(CHUNK)
    out[:8] = b"ElfChnk\x00"
    last = first + len(rows) - 1
    struct.pack_into("<QQQQ", out, 8, first, last, first, last)
    struct.pack_into("<III", out, 0x28, 0x80, 0, 0x200 + len(data))
    out[0x200 : 0x200 + len(data)] = data
    return bytes(out)


def build_log(path: Path, chunks: list[bytes]) -> Path:
    head = bytearray(HEADER)
    head[:8] = b"ElfFile\x00"
    struct.pack_into("<QQQIHHH", head, 8, 0, len(chunks) - 1, 1, 0x80, 1, 3, 0x1000)
    struct.pack_into("<H", head, 0x2A, len(chunks))
    path.write_bytes(bytes(head) + b"".join(chunks))
    return path


def split(items: Iterator[Event | ParseIssue] | list[Event | ParseIssue]) -> tuple[list[Event], list[ParseIssue]]:
    events: list[Event] = []
    issues: list[ParseIssue] = []
    for item in items:
        (issues if isinstance(item, ParseIssue) else events).append(item)  # type: ignore[arg-type]
    return events, issues


# -------------------------------------------------------------------------------------------
