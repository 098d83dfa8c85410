"""The one-line summaries of the event table (core.model.summary)."""

from __future__ import annotations

from core.model.event import Event
from core.model.summary import basename, event_image, event_user, fallback, short_hex, summarize


def ev(event_id: int, provider: str = "Microsoft-Windows-Security-Auditing", **data: str) -> Event:
    return Event(source=0, record_number=1, record_id=1, filetime=None, event_id=event_id, provider=provider,
                 channel="Security", data=tuple(data.items()))


def test_4688_parent_child_and_pid() -> None:
    e = ev(4688, ParentProcessName="C:\\Windows\\explorer.exe", NewProcessName="C:\\Windows\\System32\\cmd.exe",
           NewProcessId="0x0000000000001a2c", ProcessId="0x2bc", SubjectUserName="dadmin")
    assert summarize(e) == "explorer.exe -> cmd.exe (0x1a2c)"
    assert event_image(e) == "cmd.exe"
    assert event_user(e) == "dadmin"


def test_4688_without_parent_name_uses_pid_and_adds_command_line() -> None:
    e = ev(4688, NewProcessName="C:\\x\\a.exe", NewProcessId="6700", ProcessId="0x2bc", CommandLine="a.exe  -x\n-y")
    assert summarize(e) == "pid 0x2bc -> a.exe (0x1a2c): a.exe -x -y"


def test_4690_handle_duplication() -> None:
    e = ev(4690, SourceHandleId="0x438", SourceProcessId="0x2bc", TargetProcessId="0x4", TargetHandleId="0xd9c")
    assert summarize(e) == "handle 0x438 of 0x2bc duplicated into 0x4 as 0xd9c"


def test_logons() -> None:
    assert summarize(ev(4624, TargetUserName="dadmin", LogonType="2", IpAddress="127.0.0.1")) == (
        "dadmin logon type 2 from 127.0.0.1"
    )
    assert summarize(ev(4624, TargetUserName="svc", LogonType="5", IpAddress="-")) == "svc logon type 5"
    assert summarize(ev(4625, TargetUserName="bob", LogonType="3", IpAddress="10.0.0.9", Status="0xc000006d",
                        SubStatus="0xC000006A")) == "failed logon bob type 3 from 10.0.0.9 (0xc000006a)"
    assert summarize(ev(4634, TargetUserName="bob", TargetLogonId="0x5a3c1")) == "bob logoff (0x5a3c1)"


def test_object_access_and_exit() -> None:
    common = {"ProcessName": "C:\\Windows\\System32\\lsass.exe", "HandleId": "0x438", "ProcessId": "0x2bc"}
    assert summarize(ev(4656, ObjectType="File", ObjectName="C:\\secret.txt", **common)) == (
        "lsass.exe requested handle 0x438 to File C:\\secret.txt"
    )
    assert summarize(ev(4663, ObjectType="File", ObjectName="C:\\s", AccessMask="0x1", **common)) == (
        "lsass.exe accessed File C:\\s via handle 0x438 (mask 0x1)"
    )
    assert summarize(ev(4658, **common)) == "handle 0x438 closed by lsass.exe"
    assert summarize(ev(4689, ProcessName="C:\\a\\b.exe", ProcessId="0x1e0c", Status="0x0")) == (
        "b.exe (0x1e0c) exited status 0x0"
    )


def test_other_types() -> None:
    assert summarize(ev(4672, SubjectUserName="alice", PrivilegeList="SeDebugPrivilege\n\t\t\tSeTcbPrivilege")) == (
        "special privileges for alice: SeDebugPrivilege SeTcbPrivilege"
    )
    assert summarize(ev(7045, ServiceName="evil", ImagePath="C:\\e.exe")) == "service installed: evil (C:\\e.exe)"
    assert summarize(ev(4648, SubjectUserName="a", TargetUserName="b", TargetServerName="srv",
                        ProcessName="C:\\x\\runas.exe")) == "a used explicit credentials of b for srv (runas.exe)"
    assert summarize(ev(4104, provider="Microsoft-Windows-PowerShell", ScriptBlockText="iex\n(x)")) == (
        "script block: iex (x)"
    )


def test_sysmon_process_create_is_not_confused_with_security_ids() -> None:
    e = ev(1, provider="Microsoft-Windows-Sysmon", ParentImage="C:\\p.exe", Image="C:\\c.exe", ProcessId="42",
           CommandLine="c.exe /q")
    assert summarize(e) == "p.exe -> c.exe (42): c.exe /q"
    assert summarize(ev(3, provider="Microsoft-Windows-Sysmon", Image="C:\\n.exe", DestinationIp="1.2.3.4",
                        DestinationPort="443")) == "n.exe -> 1.2.3.4:443"


def test_unknown_types_fall_back_to_key_fields() -> None:
    e = ev(5140, ShareName="\\\\*\\C$", IpAddress="-", SubjectUserName="bob", ObjectType="File", Extra="1")
    assert summarize(e) == "ShareName=\\\\*\\C$ SubjectUserName=bob ObjectType=File Extra=1"
    assert fallback(ev(1)) == ""


def test_bounded_and_robust() -> None:
    e = ev(4688, NewProcessName="x" * 100_000, CommandLine="y" * 100_000)
    assert len(summarize(e)) <= 400
    assert summarize(ev(4690)) == "handle ? of ? duplicated into ? as ?"
    assert basename('"C:\\Program Files\\a b.exe"') == "a b.exe"
    assert short_hex("0xffffffffffffffff") == "0xffffffffffffffff"
