"""Render a decoded `Event` as Event XML, for records python-evtx cannot render.

The raw-XML tab shows python-evtx's rendering (the reference). Our own decoder reads about
2,000 sample records python-evtx fails on (records without templates, CAPI2 UserData, bad
strings); for those the tab shows this reconstruction instead, labelled as such, so the analyst
still sees every field rather than an error.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from core.model.event import Event, iso_from_filetime

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _el(name: str, value: object) -> str:
    return "" if value is None else f"    <{name}>{escape(str(value))}</{name}>\n"


def event_to_xml(event: Event, note: str | None = None) -> str:
    """Windows-style `<Event>` XML of `event`; `note` becomes a leading XML comment."""
    parts: list[str] = []
    if note:
        parts.append(f"<!-- {note.replace('--', '- -')} -->\n")
    parts.append(f'<Event xmlns="{NS}">\n  <System>\n')
    parts.append(f"    <Provider Name={quoteattr(event.provider)} />\n")
    parts.append(_el("EventID", event.event_id))
    for name in ("version", "level", "task", "opcode", "keywords"):
        parts.append(_el(name.capitalize(), getattr(event, name)))
    when = iso_from_filetime(event.filetime)
    if when:
        parts.append(f"    <TimeCreated SystemTime={quoteattr(when)} />\n")
    parts.append(_el("EventRecordID", event.record_id))
    if event.pid is not None or event.tid is not None:
        pid = "" if event.pid is None else f" ProcessID={quoteattr(str(event.pid))}"
        tid = "" if event.tid is None else f" ThreadID={quoteattr(str(event.tid))}"
        parts.append(f"    <Execution{pid}{tid} />\n")
    parts.append(_el("Channel", event.channel))
    parts.append(_el("Computer", event.computer))
    if event.user_sid:
        parts.append(f"    <Security UserID={quoteattr(event.user_sid)} />\n")
    parts.append("  </System>\n  <EventData>\n")
    for name, value in event.data:
        parts.append(f"    <Data Name={quoteattr(name)}>{escape(value)}</Data>\n")
    parts.append("  </EventData>\n</Event>\n")
    return "".join(parts)
