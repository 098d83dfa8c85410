"""Template content keys: what a template parses to, as bytes, without parsing it.

Why: every chunk repeats the same few templates at other offsets, so builders compiled for one
chunk are shared with every chunk (and file) whose templates have the same content; this walk
is what says "same content" (see `template_key`). It follows `parsers.evtx.templates` token for
token and is bounded the same way (depth, the chunk's bytes).
"""

from __future__ import annotations

import struct

from parsers.evtx.errors import BinXmlError
from parsers.evtx.templates import MAX_DEPTH, value_len

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from

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
    length = value_len(buf, p)
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
            q = _attribute_key(buf, q, out, names)
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


def _attribute_key(buf: bytes, q: int, out: bytearray, names: list[int]) -> int:
    """`_attribute` as key bytes: its name, then its value nodes; returns the offset past it."""
    size = len(buf)
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
    return q


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

