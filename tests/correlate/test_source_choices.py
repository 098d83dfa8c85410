"""Every 4690's source choice is kept as a few numbers and worded when read (`SourceChoices`): at
ten million events the choices written out were ~55 MB of the model's heap. Read back, each is
the choice the scan made, in the scan's words; a later choice of a 4690 replaces the earlier."""

from __future__ import annotations

import re
from pathlib import Path

from core.correlate.evidence import Ref
from core.correlate.model import model_from_store
from core.correlate.processes import AMBIGUOUS, EXACT, INFERRED, MISSING
from core.correlate.source_choices import (
    OPEN_AFTER,
    OPEN_BEFORE,
    USED_AFTER,
    USED_BEFORE,
    Chosen,
    SourceChoice,
    SourceChoices,
)
from core.store.store import Store
from tests.correlate.heap import reachable

#: The reasons of the four kinds kept as numbers: (confidence, pattern naming the first record).
_KINDS = {
    "open before": (EXACT, r"opened by \d+ record (\d+), still open at this 4690"),
    "used before": (INFERRED, r"its open is not in the log; in use by \d+ record (\d+) before this 4690"),
    "open after": (INFERRED, r"its \d+ \(record (\d+)\) is logged \d+\.\d{7} s after this 4690 \(out of order\): "
                             r"the nearest open of that value by that process"),
    "used after": (INFERRED, r"its open is not in the log; first used by \d+ record (\d+), \d+\.\d{7} s after "
                             r"this 4690"),
}


def test_choices_hold_no_reason_and_read_as_the_scan_worded_them(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    choices = model._choices  # noqa: SLF001 - what the model keeps of them
    assert len(choices) > 100
    strings = sum(isinstance(o, str) for o in reachable(choices, skip=(model._facts,)))  # noqa: SLF001
    assert strings < len(choices) // 20
    seen: dict[str, int] = {}
    for sid in choices:
        c = choices[sid]
        assert choices.get(sid) == c and sid in choices
        kind = next((k for k, (conf, pattern) in _KINDS.items()
                     if c.confidence == conf and re.fullmatch(pattern, c.reason)), None)
        if kind is None:
            assert c.confidence in (AMBIGUOUS, MISSING), c
            continue
        seen[kind] = seen.get(kind, 0) + 1
        assert c.handle is not None
        first = model.handles[c.handle].first_seen
        match = re.fullmatch(_KINDS[kind][1], c.reason)
        assert match is not None and int(match.group(1)) == first.record_id
    assert seen.get("open before", 0) > 100, seen


class _Facts:
    """A facts table of events at positions 0..: position p is record 100 + p, p seconds in."""

    def ref(self, pos: int) -> Ref:
        return Ref(pos + 1, 100 + pos, 4656, None, pos * 10_000_000, pos)

    def key(self, pos: int) -> tuple[int, int]:
        return self.ref(pos).key

    def store_id(self, pos: int) -> int:
        return self.ref(pos).store_id


def test_a_later_choice_replaces_the_earlier_and_each_kind_is_worded() -> None:
    choices = SourceChoices(_Facts())
    missing = SourceChoice(None, MISSING, "no 4656 at all")
    choices.put(1, 9, Chosen(OPEN_BEFORE, 7, 3))
    choices.put(1, 9, Chosen(USED_BEFORE, 8, 4))  # replaced by a later choice of the same 4690
    choices.put(2, 9, Chosen(OPEN_AFTER, 5, 11))
    choices.put(3, 9, Chosen(USED_AFTER, 6, 12))
    choices.put(3, 9, missing)  # worded again once the whole log is seen
    choices.put(4, 9, missing)
    choices.put(4, 9, Chosen(OPEN_BEFORE, 2, 1))
    assert sorted(choices.items()) == [
        (1, SourceChoice(8, INFERRED, "its open is not in the log; in use by 4656 record 104 before this 4690")),
        (2, SourceChoice(5, INFERRED, "its 4656 (record 111) is logged 2.0000000 s after this 4690 (out of order): "
                                      "the nearest open of that value by that process")),
        (3, missing),
        (4, SourceChoice(2, EXACT, "opened by 4656 record 101, still open at this 4690")),
    ]
    assert len(choices) == 4 and 5 not in choices and choices.get(5) is None
