"""Turn one `<Event>` element (lxml) into an `Event`.

Shared by the Event XML loader and the python-evtx reference path (which renders each record
to XML first), so both produce the same field names, values and order.
"""

from __future__ import annotations

from lxml import etree

from core.model.event import Event, parse_time
from parsers.integers import IntTooLong, read_int
from parsers.time_text import time_or_note


def _local(tag: object) -> str:
    """Tag name without its namespace (`{ns}Data` -> `Data`); comments and PIs give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _int(text: str | None, dropped: list[str] | None = None, name: str = "") -> int | None:
    """Decimal or `0x` hex text -> int, else None. One too long to hold (`parsers.integers`)
    is None too, and the field's `name` is noted in `dropped` (for a parse issue)."""
    if text is None:
        return None
    try:
        return read_int(text)
    except IntTooLong:
        if dropped is not None:
            dropped.append(name)
        return None


def _text(el: etree._Element) -> str:
    """The element's whole text content (nested BinXML renders as child elements)."""
    if len(el) == 0:
        return el.text or ""
    return "".join(str(t) for t in el.itertext())


def _data_pairs(container: etree._Element) -> list[tuple[str, str]]:
    """Ordered name -> value pairs of EventData (Data/Binary) or of UserData's inner element."""
    pairs: list[tuple[str, str]] = []
    unnamed = 0
    tag = _local(container.tag)
    if tag == "UserData":
        inner = [c for c in container if _local(c.tag)]
        if not inner:
            return pairs
        container = inner[0]
        for child in container:
            name = _local(child.tag)
            if name:
                pairs.append((name, _text(child)))
        return pairs
    for child in container:
        name = _local(child.tag)
        if not name:
            continue
        if name == "Data":
            attr = child.get("Name")
            if attr:
                pairs.append((attr, _text(child)))
                continue
            pairs.append(("Data" if unnamed == 0 else f"Data[{unnamed}]", _text(child)))
            unnamed += 1
        else:
            pairs.append((name, _text(child)))
    return pairs


def event_from_element(
    root: etree._Element,
    *,
    source: int,
    record_number: int,
    locator: int | None = None,
    filetime: int | None = None,
    dropped: list[str] | None = None,
    notes: list[str] | None = None,
) -> Event:
    """Build an Event from an `<Event>` element.

    `filetime`, when given, overrides TimeCreated (the EVTX reference path passes the exact
    ticks read from the record, since python-evtx renders the time through a float).
    Raises ValueError when the element is not an event (no System/EventID). System integers
    too long to hold are left out, their fields named in `dropped`. A SystemTime text no date
    holds leaves the event without a time and, given `notes` (Event XML input), is kept as the
    field `TimeCreated` and said there (`parsers.time_text`, as the JSON loaders do).
    """
    system = None
    data_el = None
    for child in root:
        name = _local(child.tag)
        if name == "System":
            system = child
        elif name in ("EventData", "UserData") and data_el is None:
            data_el = child
    if system is None:
        raise ValueError("no <System> element")
    sysvals: dict[str, etree._Element] = {}
    for child in system:
        name = _local(child.tag)
        if name and name not in sysvals:
            sysvals[name] = child
    eid_el = sysvals.get("EventID")
    event_id = _int(eid_el.text) if eid_el is not None else None
    if event_id is None:
        raise ValueError("no <EventID>")
    provider_el = sysvals.get("Provider")
    provider = ""
    if provider_el is not None:
        provider = provider_el.get("Name") or provider_el.get("EventSourceName") or ""
    kept: list[tuple[str, str]] = []
    if filetime is None:
        tc = sysvals.get("TimeCreated")
        text = tc.get("SystemTime") if tc is not None else None
        if notes is None:  # (python-evtx's rendering, `parsers.evtx.reference`: its ticks are given)
            filetime = parse_time(text)
        else:
            filetime = time_or_note(text, "TimeCreated", notes, kept) if text else None
    execution = sysvals.get("Execution")
    security = sysvals.get("Security")

    def sys_text(name: str) -> str | None:
        el = sysvals.get(name)
        return None if el is None else (el.text or "")

    return Event(
        source=source,
        record_number=record_number,
        record_id=_int(sys_text("EventRecordID"), dropped, "record_id"),
        filetime=filetime,
        event_id=event_id,
        version=_int(sys_text("Version"), dropped, "version"),
        level=_int(sys_text("Level"), dropped, "level"),
        task=_int(sys_text("Task"), dropped, "task"),
        opcode=_int(sys_text("Opcode"), dropped, "opcode"),
        keywords=sys_text("Keywords") or None,
        channel=sys_text("Channel") or "",
        provider=provider,
        computer=sys_text("Computer") or "",
        pid=_int(execution.get("ProcessID"), dropped, "pid") if execution is not None else None,
        tid=_int(execution.get("ThreadID"), dropped, "tid") if execution is not None else None,
        user_sid=(security.get("UserID") or None) if security is not None else None,
        data=(*(_data_pairs(data_el) if data_el is not None else ()), *kept),
        locator=locator,
    )


def safe_parser(*, recover: bool = False) -> etree.XMLParser:
    """An lxml parser that never resolves entities, loads DTDs or touches the network:
    event data is attacker-controlled (XXE, billion laughs)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=recover,
        remove_blank_text=False,
    )
