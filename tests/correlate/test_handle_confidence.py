"""How sure a handle link is, when the log leaves more than one answer or none logged.

* A 4658 under the source pid of a 4690 into System, while that process also holds a handle of
  the same value, may close either: it was "exact", saying "it could also close the handle first
  seen at record 3". Both closes are ambiguous now, each naming the other handle.
* A handle without a 4656 in a process whose 4688 is in the log was said "opened before the log
  begins": it began in the log, unlogged (its process's 4688 is named).
* A copy of a handle whose source was inferred showed its object as exact, and so did the next
  4690 taking that copy as its source: the object is no surer than the first choice.
* A 4690 whose source value was closed just before it and reopened just after took the reopen,
  "inferred, nearest", without naming the nearer closed handle: still inferred (a handle closed
  before a 4690 is not its source: `test_correlate`, the SystemNightMare sample), and the reason
  names that handle and why it is not taken.

Each answered by the model in process, by the model whose scan rows a child read, by the stored
links (`persist.links`) and by `correlate --json`.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

import pytest

from core.correlate.evidence import Ref
from core.correlate.handle_table import HandleTable
from core.correlate.handles import HandleTracker
from core.correlate.model import build_model
from core.correlate.persist import _handle_rows, _rows
from core.correlate.scan import Scan, stream
from core.correlate.source_choices import KIND_CONFIDENCE, worded
from core.correlate.tree import process_forest
from core.store.correlation_tables import HANDLE_COLUMNS
from core.store.store import Store
from tests.correlate.events import (
    by_record,
    d4690,
    find_node,
    h4656,
    h4658,
    h4663,
    load,
    p4688,
    walk,
)
from tests.correlate.hand_made_logs import scenario
from tests.correlate.stored_models import correlate_json, record_links, stored_model

APP, TOOL, SHELL, SINK = (rf"C:\Tools\{name}.exe" for name in ("app", "tool", "shell", "sink"))

#: app.exe holds its own 0x1a8c (record 2) and duplicates its 0x10 into System as 0x1a8c
#: (record 4); two 4658s of 0x1a8c under app.exe's pid follow: each may close either handle.
CLOSES = [
    p4688(1, 0.0, "0x100", APP, "0x4"),
    h4656(2, 1.0, "0x100", "0x1a8c", r"\REGISTRY\OWN", APP),
    h4656(3, 1.1, "0x100", "0x10", r"\REGISTRY\COPIED", APP),
    d4690(4, 1.2, "0x100", "0x10", "0x4", "0x1a8c"),
    h4658(5, 1.3, "0x100", "0x1a8c", APP),
    h4658(6, 1.4, "0x100", "0x1a8c", APP),
    h4658(7, 1.5, "0x100", "0x10", APP),
]

#: Handles without a 4656: of app.exe (its 4688 is record 1) and of pid 0x200 (no 4688: it was
#: running when the log began); 4690s whose source was never opened, from each.
UNOPENED = [
    p4688(1, 0.0, "0x100", APP, "0x4"),
    h4663(2, 1.0, "0x100", "0x30", r"\REGISTRY\A", APP),
    h4663(3, 1.1, "0x200", "0x40", r"\REGISTRY\B", TOOL),
    d4690(4, 1.2, "0x100", "0x99", "0x200", "0x50"),
    d4690(5, 1.3, "0x200", "0x98", "0x100", "0x51"),
    h4656(6, 1.4, "0x100", "0x60", r"\REGISTRY\C", APP),  # (4656s are audited on this computer)
]

#: app.exe's 0x10, first seen in a 4663 a second after the 4690 copying it (record 5): copied on
#: to tool.exe, shell.exe, sink.exe. Its 0x60, opened before its 4690 (record 11), copied alike.
CHAIN = [
    p4688(1, 0.0, "0x100", APP, "0x4"),
    p4688(2, 0.0, "0x200", TOOL, "0x4"),
    p4688(3, 0.0, "0x300", SHELL, "0x4"),
    p4688(4, 0.0, "0x400", SINK, "0x4"),
    d4690(5, 1.0, "0x100", "0x10", "0x200", "0x20"),
    d4690(6, 1.1, "0x200", "0x20", "0x300", "0x30"),
    d4690(7, 1.2, "0x300", "0x30", "0x400", "0x40"),
    h4663(8, 2.0, "0x100", "0x10", r"\REGISTRY\X", APP),
    h4658(9, 2.1, "0x100", "0x10", APP),
    h4656(10, 2.2, "0x100", "0x10", r"\REGISTRY\Y", APP),  # (the value reopened: another object)
    h4656(11, 3.0, "0x100", "0x60", r"\REGISTRY\Z", APP),
    d4690(12, 3.1, "0x100", "0x60", "0x200", "0x70"),
    d4690(13, 3.2, "0x200", "0x70", "0x300", "0x80"),
]

#: tool.exe's 0x70 closed 1 ms before the 4690 duplicating it (record 5) and reopened 100 ms after;
#: its 0x90 closed 2.5 s before its 4690 (record 9) and reopened 0.1 s after (the reopen nearer).
REOPENED = [
    p4688(1, 0.0, "0x200", TOOL, "0x4"),
    p4688(2, 0.0, "0x100", APP, "0x4"),
    h4656(3, 2.0, "0x200", "0x70", r"\REGISTRY\X", TOOL),
    h4658(4, 2.999, "0x200", "0x70", TOOL),
    d4690(5, 3.0, "0x200", "0x70", "0x100", "0x77"),
    h4656(6, 3.1, "0x200", "0x70", r"\REGISTRY\Y", TOOL),
    h4656(7, 4.0, "0x200", "0x90", r"\REGISTRY\P", TOOL),
    h4658(8, 4.5, "0x200", "0x90", TOOL),
    d4690(9, 7.0, "0x200", "0x90", "0x100", "0x99"),
    h4656(10, 7.1, "0x200", "0x90", r"\REGISTRY\Q", TOOL),
]


@pytest.mark.parametrize("reader", ["in process", "child"])
def test_a_4658_that_may_close_two_handles_is_ambiguous_naming_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, CLOSES, reader)
    first = model.correlate(by_record(events, 5)).source_handle
    assert first is not None and first.handle is not None
    assert first.handle.duplicated_by is not None and first.handle.duplicated_by.record_id == 4  # (the newer)
    assert first.confidence == "ambiguous", first
    assert "it may close instead handle 0x1a8c of 0x100 opened by 4656 record 2" in first.reason
    second = model.correlate(by_record(events, 6)).source_handle
    assert second is not None and second.handle is not None
    assert second.handle.opened is not None and second.handle.opened.record_id == 2
    assert second.confidence == "ambiguous", second
    assert "4658 record 5 may have closed it instead of handle 0x1a8c of 0x4 created by 4690 record 4" in second.reason
    # The 4690 made its target handle for sure; which 4658 closed it is what is not known.
    dup = model.correlate(by_record(events, 4))
    assert dup.target_handle is not None and dup.target_handle.confidence == "exact"
    target = find_node(dup.tree(), "target handle:")
    assert find_node(target, "closed:").confidence == "ambiguous"
    # A close without another candidate stays exact (the source's own 4658, the System copy alone).
    assert find_node(find_node(dup.tree(), "source handle:"), "closed:").confidence == "exact"
    # The Processes forest's lines and the stored links say the same.
    lines = [n for root in process_forest(model, "HOST1") for n in walk(root) if n.label.startswith("handle 0x1a8c")]
    assert sorted((n.label, n.confidence) for n in lines) == [
        (r"handle 0x1a8c: Key \REGISTRY\COPIED", "ambiguous"), (r"handle 0x1a8c: Key \REGISTRY\OWN", "ambiguous")]
    for record, link in ((5, first), (6, second)):
        assert record_links(model, events, record)["source handle"] == (link.confidence, link.reason)
    # The stored handle rows too (read from the table's columns, as from the handles).
    table = model.handles
    if isinstance(table, HandleTable):
        rows = list(_handle_rows(table))
        assert rows == list(_rows(tuple(table), HANDLE_COLUMNS))
        assert sorted(r[HANDLE_COLUMNS.index("confidence")] for r in rows if r[3] == 0x1a8c) == ["ambiguous"] * 2
    doc = correlate_json(tmp_path, CLOSES, 5)
    assert doc["source_handle"]["confidence"] == "ambiguous"
    assert "opened by 4656 record 2" in doc["source_handle"]["reason"]


def test_each_kind_of_source_choice_is_as_sure_as_its_words_say() -> None:
    at = Ref(1, 1, 4656, 0, 0, 0)
    assert [worded(kind, at, at)[0] for kind in range(len(KIND_CONFIDENCE))] == list(KIND_CONFIDENCE)


def test_a_lone_4658_under_the_source_pid_still_closes_the_copy_exactly() -> None:
    events = load(*scenario())
    c = build_model(events).correlate(by_record(events, 3))
    assert c.source_handle is not None and c.source_handle.confidence == "exact"


@pytest.mark.parametrize("reader", ["in process", "child"])
def test_a_handle_of_a_process_begun_in_the_log_is_not_said_opened_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, UNOPENED, reader)
    own = model.correlate(by_record(events, 2)).source_handle
    assert own is not None and own.confidence == "inferred"
    assert own.reason.startswith("no 4656 for it since its process started (4688 record 1): its open was not "
                                 "audited, or it was inherited at the process's creation"), own.reason
    assert "before the log begins" not in own.reason
    older = model.correlate(by_record(events, 3)).source_handle
    assert older is not None and older.confidence == "inferred"
    assert older.reason.startswith("no 4656 for it in this log (opened before the log begins, or not audited)")
    source = model.correlate(by_record(events, 4)).source_handle
    assert source is not None and source.confidence == "missing"
    assert "that process started in this log (4688 record 1)" in source.reason, source.reason
    assert "before the log begins" not in source.reason
    running = model.correlate(by_record(events, 5)).source_handle
    assert running is not None and running.confidence == "missing"
    assert running.reason.endswith("near this 4690: opened before the log begins, or its object is not audited")
    # The tree's line of its open, the stored links and the stored instance rows say the same.
    tree = model.correlate(by_record(events, 2)).tree()
    assert find_node(tree, "open: ").label == f"open: {own.reason}"
    assert record_links(model, events, 2)["source handle"] == (own.confidence, own.reason)
    assert record_links(model, events, 4)["source handle"] == (source.confidence, source.reason)
    table = model.handles
    assert isinstance(table, HandleTable)
    assert list(_handle_rows(table)) == list(_rows(tuple(table), HANDLE_COLUMNS))
    assert correlate_json(tmp_path, UNOPENED, 4)["source_handle"]["reason"] == source.reason


@pytest.mark.parametrize("reader", ["in process", "child"])
def test_an_object_learned_by_inference_stays_inferred_along_copies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, CHAIN, reader)
    first = model.correlate(by_record(events, 5)).source_handle
    assert first is not None and first.confidence == "inferred"
    for record, via in ((6, 5), (7, 6)):
        link = model.correlate(by_record(events, record)).source_handle
        assert link is not None and link.handle is not None
        assert link.handle.object_name == r"\REGISTRY\X"
        assert link.confidence == "inferred", (record, link)
        assert f"its object is inferred: it is a copy made by 4690 record {via}" in link.reason, link.reason
        assert record_links(model, events, record)["source handle"] == (link.confidence, link.reason)
        node = find_node(model.correlate(by_record(events, record)).tree(), "source handle:")
        assert node.confidence == "inferred"
    # The copies those 4690s make: certainly made by them, but their object is inferred too.
    for record in (5, 6, 7):
        target = model.correlate(by_record(events, record)).target_handle
        assert target is not None and target.confidence == "inferred", (record, target)
        assert "its object is its source handle's, which is inferred" in target.reason, target.reason
        assert record_links(model, events, record)["target handle"] == (target.confidence, target.reason)
        assert find_node(model.correlate(by_record(events, record)).tree(), "target handle:").confidence == "inferred"
    # A chain from a handle open at its 4690 stays exact.
    for record in (12, 13):
        link = model.correlate(by_record(events, record)).source_handle
        assert link is not None and link.confidence == "exact", (record, link)
        target = model.correlate(by_record(events, record)).target_handle
        assert target is not None and target.confidence == "exact", (record, target)
        assert link.handle is not None and link.handle.object_name == r"\REGISTRY\Z"
    assert correlate_json(tmp_path, CHAIN, 6)["source_handle"]["confidence"] == "inferred"


@pytest.mark.parametrize("reader", ["in process", "child"])
def test_a_nearer_source_closed_just_before_its_4690_is_named_beside_the_reopen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, REOPENED, reader)
    link = model.correlate(by_record(events, 5)).source_handle
    assert link is not None and link.handle is not None
    assert link.handle.opened is not None and link.handle.opened.record_id == 6  # (the reopen, taken)
    assert link.confidence == "inferred", link
    assert link.reason == (
        "its 4656 (record 6) is logged 0.1000000 s after this 4690 (out of order): the nearest open of that value "
        "by that process; not the nearer handle 0x70 of 0x200 opened by 4656 record 3: its 4658 (record 4) is "
        "logged 0.0010000 s before this 4690, and a handle closed before a 4690 is not its source")
    assert record_links(model, events, 5)["source handle"] == (link.confidence, link.reason)
    assert find_node(find_node(model.correlate(by_record(events, 5)).tree(), "source handle:"),
                     "why: ").label == f"why: {link.reason}"
    # Closed before its 4690 further than the reopen after it: the reopen alone, as before.
    far = model.correlate(by_record(events, 9)).source_handle
    assert far is not None and far.confidence == "inferred" and "4658" not in far.reason, far
    assert correlate_json(tmp_path, REOPENED, 5)["source_handle"]["reason"] == link.reason


def _rows_of(docs: list[str]) -> list[tuple[Any, ...]]:
    """The scan's rows of `docs` (as `Store.iter_key_rows` gives them)."""
    return [(se.id, se.event.filetime, se.event.record_id, se.event.event_id, se.event.computer,
             marshal.dumps(tuple(se.event.data))) for se in load(*docs)]


