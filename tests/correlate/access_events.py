"""Hand-made process-access events (Event XML written here) the correlation tests of several
modules share: a 4656 opening a process object (mimi.exe opening lsass.exe unless told), and
the credential-access chain, a 4656 and its Sysmon 10s, a 4690 and other accesses to lsass."""

from __future__ import annotations

from tests.correlate.events import d4690, p4688, xml
from tests.correlate.sysmon_events import s10

LSASS = r"C:\Windows\system32\lsass.exe"
LSASS_OBJECT = r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"
MIMI = r"C:\Temp\mimi.exe"


def open_process(rid: int, sec: float, pid: str, handle: str, mask: str, image: str = MIMI,
                 target: str = LSASS_OBJECT) -> str:
    return xml(4656, rid, sec, "HOST1", SubjectLogonId="0x3e7", ObjectServer="Security", ObjectType="Process",
               ObjectName=target, HandleId=handle, AccessList="%%4484", AccessMask=mask, ProcessId=pid,
               ProcessName=image)


def chain() -> list[str]:
    return [
        p4688(1, 0.0, "0x384", MIMI, "0x4"),
        open_process(2, 1.000, "0x384", "0x88", "0x1010"),
        s10(3, 1.004, "{M}", 900, MIMI, "{L}", 700, LSASS, access="0x1010"),
        s10(4, 1.005, "{M}", 900, MIMI, "{L}", 700, LSASS, access="0x1400"),
        d4690(5, 1.2, "0x384", "0x88", "0x4", "0x9c"),
        s10(6, 2.0, "{W}", 1200, r"C:\Windows\System32\wbem\WmiPrvSE.exe", "{L}", 700, LSASS, access="0x1000"),
        s10(7, 3.0, "{M}", 900, MIMI, "{N}", 1500, r"C:\Windows\notepad.exe", access="0x1fffff"),
    ]
