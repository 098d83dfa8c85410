"""A seeded log for the tests of a 4656's target named by path only (`process_named`, and
`targets_named` sweeping many at once): cmd.exe instances over a minute, their pids reused, and
the 4656s of mimi.exe opening them, whose answers those tests compare with a scan."""

from __future__ import annotations

import random

from tests.correlate.access_events import MIMI, open_process
from tests.correlate.events import h4656, p4688, p4689

CMD = r"C:\Windows\System32\cmd.exe"
CMD_OBJECT = r"\Device\HarddiskVolume2\Windows\System32\cmd.exe"


def log(seed: int) -> list[str]:
    """cmd.exe instances over a minute, pids reused, some running before the log (seen only by a
    4656 they made), some never exiting; opens of cmd.exe by mimi.exe, some at the very second
    of a creation or an exit."""
    rng = random.Random(seed)
    timed: list[tuple[float, int, tuple[str, str]]] = []  # (seconds, tie-break, (what, pid))
    marks: list[float] = []
    for n in range(12):
        pid = f"0x{0x1000 + 4 * n:x}"
        if rng.random() < 0.25:
            t = round(rng.uniform(0.5, 8.0), 3)
            timed.append((t, len(timed), ("use", pid)))
        else:
            t = round(rng.uniform(0.5, 50.0), 3)
            timed.append((t, len(timed), ("start", pid)))
            marks.append(t)
        while rng.random() < 0.9:
            t = round(t + rng.uniform(0.2, 4.0), 3)
            timed.append((t, len(timed), ("exit", pid)))
            marks.append(t)
            if rng.random() < 0.6:
                break
            t = round(t + rng.uniform(0.0, 3.0), 3)
            timed.append((t, len(timed), ("start", pid)))
            marks.append(t)
    for _ in range(60):
        timed.append((round(rng.uniform(0.1, 59.0), 3), len(timed), ("open", "")))
    for t in rng.sample(marks, 12):
        timed.append((t, len(timed), ("open", "")))
    timed.sort()
    docs = [p4688(1, 0.0, "0x384", MIMI, "0x4")]
    for rid, (t, _, (what, pid)) in enumerate(timed, 2):
        if what == "start":
            docs.append(p4688(rid, t, pid, CMD, "0x384"))
        elif what == "exit":
            docs.append(p4689(rid, t, pid, CMD))
        elif what == "use":
            docs.append(h4656(rid, t, pid, "0x10", r"\REGISTRY\MACHINE", CMD))
        else:
            docs.append(open_process(rid, t, "0x384", f"0x{4 * rid:x}", "0x1010", target=CMD_OBJECT))
    return docs
