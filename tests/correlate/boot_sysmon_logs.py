"""Hand-made logs of a boot whose Sysmon service starts late (`tests/correlate/test_boot_sysmon.py`):
the boot's first processes have their 4688s at once and their Sysmon 1s seconds later, each
carrying its creation time (its ProcessGuid's start time, its UtcTime); and of handles used after
a restart without an open (`tests/correlate/test_boot_sysmon_handles.py`). Also the OTRF sample
whose WORKSTATION5 reboots so, named here as `tests/correlate/test_reboot.py` names it."""

from __future__ import annotations

import datetime as dt

from tests.correlate.events import BASE, d4690, h4656, h4658, p4688, p4689, xml
from tests.correlate.reboot_logs import LSASS, NOTEPAD, SMSS, SVCHOST, WININIT, marker
from tests.correlate.sysmon_events import sysmon

#: The OTRF persistence sample: WORKSTATION5 shuts down at 07:07:19 and boots at 07:07:40; Sysmon
#: logs the boot's first Sysmon 1s from 07:08:06 on (smss.exe's 26 s after its 4688).
RUN_KEYS = "json/otrf/persistence__host__empire_persistence_registry_modification_run_keys_standard_user.zip"
WS5 = "WORKSTATION5.theshire.local"

UPFC = r"C:\Windows\System32\upfc.exe"
MEMCOMPRESSION = "MemCompression"
SERVICES = r"C:\Windows\System32\services.exe"
CMD = r"C:\Windows\System32\cmd.exe"

#: The moment `BASE` names (seconds past it are the hand-made events' times).
_BASE = dt.datetime.fromisoformat(BASE + "00+00:00")


def guid(sec: float, n: int) -> str:
    """A Sysmon ProcessGuid of a process created `sec` seconds past `BASE`: its second and third
    groups the low and high halves of that Unix time in seconds, as Sysmon writes them; `n` tells
    processes created in one second apart."""
    unix = int((_BASE + dt.timedelta(seconds=sec)).timestamp())
    return f"{{3ddc5665-{unix & 0xFFFF:04x}-{unix >> 16:04x}-{n:04x}-000000000500}}"