def test_a_source_closed_before_is_named_even_once_written_by_the_streaming_scan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The handle closed just before the 4690 may be written into the table (nothing can change
    it any more) before the 4690's source is chosen: it is named all the same, as when the
    whole log is scanned first."""
    docs = [*REOPENED[:6], h4663(11, 5.0, "0x100", "0x5", r"\REGISTRY\F", APP),
            h4663(12, 8.0, "0x100", "0x5", r"\REGISTRY\F", APP)]
    rows = _rows_of(docs)
    cut = [r[2] for r in rows].index(4) + 1  # a batch ends at the 4658, the next at 5.0 s
    held: list[bool] = []
    named = HandleTracker._not_closed_before

    def watched(self: HandleTracker, dup: Any, later: Any, closed_before: tuple[int, int, int]) -> Any:
        held.append(closed_before[0] in self.handles)
        return named(self, dup, later, closed_before)

    monkeypatch.setattr(HandleTracker, "_not_closed_before", watched)
    streamed = Scan()
    streamed.run(stream([rows[:cut], rows[cut:-1], rows[-1:]], Store.pairs_of))
    assert held == [False]  # written before the 4690's choice
    dup_sid = next(r[0] for r in rows if r[2] == 5)
    choice = streamed.handles.choices[dup_sid]
    assert choice.confidence == "inferred" and "its 4658 (record 4) is logged" in choice.reason, choice
    monkeypatch.setattr(HandleTracker, "advance", lambda self, now: None)  # nothing written before the end
    whole = Scan()
    whole.run(stream([rows], Store.pairs_of))
    assert held == [False, True]
    assert streamed.handles.choices == whole.handles.choices
    assert streamed.handles.finish() == whole.handles.finish()
