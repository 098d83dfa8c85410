"""The handle tracker streams (issue 18, 10M events): each handle instance is written into the
model's `HandleTable` as soon as no later event can change it (`HandleTracker.advance`), so that the
scan holds only the instances open or recently ended, and the model is the one the tracker gave
when it held every instance until `finish` (its `advance` made a no-op here: the old path).

Hand-made logs, a row per batch (`advance` after every event), for each way a later event reaches
an instance: a 4690 logged before its source's 4656 (within SOURCE_OPEN_WINDOW), a value reused
right after, a handle duplicated into System closed under the source pid, a process exit without
its 4658s (a 4658 logged within EXIT_GRACE still closes them), and computers where one kind of
handle event is missing from the whole log, or only comes late."""

from __future__ import annotations

import marshal
from typing import Any

import pytest

import core.correlate.scan as scan_module
from bench.model_digest import digests
from core.correlate.handle_table import HandleTable
from core.correlate.handles import HandleTracker
from core.correlate.model import CorrelationModel, build_model
from core.correlate.scan import Scan, stream
from core.store.store import Store, StoredEvent
from tests.correlate.events import by_record, d4690, h4656, h4658, h4663, load, p4688, p4689
from tests.correlate.heap import reachable

SPOOL = r"C:\Windows\System32\spoolsv.exe"
TOOL = r"C:\tool.exe"


def _log() -> list[StoredEvent]:
    return load(
        p4688(1, 0.0, "0x678", SPOOL, "0x4"),
        p4688(2, 0.0, "0x500", TOOL, "0x4"),
        # A 4690 logged 1.3 us before its source's 4656; the value closed and reused at once, copied again.
        d4690(3, 1.0, "0x678", "0x1ac", "0x4", "0x1644"),
        h4656(4, 1.0000013, "0x678", "0x1ac", r"\REGISTRY\ONE", SPOOL),
        h4658(5, 1.5, "0x678", "0x1ac", SPOOL),
        h4656(6, 1.5, "0x678", "0x1ac", r"\REGISTRY\TWO", SPOOL),
        d4690(7, 1.6, "0x678", "0x1ac", "0x4", "0x1648"),
        h4663(8, 1.7, "0x678", "0x1ac", r"\REGISTRY\TWO", SPOOL),
        # The first copy (into System) closed under the source pid, long after.
        h4658(9, 30.0, "0x678", "0x1644", SPOOL),
        # Exits without their 4658s: one comes within EXIT_GRACE, the other never.
        h4656(10, 2.0, "0x500", "0x30", r"C:\a.txt", TOOL, otype="File"),
        h4656(11, 2.0, "0x500", "0x34", r"C:\b.txt", TOOL, otype="File"),
        d4690(12, 2.1, "0x500", "0x34", "0x4", "0x1700"),
        p4689(13, 3.0, "0x500", TOOL),
        h4656(14, 5.5, "0x678", "0x3000", r"\REGISTRY\MEANWHILE", SPOOL),  # past exit + window, within grace
        h4658(15, 6.0, "0x500", "0x30", TOOL),
        # HOST2 logs no 4658 at all, HOST3 no 4656 at all: said once the whole log is seen.
        h4656(1, 1.0, "0x10", "0x40", r"\REGISTRY\H2", TOOL, computer="HOST2"),
        h4656(2, 1.1, "0x10", "0x40", r"\REGISTRY\H2B", TOOL, computer="HOST2"),
        d4690(3, 1.2, "0x10", "0x40", "0x4", "0x80", computer="HOST2"),
        d4690(1, 1.0, "0x20", "0x44", "0x4", "0x88", computer="HOST3"),
        # HOST4 logs its first 4656, HOST5 its first 4658, only late: their earlier reasons are not
        # "auditing off" (though written before those came).
        d4690(1, 1.0, "0x30", "0x48", "0x4", "0x90", computer="HOST4"),
        h4656(2, 40.0, "0x30", "0x50", r"\REGISTRY\LATE", TOOL, computer="HOST4"),
        h4656(1, 1.1, "0x30", "0x4c", r"\REGISTRY\H5", TOOL, computer="HOST5"),
        h4656(2, 1.2, "0x30", "0x4c", r"\REGISTRY\H5B", TOOL, computer="HOST5"),
        h4658(3, 40.1, "0x30", "0x4c", TOOL, computer="HOST5"),
        # Time goes on: everything above is final before the end of the log.
        h4656(99, 50.0, "0x678", "0x2000", r"\REGISTRY\LAST", SPOOL),
    )


