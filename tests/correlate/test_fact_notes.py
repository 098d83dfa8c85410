"""The notes of the events that have one are kept as numbers (`FactNotes`): at ten million events
a dict of note tuples with a string per exited process was ~47 MB of the model's heap. Each reads
back exactly as the scan wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.correlate.fact_notes import LATE_NOTE, FactNotes
from core.correlate.model import model_from_store
from core.store.store import Store
from tests.correlate.heap import reachable


def test_notes_read_back_exactly() -> None:
    notes = FactNotes()
    written = {
        3: (LATE_NOTE.format(0), None),
        4: (None, LATE_NOTE.format(10**17 + 7)),
        9: (LATE_NOTE.format(None), LATE_NOTE.format(12)),  # no record id: kept as the text
        10: ("logged after the process exited (4689 record 012)", "some other note"),  # not as worded: a text
        11: (LATE_NOTE.format(10**19), "some other note"),  # too big a record id for a code: a text
    }
    for pos, (source, target) in written.items():
        notes.add(pos, source, target)
    assert len(notes) == len(written)
    assert {pos: notes.get(pos) for pos in range(15)} == {pos: written.get(pos, (None, None)) for pos in range(15)}
    assert notes.between(4, 11) == {pos: written[pos] for pos in (4, 9, 10)}
    with pytest.raises(ValueError, match="out of scan order"):
        notes.add(10, None, "late")


def test_the_models_notes_hold_no_string_per_event(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    facts = model._facts  # noqa: SLF001 - what the model keeps
    notes = facts._notes  # noqa: SLF001
    assert len(notes) > 50
    assert sum(isinstance(o, str) for o in reachable(notes)) < 5
    noted = [f for f in facts if f.source_note or f.target_note]
    assert len(noted) == len(notes)
    assert all(n is None or (n.startswith("logged after the process exited (4689 record ") and n.endswith(")"))
               for f in noted for n in (f.source_note, f.target_note))
