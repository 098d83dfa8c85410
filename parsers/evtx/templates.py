"""BinXML templates and roots: the token stream parsed into a small element tree.

Why: python-evtx builds a tree of node objects for every record and renders it to XML text that
lxml then parses again, a few milliseconds per record. A template is shared by many records of a
chunk, so it is parsed once here into `Elem` trees whose parts name substitution indices
(`parsers.evtx.plan` then compiles the tree); per record only the root (`parse_root`: which
template, and where each substitution value lies) is read.

Every offset, count and size read here comes from an attacker-controlled file: each is checked
against the chunk buffer before use, and anything unexpected raises `BinXmlError`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from itertools import accumulate

from parsers.evtx.errors import BinXmlError, HopelessRecord
from parsers.evtx.values import (
    FIXED_SIZE,
    RENDER,
    T_ARRAY,
    T_NULL,
    T_STRING,
    T_WSTRING,
    T_WSTRINGARRAY,
    VALUE_ERRORS,
    clean,
    literal_stand_in,
    utf16,
)

#: Nesting bound for elements and nested BinXML values: real logs nest a few levels; a crafted
#: file must not exhaust the Python stack.
MAX_DEPTH = 48

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from

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
    return utf16(buf[string_ofs + 8 : end]), 8 + 2 * count + 2


def value_len(buf: bytes, p: int) -> int:
    """Length of the literal value token (0x05) at `p`: everything `_value_token` reads lies in
    `buf[p : p + length]` (so `template_key` can stand for it by these bytes). Each type has
    python-evtx's length-less layout: a count before strings, binary and the string array, the
    type's width for the scalars, nothing for null; an array of another known type is taken to
    be laid out as the string array (a 16-bit byte count: python-evtx has no layout for it)."""
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
    elif vtype == T_NULL:
        end = p + 2
    elif vtype & T_ARRAY and T_WSTRING <= vtype & ~T_ARRAY <= 0x15:
        end = p + 4 + _U16(buf, p + 2)[0]
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


def _value_token(buf: bytes, p: int, where: str) -> tuple[str, int]:
    """A literal value (token 0x05) in `where` (its element or attribute): its text and the
    token's full length. Templates hold strings; other types are rendered as python-evtx renders
    them (length-less variants, `value_len`), null as nothing (python-evtx fails on it). A value
    no renderer accepts (month 13), and an array of another type than the string array (which
    python-evtx cannot read), is a stand-in whose note goes with the tree (`StandIn`): the
    record is kept, with an issue naming it."""
    length = value_len(buf, p)
    vtype = buf[p + 1]
    if vtype == T_WSTRING:
        return clean(utf16(buf[p + 4 : p + length]).rstrip("\x00")), length
    if vtype == T_STRING:
        return clean(buf[p + 4 : p + length].decode("cp1252", "replace").rstrip("\x00")), length
    if vtype == T_NULL:
        return "", length
    if vtype == 0x0E:
        return RENDER[vtype](buf, p + 6, length - 6), length
    where = f"literal value in {where}"
    if vtype & T_ARRAY:
        if vtype != T_WSTRINGARRAY:
            why = "an array as a literal value (python-evtx reads none); read as a string array's bytes"
            return literal_stand_in(buf, vtype, p + 4, length - 4, why, where), length
        ofs, size = p + 4, length - 4
    else:
        ofs, size = p + 2, length - 2
    try:
        return RENDER[vtype](buf, ofs, size), length
    except VALUE_ERRORS as exc:
        return literal_stand_in(buf, vtype, ofs, size, str(exc) or type(exc).__name__, where), length


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
            q = _attribute(buf, q, elem, literal_only)
        elif token == 0x02:  # close start element
            q += 1
        elif token in (0x03, 0x04):  # close empty element / close element
            return elem, q + 1
        elif token == 0x01:
            child, q = _element(buf, q, depth + 1, literal_only)
            elem.content.append(child)
        elif token == 0x05:
            text, length = _value_token(buf, q, f"<{name}>")
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


def _attribute(buf: bytes, q: int, elem: Elem, literal_only: bool) -> int:
    """Parse the attribute at `q` (its name, then its value nodes) into `elem`; return the offset
    past it."""
    size = len(buf)
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
            text, length = _value_token(buf, q, f"{a_name} of <{elem.name}>")
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
    return q


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
            text, length = _value_token(buf, p, "the template")
            out.append(text)
            p += length
        elif token in (0x0D, 0x0E):
            out.append(_U16(buf, p + 1)[0])
            p += 4
        else:
            raise BinXmlError(f"token {token:#x} at template top level")
    raise BinXmlError("template without end of stream")


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

