"""BinXML substitution values: their types, and their text as the reference path shows it.

Why this module: the fast decoder's output must be exactly what the reference path (python-evtx
`record.xml()` + lxml + `parsers.xml_to_event.event_from_element`) gives, so each renderer here
reproduces python-evtx's rendering of one value type (hex widths, SizeT, booleans, GUID case,
FILETIME through a float, SYSTEMTIME milliseconds as microseconds, base64 binary, string arrays)
and what XML escaping and lxml do to it (control characters dropped).

Every offset and size comes from an attacker-controlled file: reads are checked against the
chunk buffer (or fail as `struct.error`), and anything unexpected raises `BinXmlError` so the
caller can fall back to the reference decoder for that record alone.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
import struct
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


#: Fixed width of each scalar type: python-evtx reads this many bytes whatever the declared size,
#: and rejects the record when the two differ by more than 4.
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
    width = 4 if size == 4 else 8
    if ofs < 0 or ofs + width > len(buf):
        raise BinXmlError("substitution value outside the chunk")
    return str(_U32(buf, ofs)[0] if width == 4 else _U64(buf, ofs)[0])


_SID_SUBS = [struct.Struct(f"<{n}I") for n in range(256)]


def _r_sid(buf: bytes, ofs: int, size: int) -> str:
    version, count, high, low = _SID_HEAD(buf, ofs)
    if abs(size - (8 + 4 * count)) > 4:
        raise BinXmlError("bad SID size")
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
    """A scalar: python-evtx reads `width` bytes whatever the declared size, and rejects the
    record when the two differ by more than 4. (Reads past the chunk raise struct.error.)"""

    def run(buf: bytes, ofs: int, size: int) -> str:
        if size != width and abs(size - width) > 4:
            raise BinXmlError(f"substitution size {size} for a {width}-byte value")
        return render(buf, ofs)

    return run


def _r_u8(buf: bytes, ofs: int, size: int) -> str:
    if size != 1 and size > 5:
        raise BinXmlError(f"substitution size {size} for a 1-byte value")
    return str(buf[ofs])


def _r_u16(buf: bytes, ofs: int, size: int) -> str:
    if size != 2 and size > 6:
        raise BinXmlError(f"substitution size {size} for a 2-byte value")
    return str(_U16(buf, ofs)[0])


def _r_u32(buf: bytes, ofs: int, size: int) -> str:
    if size != 4 and size > 8:
        raise BinXmlError(f"substitution size {size} for a 4-byte value")
    return str(_U32(buf, ofs)[0])


def _r_u64(buf: bytes, ofs: int, size: int) -> str:
    if size != 8 and abs(size - 8) > 4:
        raise BinXmlError(f"substitution size {size} for an 8-byte value")
    return str(_U64(buf, ofs)[0])


def _r_hex32(buf: bytes, ofs: int, size: int) -> str:
    if size != 4 and size > 8:
        raise BinXmlError(f"substitution size {size} for a 4-byte value")
    return f"0x{_U32(buf, ofs)[0]:08x}"


def _r_hex64(buf: bytes, ofs: int, size: int) -> str:
    if size != 8 and abs(size - 8) > 4:
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
