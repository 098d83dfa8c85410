"""BinXML substitution values: their types, and their text as the reference path shows it.

Why this module: the fast decoder's output must be exactly what the reference path (python-evtx
`record.xml()` + lxml + `parsers.xml_to_event.event_from_element`) gives, so each renderer here
reproduces python-evtx's rendering of one value type (hex widths, SizeT, booleans, GUID case,
FILETIME through a float, SYSTEMTIME milliseconds as microseconds, base64 binary, string arrays)
and what XML escaping and lxml do to it (control characters dropped).

Arrays of the scalar types, which python-evtx cannot read, render as their items joined with
commas (as Windows and the Rust parser show them).

Every offset and size comes from an attacker-controlled file: reads are checked against the
chunk buffer (or fail as `struct.error`), and a renderer raises `BinXmlError` on anything
unexpected. A bad value costs only itself: the plan interpreter shows `stand_in` (its type, size
and first bytes) in its place and notes why in `value_notes`, which the chunk decoder turns into
the record's parse issue. `MAX_RECORD_CHARS` bounds what one record expands to.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
import struct
import threading
from collections.abc import Callable

from parsers.evtx.errors import BinXmlError

T_NULL = 0x00
T_WSTRING = 0x01
T_STRING = 0x02
T_FILETIME = 0x11
T_BXML = 0x21
T_WSTRINGARRAY = 0x81

_U8 = struct.Struct("<B").unpack_from
_I8 = struct.Struct("<b").unpack_from
_U16 = struct.Struct("<H").unpack_from
_I16 = struct.Struct("<h").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_I64 = struct.Struct("<q").unpack_from
_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from
_GUID = struct.Struct("<IHH").unpack_from
_SYSTEMTIME = struct.Struct("<8H").unpack_from
_SID_HEAD = struct.Struct(">BBIH").unpack_from

#: What python-evtx's escape_value() strips (after turning non-ASCII into character references,
#: so only these ASCII controls remain), plus NUL, which makes lxml reject the record: we drop it.
_STRIP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")

_UNIX_EPOCH_S = 11644473600

#: Characters one record's fields may add up to: the limit of the other inputs' records
#: (`parsers.eventxml.MAX_EVENT_CHARS`, `parsers.jsonrecords.MAX_RECORD_CHARS`). An EVTX record
#: lives in a 64 KiB chunk, but its template may name a substitution thousands of times; past
#: this, the record is a parse issue (`parsers.evtx.plan.check_size`).
MAX_RECORD_CHARS = 8 * 1024 * 1024


def clean(text: str) -> str:
    """Drop the characters the XML round trip of the reference path drops."""
    return _STRIP.sub("", text) if _STRIP.search(text) else text


def utf16(raw: bytes) -> str:
    """Decode UTF-16 the way python-evtx does (`bytes.decode("utf16")`: a leading BOM selects the
    byte order and is consumed), but never fail: a lone surrogate becomes U+FFFD where
    python-evtx raises UnicodeDecodeError and loses the record."""
    try:
        return raw.decode("utf-16")
    except UnicodeDecodeError:
        return raw.decode("utf-16", "replace")


def render_filetime(ticks: int) -> str:
    """python-evtx's FILETIME rendering, float rounding included (it is what its XML shows)."""
    if ticks == 0:
        return "0001-01-01 00:00:00"
    try:
        when = _dt.datetime.fromtimestamp(float(ticks) * 1e-7 - _UNIX_EPOCH_S, _dt.UTC)
    except (ValueError, OSError):
        return "0001-01-01 00:00:00"
    except OverflowError as exc:  # python-evtx does not catch it: the record is lost there
        raise BinXmlError("FILETIME out of range") from exc
    return when.isoformat(" ")


