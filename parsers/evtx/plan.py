"""Plans: which substitution of a template tree feeds which `Event` field.

Why: the reference path renders a record to XML and `parsers.xml_to_event.event_from_element`
reads the fields back; a `Plan` is that reading done once per template, over the template tree
(`parsers.evtx.templates`), so that per record only the values the plan names are decoded. The
helpers at the end apply a plan to one record's values as lxml would (line ends normalised,
whitespace in attributes turned into spaces).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from parsers.evtx.errors import BinXmlError, HopelessRecord
from parsers.evtx.templates import Elem, Part
from parsers.evtx.values import MAX_RECORD_CHARS, StandIn

_ATTR_WS = str.maketrans({"\t": " ", "\n": " "})

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
    """Turns parts naming substitution indices into slots of the per-record value list, and
    counts what a record of the plan expands to: the literal characters of every field, and the
    uses of each slot (a template may name a substitution thousands of times: `size_bound`)."""

    def __init__(self) -> None:
        self.slots: dict[int, int] = {}
        self.chars = 0  # literal characters of every spec compiled so far
        self.uses: dict[int, int] = {}  # slot -> how many times the fields use it
        self.notes: dict[str, None] = {}  # notes of the bad literal values a field shows (`StandIn`)

    def spec(self, parts: Sequence[Part] | None, attr: bool = False) -> Spec | None:
        if parts is None:
            return None
        norm = _norm_attr if attr else _norm_text
        merged: list[Part] = []
        run: list[str] = []  # literal parts joined once (not += per part: quadratic on long runs)
        for part in parts:
            if isinstance(part, str):
                if isinstance(part, StandIn):
                    self.notes[part.note] = None
                self.chars += len(part)
                if self.chars > MAX_RECORD_CHARS:
                    raise HopelessRecord(f"record expands beyond {MAX_RECORD_CHARS:,} characters (literal text)")
                run.append(part)
            else:
                if run:
                    merged.append("".join(run))
                    run = []
                slot = self.slots.setdefault(part, len(self.slots))
                self.uses[slot] = self.uses.get(slot, 0) + 1
                merged.append(slot)
        if run:
            merged.append("".join(run))
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
    static_chars: int  # literal characters of all the fields
    repeats: tuple[tuple[int, int], ...]  # (slot, uses) of the slots the fields use more than once
    #: Notes of the bad literal values of the template a field shows (`values.StandIn`): each
    #: record of the plan is kept with an issue naming them (`interpret.build_event`).
    notes: tuple[str, ...] = ()


def compile_plan(top: list[Elem | Part]) -> Plan:
    """Mirror of `event_from_element` over a template tree (parts still name substitutions).

    Raises BinXmlError where lxml or event_from_element would reject the rendered XML.
    """
    root = _root_element(top)
    system, data_el = _sections(root)
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

    # The order of the `comp.spec` calls numbers the slots: it is part of the plan.
    if "EventID" not in sysvals:
        raise BinXmlError("no <EventID>")
    event_id = sys_text("EventID")
    assert event_id is not None
    tc = _first(root, "TimeCreated")
    time_parts = None if tc is None else _attr(tc, "SystemTime")
    time_attr = comp.spec(time_parts, attr=True)
    data = _DataSpecs(comp, data_el)
    plan_static: tuple[str, ...] | None = None
    if all(n is None or isinstance(n, str) for n in data.names):
        plan_static = _static_names(data.names, data.tags, data.is_data)
    fields = {name: sys_text(tag) for name, tag in _SYSTEM_TEXTS}
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
        data_names=tuple(data.names),
        data_tags=tuple(data.tags),
        data_values=tuple(data.values),
        data_is_data=tuple(data.is_data),
        static_names=plan_static,
        static_chars=comp.chars,
        repeats=tuple(sorted((k, n) for k, n in comp.uses.items() if n > 1)),
        notes=tuple(comp.notes),
        **fields,
    )


#: The System fields read from an element's text: (Plan field, element name).
_SYSTEM_TEXTS = (
    ("record_id", "EventRecordID"),
    ("version", "Version"),
    ("level", "Level"),
    ("task", "Task"),
    ("opcode", "Opcode"),
    ("keywords", "Keywords"),
    ("channel", "Channel"),
    ("computer", "Computer"),
)


def _root_element(top: list[Elem | Part]) -> Elem:
    """The template's one root element (lxml rejects text or substitutions around it)."""
    roots = [item for item in top if isinstance(item, Elem)]
    for item in top:
        if isinstance(item, int):
            raise BinXmlError("substitution outside the root element")
        if isinstance(item, str) and item.strip(" \t\r\n"):
            raise BinXmlError("text outside the root element")
    if len(roots) != 1:
        raise BinXmlError(f"{len(roots)} root elements")
    return roots[0]


