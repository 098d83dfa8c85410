"""The fast EVTX record decoder for one chunk: each record shape compiled once per process.

A chunk (64 KiB) is self-contained: its templates and name strings live inside it, at offsets
that differ from chunk to chunk, so a `ChunkDecoder` over the chunk's bytes finds each record's
shape (its template, the templates of its nested BinXML values, and the types of its
substitutions) by offset. The shape is compiled into a straight-line Python builder
(`parsers.evtx.codegen`) once per process, not once per chunk: templates are reduced to content
ids (`parsers.evtx.canon`), and builders are shared by every chunk (and file) whose templates
have the same content. Records whose nested values are plain BinXML fragments are materialised
into an element tree first (`parsers.evtx.trees`; still no python-evtx objects); anything the
decoder does not understand raises `BinXmlError`, and `parsers.evtx.decoder` then asks the
reference decoder (python-evtx) for that record alone.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import accumulate

from core.model.event import Event, make_event
from core.model.rows import EventRow
from parsers.evtx import canon
from parsers.evtx.canon import ShapeKey, content_id
from parsers.evtx.codegen import codegen
from parsers.evtx.errors import BinXmlError, HopelessRecord
from parsers.evtx.interpret import Builder, EventTuple, build_event
from parsers.evtx.pieces import PiecePostings, encode_one
from parsers.evtx.plan import compile_plan
from parsers.evtx.templates import _DECL_STRUCTS, _U32_U32, MAX_DEPTH, Root, parse_fragment, parse_root
from parsers.evtx.trees import MAX_TEMPLATES, ChunkLimit, RecordTrees
from parsers.evtx.values import FIXED_SIZE, T_BXML, type_name

_U64 = struct.Struct("<Q").unpack_from

#: Nested BinXML roots in one record: real records have one or two; a crafted one could hold
#: thousands (each costs a parse and a share of the shape key).
MAX_ROOTS = 1024


class _Fragment(Exception):
    """A nested value is a plain BinXML fragment: the record has no reusable shape."""


class ChunkDecoder:
    """Decodes the records of one chunk; `buf` is the chunk's 64 KiB.

    Most Windows logs wrap the event-specific part (EventData/UserData) as a nested BinXML value
    inside a generic System template, so a record's shape is its template plus the templates of
    its nested values (and the types of their substitutions): that combination is compiled once
    into a Plan whose slots name (nested root, substitution index) pairs, then into a builder.
    Builders are looked up by offsets within the chunk first, then by content across chunks.
    """

    __slots__ = ("_canon", "_fast", "_plans", "_trees", "buf")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self._trees = RecordTrees(buf)
        self._plans: dict[ShapeKey, Builder | BinXmlError] = {}
        self._canon: dict[int, int | None] = {}  # template offset -> content id (None: unshared)
        self._fast: dict[ShapeKey, Callable[..., EventRow] | None] = {}  # shape -> its builder's `fast`

    def _canon_id(self, template_ofs: int) -> int | None:
        """The process-wide id of the template's content (`canon.content_id`), remembered for
        the chunk; None when it cannot be shared (the shape is then compiled for this chunk)."""
        if template_ofs in self._canon:
            return self._canon[template_ofs]
        if len(self._canon) >= MAX_TEMPLATES:
            raise ChunkLimit("too many templates in one chunk")
        cid = content_id(self.buf, template_ofs)
        self._canon[template_ofs] = cid
        return cid

    def _global_key(self, key: ShapeKey) -> ShapeKey | None:
        """`key` with template offsets replaced by content ids; None if one cannot be shared."""
        cid = self._canon_id(key[0])
        if cid is None:
            return None
        parts: list[object] = [cid, key[1]]
        for index, nested in key[2:]:
            inner = self._global_key(nested)
            if inner is None:
                return None
            parts.append((index, inner))
        return tuple(parts)

    def _key(self, root: Root, roots: list[Root], links: dict[int, int], depth: int) -> ShapeKey:
        """Shape key of `root`; appends every nested root to `roots` (depth first, in
        substitution order) and records in `links` which global reference each one replaces."""
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        types = root.types
        i = types.find(T_BXML)
        if i < 0:
            return (root.template_ofs, types)
        me = len(roots) - 1
        parts: list[object] = [root.template_ofs, types]
        buf = self.buf
        while i >= 0:
            if root.sizes[i] == 0:
                raise BinXmlError("empty nested BinXML")
            ofs = root.offsets[i]
            first = buf[ofs + (4 if buf[ofs] & 0x0F == 0x0F else 0)]
            if first & 0x0F == 0x01 or first == 0x00:  # elements, or an empty document
                raise _Fragment()
            nested = parse_root(buf, ofs, len(buf))
            roots.append(nested)
            if len(roots) > MAX_ROOTS:
                raise HopelessRecord(f"more than {MAX_ROOTS} nested BinXML values")
            links[(me << 16) | i] = len(roots) - 1
            parts.append((i, self._key(nested, roots, links, depth + 1)))
            i = types.find(T_BXML, i + 1)
        return tuple(parts)

    def _compile(self, roots: list[Root], links: dict[int, int]) -> Builder:
        plan = compile_plan(self._trees.spliced([r.template_ofs for r in roots], links))
        return codegen(plan, [r.types for r in roots])

    def _decode_literal(self, root: Root, record_number: int, source: int, locator: int) -> EventTuple:
        """Records whose nested values are plain BinXML fragments (no template, literal values):
        every value is spliced in as text and a plan is compiled for this record alone."""
        plan = compile_plan(self._trees.literal(root))
        return build_event(plan, [], root, self.buf, record_number, source, locator)

    def decode(self, rel: int, source: int, locator: int) -> Event:
        """The Event of the record at chunk offset `rel` (raises BinXmlError, or anything
        unexpected on garbage, in which case the caller falls back)."""
        return make_event(*self.decode_tuple(rel, source, locator))

    def decode_tuple(self, rel: int, source: int, locator: int) -> EventTuple:
        """`decode`, as the Event's fields in declaration order."""
        buf = self.buf
        record_number = _U64(buf, rel + 8)[0]
        if buf[rel + 28] & 0x0F != 0x0C and buf[rel + 24] & 0x0F != 0x0C:
            fragment = parse_fragment(buf, rel + 24)
            if fragment is not None:  # a record stored without a template
                literal = compile_plan(fragment)
                return build_event(literal, [], Root(0, b"", (), []), buf, record_number, source, locator)
        root = parse_root(buf, rel + 24, len(buf))
        roots = [root]
        links: dict[int, int] = {}
        types = root.types
        if T_BXML in types:
            try:
                key = self._key(root, roots, links, 0)
            except _Fragment:
                return self._decode_literal(root, record_number, source, locator)
        else:
            key = (root.template_ofs, types)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key, roots, links)
        if isinstance(plan, BinXmlError):
            raise plan
        return plan(buf, roots, record_number, source, locator)

    def encode_row(self, rel: int, source: int, locator: int, sid: int, postings: PiecePostings) -> EventRow:
        """`decode_tuple` as the event's store row (`core.model.rows`, id `sid`), its EventData pairs
        added to `postings` by their marshal pieces (`parsers.evtx.pieces`): the generated
        encoder goes from the bytes to the row directly.

        The usual record (a template instance, not resident, whose one nested value, if any, is
        a template instance without nested values of its own, of a shape met before in this
        chunk) is read here in line, without Root objects, as `parse_root` would read it, and
        handed to the builder's `fast` entry; anything else takes `_encode_roots`."""
        buf = self.buf
        n = len(buf)
        p = rel + 24
        if p + 18 <= n:
            if buf[p] & 0x0F == 0x0F:
                p += 4
            if buf[p] & 0x0F == 0x0C:
                tofs, count = _U32_U32(buf, p + 6)
                q = p + 14
                end = q + 4 * count
                st = _DECL_STRUCTS.get(count)
                if tofs <= p and end <= n and st is not None:
                    s0 = st.unpack_from(buf, q)
                    t0 = buf[q + 2 : end : 4]
                    o0 = list(accumulate(s0, initial=end))
                    i = t0.find(T_BXML)
                    s1 = o1 = None
                    key: ShapeKey | None = None
                    if i < 0:
                        key = (tofs, t0)
                    elif t0.find(T_BXML, i + 1) < 0 and s0[i] and (p1 := o0[i]) + 18 <= n:
                        if buf[p1] & 0x0F == 0x0F:
                            p1 += 4
                        if buf[p1] & 0x0F == 0x0C:
                            tofs1, count1 = _U32_U32(buf, p1 + 6)
                            q1 = p1 + 14
                            end1 = q1 + 4 * count1
                            st = _DECL_STRUCTS.get(count1)
                            if tofs1 <= p1 and end1 <= n and st is not None:
                                s1 = st.unpack_from(buf, q1)
                                t1 = buf[q1 + 2 : end1 : 4]
                                if T_BXML not in t1:
                                    o1 = list(accumulate(s1, initial=end1))
                                    key = (tofs, t0, (i, (tofs1, t1)))
                    fast = self._fast.get(key) if key is not None else None
                    if fast is not None:
                        return fast(buf, o0, s0, o1, s1, _U64(buf, rel + 8)[0], source, locator, sid, postings)
        return self._encode_roots(rel, source, locator, sid, postings)

    def _encode_roots(self, rel: int, source: int, locator: int, sid: int, postings: PiecePostings) -> EventRow:
        """`encode_row` through `parse_root` and the builder's `encode` (and the shape's plan
        made, or found, on the way)."""
        buf = self.buf
        if buf[rel + 28] & 0x0F != 0x0C and buf[rel + 24] & 0x0F != 0x0C:
            return encode_one(sid, postings, self.decode_tuple(rel, source, locator))
        record_number = _U64(buf, rel + 8)[0]
        root = parse_root(buf, rel + 24, len(buf))
        types = root.types
        i = types.find(T_BXML)
        if i < 0:
            roots = [root]
            links: dict[int, int] = {}
            key: ShapeKey = (root.template_ofs, types)
        else:
            # Usually one nested value (EventData in a System template) without nested values of
            # its own: `_key`'s answer, in line. Anything else goes through `_key`.
            ofs = root.offsets[i]
            nested = None
            if (
                types.find(T_BXML, i + 1) < 0
                and root.sizes[i]
                and buf[ofs + (4 if buf[ofs] & 0x0F == 0x0F else 0)] & 0x0F == 0x0C
            ):
                nested = parse_root(buf, ofs, len(buf))
            if nested is not None and T_BXML not in nested.types:
                roots = [root, nested]
                links = {i: 1}
                key = (root.template_ofs, types, (i, (nested.template_ofs, nested.types)))
            else:
                roots = [root]
                links = {}
                try:
                    key = self._key(root, roots, links, 0)
                except _Fragment:
                    return encode_one(sid, postings, self._decode_literal(root, record_number, source, locator))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key, roots, links)
        if isinstance(plan, BinXmlError):
            raise plan
        if len(roots) <= 2:
            self._fast[key] = getattr(plan, "fast", None)
        row: EventRow = plan.encode(buf, roots, record_number, source, locator, sid, postings)  # type: ignore[attr-defined]
        return row

    def _plan(self, key: ShapeKey, roots: list[Root], links: dict[int, int]) -> Builder | BinXmlError:
        """The builder of a shape not seen in this chunk yet: shared with another chunk whose
        templates have the same content, or compiled (and shared) now."""
        if len(self._plans) >= MAX_TEMPLATES:
            raise ChunkLimit("too many shapes in one chunk")
        shared = self._global_key(key)
        plan = None if shared is None else canon.SHAPES.get(shared)
        if plan is None:
            try:
                plan = self._compile(roots, links)
            except ChunkLimit:
                raise
            except BinXmlError as exc:
                plan = exc
            if shared is not None and len(canon.SHAPES) < canon.MAX_SHAPES:
                canon.SHAPES[shared] = plan
        self._plans[key] = plan
        return plan