def _model(events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch, *, streaming: bool) -> CorrelationModel:
    """The model of `events` fed a row per batch; `streaming` False: nothing written before `finish`."""
    puts, written = [0], [-1]  # rows put; of them, before `finish`
    put, finish = HandleTable.put, HandleTracker.finish

    def counted(self: HandleTable, *args: Any) -> None:
        puts[0] += 1
        put(self, *args)

    def finishing(self: HandleTracker) -> HandleTable:
        written[0] = puts[0]
        return finish(self)

    with monkeypatch.context() as m:
        m.setattr(scan_module, "ROWS_BATCH", 1)
        m.setattr(HandleTable, "put", counted)
        m.setattr(HandleTracker, "finish", finishing)
        if not streaming:
            m.setattr(HandleTracker, "advance", lambda self, now: None)
        model = build_model(events)
    assert bool(written[0]) is streaming and puts[0] == len(model.handles)
    return model


def test_a_streamed_model_is_the_one_the_whole_log_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _log()
    streamed = _model(events, monkeypatch, streaming=True)
    assert digests(streamed) == digests(_model(events, monkeypatch, streaming=False))
    model = streamed

    def source(rid: int, computer: str = "HOST1") -> Any:
        return model.correlate(by_record(events, rid, computer)).source_handle

    def target(rid: int, computer: str = "HOST1") -> Any:
        return model.correlate(by_record(events, rid, computer)).target_handle

    # The 4690 before its source's 4656: that open, not the reopen after the close.
    first = source(3)
    assert first.confidence == "inferred" and "logged 0.0000013 s after this 4690" in first.reason
    assert first.handle.object_name == r"\REGISTRY\ONE" and first.handle.closed.record_id == 5
    second = source(7)
    assert second.confidence == "exact" and second.handle.object_name == r"\REGISTRY\TWO"
    assert [r.record_id for r in second.handle.accesses] == [8]
    # The copy into System: named from its source, closed under the source pid 28.5 s later.
    copy = target(3).handle
    assert copy.pid == 4 and copy.object_name == r"\REGISTRY\ONE" and copy.closed.record_id == 9
    assert "logged under the source process 0x678" in copy.close_reason
    # The exit: a 4658 within EXIT_GRACE still closes; the other handle's close is the exit.
    a = source(15).handle
    assert a.object_name == r"C:\a.txt" and a.closed.record_id == 15
    b = source(12)
    assert b.handle.object_name == r"C:\b.txt" and b.handle.closed is None
    assert b.handle.close_reason == "no 4658 for it: its process exited (4689 record 13)"
    assert [r.record_id for r in b.handle.duplications] == [12]
    # Whole-log reasons.
    h2 = source(1, "HOST2").handle
    assert h2.close_reason == "Handle Manipulation auditing seems off: no 4658 at all for HOST2 in this log"
    assert source(3, "HOST2").handle.object_name == r"\REGISTRY\H2B"
    h3 = source(1, "HOST3")
    assert h3.confidence == "missing" and "no 4656 at all for HOST3" in h3.reason
    h4 = source(1, "HOST4")
    assert h4.confidence == "missing" and h4.reason.startswith("no 4656 for handle 0x48 of process 0x30")
    reused = source(1, "HOST5").handle
    assert reused.close_reason.startswith("no 4658 for it: the value 0x4c was reused by 4656 record 2")
    still = source(99).handle
    assert still.close_reason == "no 4658 for 0x2000 in this log: still open at the end of the log"


