"""The target of a 4656 on a Process object (named by path only) is the instance of that image
alive at the 4656, found through an index rather than a scan of every instance: the answers must
be those of the scan (one alive: inferred; several: ambiguous with the same labels in the same
order; none: missing), with instances known only by use (no start) and never ending."""

from __future__ import annotations

from core.correlate.access import process_named
from core.correlate.model import CorrelationModel, build_model
from core.correlate.processes import AMBIGUOUS, INFERRED, MISSING, Process, Ref, basename
from tests.correlate.events import load
from tests.correlate.named_targets import log


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
        model = build_model(load(*log(seed)))
        opens = [o for o in model.access_tracker.opens if o.target_image == "cmd.exe"]
        assert len(opens) == 72
        assert any(p.start is None for p in model.processes) and any(p.end is None for p in model.processes)
        for o in opens:
            got = process_named(model, "HOST1", o.target_image, o.ref)
            assert got == _scanned(model, "HOST1", o.target_image, o.ref), (seed, o.ref)
            seen.add(got[1])
    assert seen == {INFERRED, AMBIGUOUS, MISSING}
