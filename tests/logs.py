"""Hand-made Event XML logs for tests: small, exact, and written by the tests themselves."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def event_xml(
    event_id: int,
    record_id: int | None,
    time: str,
    data: dict[str, str] | None = None,
    *,
    computer: str = "WS01.contoso.local",
    channel: str = "Security",
    pid: int = 4,
) -> str:
    """One `<Event>` as Windows renders it (Security-Auditing provider)."""
    rid = f"<EventRecordID>{record_id}</EventRecordID>" if record_id is not None else ""
    fields = "".join(
        f"<Data Name={quoteattr(k)}>{escape(v)}</Data>" if v else f"<Data Name={quoteattr(k)} />"
        for k, v in (data or {}).items()
    )
    return (
        f'<Event xmlns="{NS}"><System>'
        '<Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-A5BA-3E3B0328C30D}" />'
        f"<EventID>{event_id}</EventID><Version>0</Version><Level>0</Level><Task>13312</Task>"
        f'<Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime="{time}" />'
        f'{rid}<Correlation /><Execution ProcessID="{pid}" ThreadID="100" />'
        f"<Channel>{escape(channel)}</Channel><Computer>{escape(computer)}</Computer><Security />"
        f"</System><EventData>{fields}</EventData></Event>"
    )


def write_events(path: Path, events: list[str], *, root: bool = True) -> Path:
    """Write events as Event Viewer's "Save as XML" (`<Events>` root) or wevtutil style."""
    body = "\n".join(events)
    text = f'<?xml version="1.0" encoding="utf-8"?>\n<Events>{body}</Events>\n' if root else body + "\n"
    path.write_text(text, encoding="utf-8")
    return path
