"""Hand-made correlation events (Event XML written here) and the helpers the correlation tests
share: load them into a store, find an event by record, walk a tree (the CLI: `tests.cliutil.run_cli`)."""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import escape

from lxml import etree

from core.correlate.model import Correlation, Node, build_model
from core.store.store import StoredEvent
from parsers.xml_to_event import event_from_element, safe_parser

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
BASE = "2021-10-08T12:57:"


def xml(eid: int, rid: int, sec: float | None, computer: str = "HOST1", **data: str) -> str:
    """One Security event as Windows renders it (`sec` = seconds past BASE, None = no time)."""
    when = "" if sec is None else f'<TimeCreated SystemTime="{BASE}{sec:010.7f}Z"/>'
    fields = "".join(f'<Data Name="{k}">{escape(v)}</Data>' for k, v in data.items())
    return (
        f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>'
        f"<EventID>{eid}</EventID>{when}<EventRecordID>{rid}</EventRecordID>"
        f'<Execution ProcessID="4" ThreadID="100"/><Channel>Security</Channel><Computer>{computer}</Computer>'
        f"</System><EventData>{fields}</EventData></Event>"
    )


def load(*docs: str) -> list[StoredEvent]:
    """Parse the XML strings into store-like events (store id = 1-based position)."""
    out = []
    parser = safe_parser()
    for i, doc in enumerate(docs, 1):
        el = etree.fromstring(doc.encode(), parser)
        out.append(StoredEvent(i, event_from_element(el, source=0, record_number=i, locator=i)))
    return out


def by_record(events: list[StoredEvent], rid: int, computer: str | None = None) -> StoredEvent:
    found = [se for se in events if se.event.record_id == rid and (computer is None or se.event.computer == computer)]
    assert len(found) == 1, (rid, found)
    return found[0]


def correlate(events: list[StoredEvent], rid: int, computer: str | None = None) -> Correlation:
    return build_model(events).correlate(by_record(events, rid, computer))


def p4688(rid: int, sec: float, pid: str, image: str, ppid: str, parent: str = "", computer: str = "HOST1",
          logon: str = "0x3e7", cmd: str = "") -> str:
    return xml(4688, rid, sec, computer, SubjectUserSid="S-1-5-18", SubjectUserName="HOST1$",
               SubjectDomainName="DOM", SubjectLogonId=logon, NewProcessId=pid, NewProcessName=image,
               TokenElevationType="%%1936", ProcessId=ppid, CommandLine=cmd or image, TargetUserSid="S-1-0-0",
               TargetUserName="-", TargetDomainName="-", TargetLogonId="0x0", ParentProcessName=parent,
               MandatoryLabel="S-1-16-16384")


def p4689(rid: int, sec: float, pid: str, image: str, computer: str = "HOST1") -> str:
    return xml(4689, rid, sec, computer, SubjectLogonId="0x3e7", Status="0x0", ProcessId=pid, ProcessName=image)


def h4656(rid: int, sec: float, pid: str, handle: str, name: str, image: str = "", otype: str = "Key",
          computer: str = "HOST1") -> str:
    return xml(4656, rid, sec, computer, SubjectLogonId="0x3e7", ObjectServer="Security", ObjectType=otype,
               ObjectName=name, HandleId=handle, AccessList="%%1537\n\t\t\t\t%%4432\n\t\t\t\t",
               AccessMask="0x10001", ProcessId=pid, ProcessName=image)


def h4663(rid: int, sec: float, pid: str, handle: str, name: str, image: str = "", computer: str = "HOST1") -> str:
    return xml(4663, rid, sec, computer, SubjectLogonId="0x3e7", ObjectServer="Security", ObjectType="Key",
               ObjectName=name, HandleId=handle, AccessList="%%4432", AccessMask="0x1", ProcessId=pid,
               ProcessName=image)


def h4658(rid: int, sec: float, pid: str, handle: str, image: str = "", computer: str = "HOST1") -> str:
    return xml(4658, rid, sec, computer, SubjectLogonId="0x3e7", ObjectServer="Security", HandleId=handle,
               ProcessId=pid, ProcessName=image)


def d4690(rid: int, sec: float, spid: str, shandle: str, tpid: str, thandle: str, computer: str = "HOST1",
          logon: str = "0x3e7") -> str:
    return xml(4690, rid, sec, computer, SubjectUserSid="S-1-5-18", SubjectUserName="HOST1$",
               SubjectDomainName="DOM", SubjectLogonId=logon, SourceHandleId=shandle, SourceProcessId=spid,
               TargetHandleId=thandle, TargetProcessId=tpid)


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def find_node(tree: Node, prefix: str) -> Node:
    found = [n for n in walk(tree) if n.label.startswith(prefix)]
    assert found, f"no node starting with {prefix!r} in {[n.label for n in walk(tree)]}"
    return found[0]


def relations(c: Correlation) -> set[tuple[int | None, str]]:
    return {(r.ref.record_id, r.relation) for r in c.related}


# -- processes ---------------------------------------------------------------------------------

def s4624(rid: int, sec: float, lid: str, user: str = "alice", computer: str = "HOST1") -> str:
    return xml(4624, rid, sec, computer, SubjectLogonId="0x3e7", TargetUserSid="S-1-5-21-1-2-3-1104",
               TargetUserName=user, TargetDomainName="DOM", TargetLogonId=lid, LogonType="3",
               ProcessId="0x2c4", ProcessName=r"C:\Windows\System32\lsass.exe")

def xml_no_time(doc: str) -> str:
    start = doc.index("<TimeCreated")
    end = doc.index("/>", start) + 2
    return doc[:start] + doc[end:]
