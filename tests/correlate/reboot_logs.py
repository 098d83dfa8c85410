"""Hand-made logs of restarts (`tests/correlate/test_reboot.py`, `tests/fleet/test_fleet_restarts.py`):
a shutdown and boot of a computer, the first processes of a boot, SYSTEM's logons over two boots."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tests.correlate.events import NS, h4656, h4658, p4688, p4689, s4624, xml

CMD = r"C:\Windows\System32\cmd.exe"
EXPLORER = r"C:\Windows\explorer.exe"
SVCHOST = r"C:\Windows\System32\svchost.exe"
NOTEPAD = r"C:\Windows\System32\notepad.exe"
LSASS = r"C:\Windows\System32\lsass.exe"
SMSS = r"C:\Windows\System32\smss.exe"
WININIT = r"C:\Windows\System32\wininit.exe"
SPOOLSV = r"C:\Windows\System32\spoolsv.exe"

#: The restart of `reboot_log`, as its instances' reasons name it.
RESTART = "the restart (4608 record 7: Windows is starting up; after the shutdown at 1100 record 6)"


def marker(eid: int, rid: int, sec: float, provider: str, channel: str, computer: str = "HOST1") -> str:
    """An event of another provider and channel than Security's auditing (no EventData)."""
    return (f'<Event xmlns="{NS}"><System><Provider Name="{escape(provider)}"/><EventID>{eid}</EventID>'
            f'<TimeCreated SystemTime="2021-10-08T12:57:{sec:010.7f}Z"/><EventRecordID>{rid}</EventRecordID>'
            f'<Channel>{channel}</Channel><Computer>{computer}</Computer></System><EventData/></Event>')


def reboot_log(computer: str = "HOST1") -> list[str]:
    """A logon and two processes (cmd.exe holding a handle), shutdown (4609, 1100), boot (4608);
    then the same pid, handle value and logon id used again, no 4688 or 4624 for them; and
    events outside the model (4673) naming the pid before and after."""
    return [
        s4624(1, 0.0, "0x5a5a5", computer=computer),
        p4688(2, 1.0, "0x200", EXPLORER, "0x4", logon="0x5a5a5", computer=computer),
        p4688(3, 2.0, "0x300", CMD, "0x200", logon="0x5a5a5", computer=computer),
        h4656(4, 3.0, "0x300", "0x44", r"\REGISTRY\MACHINE\SAM", CMD, computer=computer),
        xml(4609, 5, 10.0, computer),
        marker(1100, 6, 11.0, "Microsoft-Windows-Eventlog", "Security", computer),
        xml(4608, 7, 30.0, computer),
        h4656(8, 31.0, "0x300", "0x48", r"\REGISTRY\MACHINE\X", SVCHOST, computer=computer),
        h4658(9, 32.0, "0x300", "0x44", SVCHOST, computer=computer),
        p4688(10, 33.0, "0x400", NOTEPAD, "0x300", logon="0x5a5a5", computer=computer),
        p4689(11, 34.0, "0x200", LSASS, computer=computer),
        xml(4634, 12, 40.0, computer, TargetLogonId="0x5a5a5", TargetUserName="alice", TargetDomainName="DOM",
            LogonType="3"),
        xml(4673, 13, 20.0, computer, SubjectLogonId="0x5a5a5", ProcessId="0x300", ProcessName=CMD,
            PrivilegeList="SeTcbPrivilege", Service="-"),
        xml(4673, 14, 35.0, computer, SubjectLogonId="0x5a5a5", ProcessId="0x300", ProcessName=SVCHOST,
            PrivilegeList="SeTcbPrivilege", Service="-"),
    ]


def first_processes_log() -> list[str]:
    """lsass.exe (0x2d8) and a handle of it; shutdown; the boot's Registry, smss.exe and lsass.exe
    (0x2d4) before its 4608 and 6005; handles after them."""
    obj = r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"
    return [
        p4688(1, 0.0, "0x2d8", LSASS, "0x248", parent=WININIT),
        h4656(2, 1.0, "0x2d8", "0x10", obj, LSASS, otype="Process"),
        marker(1100, 3, 5.0, "Microsoft-Windows-Eventlog", "Security"),
        p4688(4, 20.0, "0x58", "Registry", "0x4"),
        p4688(5, 20.5, "0x194", SMSS, "0x4"),
        p4688(6, 21.0, "0x2d4", LSASS, "0x248", parent=WININIT),
        h4656(7, 21.5, "0x2d4", "0x20", obj, LSASS, otype="Process"),
        xml(4608, 8, 22.0),
        h4656(9, 23.0, "0x2d4", "0x24", obj, LSASS, otype="Process"),
        h4656(10, 23.5, "0x2d8", "0x28", obj, SVCHOST, otype="Process"),
        marker(6005, 11, 24.0, "EventLog", "System"),
        h4656(12, 25.0, "0x2d4", "0x2c", obj, LSASS, otype="Process"),
    ]


def system_logon(rid: int, sec: float, logon_type: str, lid: str = "0x3e7", computer: str = "HOST1") -> str:
    user, sid = ("SYSTEM", "S-1-5-18") if lid == "0x3e7" else ("NETWORK SERVICE", "S-1-5-20")
    return xml(4624, rid, sec, computer, SubjectLogonId="0x0" if logon_type == "0" else "0x3e7", TargetUserSid=sid,
               TargetUserName=user, TargetDomainName="NT AUTHORITY", TargetLogonId=lid, LogonType=logon_type,
               LogonProcessName="Advapi", AuthenticationPackageName="Negotiate")


def system_log(computer: str = "HOST1") -> list[str]:
    """Two boots of a computer, each with its type 0 SYSTEM logon and service logons (type 5) of
    SYSTEM, processes started as SYSTEM before and after them."""
    return [
        system_logon(1, 0.0, "0", computer=computer),
        p4688(2, 1.0, "0x100", SVCHOST, "0x2ac", computer=computer),
        system_logon(3, 2.0, "5", computer=computer),
        xml(4672, 4, 2.0, computer, SubjectLogonId="0x3e7", SubjectUserName="SYSTEM",
            SubjectDomainName="NT AUTHORITY", PrivilegeList="SeTcbPrivilege"),
        p4688(5, 3.0, "0x104", SVCHOST, "0x2ac", computer=computer),
        system_logon(6, 4.0, "5", computer=computer),
        p4688(7, 5.0, "0x108", SPOOLSV, "0x2ac", computer=computer),
        system_logon(15, 6.0, "5", lid="0x3e4", computer=computer),
        system_logon(16, 7.0, "5", lid="0x3e4", computer=computer),
        xml(4609, 8, 10.0, computer),
        xml(4608, 9, 20.0, computer),
        p4688(10, 20.5, "0x10c", SVCHOST, "0x2ac", computer=computer),
        system_logon(11, 21.0, "0", computer=computer),
        system_logon(12, 22.0, "5", computer=computer),
        p4688(13, 23.0, "0x110", SVCHOST, "0x2ac", computer=computer),
    ]


def whole_log() -> list[str]:
    return [*reboot_log(), *reboot_log("HOST2")[:4], *system_log("HOST3")]
