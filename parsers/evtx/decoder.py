"""The fast EVTX record decoder: one chunk at a time, each record shape compiled once per process.

A chunk (64 KiB) is self-contained: its templates and name strings live inside it, at offsets
that differ from chunk to chunk, so a `ChunkDecoder` over the chunk's bytes finds each record's
shape (its template, the templates of its nested BinXML values, and the types of its
substitutions) by offset. The shape is compiled into a straight-line Python builder once per
process, not once per chunk: every template is reduced to a content key (`binxml.template_key`:
names resolved, offsets left out), and builders are shared by every chunk (and file) whose
templates have the same content. Records whose nested values are plain BinXML fragments are
materialised into an element tree first (still no python-evtx objects); anything the decoder
does not understand raises `BinXmlError`, and `iter_chunk` then asks the reference decoder
(python-evtx) for that record alone.
"""

from __future__ import annotations

import itertools
import marshal
import struct
from collections.abc import Callable, Iterator
from typing import Any, cast

from core.model.event import EVENT_FIELDS, Event, ParseIssue, make_event, parse_time
from core.model.rows import MARSHAL_VERSION, EventRow, Postings, encode_one
from parsers.evtx import reference as ref
from parsers.evtx.binxml import (
    MAX_DEPTH,
    RENDER,
    T_BXML,
    T_FILETIME,
    T_NULL,
    T_WSTRING,
    BinXmlError,
    Elem,
    HopelessRecord,
    Part,
    Plan,
    Root,
    Spec,
    attr_value,
    clean,
    compile_plan,
    data_names,
    evaluate,
    parse_fragment,
    parse_root,
    parse_template,
    render_filetime,
    template_walk,
    to_int,
)
from parsers.evtx.guard import StepBudgetExceeded

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from

#: Templates per chunk are few (tens); a crafted chunk could reference thousands of offsets.
MAX_TEMPLATES = 4096
#: Distinct template contents and compiled shapes remembered across chunks, per process
#: (real logs have tens to hundreds; a crafted file must not grow memory without bound).
MAX_CANON = 4096
MAX_SHAPES = 8192
#: Nested BinXML roots in one record, and template items one record's shape may expand to: a
#: template can name a substitution twice and nested values can reuse the template, so a
#: crafted 1 KiB record doubles per level (2**40 items) where real records expand to hundreds.
MAX_ROOTS = 1024
MAX_EXPANSION = 1 << 17

#: An Event's fields as a plain tuple in declaration order: what builders return and workers ship.
EventTuple = tuple[Any, ...]
_EVENT_FIELDS = EVENT_FIELDS


def as_tuple(event: Event) -> EventTuple:
    """An Event's fields in declaration order (the inverse of `make_event`)."""
    return tuple(getattr(event, name) for name in _EVENT_FIELDS)


class _Fragment(Exception):
    """A nested value is a plain BinXML fragment: the record has no reusable shape."""


class _ChunkLimit(BinXmlError):
    """A per-chunk bound was hit: it says nothing about the shape, so it is never cached for
    other chunks."""


#: A record's shape: (template offset, substitution types, then (substitution index, nested
#: shape) for every nested BinXML value); records with the same shape share one builder. Across
#: chunks the template offsets are replaced by content ids (`_CANON`).
ShapeKey = tuple[Any, ...]

#: Template content key -> id, and canonical shape -> builder (or the error compiling it gave).
_CANON: dict[bytes, int] = {}
_SHAPES: dict[ShapeKey, Builder | BinXmlError] = {}
#: (template offset, raw template bytes) -> (content id, ((offset, bytes) of each NameString it
#: references outside those bytes, ...)).
_RAW: dict[tuple[int, bytes], tuple[int, tuple[tuple[int, bytes], ...]]] = {}
#: Bytes the two key tables above may still hold (templates can be up to a chunk long).
_BUDGET = [32 * 1024 * 1024]
_IDS = itertools.count()


