"""A handle's accesses are kept as positions in the model's facts table (`core.correlate.refcolumn`):
no `Ref` per access is held, yet they read, slice and compare as the tuple of the events' `Ref`s."""

from __future__ import annotations

import gc

from core.correlate.facts import NONE, Facts, FactsTable
from core.correlate.model import build_model
from core.correlate.processes import Ref
from core.correlate.refcolumn import RefColumn
from tests.correlate.events import h4656, h4658, h4663, load, p4688, p4689

KEY = r"\REGISTRY\MACHINE\SAM"
LSASS = r"C:\Windows\System32\lsass.exe"
ACCESSES = 60


def _model_with_a_hot_handle() -> tuple[list[Ref], RefColumn]:
    docs = [p4688(1, 0.5, "0x2bc", LSASS, "0x4"), h4656(2, 1.0, "0x2bc", "0x438", KEY, LSASS)]
    docs += [h4663(3 + i, 1.0 + (i + 1) / 1000, "0x2bc", "0x438", KEY, LSASS) for i in range(ACCESSES)]
    docs.append(h4658(3 + ACCESSES, 2.0, "0x2bc", "0x438", LSASS))
    model = build_model(load(*docs))
    (handle,) = model.handles
    refs = [f.ref for f in model._facts if f.ref.event_id == 4663]
    assert isinstance(handle.accesses, RefColumn)
    return refs, handle.accesses


def test_a_handle_keeps_no_ref_per_access() -> None:
    refs, accesses = _model_with_a_hot_handle()
    assert not any(isinstance(held, Ref) for held in gc.get_referents(accesses))
    assert len(accesses) == ACCESSES
    assert [r.record_id for r in accesses] == list(range(3, 3 + ACCESSES))
    assert list(accesses) == refs and accesses == tuple(refs) and tuple(refs) == accesses
    assert accesses[0] == refs[0] and accesses[-1] == refs[-1]
    assert list(accesses[5:-5]) == refs[5:-5] and accesses[5:-5][0] == refs[5]
    assert list(reversed(accesses)) == refs[::-1]
    assert hash(accesses) == hash(tuple(refs))
    assert accesses != tuple(refs[:-1])


def test_a_ref_comes_back_exactly_from_its_position() -> None:
    """Values kept aside (a store id beyond 64 bits, the empty slot's own value), no record id,
    and an untimed event (its time line position carried over) all come back as the scan had them."""
    made = [
        Facts(Ref(1 << 70, None, 4663, None, 5, 0), "ws1.corp", "WS1.corp"),
        Facts(Ref(NONE, 7, 4663, 9, 9, 1), "ws1.corp", "WS1.corp"),
        Facts(Ref(12, 8, 4663, 133_500_000_000_000_000, 133_500_000_000_000_000, 2), "ws1.corp", "WS1.corp"),
    ]
    table = FactsTable()
    for found in made:
        table.add(found)
    assert [table.ref(pos) for pos in range(len(made))] == [f.ref for f in made]
    table.finish()
    assert [table.ref(pos) for pos in range(len(made))] == [f.ref for f in made]
    assert [table.key(pos) for pos in range(len(made))] == [f.ref.key for f in made]
    assert [table.store_id(pos) for pos in range(len(made))] == [f.ref.store_id for f in made]
    assert [table.at_order(f.ref.order) for f in made] == [0, 1, 2] and table.at_order(3) is None


def test_a_process_keeps_its_model_events_as_positions() -> None:
    """Its 4688, 4689, first event and the events naming it: positions, read back as the scan's Refs."""
    docs = [p4688(1, 0.5, "0x2bc", LSASS, "0x4"), h4663(2, 1.0, "0x2bc", "0x438", KEY, LSASS),
            p4688(3, 1.5, "0x2bc", r"C:\Windows\System32\cmd.exe", "0x4"), p4689(4, 2.0, "0x2bc", "cmd.exe")]
    model = build_model(load(*docs))
    refs = {f.ref.record_id: f.ref for f in model._facts}
    first, second = model.instances("HOST1", 0x2BC)
    for p in (first, second):
        assert not [held for held in gc.get_referents(p) if isinstance(held, Ref)]
    assert (first.created, first.first_seen, first.exited, first.replaced_by) == (refs[1], refs[1], None, refs[3])
    assert first.names == ((LSASS, refs[1]),)
    assert (second.created, second.exited, second.replaced_by) == (refs[3], refs[4], None)
    assert second.end == refs[4].key and second.start == refs[3].key
