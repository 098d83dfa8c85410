"""Hand-made Sysmon events (Microsoft-Windows-Sysmon/Operational, Event XML written here) the
correlation tests of several modules log beside the Security ones: any Sysmon event, and a
Sysmon 10 (a process opened by another, with the rights granted)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tests.correlate.events import BASE, NS


def sysmon(eid: int, rid: int, sec: float, computer: str = "HOST1", **data: str) -> str:
    """One Sysmon event (Microsoft-Windows-Sysmon/Operational): pids in decimal, GUIDs."""
    fields = "".join(f'<Data Name="{k}">{escape(v)}</Data>' for k, v in data.items())
    return (
        f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Sysmon"/>'
        f'<EventID>{eid}</EventID><TimeCreated SystemTime="{BASE}{sec:010.7f}Z"/>'
        f"<EventRecordID>{rid}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
        f"<Computer>{computer}</Computer></System><EventData>{fields}</EventData></Event>"
    )


def s10(rid: int, sec: float, sguid: str, spid: int, simage: str, tguid: str, tpid: int, timage: str,
        access: str = "0x1010", computer: str = "HOST1") -> str:
    return sysmon(10, rid, sec, computer, SourceProcessGUID=sguid, SourceProcessId=str(spid), SourceImage=simage,
                  TargetProcessGUID=tguid, TargetProcessId=str(tpid), TargetImage=timage, GrantedAccess=access,
                  CallTrace="C:\\Windows\\SYSTEM32\\ntdll.dll+9d234")