def utc_time(sec: float) -> str:
    """`sec` past `BASE` as a Sysmon UtcTime (`2021-10-08 12:57:10.200`)."""
    return (_BASE + dt.timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def late_s1(rid: int, sec: float, created: float, n: int, pid: int, image: str, ppid: int, parent: str) -> str:
    """A Sysmon 1 logged at `sec` of a process created at `created` (its GUID `guid(created, n)`)."""
    return sysmon(1, rid, sec, ProcessGuid=guid(created, n), ProcessId=str(pid), Image=image, CommandLine=image,
                  User="NT AUTHORITY\\SYSTEM", LogonId="0x3e7", ParentProcessGuid=guid(0.0, 0x100 + ppid % 0x100),
                  ParentProcessId=str(ppid), ParentImage=parent, UtcTime=utc_time(created))


def s10_target(rid: int, sec: float, target_guid: str, tpid: int, timage: str) -> str:
    """A Sysmon 10: services.exe (0x2ac) opens process `tpid` named by `target_guid`."""
    return sysmon(10, rid, sec, SourceProcessGUID=guid(0.0, 0x1ac), SourceProcessId="684", SourceImage=SERVICES,
                  TargetProcessGUID=target_guid, TargetProcessId=str(tpid), TargetImage=timage,
                  GrantedAccess="0x1fffff", UtcTime=utc_time(sec))


def late_sysmon_boot_log() -> list[str]:
    """lsass.exe (0x2d4) of a boot; shutdown; a boot (Registry's 4688 at 10.0) whose processes all
    have 4688s: smss.exe, lsass.exe 0x2d4 again, upfc.exe 0x714 twice in one second (the pid reused
    by the same image), then MemCompression reusing it, svchost.exe 0x1030 at 15.0 and again at 19.0
    after exiting, cmd.exe 0x800 at 12.0, cmd.exe 0x900 at 11.0 exiting at once and notepad.exe
    reusing 0x900 at 11.5. Sysmon starts at 24.0 and logs each its Sysmon 1 (with the creation time
    it saw), in the order they were created, and a Sysmon 10 of each upfc.exe right after its Sysmon
    1, by a provisional GUID, then by none (the zero GUID); a Sysmon 1 of a cmd.exe 0x800 created at
    16.0, which no 4688 is, and one of a cmd.exe 0x900 created at 12.x, which is not the cmd.exe of
    11.0 (notepad.exe had the pid by then); lsass.exe's 4656 after all that."""
    zero = "{00000000-0000-0000-0000-000000000000}"
    return [
        p4688(1, 0.0, "0x2d4", LSASS, "0x248", parent=WININIT),
        marker(1100, 2, 5.0, "Microsoft-Windows-Eventlog", "Security"),
        p4688(3, 10.0, "0x58", "Registry", "0x4"),
        p4688(4, 10.2, "0x194", SMSS, "0x4"),
        p4688(5, 12.3, "0x2d4", LSASS, "0x248", parent=WININIT),
        p4688(6, 13.1, "0x714", UPFC, "0x2ac", parent=SERVICES),
        p4689(7, 13.2, "0x714", UPFC),
        p4688(8, 13.6, "0x714", UPFC, "0x2ac", parent=SERVICES),
        p4689(9, 13.7, "0x714", UPFC),
        p4688(10, 14.5, "0x714", MEMCOMPRESSION, "0x4"),
        p4688(11, 15.0, "0x1030", SVCHOST, "0x2ac", parent=SERVICES),
        p4689(12, 15.5, "0x1030", SVCHOST),
        p4688(13, 19.0, "0x1030", SVCHOST, "0x2ac", parent=SERVICES),
        p4688(14, 12.0, "0x800", CMD, "0x2ac", parent=SERVICES),
        p4688(15, 11.0, "0x900", CMD, "0x2ac", parent=SERVICES),
        p4689(16, 11.2, "0x900", CMD),
        p4688(17, 11.5, "0x900", NOTEPAD, "0x2ac", parent=SERVICES),
        late_s1(20, 24.0, 10.2, 1, 0x194, SMSS, 4, "System"),
        late_s1(21, 24.0, 12.3, 2, 0x2D4, LSASS, 0x248, WININIT),
        late_s1(22, 24.0, 13.1, 3, 0x714, UPFC, 0x2AC, SERVICES),
        s10_target(23, 24.0, guid(14.0, 4), 0x714, UPFC),  # provisional GUID, another second
        late_s1(24, 24.0, 13.6, 5, 0x714, UPFC, 0x2AC, SERVICES),
        s10_target(25, 24.0, zero, 0x714, UPFC),
        late_s1(26, 24.0, 15.0, 6, 0x1030, SVCHOST, 0x2AC, SERVICES),
        late_s1(27, 24.0, 16.0, 7, 0x800, CMD, 0x2AC, SERVICES),
        late_s1(28, 24.0, 19.0, 8, 0x1030, SVCHOST, 0x2AC, SERVICES),
        late_s1(31, 24.0, 12.4, 9, 0x900, CMD, 0x2AC, SERVICES),
        h4656(29, 26.0, "0x2d4", "0x40", r"\REGISTRY\MACHINE\SAM", LSASS),
    ]


#: The restart of `handles_after_restart_log`, as its reasons name it.
RESTART = "the restart (4608 record 3: Windows is starting up; after the shutdown at 4609 record 2)"


def handles_after_restart_log(computer: str = "HOST1") -> list[str]:
    """A handle of a pre-existing process closed (a 4658, no 4656) before a restart; after it,
    handles of pids with no 4688 since it used without a 4656: one closed by a 4658, one the source
    of a 4690; one of a process created after the restart; and a 4656 (Object Access is audited)."""
    return [
        h4658(1, 1.0, "0x300", "0x44", SVCHOST, computer=computer),
        xml(4609, 2, 5.0, computer),
        xml(4608, 3, 10.0, computer),
        h4658(4, 11.0, "0x300", "0x48", SVCHOST, computer=computer),
        d4690(5, 12.0, "0x310", "0x50", "0x4", "0x1a8", computer=computer),
        p4688(6, 13.0, "0x320", CMD, "0x300", computer=computer),
        h4658(7, 14.0, "0x320", "0x58", CMD, computer=computer),
        h4656(8, 15.0, "0x330", "0x60", r"\REGISTRY\MACHINE\X", CMD, computer=computer),
    ]
