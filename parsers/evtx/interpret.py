"""The plan interpreter: a `Plan` applied to one record's substitution values, as Event fields.

Why: generated builders (`parsers.evtx.codegen`) decode the usual value sizes in line; any other
size, bad UTF-16 or a shape codegen does not handle comes here, where every value goes through
`parsers.evtx.values.RENDER` (python-evtx's rules) and every field is assembled exactly as
`parsers.xml_to_event.event_from_element` would. Also the `Builder` signature both implement.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from core.model.event import parse_time
from core.model.rows import EventRow
from parsers.evtx.errors import BinXmlError
from parsers.evtx.pieces import PiecePostings, encode_one
from parsers.evtx.plan import Plan, attr_value, check_size, data_names, evaluate, to_int
from parsers.evtx.templates import Root
from parsers.evtx.values import RENDER, T_FILETIME, render_filetime, render_or_stand_in, value_notes

_U64 = struct.Struct("<Q").unpack_from

#: An Event's fields as a plain tuple in declaration order: what builders return and workers ship.
EventTuple = tuple[Any, ...]

#: Signature of a generated builder: (chunk, roots, record number, source, locator) -> Event fields.
Builder = Callable[[bytes, list[Root], int, int, int], EventTuple]


def interpreter(plan: Plan) -> Builder:
    """A builder (with its `encode`) that interprets `plan`: for shapes codegen leaves alone, and
    the fallback of every generated builder."""

    def build(buf: bytes, roots: list[Root], record_number: int, source: int, locator: int) -> EventTuple:
        return interpret(plan, buf, roots, record_number, source, locator)

    def encode(
        buf: bytes, roots: list[Root], record_number: int, source: int, locator: int, sid: int, postings: PiecePostings
    ) -> EventRow:
        return encode_one(sid, postings, interpret(plan, buf, roots, record_number, source, locator))

    build.encode = encode  # type: ignore[attr-defined]
    return build


def exact_ticks(root: Root, buf: bytes, rendered: str | None) -> int | None:
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


def interpret(plan: Plan, buf: bytes, roots: list[Root], record_number: int, source: int, locator: int) -> EventTuple:
    """Decode the needed values and assemble the Event by walking the plan (the generated
    builder does the same, faster, for the usual sizes; this covers everything else)."""
    vals: list[str] = []
    bad: list[tuple[int, int]] | None = None  # (slot, index of its note)
    for r_id, i in plan.refs:
        r = roots[r_id]
        t = r.types[i]
        render = RENDER.get(t)
        try:
            if render is None:
                raise KeyError(t)
            vals.append(render(buf, r.offsets[i], r.sizes[i]))
        except Exception:  # noqa: BLE001 - a bad value costs only itself (`values.stand_in`)
            where = f"substitution {i}" if r_id == 0 else f"substitution {i} of nested value {r_id}"
            notes = value_notes()
            bad = (bad or []) + [(len(vals), len(notes))]
            vals.append(render_or_stand_in(buf, t, r.offsets[i], r.sizes[i], where))
    if bad:
        _name_fields(plan, vals, bad)
    check_size(plan, vals, buf)
    return build_event(plan, vals, roots[0], buf, record_number, source, locator)


def _name_fields(plan: Plan, vals: list[str], bad: list[tuple[int, int]]) -> None:
    """Prefix the notes of the bad values with the names of the fields they feed (the rare path)."""
    notes = value_notes()
    try:
        names: tuple[str, ...] = data_names(plan, vals)
    except Exception:  # noqa: BLE001 - names only decorate the note
        names = tuple(f"Data #{j}" for j in range(len(plan.data_values)))

    def uses(spec: object, slot: int) -> bool:
        return spec == slot if isinstance(spec, int) else isinstance(spec, tuple) and slot in spec

    for slot, at in bad:
        if at >= len(notes):
            continue
        found = [name for name in _SYSTEM_SPECS if uses(getattr(plan, name), slot)]
        found.extend(name for name, spec in zip(names, plan.data_values, strict=False) if uses(spec, slot))
        if found:
            notes[at] = f"{', '.join(found[:4])}: {notes[at]}"


_SYSTEM_SPECS = (
    "event_id", "record_id", "version", "level", "task", "opcode", "keywords", "channel", "computer",
    "provider_name", "provider_source", "pid", "tid", "user_sid", "time_attr", "sys_time_attr",
)


def build_event(
    plan: Plan, vals: list[str], root: Root, buf: bytes, record_number: int, source: int, locator: int
) -> EventTuple:
    """Assemble the Event's fields exactly as `parsers.xml_to_event.event_from_element` would
    (the notes of the template's bad literal values added to the record's: `Plan.notes`)."""
    if plan.notes:
        value_notes().extend(plan.notes)
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
        ticks = exact_ticks(root, buf, rendered)
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
