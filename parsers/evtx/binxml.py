"""BinXML, the binary XML inside EVTX records: templates, substitution values, and the plan that
turns one template into `Event` fields.

Why our own decoder: python-evtx builds a tree of node objects for every record and renders it to
XML text that lxml then parses again; that costs a few milliseconds per record. A template is
shared by many records of a chunk, so we parse it once into a small tree (`Elem`), compile that
tree into a `Plan` (which substitution feeds which System field or EventData name), and per
record decode only the substitution values the plan needs.

The output must be exactly what the reference path (python-evtx `record.xml()` + lxml +
`parsers.xml_to_event.event_from_element`) gives, so this module reproduces python-evtx's renderings
(hex widths, SizeT, booleans, GUID case, FILETIME through a float, SYSTEMTIME milliseconds as
microseconds, base64 binary, string arrays) and what XML escaping and lxml do to them (control
characters dropped, line ends normalised, whitespace in attributes turned into spaces).

Every offset, count and size read here comes from an attacker-controlled file: each is checked
against the chunk buffer before use, and anything unexpected raises `BinXmlError` so the caller can
fall back to the reference decoder for that record alone.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

#: Nesting bound for elements and nested BinXML values: real logs nest a few levels; a crafted
#: file must not exhaust the Python stack.
MAX_DEPTH = 48


class BinXmlError(Exception):
    """The fast decoder cannot (or will not) decode this structure; use the reference path."""


class HopelessRecord(BinXmlError):
    """Garbage no decoder can read, and asking python-evtx would be costly: it walks a garbage
    substitution count (billions exist in real files) through the rest of the file."""


# --------------------------------------------------------------------------------------------
# Substitution values
# --------------------------------------------------------------------------------------------

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
_ATTR_WS = str.maketrans({"\t": " ", "\n": " "})

_UNIX_EPOCH_S = 11644473600


def clean(text: str) -> str:
    """Drop the characters the XML round trip of the reference path drops."""
    return _STRIP.sub("", text) if _STRIP.search(text) else text


def _utf16(raw: bytes) -> str:
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
            acc.append(_utf16(frag))
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


# --------------------------------------------------------------------------------------------
# Templates: BinXML fragments parsed into a small element tree
# --------------------------------------------------------------------------------------------

#: A piece of text content or of an attribute value: literal text, or the index of a substitution.
Part = str | int

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_ATTR_NAME_RE = re.compile(r"(?:xmlns:)?[A-Za-z_][A-Za-z0-9_.\-]*\Z")


@dataclass(slots=True)
class Elem:
    """One element: name, attributes (name, value parts) and content (parts and child elements)."""

    name: str
    attrs: list[tuple[str, list[Part]]] = field(default_factory=list)
    content: list[Elem | Part] = field(default_factory=list)


def _name(buf: bytes, string_ofs: int) -> tuple[str, int]:
    """The NameString at chunk offset `string_ofs`, and its size (for names stored inline)."""
    if string_ofs + 8 > len(buf):
        raise BinXmlError("name outside the chunk")
    count = _U16(buf, string_ofs + 6)[0]
    end = string_ofs + 8 + 2 * count
    if end > len(buf):
        raise BinXmlError("name outside the chunk")
    return _utf16(buf[string_ofs + 8 : end]), 8 + 2 * count + 2


def _value_len(buf: bytes, p: int) -> int:
    """Length of the literal value token (0x05) at `p`: everything `_value_token` reads lies in
    `buf[p : p + length]` (so `template_key` can stand for it by these bytes)."""
    if p + 4 > len(buf):
        raise BinXmlError("value outside the chunk")
    vtype = buf[p + 1]
    end: int
    if vtype == T_WSTRING:
        end = p + 4 + 2 * _U16(buf, p + 2)[0]
    elif vtype == T_STRING:
        end = p + 4 + _U16(buf, p + 2)[0]
    elif vtype == 0x0E:  # binary: 32-bit size prefix
        if p + 6 > len(buf):
            raise BinXmlError("value outside the chunk")
        end = p + 6 + _U32(buf, p + 2)[0]
    else:
        width = FIXED_SIZE.get(vtype)
        if vtype == 0x10:  # SizeT without a declared size: 8 bytes
            width = 8
        elif vtype == 0x13:  # SID
            width = 8 + 4 * buf[p + 3]
        if width is None:
            raise BinXmlError(f"literal value of type {vtype:#x}")
        end = p + 2 + width
    if end > len(buf):
        raise BinXmlError("value outside the chunk")
    return end - p


def _value_token(buf: bytes, p: int) -> tuple[str, int]:
    """A literal value (token 0x05): its text and the token's full length. Templates hold
    strings; other types are rendered as python-evtx renders them (length-less variants)."""
    length = _value_len(buf, p)
    vtype = buf[p + 1]
    if vtype == T_WSTRING:
        return clean(_utf16(buf[p + 4 : p + length]).rstrip("\x00")), length
    if vtype == T_STRING:
        return clean(buf[p + 4 : p + length].decode("cp1252", "replace").rstrip("\x00")), length
    if vtype == 0x0E:
        return RENDER[vtype](buf, p + 6, length - 6), length
    return RENDER[vtype](buf, p + 2, length - 2), length


def _element(buf: bytes, p: int, depth: int, literal_only: bool = False) -> tuple[Elem, int]:
    """Parse an element starting at its OpenStartElement token; return it and the end offset."""
    if depth > MAX_DEPTH:
        raise BinXmlError("elements nested too deep")
    if p + 11 > len(buf):
        raise BinXmlError("element outside the chunk")
    flags = buf[p] >> 4
    # Outside templates (records or values stored as plain BinXML) the element header has no
    # 2-byte dependency identifier: token, size, name offset.
    head = 9 if literal_only else 11
    string_ofs = _U32(buf, p + head - 4)[0]
    name, name_len = _name(buf, string_ofs)
    if not _NAME_RE.match(name):
        raise BinXmlError(f"element name {name!r}")
    q = p + head + (4 if flags & 0x04 else 0)
    if string_ofs > p:  # the name is stored inline, right here
        q += name_len
    elem = Elem(name)
    size = len(buf)
    while True:
        if q >= size:
            raise BinXmlError("element runs past the chunk")
        token = buf[q] & 0x0F
        if token == 0x06:  # attribute: name, then its value nodes
            if q + 5 > size:
                raise BinXmlError("attribute outside the chunk")
            a_ofs = _U32(buf, q + 1)[0]
            a_name, a_len = _name(buf, a_ofs)
            if not _ATTR_NAME_RE.match(a_name):
                raise BinXmlError(f"attribute name {a_name!r}")
            q += 5 + (a_len if a_ofs > q else 0)
            parts: list[Part] = []
            # Usually one value node; text with an entity (`a&amp;b`) is value, entity, value.
            while q < size:
                vt = buf[q] & 0x0F
                if vt == 0x05:
                    text, length = _value_token(buf, q)
                    parts.append(text)
                    q += length
                elif vt in (0x0D, 0x0E):
                    if literal_only:
                        raise BinXmlError("substitution outside a template")
                    if q + 4 > size:
                        raise BinXmlError("substitution outside the chunk")
                    parts.append(_U16(buf, q + 1)[0])
                    q += 4
                elif vt in (0x08, 0x09):
                    text, length = _reference(buf, q)
                    parts.append(text)
                    q += length
                else:
                    break
            if q >= size:
                raise BinXmlError("attribute outside the chunk")
            if not parts:
                raise BinXmlError(f"attribute value token {buf[q] & 0x0F:#x}")
            elem.attrs.append((a_name, parts))
        elif token == 0x02:  # close start element
            q += 1
        elif token in (0x03, 0x04):  # close empty element / close element
            return elem, q + 1
        elif token == 0x01:
            child, q = _element(buf, q, depth + 1, literal_only)
            elem.content.append(child)
        elif token == 0x05:
            text, length = _value_token(buf, q)
            elem.content.append(text)
            q += length
        elif token in (0x0D, 0x0E):
            if literal_only:
                raise BinXmlError("substitution outside a template")
            if q + 4 > size:
                raise BinXmlError("substitution outside the chunk")
            elem.content.append(_U16(buf, q + 1)[0])
            q += 4
        elif token in (0x08, 0x09):
            text, length = _reference(buf, q)
            elem.content.append(text)
            q += length
        elif token == 0x0F:
            q += 4
        else:
            raise BinXmlError(f"token {token:#x} inside an element")


#: What lxml makes of the entity references python-evtx writes (`&amp;`...): XML's own five.
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _reference(buf: bytes, p: int) -> tuple[str, int]:
    """An entity reference (token 0x09: a name, `&amp;` in Defender's URLs) or a character
    reference (0x08: `&#x26;`) at `p`, as the character the XML round trip gives, and the
    token's length. A name XML does not define, or a character XML forbids, has no text."""
    if buf[p] & 0x0F == 0x08:
        if p + 3 > len(buf):
            raise BinXmlError("character reference outside the chunk")
        char = chr(_U16(buf, p + 1)[0])
        if not char.isprintable() or 0xD800 <= ord(char) <= 0xDFFF:
            raise BinXmlError(f"character reference {ord(char):#x}")
        return char, 3
    if p + 5 > len(buf):
        raise BinXmlError("entity reference outside the chunk")
    string_ofs = _U32(buf, p + 1)[0]
    name, name_len = _name(buf, string_ofs)
    text = _ENTITIES.get(name)
    if text is None:
        raise BinXmlError(f"entity reference &{name[:40]!r};")
    return text, 5 + (name_len if string_ofs > p else 0)


def parse_template(buf: bytes, template_ofs: int) -> list[Elem | Part]:
    """The top-level content of the template definition at chunk offset `template_ofs`."""
    if template_ofs + 0x18 > len(buf):
        raise BinXmlError("template outside the chunk")
    data_length = _U32(buf, template_ofs + 0x14)[0]
    p = template_ofs + 0x18
    limit = min(len(buf), p + data_length)
    out: list[Elem | Part] = []
    while p < limit:
        token = buf[p] & 0x0F
        if token == 0x00:
            return out
        if token == 0x0F:
            p += 4
        elif token == 0x01:
            elem, p = _element(buf, p, 0)
            out.append(elem)
        elif token == 0x05:
            text, length = _value_token(buf, p)
            out.append(text)
            p += length
        elif token in (0x0D, 0x0E):
            out.append(_U16(buf, p + 1)[0])
            p += 4
        else:
            raise BinXmlError(f"token {token:#x} at template top level")
    raise BinXmlError("template without end of stream")


def template_key(buf: bytes, template_ofs: int) -> bytes:
    """What `parse_template` makes of the template at `template_ofs`, as bytes, without building
    it: equal keys mean equal trees, whatever chunk (or file) each template sits in.

    Why: every chunk repeats the same few templates at other offsets, their names stored inline
    or as references to strings elsewhere in the chunk, so the raw bytes differ while the tree
    does not. This walk follows `parse_template` and `_element` token for token and writes each
    name's own bytes where the template holds an offset, each literal value's bytes, each
    substitution index and every element boundary; what the parser ignores (dependency ids,
    data sizes, attribute list sizes) stays out. The template GUID is not trusted (files are
    attacker-controlled); only content counts. Raises BinXmlError where the walk cannot be sure.
    """
    return template_walk(buf, template_ofs)[0]


def template_walk(buf: bytes, template_ofs: int) -> tuple[bytes, int, list[int]]:
    """`template_key`, the offset where the walk (and so `parse_template`) stopped reading
    tokens, and the offset of every NameString it read (each read as `buf[ofs + 6 : ofs + 8 +
    2 * count]`): together, everything the parse depends on."""
    if template_ofs + 0x18 > len(buf):
        raise BinXmlError("template outside the chunk")
    p = template_ofs + 0x18
    limit = min(len(buf), p + _U32(buf, template_ofs + 0x14)[0])
    out = bytearray()
    names: list[int] = []
    while p < limit:
        token = buf[p] & 0x0F
        if token == 0x00:
            out += b"."
            return bytes(out), p + 1, names
        if token == 0x0F:
            p += 4
        elif token == 0x01:
            p = _element_key(buf, p, 0, out, names)
        elif token == 0x05:
            p = _value_key(buf, p, out)
        elif token in (0x0D, 0x0E):
            if p + 3 > len(buf):
                raise BinXmlError("substitution outside the chunk")
            out += b"s"
            out += buf[p + 1 : p + 3]
            p += 4
        else:
            raise BinXmlError(f"token {token:#x} at template top level")
    raise BinXmlError("template without end of stream")


_KEY_LEN = struct.Struct("<I").pack


def _name_key(buf: bytes, string_ofs: int, out: bytearray, names: list[int]) -> int:
    """Append the NameString at `string_ofs` (its character count and characters, what `_name`
    reads) and return its inline size, as `_name` does."""
    names.append(string_ofs)
    if string_ofs + 8 > len(buf):
        raise BinXmlError("name outside the chunk")
    end: int = string_ofs + 8 + 2 * _U16(buf, string_ofs + 6)[0]
    if end > len(buf):
        raise BinXmlError("name outside the chunk")
    out += buf[string_ofs + 6 : end]
    return end - string_ofs + 2


def _value_key(buf: bytes, p: int, out: bytearray) -> int:
    length = _value_len(buf, p)
    out += b"v"
    out += _KEY_LEN(length)
    out += buf[p : p + length]
    return p + length


def _substitution_key(buf: bytes, q: int, out: bytearray) -> int:
    """Key a substitution token at `q` (its index, as attribute value or content): past it."""
    if q + 4 > len(buf):
        raise BinXmlError("substitution outside the chunk")
    out += b"s"
    out += buf[q + 1 : q + 3]
    return q + 4


def _element_key(buf: bytes, p: int, depth: int, out: bytearray, names: list[int]) -> int:
    """`_element` (template variant) as key bytes; returns the end offset as `_element` does."""
    if depth > MAX_DEPTH:
        raise BinXmlError("elements nested too deep")
    size = len(buf)
    if p + 11 > size:
        raise BinXmlError("element outside the chunk")
    string_ofs = _U32(buf, p + 7)[0]
    out += b"<"
    name_len = _name_key(buf, string_ofs, out, names)
    q = p + 11 + (4 if buf[p] & 0x40 else 0)
    if string_ofs > p:
        q += name_len
    while True:
        if q >= size:
            raise BinXmlError("element runs past the chunk")
        token = buf[q] & 0x0F
        if token == 0x06:
            if q + 5 > size:
                raise BinXmlError("attribute outside the chunk")
            a_ofs = _U32(buf, q + 1)[0]
            out += b"@"
            a_len = _name_key(buf, a_ofs, out, names)
            q += 5 + (a_len if a_ofs > q else 0)
            start = q
            while q < size:
                vt = buf[q] & 0x0F
                if vt == 0x05:
                    q = _value_key(buf, q, out)
                elif vt in (0x0D, 0x0E):
                    q = _substitution_key(buf, q, out)
                elif vt in (0x08, 0x09):
                    q = _reference_key(buf, q, out, names)
                else:
                    break
            if q >= size:
                raise BinXmlError("attribute outside the chunk")
            if q == start:
                raise BinXmlError(f"attribute value token {buf[q] & 0x0F:#x}")
            out += b"="
        elif token == 0x02:
            q += 1
        elif token in (0x03, 0x04):
            out += b">"
            return q + 1
        elif token == 0x01:
            q = _element_key(buf, q, depth + 1, out, names)
        elif token == 0x05:
            q = _value_key(buf, q, out)
        elif token in (0x0D, 0x0E):
            q = _substitution_key(buf, q, out)
        elif token in (0x08, 0x09):
            q = _reference_key(buf, q, out, names)
        elif token == 0x0F:
            q += 4
        else:
            raise BinXmlError(f"token {token:#x} inside an element")


def _reference_key(buf: bytes, p: int, out: bytearray, names: list[int]) -> int:
    """Key an entity or character reference at `p` (what `_reference` reads): past it."""
    if buf[p] & 0x0F == 0x08:
        if p + 3 > len(buf):
            raise BinXmlError("character reference outside the chunk")
        out += b"#"
        out += buf[p + 1 : p + 3]
        return p + 3
    if p + 5 > len(buf):
        raise BinXmlError("entity reference outside the chunk")
    string_ofs = _U32(buf, p + 1)[0]
    out += b"&"
    name_len = _name_key(buf, string_ofs, out, names)
    return p + 5 + (name_len if string_ofs > p else 0)


class Root:
    """A BinXML root (a record's, or a nested value's): its template and substitution table.
    (A plain slotted class: one is built per record, a frozen dataclass costs twice as much.)"""

    __slots__ = ("offsets", "sizes", "template_ofs", "types")

    def __init__(self, template_ofs: int, types: bytes, sizes: tuple[int, ...], offsets: list[int]) -> None:
        self.template_ofs = template_ofs
        self.types = types  # one byte per substitution
        self.sizes = sizes
        self.offsets = offsets  # one more than substitutions: the end of the last value


_DECL_STRUCTS: dict[int, struct.Struct] = {}
_U32_U32 = struct.Struct("<II").unpack_from


def parse_fragment(buf: bytes, p: int) -> list[Elem | Part] | None:
    """A nested BinXML value stored as plain elements with literal values, without a template
    instance (CAPI2 logs do this for UserData; python-evtx cannot read it): its element tree,
    or None when the value does start with a template instance."""
    if p + 4 > len(buf):
        raise BinXmlError("nested BinXML outside the chunk")
    if buf[p] & 0x0F == 0x0F:
        p += 4
    if p < len(buf) and buf[p] == 0x00:
        return []  # an empty document: end of stream at once (read as nothing, as the Rust parser does)
    if p >= len(buf) or buf[p] & 0x0F != 0x01:
        return None
    elem, _ = _element(buf, p, 0, literal_only=True)
    return [elem]


def parse_root(buf: bytes, p: int, limit: int) -> Root:
    """Locate the template instance and the substitution table of the root at `p`.

    Mirrors python-evtx's RootNode (one optional StreamStart, one TemplateInstance, then a
    resident template definition when the template's offset lies after the instance), with every
    count bounded by `limit` (a garbage count of billions exists in real files).
    """
    if p + 14 > limit:
        raise BinXmlError("root outside the record")
    if buf[p] & 0x0F == 0x0F:
        p += 4
        if p + 14 > limit:
            raise BinXmlError("root outside the record")
    if buf[p] & 0x0F != 0x0C:
        raise BinXmlError("root without a template instance")
    template_ofs, count = _U32_U32(buf, p + 6)  # the count, unless the template is resident
    q = p + 10
    if template_ofs > p:  # resident: the definition follows the instance
        if template_ofs + 0x18 > len(buf):
            raise BinXmlError("template outside the chunk")
        q += 0x18 + _U32(buf, template_ofs + 0x14)[0]
        if q + 4 > limit:
            raise BinXmlError("substitution table outside the record")
        count = _U32(buf, q)[0]
    q += 4
    if q + 4 * count > limit:
        raise HopelessRecord(f"substitution count {count} does not fit the chunk")
    st = _DECL_STRUCTS.get(count)
    if st is None:
        st = struct.Struct("<" + "H2x" * count)
        if len(_DECL_STRUCTS) < 512:
            _DECL_STRUCTS[count] = st
    sizes: tuple[int, ...] = st.unpack_from(buf, q)
    end = q + 4 * count
    return Root(template_ofs, buf[q + 2 : end : 4], sizes, list(accumulate(sizes, initial=end)))


# --------------------------------------------------------------------------------------------
# Plans: which substitution feeds which Event field
# --------------------------------------------------------------------------------------------

#: A compiled value: a literal, a slot (index into the record's decoded values), or a mix.
Spec = str | int | tuple[Part, ...]


def _lead(elem: Elem) -> list[Part]:
    """lxml's `el.text`: the content before the first child element."""
    out: list[Part] = []
    for item in elem.content:
        if isinstance(item, Elem):
            break
        out.append(item)
    return out


def _all_text(elem: Elem, out: list[Part]) -> None:
    """lxml's itertext() inside `elem`: python-evtx ends every element with a newline."""
    for item in elem.content:
        if isinstance(item, Elem):
            _all_text(item, out)
            out.append("\n")
        else:
            out.append(item)


def _text_parts(elem: Elem) -> list[Part]:
    """parsers.xml_to_event._text: el.text when there is no child element, else all the text."""
    if not any(isinstance(item, Elem) for item in elem.content):
        return list(elem.content)  # type: ignore[arg-type]
    out: list[Part] = []
    _all_text(elem, out)
    return out


def _attr(elem: Elem, name: str) -> list[Part] | None:
    for a_name, parts in elem.attrs:
        if a_name == name:
            return parts
    return None


def _first(elem: Elem, name: str) -> Elem | None:
    """First element named `name` in document order, `elem` included (lxml's iter())."""
    if elem.name == name:
        return elem
    for item in elem.content:
        if isinstance(item, Elem):
            found = _first(item, name)
            if found is not None:
                return found
    return None


def _norm_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _norm_attr(text: str) -> str:
    return _norm_text(text).translate(_ATTR_WS)


class _Compiler:
    """Turns parts naming substitution indices into slots of the per-record value list."""

    def __init__(self) -> None:
        self.slots: dict[int, int] = {}

    def spec(self, parts: Sequence[Part] | None, attr: bool = False) -> Spec | None:
        if parts is None:
            return None
        norm = _norm_attr if attr else _norm_text
        merged: list[Part] = []
        for part in parts:
            if isinstance(part, str):
                if merged and isinstance(merged[-1], str):
                    merged[-1] += part
                else:
                    merged.append(part)
            else:
                merged.append(self.slots.setdefault(part, len(self.slots)))
        if not merged:
            return ""
        if len(merged) == 1 and isinstance(merged[0], str):
            return norm(merged[0])
        if len(merged) == 1:
            return merged[0]
        return tuple(merged)


@dataclass(frozen=True, slots=True)
class Plan:
    """Where each Event field comes from, for one template (or one materialised record)."""

    needed: tuple[int, ...]  # global reference ((root id << 16) | index) of each slot
    refs: tuple[tuple[int, int], ...]  # the same as (root id, substitution index)
    event_id: Spec
    record_id: Spec | None
    version: Spec | None
    level: Spec | None
    task: Spec | None
    opcode: Spec | None
    keywords: Spec | None
    channel: Spec | None
    computer: Spec | None
    provider_name: Spec | None
    provider_source: Spec | None
    pid: Spec | None
    tid: Spec | None
    user_sid: Spec | None
    time_attr: Spec | None  # SystemTime of the first TimeCreated in document order
    sys_time_attr: Spec | None  # SystemTime of System's TimeCreated (when no FILETIME matches)
    data_names: tuple[Spec | None, ...]  # None: an EventData child that is not <Data>: see data_tags
    data_tags: tuple[str, ...]
    data_values: tuple[Spec, ...]
    data_is_data: tuple[bool, ...]
    static_names: tuple[str, ...] | None  # all names known at compile time


def compile_plan(top: list[Elem | Part]) -> Plan:
    """Mirror of `event_from_element` over a template tree (parts still name substitutions).

    Raises BinXmlError where lxml or event_from_element would reject the rendered XML.
    """
    roots = [item for item in top if isinstance(item, Elem)]
    for item in top:
        if isinstance(item, int):
            raise BinXmlError("substitution outside the root element")
        if isinstance(item, str) and item.strip(" \t\r\n"):
            raise BinXmlError("text outside the root element")
    if len(roots) != 1:
        raise BinXmlError(f"{len(roots)} root elements")
    root = roots[0]
    system: Elem | None = None
    data_el: Elem | None = None
    for item in root.content:
        if isinstance(item, Elem):
            if item.name == "System":
                system = item
            elif item.name in ("EventData", "UserData") and data_el is None:
                data_el = item
    if system is None:
        raise BinXmlError("no <System> element")
    sysvals: dict[str, Elem] = {}
    for item in system.content:
        if isinstance(item, Elem) and item.name not in sysvals:
            sysvals[item.name] = item
    comp = _Compiler()

    def sys_text(name: str) -> Spec | None:
        el = sysvals.get(name)
        return None if el is None else comp.spec(_lead(el))

    def sys_attr(name: str, attr: str) -> Spec | None:
        el = sysvals.get(name)
        parts = None if el is None else _attr(el, attr)
        return comp.spec(parts, attr=True)

    if "EventID" not in sysvals:
        raise BinXmlError("no <EventID>")
    event_id = sys_text("EventID")
    assert event_id is not None
    tc = _first(root, "TimeCreated")
    time_parts = None if tc is None else _attr(tc, "SystemTime")
    time_attr = comp.spec(time_parts, attr=True)
    names: list[Spec | None] = []
    tags: list[str] = []
    values: list[Spec] = []
    is_data: list[bool] = []
    if data_el is not None:
        container: Elem | None = data_el
        if data_el.name == "UserData":
            inner = [c for c in data_el.content if isinstance(c, Elem)]
            container = inner[0] if inner else None
        if container is not None:
            for child in container.content:
                if not isinstance(child, Elem):
                    continue
                value = comp.spec(_text_parts(child))
                assert value is not None
                values.append(value)
                tags.append(child.name)
                if data_el.name == "EventData" and child.name == "Data":
                    name_parts = _attr(child, "Name")
                    names.append(comp.spec(name_parts, attr=True))
                    is_data.append(True)
                else:
                    names.append(None)
                    is_data.append(False)
    plan_static: tuple[str, ...] | None = None
    if all(n is None or isinstance(n, str) for n in names):
        plan_static = _static_names(names, tags, is_data)
    fields = {
        name: sys_text(tag)
        for name, tag in (
            ("record_id", "EventRecordID"),
            ("version", "Version"),
            ("level", "Level"),
            ("task", "Task"),
            ("opcode", "Opcode"),
            ("keywords", "Keywords"),
            ("channel", "Channel"),
            ("computer", "Computer"),
        )
    }
    provider_name = sys_attr("Provider", "Name")
    provider_source = sys_attr("Provider", "EventSourceName")
    pid = sys_attr("Execution", "ProcessID")
    tid = sys_attr("Execution", "ThreadID")
    user_sid = sys_attr("Security", "UserID")
    sys_time_attr = sys_attr("TimeCreated", "SystemTime")
    # Every spec is compiled by now: the slot numbering is complete.
    needed = tuple(sorted(comp.slots, key=comp.slots.__getitem__))
    return Plan(
        needed=needed,
        refs=tuple((g >> 16, g & 0xFFFF) for g in needed),
        event_id=event_id,
        provider_name=provider_name,
        provider_source=provider_source,
        pid=pid,
        tid=tid,
        user_sid=user_sid,
        time_attr=time_attr,
        sys_time_attr=sys_time_attr,
        data_names=tuple(names),
        data_tags=tuple(tags),
        data_values=tuple(values),
        data_is_data=tuple(is_data),
        static_names=plan_static,
        **fields,
    )


def _static_names(names: Sequence[Spec | None], tags: Sequence[str], is_data: Sequence[bool]) -> tuple[str, ...]:
    """EventData/UserData names as parsers.xml_to_event._data_pairs gives them."""
    out: list[str] = []
    unnamed = 0
    for name, tag, data in zip(names, tags, is_data, strict=True):
        if not data:
            out.append(tag)
        elif name:
            assert isinstance(name, str)
            out.append(name)
        else:
            out.append("Data" if unnamed == 0 else f"Data[{unnamed}]")
            unnamed += 1
    return tuple(out)


def data_names(plan: Plan, vals: Sequence[str]) -> tuple[str, ...]:
    """Names of the data pairs of one record when some Data Name attribute is a substitution."""
    if plan.static_names is not None:
        return plan.static_names
    resolved: list[Spec | None] = []
    for name in plan.data_names:
        resolved.append(None if name is None else attr_value(name, vals))
    return _static_names(resolved, plan.data_tags, plan.data_is_data)


def evaluate(spec: Spec, vals: Sequence[str]) -> str:
    """The text content of a compiled value for one record, as lxml gives it (`vals` holds the
    rendered slot values; line ends are normalised after joining, as the XML parser does)."""
    if isinstance(spec, str):
        return spec
    text = vals[spec] if isinstance(spec, int) else "".join(p if isinstance(p, str) else vals[p] for p in spec)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def attr_value(spec: Spec, vals: Sequence[str]) -> str:
    """An attribute value for one record: lxml also turns tabs and newlines into spaces."""
    if isinstance(spec, str):
        return spec
    text = evaluate(spec, vals)
    return text.translate(_ATTR_WS) if ("\n" in text or "\t" in text) else text


def to_int(text: str | None) -> int | None:
    """parsers.xml_to_event._int: hex with 0x, else decimal, else None. (Decimal first: int()
    ignores surrounding whitespace as the reference's strip() does, and it is the common case.)"""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    text = text.strip()
    if text[:2].lower() != "0x":
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None