class ChunkDecoder:
    """Decodes the records of one chunk; `buf` is the chunk's 64 KiB.

    Most Windows logs wrap the event-specific part (EventData/UserData) as a nested BinXML value
    inside a generic System template, so a record's shape is its template plus the templates of
    its nested values (and the types of their substitutions): that combination is compiled once
    into a Plan whose slots name (nested root, substitution index) pairs, then into a builder.
    Builders are looked up by offsets within the chunk first, then by content across chunks.
    """

    __slots__ = ("_canon", "_elem_refs", "_left", "_plans", "_trees", "buf")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self._trees: dict[int, list[Elem | Part]] = {}
        self._elem_refs: dict[int, frozenset[int]] = {}  # by id() of elements kept alive in _trees
        self._plans: dict[ShapeKey, Builder | BinXmlError] = {}
        self._canon: dict[int, int | None] = {}  # template offset -> content id (None: unshared)
        self._left = MAX_EXPANSION  # items `_splice` / `_literal` may still produce for the record

    def _tree(self, template_ofs: int) -> list[Elem | Part]:
        tree = self._trees.get(template_ofs)
        if tree is None:
            if len(self._trees) >= MAX_TEMPLATES:
                raise _ChunkLimit("too many templates in one chunk")
            tree = parse_template(self.buf, template_ofs)
            self._trees[template_ofs] = tree
        return tree

    def _canon_id(self, template_ofs: int) -> int | None:
        """The process-wide id of the template's content, or None when it cannot be shared (the
        walk failed, or the tables are full: the shape is then compiled for this chunk alone).

        Most chunks of a log hold the same template at the same offset with the same bytes, so
        those bytes (and the names the template references outside them, compared in place)
        identify the content more cheaply than the walk."""
        if template_ofs in self._canon:
            return self._canon[template_ofs]
        if len(self._canon) >= MAX_TEMPLATES:
            raise _ChunkLimit("too many templates in one chunk")
        buf = self.buf
        raw: tuple[int, bytes] | None = None
        end = template_ofs + 0x18
        if end <= len(buf):
            end += _U32(buf, template_ofs + 0x14)[0]
            if end <= len(buf):
                raw = (template_ofs, buf[template_ofs + 4 : end])
                hit = _RAW.get(raw)
                if hit is not None and all(buf.startswith(name, at) for at, name in hit[1]):
                    self._canon[template_ofs] = hit[0]
                    return hit[0]
        cid: int | None = None
        try:
            key, stop, names = template_walk(buf, template_ofs)
        except (BinXmlError, struct.error):
            pass
        else:
            cid = _CANON.get(key)
            if cid is None and len(_CANON) < MAX_CANON and _BUDGET[0] >= len(key):
                # setdefault and next() are atomic: decoding threads never share an id
                cid = _CANON.setdefault(key, next(_IDS))
                _BUDGET[0] -= len(key)
            if cid is not None and raw is not None and stop <= end and len(_RAW) < MAX_CANON:
                outside: dict[tuple[int, bytes], None] = {}
                for at in names:  # the walk read each of them: all inside the chunk
                    name_end = at + 8 + 2 * _U16(buf, at + 6)[0]
                    if at + 6 < template_ofs + 4 or name_end > end:
                        outside[(at + 6, buf[at + 6 : name_end])] = None
                if _BUDGET[0] >= len(raw[1]):
                    _BUDGET[0] -= len(raw[1])
                    _RAW[raw] = (cid, tuple(outside))
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

    def _refs(self, elem: Elem) -> frozenset[int]:
        """Substitution indices referenced anywhere in `elem` (content and attributes), cached:
        splicing copies only the elements on the way to a nested value."""
        found = self._elem_refs.get(id(elem))
        if found is None:
            acc: set[int] = set()
            for _, parts in elem.attrs:
                acc.update(p for p in parts if isinstance(p, int))
            for item in elem.content:
                if isinstance(item, int):
                    acc.add(item)
                elif isinstance(item, Elem):
                    acc |= self._refs(item)
            found = frozenset(acc)
            self._elem_refs[id(elem)] = found
        return found

    def _splice(
        self, items: list[Elem | Part], root_id: int, links: dict[int, int], templates: list[int], depth: int
    ) -> list[Elem | Part]:
        """The template tree with nested values spliced in and every substitution index turned
        into a global reference `(root id << 16) | index`."""
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        out: list[Elem | Part] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int):
                ref_id = (root_id << 16) | item
                nested = links.get(ref_id)
                if nested is None:
                    out.append(ref_id)
                else:
                    inner = self._splice(self._tree(templates[nested]), nested, links, templates, depth + 1)
                    self._spend(len(inner))
                    out.extend(inner)
            elif root_id == 0 and not (self._refs(item) & links.keys()):
                out.append(item)  # references stay as they are for the record's root: share it
            else:
                attrs: list[tuple[str, list[Part]]] = []
                for name, parts in item.attrs:
                    text: list[Part] = []
                    for part in parts:
                        if isinstance(part, int):
                            ref_id = (root_id << 16) | part
                            if ref_id in links:
                                raise BinXmlError("nested BinXML inside an attribute")
                            text.append(ref_id)
                        else:
                            text.append(part)
                    attrs.append((name, text))
                out.append(Elem(item.name, attrs, self._splice(item.content, root_id, links, templates, depth + 1)))
        return out

    def _spend(self, items: int) -> None:
        """Count `items` spliced in (and the splice itself) against the record's expansion
        budget: past it, the record is hopeless (python-evtx would expand it too, to gigabytes)."""
        self._left -= items + 1
        if self._left < 0:
            raise HopelessRecord(f"record expands beyond {MAX_EXPANSION:,} items (nested values reused)")

    def _compile(self, roots: list[Root], links: dict[int, int]) -> Builder:
        self._left = MAX_EXPANSION
        templates = [r.template_ofs for r in roots]
        plan = compile_plan(self._splice(self._tree(templates[0]), 0, links, templates, 0))
        return codegen(plan, [r.types for r in roots])

    def _decode_literal(self, root: Root, record_number: int, source: int, locator: int) -> EventTuple:
        """Records whose nested values are plain BinXML fragments (no template, literal values):
        every value is spliced in as text and a plan is compiled for this record alone."""
        self._left = MAX_EXPANSION
        plan = compile_plan(self._literal(self._tree(root.template_ofs), root, 0))
        return _build(plan, [], root, self.buf, record_number, source, locator)

    def _literal(self, items: list[Elem | Part], root: Root, depth: int) -> list[Elem | Part]:
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        out: list[Elem | Part] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int):
                expanded = self._literal_value(item, root, depth)
                self._spend(len(expanded))
                out.extend(expanded)
            else:
                attrs: list[tuple[str, list[Part]]] = []
                for name, parts in item.attrs:
                    text: list[Part] = []
                    for part in parts:
                        if isinstance(part, int):
                            if part < len(root.types) and root.types[part] == T_BXML:
                                raise BinXmlError("nested BinXML inside an attribute")
                            for value in self._literal_value(part, root, depth):
                                if isinstance(value, Elem):
                                    raise BinXmlError("element inside an attribute")
                                text.append(value)
                        else:
                            text.append(part)
                    attrs.append((name, text))
                out.append(Elem(item.name, attrs, self._literal(item.content, root, depth + 1)))
        return out

    def _literal_value(self, index: int, root: Root, depth: int) -> list[Elem | Part]:
        """One substitution of `root` as literal content: text, or the spliced elements of a
        nested value (a template instance or a plain fragment)."""
        if index >= len(root.types):
            raise BinXmlError(f"substitution {index} of {len(root.types)}")
        vtype = root.types[index]
        ofs = root.offsets[index]
        if vtype != T_BXML:
            render = RENDER.get(vtype)
            if render is None:
                raise BinXmlError(f"unsupported substitution type {vtype:#x}")
            return [render(self.buf, ofs, root.sizes[index])]
        if root.sizes[index] == 0:
            raise BinXmlError("empty nested BinXML")
        fragment = parse_fragment(self.buf, ofs)
        if fragment is not None:
            return fragment
        nested = parse_root(self.buf, ofs, len(self.buf))
        return self._literal(self._tree(nested.template_ofs), nested, depth + 1)

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
                return _build(literal, [], Root(0, b"", (), []), buf, record_number, source, locator)
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

    def encode_row(self, rel: int, source: int, locator: int, sid: int, postings: Postings) -> EventRow:
        """`decode_tuple` as the event's store row (`core.model.rows`, id `sid`), its EventData pairs
        added to `postings`: the generated encoder goes from the bytes to the row directly."""
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
        row: EventRow = plan.encode(buf, roots, record_number, source, locator, sid, postings)  # type: ignore[attr-defined]
        return row

    def _plan(self, key: ShapeKey, roots: list[Root], links: dict[int, int]) -> Builder | BinXmlError:
        """The builder of a shape not seen in this chunk yet: shared with another chunk whose
        templates have the same content, or compiled (and shared) now."""
        if len(self._plans) >= MAX_TEMPLATES:
            raise _ChunkLimit("too many shapes in one chunk")
        shared = self._global_key(key)
        plan = None if shared is None else _SHAPES.get(shared)
        if plan is None:
            try:
                plan = self._compile(roots, links)
            except _ChunkLimit:
                raise
            except BinXmlError as exc:
                plan = exc
            if shared is not None and len(_SHAPES) < MAX_SHAPES:
                _SHAPES[shared] = plan
        self._plans[key] = plan
        return plan


