"""The fast EVTX record decoder: one chunk at a time, templates compiled once per chunk.

A chunk (64 KiB) is self-contained: its templates and name strings live inside it, so a
`ChunkDecoder` over the chunk's bytes caches each template's compiled `Plan` by its offset and
decodes every record of the chunk with it. Records whose template splices nested BinXML are
materialised into an element tree first (still no python-evtx objects); anything the decoder does
not understand raises `BinXmlError`, and `iter_chunk` then asks the reference decoder
(python-evtx) for that record alone.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from Evtx.Evtx import ChunkHeader

from core.model import Event, ParseIssue, parse_time
from parsers import evtx_reference as ref
from parsers.binxml import (
    MAX_DEPTH,
    RENDER,
    T_BXML,
    T_FILETIME,
    BinXmlError,
    Elem,
    HopelessRecord,
    Part,
    Plan,
    Root,
    Spec,
    attr_value,
    compile_plan,
    data_names,
    evaluate,
    parse_fragment,
    parse_root,
    parse_template,
    render_filetime,
    to_int,
)

_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from

#: Templates per chunk are few (tens); a crafted chunk could reference thousands of offsets.
MAX_TEMPLATES = 4096


class _Fragment(Exception):
    """A nested value is a plain BinXML fragment: the record has no reusable shape."""


#: A compiled shape's key: the template offset, then (substitution index, nested key) for every
#: nested BinXML value; records with the same key share one Plan.
ShapeKey = int | tuple[object, ...]


class ChunkDecoder:
    """Decodes the records of one chunk; `buf` is the chunk's 64 KiB.

    Most Windows logs wrap the event-specific part (EventData/UserData) as a nested BinXML value
    inside a generic System template, so a record's shape is its template plus the templates of
    its nested values: that combination is compiled once into a Plan whose slots name
    (nested root, substitution index) pairs.
    """

    __slots__ = ("_elem_refs", "_plans", "_trees", "buf")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self._trees: dict[int, list[Elem | Part]] = {}
        self._elem_refs: dict[int, frozenset[int]] = {}  # by id() of elements kept alive in _trees
        self._plans: dict[ShapeKey, Builder | BinXmlError] = {}

    def _tree(self, template_ofs: int) -> list[Elem | Part]:
        tree = self._trees.get(template_ofs)
        if tree is None:
            if len(self._trees) >= MAX_TEMPLATES:
                raise BinXmlError("too many templates in one chunk")
            tree = parse_template(self.buf, template_ofs)
            self._trees[template_ofs] = tree
        return tree

    def _key(self, root: Root, roots: list[Root], links: dict[int, int], depth: int) -> ShapeKey:
        """Shape key of `root`; appends every nested root to `roots` (depth first, in
        substitution order) and records in `links` which global reference each one replaces."""
        if depth > MAX_DEPTH:
            raise BinXmlError("nested BinXML too deep")
        me = len(roots) - 1
        parts: list[object] = [root.template_ofs]
        start = 0
        types = root.types
        while True:
            i = types.find(T_BXML, start)
            if i < 0:
                break
            start = i + 1
            if root.sizes[i] == 0:
                raise BinXmlError("empty nested BinXML")
            if self.buf[root.offsets[i] + (4 if self.buf[root.offsets[i]] & 0x0F == 0x0F else 0)] & 0x0F == 0x01:
                raise _Fragment()
            nested = parse_root(self.buf, root.offsets[i], len(self.buf))
            roots.append(nested)
            links[(me << 16) | i] = len(roots) - 1
            parts.append((i, self._key(nested, roots, links, depth + 1)))
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
                    out.extend(self._splice(self._tree(templates[nested]), nested, links, templates, depth + 1))
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

    def _compile(self, roots: list[Root], links: dict[int, int]) -> Builder:
        templates = [r.template_ofs for r in roots]
        plan = compile_plan(self._splice(self._tree(templates[0]), 0, links, templates, 0))
        if plan.static_names is None:  # Data names from substitutions: interpret the plan
            return lambda buf, rts, number, source, locator: _interpret(plan, buf, rts, number, source, locator)
        return codegen(plan)

    def _decode_literal(self, root: Root, record_number: int, source: int, locator: int) -> Event:
        """Records whose nested values are plain BinXML fragments (no template, literal values):
        every value is spliced in as text and a plan is compiled for this record alone."""
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
                out.extend(self._literal_value(item, root, depth))
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
        key: ShapeKey = root.template_ofs
        if T_BXML in root.types:
            try:
                key = self._key(root, roots, links, 0)
            except _Fragment:
                return self._decode_literal(root, record_number, source, locator)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= MAX_TEMPLATES:
                raise BinXmlError("too many shapes in one chunk")
            try:
                plan = self._compile(roots, links)
            except BinXmlError as exc:
                plan = exc
            self._plans[key] = plan
        if isinstance(plan, BinXmlError):
            raise plan
        return plan(buf, roots, record_number, source, locator)


#: Signature of a plan's generated builder: (chunk, roots, record number, source, locator) -> Event.
Builder = Callable[[bytes, list[Root], int, int, int], Event]


def _norm_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _norm_attr(text: str) -> str:
    text = _norm_text(text)
    return text.replace("\t", " ").replace("\n", " ") if ("\n" in text or "\t" in text) else text


#: Compiled builders by source text (bounded: a crafted file could make every shape distinct).
_CODE_CACHE: dict[str, Any] = {}
MAX_CODE_CACHE = 2048


def codegen(plan: Plan) -> Builder:
    """Compile `plan` into one straight-line Python function: decode the needed substitution
    values, assemble the Event. Interpreting the plan per record costs about as much as the
    decoding itself; a generated function does only the work. Nothing from the file reaches the
    generated source: literal texts and names are passed in the constants tuple `K`."""
    consts: list[object] = []

    def const(value: object) -> str:
        consts.append(value)
        return f"K[{len(consts) - 1}]"

    def expr(spec: Spec | None, attr: bool = False) -> str:
        norm = "NA" if attr else "NT"
        if spec is None:
            return "None"
        if isinstance(spec, str):
            return const(spec)
        if isinstance(spec, int):
            if not attr:  # inline test: most values hold no carriage return
                return f"(v{spec} if '\\r' not in v{spec} else NT(v{spec}))"
            return f"{norm}(v{spec})"
        parts = ", ".join(const(p) if isinstance(p, str) else f"v{p}" for p in spec)
        return f"{norm}(''.join(({parts},)))"

    def num(spec: Spec | None, attr: bool = False) -> str:
        # int() ignores surrounding whitespace, so line-end normalisation cannot change the result
        if isinstance(spec, int):
            return f"I(v{spec})"
        return "None" if spec is None else f"I({expr(spec, attr)})"

    lines = ["def build(buf, roots, record_number, source, locator):"]
    for r_id in sorted({r for r, _ in plan.refs}):
        lines.append(
            f"    r{r_id} = roots[{r_id}]; t{r_id} = r{r_id}.types; o{r_id} = r{r_id}.offsets; s{r_id} = r{r_id}.sizes"
        )
    if not plan.refs:
        lines.append("    r0 = roots[0]")
    for slot, (r_id, i) in enumerate(plan.refs):
        lines.append(f"    v{slot} = R[t{r_id}[{i}]](buf, o{r_id}[{i}], s{r_id}[{i}])")
    lines.append(f"    eid = {num(plan.event_id)}")
    lines.append("    if eid is None:")
    lines.append("        raise BinXmlError('no EventID value')")
    spec = plan.time_attr
    rendered = expr(spec, attr=True)
    if isinstance(spec, int) and plan.refs[spec][0] == 0:
        j = plan.refs[spec][1]
        lines.append(f"    if r0.types.find(17) == {j}:")
        lines.append(f"        ticks = U64(buf, r0.offsets[{j}])[0] or None")
        lines.append("    else:")
        lines.append(f"        ticks = EXACT(r0, buf, {rendered})")
    else:
        lines.append(f"    ticks = EXACT(r0, buf, {rendered})")
    if plan.sys_time_attr is not None:
        lines.append("    if ticks is None:")
        lines.append(f"        ticks = PT({expr(plan.sys_time_attr, attr=True)})")
    provider = " or ".join(expr(p, attr=True) for p in (plan.provider_name, plan.provider_source) if p is not None)
    assert plan.static_names is not None
    pairs = "".join(
        f"({const(name)}, {expr(value)}), " for name, value in zip(plan.static_names, plan.data_values, strict=True)
    )
    lines.append(
        "    return Event(source, record_number, "
        f"{num(plan.record_id)}, ticks, eid, {num(plan.version)}, {num(plan.level)}, {num(plan.task)}, "
        f"{num(plan.opcode)}, ({expr(plan.keywords)}) or None, ({expr(plan.channel)}) or '', "
        f"{provider or repr('')} or '', ({expr(plan.computer)}) or '', {num(plan.pid, True)}, "
        f"{num(plan.tid, True)}, ({expr(plan.user_sid, True)}) or None, ({pairs}), locator)"
    )
    namespace: dict[str, Any] = {
        "K": tuple(consts),
        "R": RENDER,
        "NT": _norm_text,
        "NA": _norm_attr,
        "I": to_int,
        "Event": Event,
        "BinXmlError": BinXmlError,
        "U64": _U64,
        "EXACT": _exact_ticks,
        "PT": parse_time,
    }
    source = "\n".join(lines)
    code = _CODE_CACHE.get(source)
    if code is None:  # the same event type in the next chunk gives the same source: compile once
        code = compile(source, "<evtx plan>", "exec")
        if len(_CODE_CACHE) < MAX_CODE_CACHE:
            _CODE_CACHE[source] = code
    exec(code, namespace)  # noqa: S102 - our own code
    builder: Builder = namespace["build"]
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


def _interpret(plan: Plan, buf: bytes, roots: list[Root], record_number: int, source: int, locator: int) -> Event:
    """Decode the needed values and assemble the Event by walking the plan (the generated
    builder does the same; this covers the rare plans codegen does not handle)."""
    vals: list[str] = []
    for r_id, i in plan.refs:
        r = roots[r_id]
        vals.append(RENDER[r.types[i]](buf, r.offsets[i], r.sizes[i]))
    return _build(plan, vals, roots[0], buf, record_number, source, locator)


def _build(plan: Plan, vals: list[str], root: Root, buf: bytes, record_number: int, source: int, locator: int) -> Event:
    """Assemble the Event exactly as `parsers.xmlevent.event_from_element` would."""
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
    return Event(
        source=source,
        record_number=record_number,
        record_id=None if plan.record_id is None else to_int(evaluate(plan.record_id, vals)),
        filetime=ticks,
        event_id=event_id,
        version=None if plan.version is None else to_int(evaluate(plan.version, vals)),
        level=None if plan.level is None else to_int(evaluate(plan.level, vals)),
        task=None if plan.task is None else to_int(evaluate(plan.task, vals)),
        opcode=None if plan.opcode is None else to_int(evaluate(plan.opcode, vals)),
        keywords=(None if plan.keywords is None else evaluate(plan.keywords, vals)) or None,
        channel="" if plan.channel is None else evaluate(plan.channel, vals),
        provider=provider,
        computer="" if plan.computer is None else evaluate(plan.computer, vals),
        pid=None if plan.pid is None else to_int(attr_value(plan.pid, vals)),
        tid=None if plan.tid is None else to_int(attr_value(plan.tid, vals)),
        user_sid=(None if plan.user_sid is None else attr_value(plan.user_sid, vals)) or None,
        data=tuple(zip(names, values, strict=True)),
        locator=locator,
    )


def iter_chunk(
    buf: Any, index: int, chunk_ofs: int, source: int, path: str, fallback: bool = True
) -> Iterator[Event | ParseIssue]:
    """Every event (or parse issue) of the chunk at `chunk_ofs` of the file mapped in `buf`.

    Same records, same issues and same order as `parsers.evtx_reference.iter_chunk`. A record
    the fast decoder rejects goes to python-evtx (when `fallback`); one neither can decode is a
    ParseIssue naming both reasons.
    """
    data = bytes(buf[chunk_ofs : chunk_ofs + ref.CHUNK_SIZE])
    if data[:8] != ref.CHUNK_MAGIC:
        if data.count(0) != ref.CHUNK_SIZE:
            yield ParseIssue(source, path, "bad chunk signature; chunk skipped", index, chunk_ofs)
        return
    decoder = ChunkDecoder(data)
    ref_chunk: Any = None
    for item in ref.record_offsets(buf, chunk_ofs, source, path, index):
        if isinstance(item, ParseIssue):
            yield item
            continue
        try:
            yield decoder.decode(item - chunk_ofs, source, item)
            continue
        except Exception as exc:  # noqa: BLE001 - garbage may break the fast decoder anywhere
            fast_reason = f"{type(exc).__name__}: {exc}"
            hopeless = isinstance(exc, HopelessRecord)
        if not fallback or hopeless:
            yield ParseIssue(source, path, fast_reason[:300], index, item)
            continue
        try:
            if ref_chunk is None:
                ref_chunk = ChunkHeader(buf, chunk_ofs)
            yield ref.decode_record(buf, ref_chunk, item, source)
        except Exception as exc:  # noqa: BLE001 - one bad record costs only itself
            yield ParseIssue(source, path, f"{type(exc).__name__}: {exc} (fast: {fast_reason})"[:300], index, item)