def _sections(root: Elem) -> tuple[Elem, Elem | None]:
    """The root's <System> (the last one) and its first
    <EventData> or <UserData>."""
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
    return system, data_el


class _DataSpecs:
    """The EventData/UserData pairs of a template: for each child element, its name spec (None
    when it is not a <Data> of EventData: its tag names it), tag, value spec and kind."""

    __slots__ = ("is_data", "names", "tags", "values")

    def __init__(self, comp: _Compiler, data_el: Elem | None) -> None:
        self.names: list[Spec | None] = []
        self.tags: list[str] = []
        self.values: list[Spec] = []
        self.is_data: list[bool] = []
        if data_el is None:
            return
        container: Elem | None = data_el
        if data_el.name == "UserData":
            inner = [c for c in data_el.content if isinstance(c, Elem)]
            container = inner[0] if inner else None
        if container is None:
            return
        for child in container.content:
            if not isinstance(child, Elem):
                continue
            value = comp.spec(_text_parts(child))
            assert value is not None
            self.values.append(value)
            self.tags.append(child.name)
            if data_el.name == "EventData" and child.name == "Data":
                name_parts = _attr(child, "Name")
                self.names.append(comp.spec(name_parts, attr=True))
                self.is_data.append(True)
            else:
                self.names.append(None)
                self.is_data.append(False)


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


def size_bound(plan: Plan, vals: Sequence[str]) -> int:
    """What the fields of one record of `plan` may add up to, in characters, from the texts of
    its repeated slots (before any field is joined). The slots used once add at most what a
    chunk's values render to (under a million characters), so only repeats need counting."""
    total = plan.static_chars
    for k, n in plan.repeats:
        total += len(vals[k]) * n
    return total


#: A record of a shape that repeats a slot, expanding to more than this, spends its chunk's
#: budget (`MAX_CHUNK_CHARS`): real records stay far below it.
LARGE_RECORD_CHARS = 1 << 16
#: Characters the large records of one chunk may add up to: without it, a 64 KiB chunk of records
#: each just under `MAX_RECORD_CHARS` made hundreds of MB (a 2 MB file, a 2.7 GB store). With
#: it a file expands at most ~128 times (one full-size record a chunk).
MAX_CHUNK_CHARS = MAX_RECORD_CHARS


class _Spent(threading.local):
    """What the large records of the chunk being decoded (`buf`) spent, per thread."""

    def __init__(self) -> None:
        self.buf: object = None
        self.left = MAX_CHUNK_CHARS


_SPENT = _Spent()


def check_size(plan: Plan, vals: Sequence[str], buf: bytes) -> None:
    """Refuse a record whose fields would exceed `MAX_RECORD_CHARS` (a value repeated thousands
    of times), or its chunk's `MAX_CHUNK_CHARS`: HopelessRecord, so that python-evtx is not
    asked to expand it either."""
    if plan.repeats:
        total = size_bound(plan, vals)
        if total > LARGE_RECORD_CHARS:
            spend(plan, buf, total)


def spend(plan: Plan, buf: bytes, total: int) -> None:
    """Count a large record of `total` characters against its chunk (`buf`), or refuse it."""
    if total > MAX_RECORD_CHARS:
        oversize(plan, total)
    spent = _SPENT
    if spent.buf is not buf:
        spent.buf, spent.left = buf, MAX_CHUNK_CHARS
    if total > spent.left:
        oversize(plan, total, f"; the chunk's records already expand to {MAX_CHUNK_CHARS - spent.left:,}")
    spent.left -= total


def oversize(plan: Plan, total: int, chunk: str = "") -> NoReturn:
    """Raise the HopelessRecord of a record of `plan` whose fields add up to `total` characters."""
    most = max(n for _, n in plan.repeats) if plan.repeats else 1
    limit = f"the limit of {MAX_RECORD_CHARS:,}" if not chunk else f"its chunk's limit of {MAX_CHUNK_CHARS:,}"
    raise HopelessRecord(
        f"record expands to {total:,} characters, beyond {limit} "
        f"(its template uses a value up to {most:,} times{chunk})"
    )


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