#: Signature of a generated builder: (chunk, roots, record number, source, locator) -> Event fields.
Builder = Callable[[bytes, list[Root], int, int, int], EventTuple]


def _norm_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _norm_attr(text: str) -> str:
    text = _norm_text(text)
    return text.replace("\t", " ").replace("\n", " ") if ("\n" in text or "\t" in text) else text


def _fix_wstring(text: str) -> str:
    """The rest of `binxml._r_wstring` for a decoded string that is not all printable (the
    generated code tests `isprintable()`, which is false for NUL, controls, CR, LF and TAB).
    Most such strings merely end with their NUL terminator."""
    text = text.rstrip("\x00")
    return text if text.isprintable() else clean(text)


#: Compiled builders by source text (bounded: a crafted file could make every shape distinct).
_CODE_CACHE: dict[str, Any] = {}
MAX_CODE_CACHE = 2048

#: Integer substitution types decoded in line: (struct format, width, text format). Their text
#: is `str()` of the number (hex with a fixed width for 0x14/0x15), as `binxml.RENDER` gives it.
_INTS: dict[int, tuple[str, int, str]] = {
    0x03: ("<b", 1, "{}"),
    0x04: ("<B", 1, "{}"),
    0x05: ("<h", 2, "{}"),
    0x06: ("<H", 2, "{}"),
    0x07: ("<i", 4, "{}"),
    0x08: ("<I", 4, "{}"),
    0x09: ("<q", 8, "{}"),
    0x0A: ("<Q", 8, "{}"),
    0x14: ("<I", 4, "0x{:08x}"),
    0x15: ("<Q", 8, "0x{:016x}"),
}
_UNPACK = {fmt: struct.Struct(fmt).unpack_from for fmt, _, _ in _INTS.values()}
#: Types whose text never holds CR, LF or TAB: no line-end or attribute normalisation needed.
_PLAIN_TYPES = frozenset({T_NULL, *_INTS, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13})
#: Ticks of 9999-12-31: python-evtx's FILETIME rendering cannot fail below this (above it, the
#: skipped rendering is done anyway so that an overflow still rejects the record as before).
_SAFE_TICKS = 2650467743999999999


#: Rendered SIDs and GUIDs by their bytes: the same few accounts and providers recur in every
#: record, and rendering one costs about a microsecond (a lookup a sixth of that). Bounded.
_SIDS: dict[bytes, str] = {}
_GUIDS: dict[bytes, str] = {}
MAX_VALUE_CACHE = 65536


def _sid(buf: bytes, ofs: int, size: int) -> str:
    """`RENDER[0x13]`, remembered when the declared size is the SID's own (the text then
    depends on these bytes alone)."""
    text = RENDER[0x13](buf, ofs, size)
    if size == 8 + 4 * buf[ofs + 1] and len(_SIDS) < MAX_VALUE_CACHE:
        _SIDS[buf[ofs : ofs + size]] = text
    return text


