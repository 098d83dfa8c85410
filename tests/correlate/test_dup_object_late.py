"""A handle made by a 4690 is on its source handle's object, whatever the source learns of that
object after the 4690 is settled: the answer does not depend on where the scan's batches fall.

The source of a 4690 is chosen, and the target handle was given its object type and name, once
the scan is past the 4690 + SOURCE_OPEN_WINDOW, at the end of a batch of rows (`advance`). A
source first seen by an event that names no object (a 4663 with ObjectType `-`) learns its type
and name from a later 4663: with nothing logged between (one batch) the copy got them, with 2,100
unrelated events between (two batches) it did not."""

from __future__ import annotations

from typing import Any

import pytest

import core.correlate.scan as scan_module
from bench.model_digest import digests
from core.correlate.handles import HandleTracker
from core.correlate.model import CorrelationModel, build_model
from core.store.store import StoredEvent
from tests.correlate.events import by_record, d4690, h4656, h4658, h4663, load, p4688, xml

A, B, C = r"C:\t\a.exe", r"C:\t\b.exe", r"C:\t\c.exe"
NAME = r"\REGISTRY\MACHINE\SOFTWARE\X"
OPENED, OWN = r"\REGISTRY\MACHINE\SOFTWARE\OPENED", r"\REGISTRY\MACHINE\SOFTWARE\OWN"


def _unsaid(rid: int, sec: float, pid: str, handle: str) -> str:
    """A 4663 on `handle` that names no object (ObjectType and ObjectName `-`)."""
    return xml(4663, rid, sec, SubjectLogonId="0x3e7", ObjectServer="Security", ObjectType="-", ObjectName="-",
               HandleId=handle, AccessList="%%4432", AccessMask="0x1", ProcessId=pid)


def _log(filler: int = 0) -> list[StoredEvent]:
    docs = [
        p4688(1, 0.0, "0x100", A, "0x4"),
        p4688(2, 0.0, "0x200", B, "0x4"),
        p4688(3, 0.0, "0x300", C, "0x4"),
        _unsaid(4, 0.5, "0x100", "0x40"),                  # the source, its object not said yet
        d4690(5, 1.0, "0x100", "0x40", "0x200", "0x48"),   # a copy of it
        d4690(6, 1.2, "0x200", "0x48", "0x300", "0x4c"),   # a copy of that copy
        d4690(7, 1.4, "0x100", "0x40", "0x300", "0x50"),   # a copy closed at once: final long before
        h4658(8, 1.5, "0x300", "0x50", C),
        h4656(9, 0.1, "0x100", "0x60", OPENED, A),         # a source that names its object from its open,
        d4690(10, 1.6, "0x100", "0x60", "0x200", "0x64"),  # copied; the copy's own 4663 names it otherwise
        h4658(99, 10.0, "0x300", "0x2000", computer="FILL"),  # time goes on: the 4690s are settled
    ]
    rid = 100
    for i in range(filler):  # unrelated events on another computer
        rid += 1
        docs.append(h4658(rid, 2.0 + i * 0.005, "0x300", f"0x{0x1000 + 4 * i:x}", computer="FILL"))
    docs += [
        h4663(rid + 1, 20.0, "0x100", "0x40", NAME, A),     # the source's object, said at last (a Key)
        h4663(rid + 2, 25.0, "0x200", "0x64", OWN, B),
        h4658(rid + 3, 30.0, "0x100", "0x40", A),
        h4658(rid + 4, 30.0, "0x200", "0x48", B),
        h4658(rid + 5, 30.0, "0x300", "0x4c", C),
        h4658(rid + 6, 30.0, "0x200", "0x64", B),
        h4656(rid + 7, 60.0, "0x100", "0x70", r"\REGISTRY\LAST", A),  # everything above final before the end
    ]
    return load(*docs)


def _build(events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch, rows: int | None,
           streaming: bool = True) -> CorrelationModel:
    with monkeypatch.context() as m:
        if rows is not None:
            m.setattr(scan_module, "ROWS_BATCH", rows)
        if not streaming:
            m.setattr(HandleTracker, "advance", lambda self, now: None)
        return build_model(events)


def _objects(model: CorrelationModel, events: list[StoredEvent]) -> dict[int, Any]:
    """(object type, object name) of the target handle of each 4690, by record."""
    out = {}
    for rid in (5, 6, 7, 10):
        link = model.correlate(by_record(events, rid)).target_handle
        assert link is not None and link.handle is not None
        out[rid] = (link.handle.object_type, link.handle.object_name)
    return out


EXPECTED = {5: ("Key", NAME), 6: ("Key", NAME), 7: ("Key", NAME), 10: ("Key", OWN)}


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8, None])
def test_a_copy_takes_what_its_source_learns_later_whatever_the_batches(
        rows: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _log()
    assert _objects(_build(events, monkeypatch, rows), events) == EXPECTED


def test_unrelated_events_between_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's log: 2,100 events on another computer between the 4690 and the 4663 that says
    the source's object, so that they fall in two of the scan's batches (ROWS_BATCH 2,000)."""
    events = _log(2100)
    assert _objects(_build(events, monkeypatch, None), events) == EXPECTED


def test_the_streamed_model_is_the_whole_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _log()
    whole = _build(events, monkeypatch, 1, streaming=False)
    assert _objects(whole, events) == EXPECTED
    for rows in (1, 4):
        assert digests(_build(events, monkeypatch, rows)) == digests(whole), rows
