"""The filter language's test log: twelve events (EventRecordIDs 1..12) on two sources, hostile
text among their values (`EVENTS`), written into a store (`write_store`), and what a query finds
there as record ids (`found`, which also checks the count and the table's reading agree) or the
error it raises (`error`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event, parse_time
from core.query.compile import QueryError, compile_query
from core.query.term_sets import settled_terms
from core.store.store import Store

SEC = "Security"
AUDIT = "Microsoft-Windows-Security-Auditing"
RUNDLL = r"C:\Windows\System32\rundll32.exe"
MIMI_CMD = 'mimikatz.exe "privilege::debug" 100%_done'
INJECT_CMD = "cmd.exe /c echo x' OR 1=1 --"


def ticks(text: str) -> int:
    ticks = parse_time(text)
    assert ticks is not None
    return ticks


def event(
    rid: int,
    eid: int,
    computer: str,
    time: str | None,
    data: dict[str, str],
    *,
    source: int = 0,
    channel: str = SEC,
    provider: str = AUDIT,
    pid: int | None = 0x2CC,
    level: int | None = 0,
    user_sid: str | None = None,
) -> Event:
    return Event(
        source=source,
        record_number=rid,
        record_id=rid,
        filetime=None if time is None else ticks(time),
        event_id=eid,
        level=level,
        task=12544,
        channel=channel,
        provider=provider,
        computer=computer,
        pid=pid,
        tid=100,
        user_sid=user_sid,
        data=tuple(data.items()),
    )


WS01 = "WS01.corp.local"
DC01 = "DC01.corp.local"

EVENTS = [
    event(
        1,
        4624,
        WS01,
        "2015-11-11T23:59:59Z",
        {
            "SubjectUserSid": "S-1-5-18",
            "TargetUserName": "dadmin",
            "TargetLogonId": "0x3e7a1",
            "LogonType": "3",
            "TargetDomainName": "KÖLN",
        },
    ),
    event(
        2,
        4688,
        WS01,
        "2015-11-12T01:00:00Z",
        {
            "SubjectUserName": "DADMIN",
            "SubjectLogonId": "0x3e7a1",
            "NewProcessId": "0x0000000000000c8c",
            "NewProcessName": RUNDLL,
            "ProcessId": "0x0000000000000a10",
            "CommandLine": "rundll32.exe shell32.dll,Control_RunDLL",
        },
    ),
    event(
        3,
        4656,
        WS01,
        "2015-11-12T02:00:00Z",
        {
            "SubjectUserName": "dadmin",
            "ObjectName": r"C:\secret\passwords.txt",
            "HandleId": "0x11ac",
            "ProcessId": "0x00000c8c",
            "ProcessName": RUNDLL,
        },
    ),
    event(
        4,
        4663,
        WS01,
        "2015-11-12T02:00:00.5Z",
        {"ObjectName": r"C:\secret\passwords.txt", "HandleId": "0x11ac", "ProcessId": "0xc8c"},
    ),
    event(
        5,
        4658,
        WS01,
        "2015-11-12T02:30:00Z",
        {"HandleId": "0x11AC", "ProcessId": "3212", "ObjectServer": "Security\tAccount Manager"},
    ),
    event(
        6,
        4690,
        DC01,
        "2015-11-12T03:00:00Z",
        {"SourceHandleId": "0x11ac", "SourceProcessId": "0xc8c", "TargetHandleId": "0x2f0", "TargetProcessId": "0x4"},
    ),
    event(7, 4689, WS01, "2015-11-12T04:00:00Z", {"Status": "0x0", "ProcessId": "0xc8c", "ProcessName": RUNDLL}),
    event(
        8,
        4688,
        DC01,
        "2015-11-12T05:00:00Z",
        {
            "SubjectUserName": "bob",
            "NewProcessId": "0x1d4c",
            "NewProcessName": r"C:\Users\bob\AppData\Local\Temp\mimikatz.exe",
            "CommandLine": MIMI_CMD,
        },
    ),
    event(
        9,
        4688,
        "WS02",
        "2015-11-12T06:00:00Z",
        {
            "SubjectUserName": "alice",
            "NewProcessId": "0x1000",
            "NewProcessName": r"C:\Windows\System32\cmd.exe",
            "CommandLine": INJECT_CMD,
        },
    ),
    event(10, 1102, WS01, None, {}, provider="Microsoft-Windows-Eventlog", level=None),
    event(
        11,
        7045,
        "WS02",
        "2015-11-12T07:00:00Z",
        {"ServiceName": "PSEXESVC", "ImagePath": r"%SystemRoot%\PSEXESVC.exe", "StartType": "demand start"},
        source=1,
        channel="System",
        provider="Service Control Manager",
        level=4,
        user_sid="S-1-5-18",
    ),
    event(
        12,
        4104,
        "WS02",
        "2015-11-12T08:00:00Z",
        {"ScriptBlockText": "Invoke-Mimikatz -DumpCreds", "Path": ""},
        source=1,
        channel="Microsoft-Windows-PowerShell/Operational",
        provider="Microsoft-Windows-PowerShell",
        pid=5000,
        level=5,
    ),
]
ALL = {e.record_id for e in EVENTS}



def write_store(path: Path) -> Store:
    """A store of `EVENTS`, indexed, its two sources numbered 0 and 1."""
    st = Store(path)
    assert st.add_source("/logs/Security.evtx", "evtx") == 0
    assert st.add_source(r"C:\cases\ws02\Sysmon-and-System.xml", "xml") == 1
    st.add_events(EVENTS)
    st.build_indexes()
    return st


@pytest.fixture(scope="module", name="store")
def events_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """`write_store` once per test module that imports this fixture (as `store`)."""
    st = write_store(Path(tmp_path_factory.mktemp("query")) / "events.db")
    yield st
    st.close()


def found(store: Store, query: str) -> set[int | None]:
    """Record ids the query finds (also checking that count() agrees with select(), and that
    the table's reading of it, its terms' ids from sets (`settled_terms`), finds the same)."""
    compiled = compile_query(query)
    rows = store.select(compiled)
    assert store.count(compiled) == len(rows)
    if compiled.ids is not None:  # the table's count of a one-term view (core.query.view.count_view)
        assert store.count_ids(compiled) == len(rows), query
    settled = settled_terms(store, compiled)
    assert store.select(settled) == rows and store.count(settled) == len(rows), query
    return {row.event.record_id for row in rows}


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    return info.value