def _wstring_array(raw: bytes) -> str:
    """python-evtx's WstringArrayTypeNode.string(), step for step (its quirks are the oracle)."""
    acc: list[str] = []
    while len(raw) > 0:
        match = re.search(b"((?:[^\x00].)+)", raw)
        if match:
            frag = match.group()
            acc.append("<string>")
            acc.append(utf16(frag))
            acc.append("</string>\n")
            raw = raw[len(frag) + 2 :]
            if len(raw) == 0:
                break
        nulls = re.search(b"(\x00*)", raw)
        run = nulls.group() if nulls else b""
        if len(run) % 2:
            raise BinXmlError("uneven run of NULs in string array")
        acc.extend("<string></string>\n" for _ in range(len(run) // 2))
        raw = raw[len(run) :]
        if not match and not run:
            raise BinXmlError("string array does not progress")
    return "".join(acc)


#: Fixed width of each scalar type. python-evtx reads this many bytes whatever the declared size
#: (into the next value's bytes when it is 1-4 short) and rejects the record when the two differ
#: by more than 4. Here a value up to 4 bytes longer is read as python-evtx does (real logs have
#: them); a shorter or longer one is a bad value (`stand_in`).
FIXED_SIZE: dict[int, int] = {
    0x03: 1,
    0x04: 1,
    0x05: 2,
    0x06: 2,
    0x07: 4,
    0x08: 4,
    0x09: 8,
    0x0A: 8,
    0x0B: 4,
    0x0C: 8,
    0x0D: 4,
    0x0F: 16,
    0x11: 8,
    0x12: 16,
    0x14: 4,
    0x15: 8,
}


def render_value(buf: bytes, vtype: int, ofs: int, size: int) -> str:
    """The text of one substitution value as the reference path ends up with it.

    Raises BinXmlError for nested BinXML (the caller splices it), unknown types, and any read
    outside `buf`.
    """
    render = RENDER.get(vtype)
    if render is None:
        if vtype == T_BXML:
            raise BinXmlError("nested BinXML is spliced, not rendered as text")
        raise BinXmlError(f"unsupported substitution type {vtype:#x}")
    return render(buf, ofs, size)


def _r_wstring(buf: bytes, ofs: int, size: int) -> str:
    raw = buf[ofs : ofs + (size & ~1)]
    if len(raw) != size & ~1:
        raise BinXmlError("substitution value outside the chunk")
    try:
        text = raw.decode("utf-16").rstrip("\x00")
    except UnicodeDecodeError:
        text = raw.decode("utf-16", "replace").rstrip("\x00")
    return _STRIP.sub("", text) if _STRIP.search(text) else text


def _r_string(buf: bytes, ofs: int, size: int) -> str:
    raw = buf[ofs : ofs + size]
    if len(raw) != size or ofs < 0:
        raise BinXmlError("substitution value outside the chunk")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:  # python-evtx loses the record; Windows' ANSI code page is likelier
        text = raw.decode("cp1252", "replace")
    return clean(text.rstrip("\x00"))


def _r_binary(buf: bytes, ofs: int, size: int) -> str:
    raw = buf[ofs : ofs + size]
    if len(raw) != size or ofs < 0:
        raise BinXmlError("substitution value outside the chunk")
    return base64.b64encode(raw).decode("ascii")


def _r_size(buf: bytes, ofs: int, size: int) -> str:
    """SizeT: 4 bytes when declared so, else 8 (python-evtx)."""
    if not (size == 4 or 8 <= size <= 12):
        raise BinXmlError(f"substitution size {size} for a 4- or 8-byte value")
    width = 4 if size == 4 else 8
    if ofs < 0 or ofs + width > len(buf):
        raise BinXmlError("substitution value outside the chunk")
    return str(_U32(buf, ofs)[0] if width == 4 else _U64(buf, ofs)[0])


_SID_SUBS = [struct.Struct(f"<{n}I") for n in range(256)]


def _r_sid(buf: bytes, ofs: int, size: int) -> str:
    version, count, high, low = _SID_HEAD(buf, ofs)
    if not 8 + 4 * count <= size <= 12 + 4 * count:  # shorter: python-evtx over-reads
        raise BinXmlError(f"SID of {count} sub-authorities in {size} bytes")
    subs = _SID_SUBS[count].unpack_from(buf, ofs + 8)
    head = f"S-{version}-{(high << 16) ^ low}"
    return head + "-" + "-".join(map(str, subs)) if subs else head


def _r_wstring_array(buf: bytes, ofs: int, size: int) -> str:
    raw = buf[ofs : ofs + size]
    if len(raw) != size or ofs < 0:
        raise BinXmlError("substitution value outside the chunk")
    return clean(_wstring_array(raw))


def _r_null(buf: bytes, ofs: int, size: int) -> str:
    return ""


def _fixed(width: int, render: Callable[[bytes, int], str]) -> Callable[[bytes, int, int], str]:
    """A scalar of `width` bytes, declared up to 4 bytes longer (reads past the chunk raise
    struct.error)."""

    def run(buf: bytes, ofs: int, size: int) -> str:
        if not width <= size <= width + 4:  # shorter: python-evtx over-reads the next value
            raise BinXmlError(f"substitution size {size} for a {width}-byte value")
        return render(buf, ofs)

    return run


def _r_u8(buf: bytes, ofs: int, size: int) -> str:
    if not 1 <= size <= 5:
        raise BinXmlError(f"substitution size {size} for a 1-byte value")
    return str(buf[ofs])


def _r_u16(buf: bytes, ofs: int, size: int) -> str:
    if not 2 <= size <= 6:
        raise BinXmlError(f"substitution size {size} for a 2-byte value")
    return str(_U16(buf, ofs)[0])


def _r_u32(buf: bytes, ofs: int, size: int) -> str:
    if not 4 <= size <= 8:
        raise BinXmlError(f"substitution size {size} for a 4-byte value")
    return str(_U32(buf, ofs)[0])


def _r_u64(buf: bytes, ofs: int, size: int) -> str:
    if not 8 <= size <= 12:
        raise BinXmlError(f"substitution size {size} for an 8-byte value")
    return str(_U64(buf, ofs)[0])


def _r_hex32(buf: bytes, ofs: int, size: int) -> str:
    if not 4 <= size <= 8:
        raise BinXmlError(f"substitution size {size} for a 4-byte value")
    return f"0x{_U32(buf, ofs)[0]:08x}"


def _r_hex64(buf: bytes, ofs: int, size: int) -> str:
    if not 8 <= size <= 12:
        raise BinXmlError(f"substitution size {size} for an 8-byte value")
    return f"0x{_U64(buf, ofs)[0]:016x}"


def _guid(buf: bytes, ofs: int) -> str:
    d1, d2, d3 = _GUID(buf, ofs)
    return f"{{{d1:08x}-{d2:04x}-{d3:04x}-{buf[ofs + 8 : ofs + 10].hex()}-{buf[ofs + 10 : ofs + 16].hex()}}}"


def _systemtime(buf: bytes, ofs: int) -> str:
    p = _SYSTEMTIME(buf, ofs)
    try:  # python-evtx passes the milliseconds as microseconds: its rendering is the oracle
        return _dt.datetime(p[0], p[1], p[3], p[4], p[5], p[6], p[7]).isoformat(" ")
    except ValueError as exc:
        raise BinXmlError("invalid SYSTEMTIME") from exc


_FIXED_RENDER: dict[int, Callable[[bytes, int], str]] = {
    0x03: lambda b, o: str(_I8(b, o)[0]),
    0x04: lambda b, o: str(b[o]),
    0x05: lambda b, o: str(_I16(b, o)[0]),
    0x06: lambda b, o: str(_U16(b, o)[0]),
    0x07: lambda b, o: str(_I32(b, o)[0]),
    0x08: lambda b, o: str(_U32(b, o)[0]),
    0x09: lambda b, o: str(_I64(b, o)[0]),
    0x0A: lambda b, o: str(_U64(b, o)[0]),
    0x0B: lambda b, o: str(_F32(b, o)[0]),
    0x0C: lambda b, o: str(_F64(b, o)[0]),
    0x0D: lambda b, o: "True" if _I32(b, o)[0] > 0 else "False",
    0x0F: _guid,
    0x11: lambda b, o: render_filetime(_U64(b, o)[0]),
    0x12: _systemtime,
    0x14: lambda b, o: f"0x{_U32(b, o)[0]:08x}",
    0x15: lambda b, o: f"0x{_U64(b, o)[0]:016x}",
}

#: Renderer of each substitution type python-evtx knows (nested BinXML excepted).
RENDER: dict[int, Callable[[bytes, int, int], str]] = {
    T_NULL: _r_null,
    T_WSTRING: _r_wstring,
    T_STRING: _r_string,
    0x0E: _r_binary,
    0x10: _r_size,
    0x13: _r_sid,
    T_WSTRINGARRAY: _r_wstring_array,
    **{vtype: _fixed(FIXED_SIZE[vtype], render) for vtype, render in _FIXED_RENDER.items()},
    # the common ones, without the generic wrapper
    0x04: _r_u8,
    0x06: _r_u16,
    0x08: _r_u32,
    0x0A: _r_u64,
    0x14: _r_hex32,
    0x15: _r_hex64,
}


# -- arrays ----------------------------------------------------------------------------------
# python-evtx knows no array type but the wide string array (the record is lost there); Windows
# and the Rust parser render an array as its items' texts joined with commas, each item as the
# scalar type renders it (hex widths, GUID braces, SIDs, times). Both string arrays keep the
# wide string array's rendering (one `<string>` per item), so they read alike whatever their
# encoding. A size that is not a whole number of items is a bad value (`stand_in`).

T_ARRAY = 0x80


def _in_chunk(buf: bytes, ofs: int, size: int) -> None:
    if ofs < 0 or size < 0 or ofs + size > len(buf):
        raise BinXmlError("substitution value outside the chunk")


def _fixed_array(width: int, item: Callable[[bytes, int], str]) -> Callable[[bytes, int, int], str]:
    def run(buf: bytes, ofs: int, size: int) -> str:
        _in_chunk(buf, ofs, size)
        if size % width:
            raise BinXmlError(f"array of {size} bytes is not a whole number of {width}-byte items")
        return ",".join([item(buf, o) for o in range(ofs, ofs + size, width)])

    return run


def _r_sid_array(buf: bytes, ofs: int, size: int) -> str:
    _in_chunk(buf, ofs, size)
    out: list[str] = []
    end = ofs + size
    while ofs < end:
        if ofs + 8 > end:
            raise BinXmlError("SID array ends inside a SID")
        width = 8 + 4 * buf[ofs + 1]
        if ofs + width > end:
            raise BinXmlError("SID array ends inside a SID")
        out.append(_r_sid(buf, ofs, width))
        ofs += width
    return ",".join(out)


def _r_sizet_array(buf: bytes, ofs: int, size: int) -> str:
    """SizeT items: 8 bytes each (a 64-bit writer), 4 when only that divides the size."""
    width = 8 if size % 8 == 0 else 4
    return _fixed_array(width, lambda b, o: str(_U64(b, o)[0] if width == 8 else _U32(b, o)[0]))(buf, ofs, size)


def _r_string_array(buf: bytes, ofs: int, size: int) -> str:
    """ANSI strings, each ended by a NUL: as the wide string array shows its items."""
    _in_chunk(buf, ofs, size)
    raw = buf[ofs : ofs + size]
    items = raw.split(b"\x00")
    if items and items[-1] == b"":
        items.pop()
    out = []
    for item in items:
        try:
            text = item.decode("ascii")
        except UnicodeDecodeError:
            text = item.decode("cp1252", "replace")
        out.append(f"<string>{text}</string>\n")
    return clean("".join(out))


def _r_binary_array(buf: bytes, ofs: int, size: int) -> str:
    return _r_binary(buf, ofs, size)


_ARRAY_RENDER: dict[int, Callable[[bytes, int, int], str]] = {
    T_ARRAY | T_STRING: _r_string_array,
    T_ARRAY | 0x0E: _r_binary_array,
    T_ARRAY | 0x10: _r_sizet_array,
    T_ARRAY | 0x13: _r_sid_array,
    **{T_ARRAY | vtype: _fixed_array(FIXED_SIZE[vtype], render) for vtype, render in _FIXED_RENDER.items()},
}
RENDER.update(_ARRAY_RENDER)


# -- bad values ------------------------------------------------------------------------------
# A value no renderer accepts (a GUID of 5 bytes, a truncated SID, month 13, an unknown type)
# costs only itself: the interpreter shows `stand_in` in its place and notes why in this
# thread's `value_notes`; the chunk decoder turns the notes into the record's parse issue
# (the record is kept). Per thread: the app decodes in worker threads.

#: Names of the value types, for notes and stand-ins.
TYPE_NAMES: dict[int, str] = {
    0x00: "null", 0x01: "string", 0x02: "ANSI string", 0x03: "int8", 0x04: "uint8", 0x05: "int16",
    0x06: "uint16", 0x07: "int32", 0x08: "uint32", 0x09: "int64", 0x0A: "uint64", 0x0B: "real32",
    0x0C: "real64", 0x0D: "bool", 0x0E: "binary", 0x0F: "GUID", 0x10: "SizeT", 0x11: "FILETIME",
    0x12: "SYSTEMTIME", 0x13: "SID", 0x14: "hex32", 0x15: "hex64", T_BXML: "BinXML",
}
#: Bytes of a bad value shown in its stand-in (the rest is counted, not shown).
STAND_IN_BYTES = 32
#: Errors a renderer raises on a bad value (reads past the chunk raise struct.error).
VALUE_ERRORS = (BinXmlError, struct.error, LookupError, ValueError, OverflowError)


def type_name(vtype: int) -> str:
    base = TYPE_NAMES.get(vtype & ~T_ARRAY)
    if base is None:
        return f"type {vtype:#04x}"
    return f"{base} array" if vtype & T_ARRAY else base


class _Notes(threading.local):
    def __init__(self) -> None:
        self.items: list[str] = []


_NOTES = _Notes()


def value_notes() -> list[str]:
    """This thread's notes of the bad values replaced in the record being decoded (the same
    list for the thread's life: a decoder takes it once, and after each record turns a
    non-empty list into the record's parse issue and clears it, on failure too)."""
    return _NOTES.items


def bad_values_reason(notes: list[str]) -> str:
    """The parse issue's reason for a record kept with the bad values `notes` name."""
    head = "bad value kept as a stand-in" if len(notes) == 1 else f"{len(notes)} bad values kept as stand-ins"
    return f"{head}: {'; '.join(notes)}"[:300]


def _stand_in_text(buf: bytes, vtype: int, ofs: int, size: int) -> str:
    start = min(max(ofs, 0), len(buf))
    raw = bytes(buf[start : start + max(0, min(size, STAND_IN_BYTES))])
    more = "..." if size > len(raw) else ""
    return f"[bad {type_name(vtype)} value, {size} bytes: {raw.hex()}{more}]"


def stand_in(buf: bytes, vtype: int, ofs: int, size: int, why: str, where: str) -> str:
    """The text shown for a bad value (its first bytes in hex), its note added."""
    _NOTES.items.append(f"{where} ({type_name(vtype)}, {size} bytes): {why}")
    return _stand_in_text(buf, vtype, ofs, size)


class StandIn(str):
    """The stand-in of a bad literal value of a template (a value token, not a substitution),
    with its note. Why not `stand_in`'s note: a template is parsed once and its tree serves every
    record of its shape (in every chunk), so the note travels in the tree to the shape's plan
    (`parsers.evtx.plan.Plan.notes`), which adds it to each record it decodes."""

    note: str


def literal_stand_in(buf: bytes, vtype: int, ofs: int, size: int, why: str, where: str) -> StandIn:
    """`stand_in` for a literal value of a template: the note is kept on the text, not added."""
    text = StandIn(_stand_in_text(buf, vtype, ofs, size))
    text.note = f"{where} ({type_name(vtype)}, {size} bytes): {why}"
    return text


def render_or_stand_in(buf: bytes, vtype: int, ofs: int, size: int, where: str) -> str:
    """`render_value`, but a bad value (or an unknown type) becomes its `stand_in`. Nested
    BinXML still raises: the caller splices it."""
    render = RENDER.get(vtype)
    if render is None:
        if vtype == T_BXML:
            raise BinXmlError("nested BinXML is spliced, not rendered as text")
        return stand_in(buf, vtype, ofs, size, f"unknown value type {vtype:#04x}", where)
    try:
        return render(buf, ofs, size)
    except VALUE_ERRORS as exc:
        return stand_in(buf, vtype, ofs, size, str(exc) or type(exc).__name__, where)
