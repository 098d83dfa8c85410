"""The model's per-event facts held in columns (`core.correlate.facts`): every value comes back
exactly, and building a model does not keep its scan alive."""

from __future__ import annotations

import gc
import weakref

import pytest

from core.correlate import facts as facts_module
from core.correlate.facts import NONE, Facts, FactsTable
from core.correlate.processes import Ref
from core.correlate.scan import Scan
from core.correlate.sessions import SessionChoice


def _facts(i: int, **fields: object) -> Facts:
    found = Facts(Ref(1000 + i, 7 + i, 4663, 133_500_000_000_000_000 + i, 133_500_000_000_000_000 + i, i),
                  f"ws{i % 3}.corp", f"WS{i % 3}.corp")
    for name, value in fields.items():
        setattr(found, name, value)
    return found


def test_every_field_comes_back_exactly() -> None:
    wide = 1 << 70
    made = [
        _facts(0, source_pid=700, source_proc=3, logon_id=0x3e7, user="CORP\\bob"),
        _facts(1, source_pid=NONE, target_pid=-1, target_proc=0, source_hid=0, source_handle=None,
               target_hid=(1 << 63) - 1, target_handle=9, source_note="logged after the process exited"),
        _facts(2, user=None, target_note="t", target_pid=-(1 << 31), source_handle=1 << 40),
        Facts(Ref(wide, None, 4688, None, 5, 3), "ws1.corp", "WS1.corp", source_pid=wide),
        *(_facts(i, source_pid=i, user=f"u{i % 5}") for i in range(4, 40)),
    ]
    table = FactsTable()
    for found in made:
        table.add(found)
    choice = SessionChoice(0x3e7, None, "exact", "well-known", "SYSTEM")
    table.assign_sessions(lambda f: choice if f.logon_id else None)
    made[0].session = choice
    table.finish()
    assert list(table) == made
    assert len(table) == len(made)
    for found in made:
        assert table.get(found.ref.store_id) == found
    assert table.get(999_999) is None
    assert list(table.event_ids()) == [(f.ref.store_id, f.ref.event_id) for f in made]
    assert list(table.rows()) == [
        (pos, f.ref.store_id, f.ref.event_id, f.source_pid, f.source_proc, f.source_note, f.target_pid,
         f.target_proc, f.target_note, f.session) for pos, f in enumerate(made)]


def test_many_batches_and_index_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts_module, "BATCH", 7)
    monkeypatch.setattr(facts_module, "INDEX_BLOCK", 16)
    monkeypatch.setattr(facts_module, "ROWS_CHUNK", 10)
    # store ids not in scan order, as when several inputs are merged by time
    made = [_facts((i * 37) % 101, source_pid=i) for i in range(101)]
    table = FactsTable()
    for found in made:
        table.add(found)
    table.finish()
    assert list(table) == made
    assert all(table.get(f.ref.store_id) == f for f in made)
    assert [row[:5] for row in table.rows()] == [
        (pos, f.ref.store_id, f.ref.event_id, f.source_pid, f.source_proc) for pos, f in enumerate(made)]


def test_the_scan_is_freed_by_reference_counting() -> None:
    """A frozen model (`core.store.gc_pause`) would keep a scan that is a reference cycle, with
    every tracker's state, for as long as the app runs."""
    gc.disable()
    try:
        scan = Scan()
        alive = weakref.ref(scan)
        del scan
        assert alive() is None
    finally:
        gc.enable()


def test_the_scans_caches_answer_as_before_and_stay_bounded() -> None:
    """Pids and EventData names are looked up in caches a hostile log could fill: bounded."""
    from core.correlate import event_fields as scan
    from core.model.values import as_int

    for i in range(scan.PARSED_VALUES * 2 + 5):
        assert scan.as_int(hex(i)) == i
    assert len(scan._PARSED) <= scan.PARSED_VALUES
    for value in ("0x8000000000000000", "  12 ", "-5", "junk", "0x", ""):
        assert scan.as_int(value) == as_int(value)
    assert scan.as_int(None) is None
    for i in range(scan.SEEN_NAMES * 2):
        scan.values_of(((f"Name{i}", "v"),))
    assert len(scan._SEEN) <= scan.SEEN_NAMES
    assert scan.values_of((("newprocessname", "a"), ("NEWPROCESSNAME", "b"), ("Other", "c"))) == {
        "NewProcessName": "a"}


def test_store_ids_in_order_within_blocks_but_not_across(monkeypatch: pytest.MonkeyPatch) -> None:
    """`finish` takes a block whose store ids already go up as it is (one log: every block),
    and sorts the others: both kinds in one table, each id found where it is. Only the sorted
    blocks' positions are written (a block in order is its own: 4 bytes an event saved)."""
    monkeypatch.setattr(facts_module, "INDEX_BLOCK", 16)
    # blocks of 16 rising ids, the blocks in falling order; then one block shuffled
    made = [_facts(16 * (3 - i // 16) + i % 16, source_pid=i) for i in range(64)]
    made += [_facts(100 + (i * 7) % 16, source_pid=i) for i in range(16)]
    table = FactsTable()
    for found in made:
        table.add(found)
    table.finish()
    assert all(table.get(f.ref.store_id) == f for f in made)
    assert [table.position(f.ref.store_id) for f in made] == list(range(len(made)))
    assert table.get(5000) is None
    assert len(table._disks["sorted"]) == 16  # noqa: SLF001 - the shuffled block's alone (80 before)
