"""EVTX logs of one value type each (`build_log`): one chunk of records, each with its own resident
template `<Event><System><EventID/><Computer/></System><EventData><Data Name=".."/>`, whose Data
holds substitution 2 (`repeat` times: the expansion tests use it); `load` decodes them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from core.model.event import Event, ParseIssue
from parsers import evtx

HEADER, CHUNK = 0x1000, 0x10000
FILETIME = 132000000000000000

Value = tuple[int, bytes]  # (substitution type, bytes)


def _name(text: str) -> bytes:
    return struct.pack("<IHH", 0, 0, len(text)) + text.encode("utf-16-le") + b"\x00\x00"


class _Body:
    """A template body; `start` is the chunk offset where it begins (names are stored inline)."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.b = bytearray(b"\x0f\x01\x01\x00")
        self.names: dict[str, int] = {}

    def _name_ref(self, text: str, at: int) -> bytes:
        if text in self.names:
            return struct.pack("<I", self.names[text])
        self.names[text] = at + 4
        return struct.pack("<I", at + 4) + _name(text)

    def open(self, tag: str) -> None:
        self.b += b"\x01\xff\xff" + struct.pack("<I", 0)
        self.b += self._name_ref(tag, self.start + len(self.b))
        self.b += b"\x02"

    def open_named(self, tag: str, attr: str, index: int) -> None:
        """<tag attr=substitution `index` (a string)>."""
        self.b += b"\x41\xff\xff" + struct.pack("<I", 0)
        self.b += self._name_ref(tag, self.start + len(self.b))
        self.b += struct.pack("<I", 0)  # attribute list size (not read)
        self.b += b"\x06"
        self.b += self._name_ref(attr, self.start + len(self.b))
        self.b += b"\x0d" + struct.pack("<HB", index, 0x01) + b"\x02"

    def sub(self, index: int, vtype: int) -> None:
        self.b += b"\x0d" + struct.pack("<HB", index, vtype)

    def close(self) -> None:
        self.b += b"\x04"


def _record(rec_ofs: int, number: int, values: list[Value], repeat: int) -> bytes:
    tpl = rec_ofs + 24 + 4 + 10
    body = _Body(tpl + 24)
    body.open("Event")
    body.open("System")
    body.open("EventID")
    body.sub(0, values[0][0])
    body.close()
    body.open("Computer")
    body.sub(1, 0x01)
    body.close()
    body.close()
    body.open("EventData")
    body.open_named("Data", "Name", 3)
    for _ in range(repeat):
        body.sub(2, values[2][0])
    body.close()
    body.close()
    body.close()
    raw = bytes(body.b) + b"\x00"
    top = b"\x0f\x01\x01\x00\x0c\x01" + struct.pack("<II", 1, tpl)
    top += struct.pack("<I", 0) + struct.pack("<I", 1) + bytes(12) + struct.pack("<I", len(raw)) + raw
    top += struct.pack("<I", len(values))
    top += b"".join(struct.pack("<HBB", len(data), vtype, 0) for vtype, data in values)
    top += b"".join(data for _, data in values)
    size = 24 + len(top) + 4
    size += -size % 8
    out = b"**\x00\x00" + struct.pack("<IQQ", size, number, FILETIME) + top
    return out + bytes(size - 4 - len(out)) + struct.pack("<I", size)


def _chunk(records: list[bytes], first: int) -> bytes:
    chunk = bytearray(CHUNK)
    chunk[:8] = b"ElfChnk\x00"
    data = b"".join(records)
    chunk[0x200 : 0x200 + len(data)] = data
    last = first + len(records) - 1
    struct.pack_into("<QQQQIII", chunk, 8, first, last, first, last, 0x80, 0x200 + len(data) - len(records[-1]),
                     0x200 + len(data))
    struct.pack_into("<I", chunk, 0x34, zlib.crc32(data))
    struct.pack_into("<I", chunk, 0x7C, zlib.crc32(bytes(chunk[:0x78]) + bytes(chunk[0x80:0x200])))
    return bytes(chunk)


def build_log(chunks: list[list[tuple[str, Value]]], repeat: int = 1, eid: int = 4688) -> bytes:
    """A log of one chunk per item of `chunks`, one record per (Data name, value) in it."""
    header = bytearray(HEADER)
    header[:8] = b"ElfFile\x00"
    out = []
    number = 1
    for records in chunks:
        raws, ofs, first = [], 0x200, number
        for name, value in records:
            values = [(0x06, struct.pack("<H", eid)), (0x01, "HOST".encode("utf-16-le")), value,
                      (0x01, name.encode("utf-16-le"))]
            raw = _record(ofs, number, values, repeat)
            raws.append(raw)
            ofs += len(raw)
            number += 1
        out.append(_chunk(raws, first))
    struct.pack_into("<QQQIHHHH", header, 8, 0, len(chunks) - 1, number, 0x80, 1, 3, 0x1000, len(chunks))
    struct.pack_into("<I", header, 0x7C, zlib.crc32(bytes(header[:0x78])))
    return bytes(header) + b"".join(out)


def load(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    items = list(evtx.iter_events(str(path), 0, jobs=1))
    return [i for i in items if isinstance(i, Event)], [i for i in items if isinstance(i, ParseIssue)]