def _guid(buf: bytes, ofs: int) -> str:
    """`RENDER[0x0F]` for a 16-byte GUID, remembered."""
    text = RENDER[0x0F](buf, ofs, 16)
    if len(_GUIDS) < MAX_VALUE_CACHE:
        _GUIDS[buf[ofs : ofs + 16]] = text
    return text


#: Ready (name, text) pairs by the raw bytes of the value, per field name and substitution type
#: (which fixes how `codegen` decodes it): each cache is bounded, and so is their total (a field
#: of unique values, such as a logon GUID, fills its cache once and then only looks up).
PAIR_CACHE_ITEMS = 4096
_PAIR_BUDGET = [200_000]
_PAIR_CACHES: dict[tuple[str, int], dict[bytes, tuple[str, str]]] = {}


def _pair_cache(name: str, vtype: int) -> dict[bytes, tuple[str, str]]:
    key = (name, vtype)
    cache = _PAIR_CACHES.get(key)
    if cache is None:
        cache = {}
        if len(_PAIR_CACHES) < MAX_SHAPES:
            _PAIR_CACHES[key] = cache
    return cache


def _system_specs(plan: Plan) -> list[Spec | None]:
    """Every spec of the plan that feeds a System field."""
    return [
        plan.event_id, plan.record_id, plan.version, plan.level, plan.task, plan.opcode, plan.keywords,
        plan.channel, plan.computer, plan.provider_name, plan.provider_source, plan.pid, plan.tid,
        plan.user_sid, plan.time_attr, plan.sys_time_attr,
    ]


def _slow(plan: Plan) -> Builder:
    def build(buf: bytes, roots: list[Root], record_number: int, source: int, locator: int) -> EventTuple:
        return _interpret(plan, buf, roots, record_number, source, locator)

    def encode(
        buf: bytes, roots: list[Root], record_number: int, source: int, locator: int, sid: int, postings: Postings
    ) -> EventRow:
        return encode_one(sid, postings, _interpret(plan, buf, roots, record_number, source, locator))

    build.encode = encode  # type: ignore[attr-defined]
    return build


