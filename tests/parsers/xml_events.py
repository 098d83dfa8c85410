"""Event XML the loader tests write (`xml_event`: a 4688-like Security event, the Event Viewer's
layout, `NS` its namespace) and a loader's output split into events and issues (`split`)."""

from __future__ import annotations

from collections.abc import Iterator

from core.model.event import Event, ParseIssue

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def xml_event(eid: int, rid: int, data: dict[str, str], *, computer: str = "WS01", time: str = "") -> str:
    time = time or f"2024-03-14T08:00:{rid % 60:02d}.1234567Z"
    fields = "".join(f"<Data Name='{k}'>{v}</Data>" for k, v in data.items())
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing' "
        f"Guid='{{54849625-5478-4994-a5ba-3e3b0328c30d}}'/><EventID>{eid}</EventID><Version>2</Version>"
        f"<Level>0</Level><Task>13312</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
        f"<TimeCreated SystemTime='{time}'/><EventRecordID>{rid}</EventRecordID><Correlation/>"
        f"<Execution ProcessID='4' ThreadID='88'/><Channel>Security</Channel><Computer>{computer}</Computer>"
        f"<Security/></System><EventData>{fields}</EventData>"
        f"<RenderingInfo Culture='en-US'><Message>A new process has been created.</Message>"
        f"<Level>Information</Level></RenderingInfo></Event>"
    )


def split(items: Iterator[Event | ParseIssue]) -> tuple[list[Event], list[ParseIssue]]:
    events: list[Event] = []
    issues: list[ParseIssue] = []
    for item in items:
        if isinstance(item, Event):
            events.append(item)
        else:
            issues.append(item)
    return events, issues
