"""What codegen knows of each slot before generating: its type, whether it is read in line, the
TimeCreated slot, and which EventData pairs are cached by their raw bytes.

Why apart from `parsers.evtx.codegen`: these are decisions over the plan (no source is
generated here), and the generator module stays short enough to read.
"""

from __future__ import annotations

import struct

from parsers.evtx.plan import Plan, Spec
from parsers.evtx.values import RENDER, T_BXML, T_FILETIME, T_NULL, T_WSTRING

#: Integer substitution types decoded in line: (struct format, width, text format). Their text
#: is `str()` of the number (hex with a fixed width for 0x14/0x15), as `values.RENDER` gives it.
INTS: dict[int, tuple[str, int, str]] = {
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
UNPACK = {fmt: struct.Struct(fmt).unpack_from for fmt, _, _ in INTS.values()}
#: Types whose text never holds CR, LF or TAB: no line-end or attribute normalisation needed.
PLAIN_TYPES = frozenset({T_NULL, *INTS, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13})
#: Types of the EventData values kept as ready pairs (and pieces) by their raw bytes.
CACHED_TYPES = frozenset({T_WSTRING, *INTS})
#: SIDs and GUIDs: their text is cached by `runtime`; the encoder keeps their pairs' pieces.
PIECE_TYPES = frozenset({0x13, 0x0F})
#: Ticks of 9999-12-31: python-evtx's FILETIME rendering cannot fail below this (above it, the
#: skipped rendering is done anyway so that an overflow still rejects the record as before).
SAFE_TICKS = 2650467743999999999


def inline_types(plan: Plan, types: list[bytes]) -> list[int] | None:
    """The substitution type of each slot of `plan`, or None when the plan is left to the
    interpreter."""
    if plan.static_names is None:  # Data names from substitutions: interpret the plan
        return None
    refs = plan.refs
    if any(i >= len(types[r]) for r, i in refs):
        return None  # the interpreter raises IndexError, as before: the record falls back
    slot_type = [types[r][i] for r, i in refs]
    if any(t != T_BXML and t not in RENDER and t not in INTS for t in slot_type):
        return None
    return slot_type


def system_specs(plan: Plan) -> list[Spec | None]:
    """Every spec of the plan that feeds a System field."""
    return [
        plan.event_id, plan.record_id, plan.version, plan.level, plan.task, plan.opcode, plan.keywords,
        plan.channel, plan.computer, plan.provider_name, plan.provider_source, plan.pid, plan.tid,
        plan.user_sid, plan.time_attr, plan.sys_time_attr,
    ]


def time_slot(plan: Plan, types: list[bytes]) -> int | None:
    """The slot of TimeCreated's SystemTime when it is the first FILETIME of the record's root
    (usual): its ticks are read directly and its text is not needed (unless a Data field keeps
    it too)."""
    spec = plan.time_attr
    refs = plan.refs
    if isinstance(spec, int) and refs[spec][0] == 0 and types[0].find(T_FILETIME) == refs[spec][1]:
        return spec
    return None


def cached_pairs(
    plan: Plan, slot_type: list[int], fast_time: int | None, kinds: frozenset[int] = CACHED_TYPES
) -> dict[int, int]:
    """EventData pairs (index -> slot) whose value is used nowhere else: looked up by their raw
    bytes in a cache of ready (name, text) pairs shared by every shape (`runtime.pair_cache`):
    logs repeat most values, and a lookup costs a third of decoding, normalising and pairing.
    (With `kinds` SID and GUID: the pairs whose marshal piece the encoder caches.)"""
    slot_uses: dict[int, int] = {}
    for field in system_specs(plan) + list(plan.data_values):
        for part in (field,) if isinstance(field, (int, str)) else (field or ()):
            if isinstance(part, int):
                slot_uses[part] = slot_uses.get(part, 0) + 1
    cached: dict[int, int] = {}
    for j, value in enumerate(plan.data_values):
        if (
            isinstance(value, int)
            and slot_uses.get(value) == 1
            and value != fast_time
            and slot_type[value] in kinds
        ):
            cached[j] = value
    return cached