def codegen(plan: Plan, types: list[bytes]) -> Builder:
    """Compile `plan` for records whose roots have the substitution `types` into one
    straight-line Python function: decode the needed values, assemble the Event's fields.

    Interpreting the plan per record costs about as much as the decoding itself; a generated
    function does only the work. Knowing the types, integers, UTF-16 strings and the TimeCreated
    FILETIME are decoded in line (the FILETIME is not rendered to text at all unless a field
    keeps the text), and numeric System fields skip the text. The in-line code handles the usual
    sizes only: any other declared size, or a value outside the chunk, or bad UTF-16, hands the
    record to the plan interpreter, which applies python-evtx's rules. Nothing from the file
    reaches the generated source: literal texts and names are passed in the constants tuple `K`.
    """
    slow = _slow(plan)
    if plan.static_names is None:  # Data names from substitutions: interpret the plan
        return slow
    refs = plan.refs
    if any(i >= len(types[r]) for r, i in refs):
        return slow  # the interpreter raises IndexError, as before: the record falls back
    slot_type = [types[r][i] for r, i in refs]
    if any(t != T_BXML and t not in RENDER and t not in _INTS for t in slot_type):
        return slow
    consts: list[object] = []
    text_slots: set[int] = set()
    int_slots: set[int] = set()
    # How each UTF-16 slot's text is used: "T" (element text), "A" (attribute), "raw" (joined
    # with other parts). Used one way only, its normalisation joins the rare fix-up branch.
    wide_uses: dict[int, set[str]] = {}

    def const(value: object) -> str:
        consts.append(value)
        return f"K[{len(consts) - 1}]"

    # TimeCreated's SystemTime is usually the first FILETIME of the record's root: its ticks are
    # read directly and its text is not needed (unless a Data field keeps it too).
    fast_time: int | None = None
    spec = plan.time_attr
    if isinstance(spec, int) and refs[spec][0] == 0 and types[0].find(T_FILETIME) == refs[spec][1]:
        fast_time = spec

    # EventData values used nowhere else are looked up by their raw bytes in a cache of ready
    # (name, text) pairs shared by every shape (`_pair_cache`): logs repeat most values, and a
    # lookup costs a third of decoding, normalising and pairing the value again.
    slot_uses: dict[int, int] = {}
    for field in _system_specs(plan) + list(plan.data_values):
        for part in (field,) if isinstance(field, (int, str)) else (field or ()):
            if isinstance(part, int):
                slot_uses[part] = slot_uses.get(part, 0) + 1
    cached: dict[int, int] = {}  # data pair index -> its slot
    for j, value in enumerate(plan.data_values):
        if (
            isinstance(value, int)
            and slot_uses.get(value) == 1
            and value != fast_time
            and (slot_type[value] == T_WSTRING or slot_type[value] in _INTS)
        ):
            cached[j] = value
    cached_slots = set(cached.values())

    def slot_text(k: int) -> str:
        if k == fast_time:
            return f"RF(n{k})"
        text_slots.add(k)
        return f"v{k}"

    def text(spec: Spec | None, attr: bool = False) -> str:
        if spec is None:
            return "None"
        if isinstance(spec, str):
            return const(spec)
        if isinstance(spec, int):
            var = slot_text(spec)
            if slot_type[spec] in _PLAIN_TYPES:
                return var
            if slot_type[spec] == T_WSTRING:  # settled below, once every use is known
                wide_uses.setdefault(spec, set()).add("A" if attr else "T")
                return f"@{'A' if attr else 'T'}{spec}@"
            if attr:
                return f"NA({var})"
            return f"({var} if '\\r' not in {var} else NT({var}))"
        parts = ", ".join(const(p) if isinstance(p, str) else slot_text(p) for p in spec)
        for p in spec:
            if isinstance(p, int) and slot_type[p] == T_WSTRING:
                wide_uses.setdefault(p, set()).add("raw")
        return f"{'NA' if attr else 'NT'}(''.join(({parts},)))"

    def num(spec: Spec | None, attr: bool = False) -> str:
        # int() ignores surrounding whitespace, so normalisation cannot change the result
        if spec is None:
            return "None"
        if isinstance(spec, str):
            return const(to_int(spec))
        if isinstance(spec, int) and slot_type[spec] in _INTS:
            int_slots.add(spec)
            return f"n{spec}"
        return f"I({text(spec, attr)})"

    def text_or(spec: Spec | None, default: str, attr: bool = False) -> str:
        if isinstance(spec, str):
            return const(spec or (None if default == "None" else ""))
        if spec is None:
            return default
        return f"({text(spec, attr)}) or {default}"

    body = [f"    eid = {num(plan.event_id)}", "    if eid is None:", "        raise BinXmlError('no EventID value')"]
    sys_time = text(plan.sys_time_attr, attr=True) if plan.sys_time_attr is not None else None
    if fast_time is not None:
        int_slots.add(fast_time)
        body.append(f"    ticks = n{fast_time} or None")
        body.append(f"    if ticks is not None and ticks > {_SAFE_TICKS}:")
        body.append("        RF(ticks)")
    else:
        body.append(f"    ticks = EXACT(r0, buf, {text(spec, attr=True)})")
    if sys_time is not None:
        body.append("    if ticks is None:")
        body.append(f"        ticks = PT({sys_time})")
    provider_specs = [p for p in (plan.provider_name, plan.provider_source) if p is not None]
    provider = " or ".join(text(p, attr=True) for p in provider_specs) or "''"
    pairs = [
        f"d{j}" if j in cached else f"({const(name)}, {text(value)})"
        for j, (name, value) in enumerate(zip(plan.static_names, plan.data_values, strict=True))
    ]
    record_id = num(plan.record_id)
    system = (
        f"ticks, eid, {num(plan.version)}, {num(plan.level)}, {num(plan.task)}, "
        f"{num(plan.opcode)}, {text_or(plan.keywords, 'None')}, {text_or(plan.channel, repr(''))}, "
        f"({provider}) or '', {text_or(plan.computer, repr(''))}, {num(plan.pid, True)}, "
        f"{num(plan.tid, True)}, {text_or(plan.user_sid, 'None', True)}"
    )
    build_ret = [
        f"    return (source, record_number, {record_id}, {system}, ({''.join(p + ', ' for p in pairs)}), locator)"
    ]
    # The store row (`core.model.rows.encode_tuples` for this one event), its pairs added to `P`.
    encode_ret = [f"    d{j} = {p}" for j, p in enumerate(pairs) if j not in cached]
    encode_ret.append(f"    data = ({''.join(f'd{j}, ' for j in range(len(pairs)))})")
    encode_ret.extend(f"    P[d{j}].append(sid)" for j in range(len(pairs)))
    if record_id == "None":
        record_id = "record_number"
    elif not record_id.startswith("n"):  # a text turned number: may be None
        record_id = f"(rid if (rid := {record_id}) is not None else record_number)"
    encode_ret.append(
        f"    return (sid, source, record_number, {record_id}, {system}, locator, "
        f"{'DUMPS(data, MV)' if pairs else 'EMPTY'})"
    )
    # Every needed value is decoded (as before: a value python-evtx's rules reject still sends
    # the record to the interpreter and on to the fallback), integers only as numbers if no
    # field keeps their text.
    for k, t in enumerate(slot_type):
        if k not in text_slots and k not in int_slots and k != fast_time and t not in _INTS and k not in cached_slots:
            text_slots.add(k)
    head: list[str] = []
    used_roots = sorted({r for r, _ in refs} | {0})
    for r in used_roots:
        head.append(f"    r{r} = roots[{r}]; o{r} = r{r}.offsets; s{r} = r{r}.sizes")
    guards = []
    inline_roots: set[int] = set()
    decode: list[str] = []
    has_wstring = False
    misses: list[str] = []
    # Integers read as numbers: consecutive substitutions of one root (their sizes are guarded,
    # so they are adjacent) are read by one struct call.
    numbers: dict[tuple[int, int], int] = {}
    for k, (r, i) in enumerate(refs):
        t = slot_type[k]
        if (t in _INTS or k == fast_time) and k not in cached_slots and (k in int_slots or k in text_slots):
            numbers[(r, i)] = k
    for (r, i), k in sorted(numbers.items()):
        if (r, i - 1) in numbers:
            continue  # read with the run it belongs to
        run = [k]
        while (r, i + len(run)) in numbers:
            run.append(numbers[(r, i + len(run))])
        inline_roots.add(r)
        fmts = ""
        for m in run:
            fmt, width, _ = _INTS.get(slot_type[m], ("<Q", 8, "{}"))
            guards.append(f"s{r}[{refs[m][1]}] != {width}")
            fmts += fmt[1:]
        if fmts == "B":
            decode.append(f"    n{k} = buf[o{r}[{i}]]")
        else:
            names = ", ".join(f"n{m}" for m in run)
            decode.append(f"    {names}, = {const(struct.Struct('<' + fmts).unpack_from)}(buf, o{r}[{i}])")
        for m in run:
            shown = _INTS.get(slot_type[m], ("<Q", 8, "{}"))[2]
            if m in text_slots and shown == "{}":
                decode.append(f"    v{m} = str(n{m})")
            elif m in text_slots:  # a fixed hex format of our own, as an f-string
                decode.append(f"    v{m} = f{shown.replace('{', '{n' + str(m))!r}")
    odd: list[str] = []  # cached UTF-16 values: an odd size (never seen) goes to the interpreter
    for j, k in cached.items():
        r, i = refs[k]
        t = slot_type[k]
        inline_roots.add(r)
        name = const(plan.static_names[j])
        if t == T_WSTRING:
            has_wstring = True
            recipe = [
                "    v = w.decode('utf-16')",
                "    if not v.isprintable():",
                "        v = NT(FIXW(v))",
            ]
            odd.append(f"s{r}[{i}]")
        else:
            fmt, width, shown = _INTS[t]
            guards.append(f"s{r}[{i}] != {width}")
            read = "w[0]" if fmt == "<B" else f"{const(_UNPACK[fmt])}(w, 0)[0]"
            recipe = [f"    v = {'str(' + read + ')' if shown == '{}' else 'f' + repr(shown.replace('{', '{' + read))}"]
        cache = const(_pair_cache(plan.static_names[j], t))
        # The value's bytes end where the next one starts (sizes are guarded: exact and even).
        decode.append(f"    d{j} = {cache}.get(w := buf[o{r}[{i}] : o{r}[{i + 1}]]) or M{j}(w)")
        misses.append(f"def M{j}(w):")
        misses.extend(recipe)
        misses.append(f"    d = ({name}, v)")
        misses.append(f"    if len({cache}) < CACHE_ITEMS and BUDGET[0] > 0:")
        misses.append(f"        {cache}[w] = d")
        misses.append("        BUDGET[0] -= 1")
        misses.append("    return d")
    for k, (r, i) in enumerate(refs):
        t = slot_type[k]
        if t in _INTS or k == fast_time or k in cached_slots:
            continue
        elif k not in text_slots:
            continue
        elif t == T_NULL:
            decode.append(f"    v{k} = ''")
        elif t == 0x13:  # SID: a cached text stands for its exact bytes (hence the range guard)
            inline_roots.add(r)
            decode.append(f"    a = o{r}[{i}]")
            decode.append(f"    v{k} = SIDS.get(buf[a : a + s{r}[{i}]]) or SID(buf, a, s{r}[{i}])")
        elif t == 0x0F:
            inline_roots.add(r)
            guards.append(f"s{r}[{i}] != 16")
            decode.append(f"    a = o{r}[{i}]")
            decode.append(f"    v{k} = GUIDS.get(buf[a : a + 16]) or GUID(buf, a)")
        elif t == T_WSTRING:
            inline_roots.add(r)
            has_wstring = True
            decode.append(f"    a = o{r}[{i}]")
            decode.append(f"    v{k} = buf[a : a + (s{r}[{i}] & -2)].decode('utf-16')")
            decode.append(f"    if not v{k}.isprintable():")
            uses = wide_uses.get(k, set())
            fix = {"T": "NT(FIXW", "A": "NA(FIXW"}.get(next(iter(uses))) if len(uses) == 1 else None
            decode.append(f"        v{k} = {fix}(v{k}))" if fix else f"        v{k} = FIXW(v{k})")
        else:
            decode.append(f"    v{k} = {const(RENDER[t])}(buf, o{r}[{i}], s{r}[{i}])")
    if odd:
        guards.append(f"({' | '.join(odd)}) & 1")
    guards[:0] = [f"o{r}[-1] > n" for r in sorted(inline_roots)]
    lines: list[str] = list(misses)
    for name, ret, slow_call in (
        ("build(buf, roots, record_number, source, locator)", build_ret, "SLOW"),
        ("encode(buf, roots, record_number, source, locator, sid, P)", encode_ret, "ENC1(sid, P, SLOW"),
    ):
        fallback = f"        return {slow_call}(buf, roots, record_number, source, locator)"
        fallback += ")" if slow_call != "SLOW" else ""
        lines.append(f"def {name}:")
        lines.extend(head)
        if guards:
            lines.append("    n = len(buf)")
            lines.append(f"    if {' or '.join(guards)}:")
            lines.append(fallback)
        if has_wstring:
            lines.append("    try:")
            lines.extend("    " + line for line in decode)
            lines.append("    except UnicodeDecodeError:")
            lines.append(fallback)
        else:
            lines.extend(decode)
        lines.extend(body)
        lines.extend(ret)
    namespace: dict[str, Any] = {
        "K": tuple(consts),
        "NT": _norm_text,
        "NA": _norm_attr,
        "I": to_int,
        "BinXmlError": BinXmlError,
        "EXACT": _exact_ticks,
        "PT": parse_time,
        "RF": render_filetime,
        "FIXW": _fix_wstring,
        "SLOW": slow,
        "CACHE_ITEMS": PAIR_CACHE_ITEMS,
        "BUDGET": _PAIR_BUDGET,
        "ENC1": encode_one,
        "DUMPS": marshal.dumps,
        "MV": MARSHAL_VERSION,
        "EMPTY": b"",
        "SIDS": _SIDS,
        "SID": _sid,
        "GUIDS": _GUIDS,
        "GUID": _guid,
    }
    source = "\n".join(lines)
    for k, uses in wide_uses.items():
        single = len(uses) == 1 and "raw" not in uses
        source = source.replace(f"@T{k}@", f"v{k}" if single else f"(v{k} if '\\r' not in v{k} else NT(v{k}))")
        source = source.replace(f"@A{k}@", f"v{k}" if single else f"NA(v{k})")
    code = _CODE_CACHE.get(source)
    if code is None:  # the same shape in another file gives the same source: compile once
        code = compile(source, "<evtx plan>", "exec")
        if len(_CODE_CACHE) < MAX_CODE_CACHE:
            _CODE_CACHE[source] = code
    exec(code, namespace)  # noqa: S102 - our own code
    builder: Builder = namespace["build"]
    builder.encode = namespace["encode"]  # type: ignore[attr-defined]
    return builder


