"""The Process access list names the targets of its 4656s in one sweep through time per image
(`targets_named`, issue 18: a look-up per 4656 took a second at a million events): each answer
must be the one `process_named` gives for that 4656 alone, whatever the order of the 4656s."""

from __future__ import annotations

import random

from core.correlate.access import process_named, targets_named
from core.correlate.model import build_model
from core.correlate.processes import AMBIGUOUS, INFERRED, MISSING
from tests.correlate.events import load
from tests.correlate.named_targets import log


def test_the_swept_targets_are_those_looked_up_one_by_one() -> None:
    seen: set[str] = set()
    for seed in range(6):
        model = build_model(load(*log(seed)))
        opens = list(model.access_tracker.opens)
        random.Random(seed).shuffle(opens)
        asked = [("HOST1", o.target_image, o.ref) for o in opens] + [("host1", "CMD.EXE", opens[0].ref)]
        swept = targets_named(model, asked)
        assert swept == [process_named(model, c, image, ref) for c, image, ref in asked], seed
        seen.update(confidence for _, confidence, _ in swept)
    assert seen == {INFERRED, AMBIGUOUS, MISSING}
