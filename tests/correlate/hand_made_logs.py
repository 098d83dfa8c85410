"""Hand-made logs (lists of Event XML, see `events`) several correlation test modules build their
models and stores from: the drvinst.exe 4690 scenario, it on a second host with ties and a
reused pid (shuffled), and families of processes with handles on two computers."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.correlate.events import d4690, h4656, h4658, p4688, p4689


def scenario() -> list[str]:
    drv = r"C:\Windows\System32\drvinst.exe"
    return [
        p4688(1, 0.0, "0x1dac", drv, "0x280", r"C:\Windows\System32\svchost.exe"),
        d4690(2, 1.0, "0x1dac", "0x1ac", "0x4", "0x1644"),
        h4658(3, 1.0000004, "0x1dac", "0x1644", drv),
        h4656(4, 1.0000013, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", drv),
        h4658(5, 1.0000030, "0x1dac", "0x1ac", drv),
        p4689(6, 2.0, "0x1dac", drv),
        p4688(7, 3.0, "0x1dac", r"C:\Windows\System32\cmd.exe", "0x280"),
    ]


def hand_made() -> list[str]:
    drv = r"C:\Windows\System32\drvinst.exe"
    docs = scenario()
    # Another host reusing the same pids, time ties broken by record id, and a pid reused.
    docs += [
        p4688(11, 0.0, "0x1dac", drv, "0x280", computer="HOST2"),
        d4690(12, 1.0, "0x1dac", "0x1ac", "0x4", "0x1644", computer="HOST2"),
        h4656(10, 1.0, "0x1dac", "0x1ac", r"\REGISTRY\ROOT", drv, computer="HOST2"),
        h4658(13, 1.0, "0x1dac", "0x1ac", drv, computer="HOST2"),
        p4689(14, 2.0, "0x1dac", drv, computer="HOST2"),
        p4688(15, 2.5, "0x1dac", r"C:\Windows\System32\cmd.exe", "0x280", computer="HOST2"),
    ]
    random.Random(3).shuffle(docs)
    return docs


def family_log(parents: int = 20, children: int = 8, handles: int = 2) -> list[str]:
    """Two computers; on each, `parents` cmd.exe under System, each starting `children`
    processes that open and close `handles` handles, some exiting, one pid reused; a last
    parent with 60 handles (its list cut to its edges) and children logged out of order."""
    docs: list[str] = []
    rid = 0

    def add(make: Callable[..., str], *args: object, **kw: object) -> None:
        nonlocal rid
        rid += 1
        docs.append(make(rid, *args, **kw))

    for host in ("HOST1", "HOST2"):
        sec = 0.0
        for i in range(parents):
            ppid = f"0x{0x1000 + i * 0x100:x}"
            add(p4688, sec, ppid, r"C:\Windows\System32\cmd.exe", "0x4", computer=host)
            for j in range(children):
                pid = f"0x{0x1000 + i * 0x100 + (j + 1) * 4:x}"
                image = rf"C:\tools\child{j}.exe"
                sec += 1.0
                add(p4688, sec, pid, image, ppid, computer=host)
                for k in range(handles):
                    add(h4656, sec + 0.1, pid, f"0x{0x40 + k * 4:x}", rf"\REGISTRY\MACHINE\K{k}", image,
                        computer=host)
                    add(h4658, sec + 0.2, pid, f"0x{0x40 + k * 4:x}", image, computer=host)
                if j % 3 == 0:
                    add(p4689, sec + 0.5, pid, image, computer=host)
            if i == 0:  # the first child's pid reused after its exit
                sec += 1.0
                add(p4688, sec, f"0x{0x1000 + 4:x}", r"C:\tools\reuse.exe", ppid, computer=host)
        sec += 1.0
        big = "0x9000"
        add(p4688, sec, big, r"C:\tools\big.exe", "0x4", computer=host)
        for k in range(60):
            add(h4656, sec + 0.01 * (k + 1), big, f"0x{0x100 + k * 4:x}", rf"\REGISTRY\MACHINE\B{k}",
                r"C:\tools\big.exe", computer=host)
        add(p4688, sec + 2.0, "0x9104", r"C:\tools\late.exe", big, computer=host)
        add(p4688, sec + 1.5, "0x9108", r"C:\tools\early.exe", big, computer=host)
    return docs


def unreadable_logon_ids() -> list[str]:
    """A logon whose id reads (bob's), and two logon events whose logon id is no number (one not
    hex, one past 64 bits): one session, two events in none."""
    from tests.logs import event_xml

    return [
        event_xml(4624, 1, "2024-01-01T00:00:00Z", {"TargetLogonId": "0x3e7a", "TargetUserName": "bob",
                                                   "LogonType": "2"}),
        event_xml(4624, 2, "2024-01-01T00:00:01Z", {"TargetLogonId": "zz", "TargetUserName": "eve",
                                                   "LogonType": "2"}),
        event_xml(4634, 3, "2024-01-01T00:00:02Z", {"TargetLogonId": "0x" + "1" * 100, "TargetUserName": "eve"}),
    ]