def _exact_ticks(root: Root, buf: bytes, rendered: str | None) -> int | None:
    """The reference's `_exact_filetime`: ticks of the first FILETIME substitution whose
    python-evtx rendering equals the TimeCreated text (any FILETIME when there is none)."""
    types = root.types
    start = 0
    try:
        while True:
            i = types.find(T_FILETIME, start)
            if i < 0:
                return None
            ofs = root.offsets[i]
            if ofs + 8 > len(buf):
                return None
            ticks: int = _U64(buf, ofs)[0]
            if rendered is None or render_filetime(ticks) == rendered:
                return ticks or None
            start = i + 1
    except BinXmlError:
        return None


def _interpret(plan: Plan, buf: bytes, roots: list[Root], record_number: int, source: int, locator: int) -> EventTuple:
    """Decode the needed values and assemble the Event by walking the plan (the generated
    builder does the same, faster, for the usual sizes; this covers everything else)."""
    vals: list[str] = []
    for r_id, i in plan.refs:
        r = roots[r_id]
        vals.append(RENDER[r.types[i]](buf, r.offsets[i], r.sizes[i]))
    return _build(plan, vals, roots[0], buf, record_number, source, locator)


def _build(
    plan: Plan, vals: list[str], root: Root, buf: bytes, record_number: int, source: int, locator: int
) -> EventTuple:
    """Assemble the Event's fields exactly as `parsers.xml_to_event.event_from_element` would."""
    event_id = to_int(evaluate(plan.event_id, vals))
    if event_id is None:
        raise BinXmlError("no EventID value")
    rendered = None if plan.time_attr is None else attr_value(plan.time_attr, vals)
    ticks: int | None
    # Usual case: TimeCreated's SystemTime is the record's first FILETIME substitution.
    spec = plan.time_attr
    first = root.types.find(T_FILETIME)
    if isinstance(spec, int) and first >= 0 and plan.needed[spec] == first and root.offsets[first] + 8 <= len(buf):
        ticks = _U64(buf, root.offsets[first])[0] or None
    else:
        ticks = _exact_ticks(root, buf, rendered)
    if ticks is None and plan.sys_time_attr is not None:
        ticks = parse_time(attr_value(plan.sys_time_attr, vals))
    provider = ""
    if plan.provider_name is not None:
        provider = attr_value(plan.provider_name, vals)
    if not provider and plan.provider_source is not None:
        provider = attr_value(plan.provider_source, vals)
    values = [evaluate(s, vals) for s in plan.data_values]
    names = plan.static_names if plan.static_names is not None else data_names(plan, vals)
    return (
        source,
        record_number,
        None if plan.record_id is None else to_int(evaluate(plan.record_id, vals)),
        ticks,
        event_id,
        None if plan.version is None else to_int(evaluate(plan.version, vals)),
        None if plan.level is None else to_int(evaluate(plan.level, vals)),
        None if plan.task is None else to_int(evaluate(plan.task, vals)),
        None if plan.opcode is None else to_int(evaluate(plan.opcode, vals)),
        (None if plan.keywords is None else evaluate(plan.keywords, vals)) or None,
        "" if plan.channel is None else evaluate(plan.channel, vals),
        provider,
        "" if plan.computer is None else evaluate(plan.computer, vals),
        None if plan.pid is None else to_int(attr_value(plan.pid, vals)),
        None if plan.tid is None else to_int(attr_value(plan.tid, vals)),
        (None if plan.user_sid is None else attr_value(plan.user_sid, vals)) or None,
        tuple(zip(names, values, strict=True)),
        locator,
    )


