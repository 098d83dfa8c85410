"""The small logs and stores the case and export tests read: six hand-made events on two hosts
(`make_events`, one with hostile text in its command line) in a complete store (`build_store`),
a stand-in input file whose identity keys a case file (`write_input`), and a three-event Event
XML log for the CLI (`xml_log`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.model.event import Event
from core.store.store import Store

BASE = 130_919_000_000_000_000  # 2015-11-12T..., FILETIME ticks


def make_events(source: int = 0) -> list[Event]:
    """Six events on two hosts: process creations, a handle duplication, a logon; one with
    hostile text (markup, an escape sequence, a pipe and a newline) in its command line."""
    def ev(rec: int, eid: int, secs: int, computer: str, data: Sequence[tuple[str, str]]) -> Event:
        return Event(source=source, record_number=rec, record_id=1000 + rec, filetime=BASE + secs * 10_000_000,
                     event_id=eid, channel="Security", provider="Microsoft-Windows-Security-Auditing",
                     computer=computer, pid=4, tid=8, data=tuple(data))

    return [
        ev(1, 4624, 1, "WS01", [("TargetUserName", "alice"), ("TargetLogonId", "0x3e7")]),
        ev(2, 4688, 2, "WS01", [("NewProcessId", "0xc8c"), ("NewProcessName", "C:\\Windows\\cmd.exe"),
                                ("CommandLine", "cmd /c whoami"), ("SubjectUserName", "alice")]),
        ev(3, 4688, 3, "DC01", [("NewProcessId", "0x10"), ("NewProcessName", "C:\\Temp\\x.exe"),
                                ("CommandLine", "[red]x[/red] \x1b[31m | a\nb"), ("SubjectUserName", "bob")]),
        ev(4, 4690, 4, "WS01", [("SourceProcessId", "0xc8c"), ("TargetProcessId", "0x4")]),
        ev(5, 4689, 5, "WS01", [("ProcessId", "0xc8c"), ("ProcessName", "C:\\Windows\\cmd.exe")]),
        ev(6, 4688, 6, "WS01", [("NewProcessId", "0xd00"), ("NewProcessName", "C:\\Windows\\rundll32.exe"),
                                ("CommandLine", "rundll32 evil.dll,Run"), ("SubjectUserName", "alice")]),
    ]


def build_store(db: Path, log_path: Path, *, reverse: bool = False) -> Store:
    """A complete store for one input at `log_path`; `reverse` inserts the events in the
    opposite order, as a rebuilt cache might (so store ids differ)."""
    store = Store(db)
    sid = store.add_source(str(log_path), "xml")
    events = make_events(sid)
    store.add_events(list(reversed(events)) if reverse else events)
    store.finish_source(sid, records=len(events), parse_issues=0, error=None)
    store.build_indexes()
    return store


def write_input(tmp: Path, name: str = "Security.xml") -> Path:
    """A stand-in input file (its identity keys the case file)."""
    path = tmp / name
    path.write_text("<Events/>\n", encoding="utf-8")
    return path


def xml_log(path: Path) -> Path:
    events = []
    for i, (eid, host) in enumerate([(4688, "WS01"), (4689, "WS01"), (4688, "DC01")], 1):
        events.append(
            '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
            f'<Provider Name="Microsoft-Windows-Security-Auditing"/><EventID>{eid}</EventID>'
            f'<TimeCreated SystemTime="2015-11-12T02:24:5{i}.000000000Z"/><EventRecordID>{i}</EventRecordID>'
            f'<Channel>Security</Channel><Computer>{host}</Computer></System>'
            f'<EventData><Data Name="NewProcessName">C:\\x{i}.exe</Data></EventData></Event>'
        )
    path.write_text("<Events>" + "".join(events) + "</Events>\n", encoding="utf-8")
    return path
