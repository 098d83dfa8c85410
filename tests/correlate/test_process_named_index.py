"""The target of a 4656 on a Process object (named by path only) is the instance of that image
alive at the 4656, found through an index rather than a scan of every instance: the answers must
be those of the scan (one alive: inferred; several: ambiguous with the same labels in the same
order; none: missing), with instances known only by use (no start) and never ending."""

from __future__ import annotations

import random

from core.correlate.access import process_named
from core.correlate.model import CorrelationModel, build_model
from core.correlate.processes import AMBIGUOUS, INFERRED, MISSING, Process, Ref, basename
from tests.correlate.events import h4656, load, p4688, p4689
from tests.correlate.test_correlate_access import MIMI, open_process

CMD = r"C:\Windows\System32\cmd.exe"
CMD_OBJECT = r"\Device\HarddiskVolume2\Windows\System32\cmd.exe"


def _log(seed: int) -> list[str]:
    """cmd.exe instances over a minute, pids reused, some running before the log (seen only by a
    4656 they made), some never exiting; opens of cmd.exe by mimi.exe, some at the very second
    of a creation or an exit."""
    rng = random.Random(seed)
    timed: list[tuple[float, int, str]] = []  # (seconds, tie-break, event with rid 0 placeholder)
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


def _scanned(model: CorrelationModel, computer: str, image: str, ref: Ref) -> tuple[Process | None, str, str]:
    """The answer by a scan of every instance (what the index must give)."""
    cands = [p for p in model.processes if p.computer.casefold() == computer.casefold()
             and image.casefold() in {p.name.casefold(), *(basename(n).casefold() for n, _ in p.names)}]
    alive = [p for p in cands if (p.start is None or p.start <= ref.key) and (p.end is None or p.end >= ref.key)]
    if len(alive) == 1:
        return alive[0], INFERRED, f"the only {image} alive at this time (the 4656 names its target by path only)"
    if alive:
        return None, AMBIGUOUS, f"several {image} alive at this time: {', '.join(p.label for p in alive[:8])}"
    return None, MISSING, f"no {image} alive on {computer} at this time in this log"


def test_the_indexed_target_of_a_process_open_is_the_scanned_one() -> None:
    seen: set[str] = set()
    for seed in range(6):
        model = build_model(load(*_log(seed)))
        opens = [o for o in model.access_tracker.opens if o.target_image == "cmd.exe"]
        assert len(opens) == 72
        assert any(p.start is None for p in model.processes) and any(p.end is None for p in model.processes)
        for o in opens:
            got = process_named(model, "HOST1", o.target_image, o.ref)
            assert got == _scanned(model, "HOST1", o.target_image, o.ref), (seed, o.ref)
            seen.add(got[1])
    assert seen == {INFERRED, AMBIGUOUS, MISSING}
