"""EVTX logs whose templates hold typed literal values (BinXML value tokens of another type than
a string, which python-evtx reads with each type's length-less layout), built byte by byte: one
chunk per list of records, each record with its own resident template `<Event><System><EventID/>
<Computer/></System><EventData><Data Name=...>LITERAL</Data></EventData></Event>`, whose Data
holds the literal value given (and whose Name is substitution 3, or a literal value too), and
optionally an `<Extra>` element after it that no field of an event reads."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.parsers.evtx_logs import CHUNK, _name, build_log, event_head, event_values, record_of

#: (value type, the value's bytes as the token holds them, its count or size prefix included).
Literal = tuple[int, bytes]


def token(vtype: int, data: bytes) -> bytes:
    """A value token (0x05) of type `vtype` holding `data`."""
    return b"\x05" + bytes([vtype]) + data


def wide_literal(text: str) -> bytes:
    """A string value token (what Windows writes), with its character count."""
    return token(0x01, struct.pack("<H", len(text)) + text.encode("utf-16-le"))


def _template(start: int, content: bytes, name: bytes | None, extra: bytes | None) -> bytes:
    b = event_head(start)
    if name is None:
        b.open("Data", ("Name", 3, 0x01))
    else:  # <Data Name=LITERAL>: element, attribute list, attribute name, its value token
        at = len(b.b)
        b.b += b"\x41\xff\xff" + struct.pack("<II", 0, 0) + struct.pack("<I", 0)
        struct.pack_into("<I", b.b, at + 7, start + len(b.b))
        b.b += _name("Data")
        b.b += b"\x06" + struct.pack("<I", start + len(b.b) + 5) + _name("Name") + name + b"\x02"
    b.b += content
    b.close()
    b.close()
    if extra is not None:
        b.open("Extra")
        b.b += extra
        b.close()
    b.close()
    return bytes(b.b + b"\x00")


def record(at: int, number: int, content: bytes, name: bytes | None = None, extra: bytes | None = None) -> bytes:
    """The record at chunk offset `at`, its resident template's Data holding `content` (value
    tokens), its Name substitution 3 ("CommandLine") or the value token `name`, and an `<Extra>`
    element holding `extra` after its EventData when given."""
    return record_of(at, number, lambda start: _template(start, content, name, extra), event_values())


def chunk(contents: list[bytes], first: int = 1, name: bytes | None = None, extra: bytes | None = None) -> bytes:
    """A chunk of one record per item of `contents` (the Data's value tokens), numbered from
    `first` (`name`, `extra`: as `record`'s)."""
    data = bytearray()
    for n, content in enumerate(contents):
        data += record(0x200 + len(data), first + n, content, name, extra)
    out = bytearray(CHUNK)
    out[:8] = b"ElfChnk\x00"
    last = first + len(contents) - 1
    struct.pack_into("<QQQQ", out, 8, first, last, first, last)
    struct.pack_into("<III", out, 0x28, 0x80, 0, 0x200 + len(data))
    out[0x200 : 0x200 + len(data)] = data
    return bytes(out)


def literal_log(path: Path, chunks: list[list[bytes]], name: bytes | None = None,
                extra: bytes | None = None) -> Path:
    """A log of one chunk per list of Data contents (records numbered on across chunks;
    `name`, `extra`: as `record`'s)."""
    out: list[bytes] = []
    number = 1
    for contents in chunks:
        out.append(chunk(contents, number, name, extra))
        number += len(contents)
    return build_log(path, out)