def iter_chunk(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool = True
) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of the chunk at `chunk_ofs` of the file mapped in `buf`.

    Same records, same issues and same order as `parsers.evtx.reference.iter_chunk`. A record
    the fast decoder rejects goes to python-evtx (when `fallback`); one neither can decode is a
    ParseIssue naming both reasons.
    """
    return cast("Iterator[Event | ParseIssue]", _chunk_items(buf, index, chunk_ofs, source, path, fallback, True))


def iter_chunk_tuples(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool = True
) -> Iterator[EventTuple | ParseIssue]:
    """`iter_chunk` with each Event as its fields in declaration order (`make_event` builds
    it): worker processes ship these without building Event objects at all."""
    items = _chunk_items(buf, index, chunk_ofs, source, path, fallback, False)
    return cast("Iterator[EventTuple | ParseIssue]", items)


def _chunk_data(buf: Any, index: int, chunk_ofs: int, source: int, path: str) -> bytes | ParseIssue | None:
    """The chunk's 64 KiB, or the issue of a chunk without its signature (None if all zeros:
    an unused chunk at the end of a file)."""
    data = bytes(buf[chunk_ofs : chunk_ofs + ref.CHUNK_SIZE])
    if data[:8] == ref.CHUNK_MAGIC:
        return data
    if data.count(0) == ref.CHUNK_SIZE:
        return None
    return ParseIssue(source, path, "bad chunk signature; chunk skipped", index, chunk_ofs)


#: Step-budget exhaustions of python-evtx per file in this process: past `MAX_GIVE_UPS`, the
#: file's other records are not handed to it (a crafted file of looping chunks then costs a
#: few budgets, not one per chunk).
_GAVE_UP: dict[str, int] = {}
MAX_GIVE_UPS = 3


class _Reference:
    """python-evtx for the records of one chunk that the fast decoder rejects (its chunk
    header parsed once, on the first such record)."""

    __slots__ = ("buf", "chunk", "chunk_ofs", "gave_up", "index", "path", "source")

    def __init__(self, buf: Any, index: int, chunk_ofs: int, source: int, path: str) -> None:
        self.buf, self.index, self.chunk_ofs, self.source, self.path = buf, index, chunk_ofs, source, path
        self.chunk: Any = None
        self.gave_up = False  # python-evtx ran out of steps on this chunk: not asked again

    def decode(self, offset: int, fast_error: Exception, fallback: bool = True) -> Event | ParseIssue:
        """The record at `offset` from python-evtx, or the issue naming both decoders' reasons
        (only the fast one's when `fallback` is off or the record is hopeless). Once python-evtx
        exceeds its step budget in a chunk, the chunk's other records are not handed to it: a
        looping chunk costs one budget, not one per record."""
        fast_reason = f"{type(fast_error).__name__}: {fast_error}"
        if not fallback or isinstance(fast_error, HopelessRecord):
            return ref.issue_at(self.buf, self.source, self.path, fast_reason[:300], self.index, offset)
        if self.gave_up or _GAVE_UP.get(self.path, 0) >= MAX_GIVE_UPS:
            reason = f"python-evtx skipped: it looped on this chunk or file (fast: {fast_reason})"[:300]
            return ref.issue_at(self.buf, self.source, self.path, reason, self.index, offset)
        try:
            if self.chunk is None:
                self.chunk = ref.chunk_header(self.buf, self.chunk_ofs)
            return ref.decode_record(self.buf, self.chunk, offset, self.source)
        except Exception as exc:  # noqa: BLE001 - one bad record costs only itself
            if isinstance(exc, StepBudgetExceeded):
                self.gave_up = True
                if len(_GAVE_UP) > 256:
                    _GAVE_UP.clear()
                _GAVE_UP[self.path] = _GAVE_UP.get(self.path, 0) + 1
            reason = f"{type(exc).__name__}: {exc} (fast: {fast_reason})"[:300]
            return ref.issue_at(self.buf, self.source, self.path, reason, self.index, offset)


def encode_chunk(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, base: int, postings: Postings,
    rows: list[EventRow], issues: list[ParseIssue],
) -> None:
    """`iter_chunk` as store rows appended to `rows` (ids `base | record offset`), their
    EventData pairs added to `postings`, and parse issues appended to `issues`."""
    data = _chunk_data(buf, index, chunk_ofs, source, path)
    if not isinstance(data, bytes):
        issues.extend([data] if data is not None else [])
        return
    encode = ChunkDecoder(data).encode_row
    append = rows.append
    reference = _Reference(buf, index, chunk_ofs, source, path)
    for item in ref.record_offsets(buf, chunk_ofs, source, path, index):
        if type(item) is not int:
            assert isinstance(item, ParseIssue)
            issues.append(item)
            continue
        try:
            append(encode(item - chunk_ofs, source, item, base | item, postings))
        except Exception as exc:  # noqa: BLE001 - garbage may break the fast decoder anywhere
            found = reference.decode(item, exc)
            if isinstance(found, ParseIssue):
                issues.append(found)
            else:
                append(encode_one(base | item, postings, as_tuple(found)))


def _chunk_items(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool, events: bool
) -> Iterator[Event | EventTuple | ParseIssue]:
    """Both of the above in one loop (a generator layer per record is worth avoiding)."""
    data = _chunk_data(buf, index, chunk_ofs, source, path)
    if not isinstance(data, bytes):
        if data is not None:
            yield data
        return
    decode = ChunkDecoder(data).decode_tuple
    make = make_event
    reference = _Reference(buf, index, chunk_ofs, source, path)
    for item in ref.record_offsets(buf, chunk_ofs, source, path, index):
        if isinstance(item, ParseIssue):
            yield item
            continue
        try:
            fields = decode(item - chunk_ofs, source, item)
        except Exception as exc:  # noqa: BLE001 - garbage may break the fast decoder anywhere
            found = reference.decode(item, exc, fallback)
            yield found if events or isinstance(found, ParseIssue) else as_tuple(found)
        else:
            yield make(*fields) if events else fields