def test_a_handle_duplicated_into_system_outlives_systems_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy is System's: when System's 4689 is logged, a 4658 under the source pid can still
    close it, later than EXIT_GRACE: it is not written at System's exit."""
    events = load(
        p4688(1, 0.0, "0x678", SPOOL, "0x4"),
        h4656(2, 0.5, "0x678", "0x1ac", r"\REGISTRY\ONE", SPOOL),
        d4690(3, 1.0, "0x678", "0x1ac", "0x4", "0x1644"),
        p4689(4, 2.0, "0x4", "System"),
        h4656(5, 15.0, "0x678", "0x3000", r"\REGISTRY\MEANWHILE", SPOOL),  # past exit + grace + window
        h4658(6, 20.0, "0x678", "0x1644", SPOOL),
        h4656(7, 50.0, "0x678", "0x2000", r"\REGISTRY\LAST", SPOOL),
    )
    model = _model(events, monkeypatch, streaming=True)
    assert digests(model) == digests(_model(events, monkeypatch, streaming=False))
    target = model.correlate(by_record(events, 3)).target_handle
    assert target is not None and target.handle is not None
    copy = target.handle
    assert copy.closed is not None and copy.closed.record_id == 6


def _rows(n: int) -> list[tuple[Any, ...]]:
    """`n` handles of 8 processes opened, used, copied now and then, closed, their values reused;
    an event every 10 ms, so SOURCE_OPEN_WINDOW is ~200 events."""
    rows: list[tuple[Any, ...]] = []

    def add(eid: int, **data: str) -> None:
        sid = len(rows) + 1
        rows.append((sid, 10_000_000_000 + 100_000 * sid, sid, eid, "PC", marshal.dumps(tuple(data.items()))))

    for i in range(n):
        pid, hid = f"0x{0x100 + 4 * (i % 8):x}", f"0x{0x40 + 4 * (i % 3):x}"
        add(4656, ProcessId=pid, HandleId=hid, ObjectType="Key", ObjectName=f"\\REGISTRY\\K{i % 50}",
            AccessList="%%4432")
        add(4663, ProcessId=pid, HandleId=hid, ObjectType="Key", ObjectName=f"\\REGISTRY\\K{i % 50}")
        if i % 5 == 0:
            copy = f"0x{0x10000 + i:x}"
            add(4690, SourceProcessId=pid, SourceHandleId=hid, TargetProcessId="0x4", TargetHandleId=copy)
            add(4658, ProcessId=pid, HandleId=copy)  # the copy, closed under the source pid
        add(4658, ProcessId=pid, HandleId=hid)
    return rows


def test_the_tracker_holds_a_bounded_number_of_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(6000)
    held: list[int] = []
    advance = HandleTracker.advance

    def watched(self: HandleTracker, now: int) -> None:
        advance(self, now)
        held.append(len(self.handles))

    monkeypatch.setattr(HandleTracker, "advance", watched)
    scan = Scan()
    scan.run(stream([rows[lo:lo + 100] for lo in range(0, len(rows), 100)], Store.pairs_of))
    assert scan.handles.count == 6000 + 1200
    assert max(held) < 300, max(held)  # on the window (~200 events) and a batch, not on the log
    streamed = scan.handles.finish()
    monkeypatch.setattr(HandleTracker, "advance", lambda self, now: None)
    whole = Scan()
    whole.run(stream([rows], Store.pairs_of))
    assert streamed == whole.handles.finish() and scan.handles.choices == whole.handles.choices


def test_events_out_of_time_order_stop_the_stream() -> None:
    """`advance` told an earlier time than before: nothing more is written before `finish` (the
    answers then need the whole log), and what is written is the same."""
    facts = Scan().facts
    tracker = HandleTracker(facts, HandleTable(facts))
    tracker.advance(100)
    tracker.advance(50)
    assert not tracker._streaming
    tracker._ended.append(0)
    tracker.advance(10**12)
    assert not tracker._ends


def test_a_long_lived_process_keeps_no_int_object_per_handle_while_the_scan_runs() -> None:
    """Each process lists its handles unboxed while the scan runs: as ints in a list, the eight
    processes of the whole log kept an object per handle to the end of the scan (1.6 million at ten
    million churn events, scattered over the allocator's pools, which then stayed the app's: 35 MB)."""
    scan = Scan()
    scan.feed(stream([_rows(3000)], Store.pairs_of))
    assert scan.handles.count == 3000 + 600
    held = reachable(scan.procs, skip=(scan.facts, scan.handles))
    assert sum(type(o) is int and o > 256 for o in held) < 100  # ~3,600 before
    whole = Scan()
    whole.run(stream([_rows(3000)], Store.pairs_of))
    processes = whole.procs.finish(whole.facts)
    assert sorted(len(p.handles) for p in processes) == [375] * 8 + [600]  # the eight, and System its copies
