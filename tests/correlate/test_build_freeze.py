"""Guard of exactness for the build's freeze of handle instances (made positionally, in
`Handle`'s field order, since that is cheaper than by keyword): each field of a frozen
`Handle` is the one its tracker instance had."""

from __future__ import annotations

from array import array

from core.correlate.facts import FactsTable
from core.correlate.handle_table import HandleTable
from core.correlate.handles import Handle, HandleTracker


def test_a_frozen_handle_keeps_each_field_of_its_instance() -> None:
    facts = FactsTable()
    tracker = HandleTracker(facts, HandleTable(facts))
    tracker.open("pc", "PC", 0x10, 3, 0x44, 4656, ("File", "C:\\x", "%%4416"), at=7)
    h = tracker.handles[0]
    # Distinct values everywhere, so that two fields swapped cannot go unseen.
    h.source, h.duplicated_by, h.closed, h.close_note = 11, 5, 9, "a note"
    h.accesses, h.duplications, h.first_seen = array("q", [8]), [12, 13], 6
    [frozen] = tracker.finish()
    assert frozen == Handle(
        index=0, computer="PC", pid=0x10, handle_id=0x44, process=3, opened_at=7, duplicated_by_at=5, source=11,
        object_type="File", object_name="C:\\x", access="%%4416", accesses_at=array("q", [8]), closed_at=9,
        close_note="a note", duplications_at=array("q", [12, 13]), first_seen_at=6, facts=facts,
    )
    assert (frozen.first_seen_at, frozen.closed_at, frozen.close_note) == (6, 9, "a note")