def suspect_values(buf: bytes, rel: int) -> list[str]:
    """The values of the record at chunk offset `rel` whose declared size contradicts their
    type (a uint32 of 3 bytes, a SizeT of 5, a SID whose size is not its sub-authorities'),
    each named as "substitution I (type, N bytes; W expected)", in the record's root and its
    nested template instances (bounded: `MAX_ROOTS` roots, `MAX_DEPTH` deep).

    Why: python-evtx reads such a value at its type's width whatever its declared size (within
    4 bytes), so a uint32 of 3 bytes takes a byte of the next value, an EventID of none the
    next value's first two bytes: its rendering of a record holding one is silently wrong (the
    fallback of `parsers.evtx.decoder` refuses it). Never raises: garbage ends the scan."""
    found: list[str] = []
    todo: list[tuple[int, int, str]] = [(rel + 24, 0, "")]
    roots = 0
    while todo and roots < MAX_ROOTS:
        p, depth, where = todo.pop()
        roots += 1
        try:
            root = parse_root(buf, p, len(buf))
        except Exception:  # noqa: BLE001 - garbage: nothing more to check here
            continue
        for i, vtype in enumerate(root.types):
            size = root.sizes[i]
            want = _expected_size(buf, vtype, root.offsets[i], size)
            if want is not None and size != want:
                found.append(f"substitution {i}{where} ({type_name(vtype)}, {size} bytes; {want} expected)")
            elif vtype == T_BXML and size and depth < MAX_DEPTH:
                ofs = root.offsets[i]
                if ofs < len(buf) and buf[ofs + (4 if buf[ofs] & 0x0F == 0x0F else 0) : ][:1] not in (b"", b"\x00"):
                    todo.append((ofs, depth + 1, f" of nested value {roots}"))
    return found[:8]


def _expected_size(buf: bytes, vtype: int, ofs: int, size: int) -> int | None:
    """The size a value of type `vtype` at `ofs` must have (None: any size)."""
    width = FIXED_SIZE.get(vtype)
    if width is not None:
        return width
    if vtype == 0x10:  # SizeT: 4 or 8 bytes
        return size if size in (4, 8) else 8
    if vtype == 0x13:  # SID: 8 bytes and 4 per sub-authority
        return 8 + 4 * buf[ofs + 1] if 0 <= ofs and ofs + 2 <= len(buf) else 8
    return None
