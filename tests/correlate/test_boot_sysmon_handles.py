"""A handle used after a restart of its computer without a 4656 since (its process has no 4688
since either) was opened after that restart, not "before the log begins": its reason names the
restart's record, as a process's does (`core.correlate.handles.restart_before`); so does a 4690's
missing source. Before the restart, and on another computer, the words are as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.correlate.model import INFERRED, MISSING, build_model
from tests.correlate.boot_sysmon_logs import RESTART, handles_after_restart_log
from tests.correlate.events import by_record, find_node, load
from tests.correlate.stored_models import READERS, correlate_json, record_links, stored_model

#: How a handle first seen after `RESTART` without a 4656 is said to begin.
AFTER = (f"no 4656 for it since {RESTART}: opened after it without an audited open, or inherited at its "
         "process's creation")


@pytest.mark.parametrize("reader", READERS)
def test_a_handle_used_after_a_restart_without_an_open_was_opened_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
) -> None:
    docs = handles_after_restart_log()
    model, events = stored_model(tmp_path, monkeypatch, docs, reader)
    closed = model.correlate(by_record(events, 4)).source_handle
    assert closed is not None and closed.handle is not None and closed.confidence == INFERRED
    assert closed.handle.reason == f"{AFTER}; first seen in 4658 record 4"
    assert "before the log begins" not in closed.reason
    source = model.correlate(by_record(events, 5)).source_handle
    assert source is not None and source.handle is None and source.confidence == MISSING
    assert source.reason == (f"no 4656 for handle 0x50 of process 0x310 near this 4690, nor since {RESTART}: opened "
                             "after it without an audited open, or inherited at its process's creation")
    # Before the restart: the log may begin after its open. A process created since: as before.
    before = model.correlate(by_record(events, 1)).source_handle
    assert before is not None and before.handle is not None
    assert before.handle.reason.startswith("no 4656 for it in this log (opened before the log begins, or not audited)")
    own = model.correlate(by_record(events, 7)).source_handle
    assert own is not None and own.handle is not None
    assert own.handle.reason.startswith("no 4656 for it since its process started (4688 record 6)")
    # The tree, the stored links and `correlate --json` say the same.
    assert find_node(model.correlate(by_record(events, 4)).tree(), "open: ").label == f"open: {closed.handle.reason}"
    assert record_links(model, events, 4)["source handle"] == (closed.confidence, closed.reason)
    assert record_links(model, events, 5)["source handle"] == (source.confidence, source.reason)
    assert correlate_json(tmp_path, docs, 4)["source_handle"]["reason"] == closed.reason


def test_a_restart_of_another_computer_changes_no_words() -> None:
    docs = [*handles_after_restart_log(), *[d for d in handles_after_restart_log("HOST2") if "<EventID>460" not in d]]
    events = load(*docs)
    model = build_model(events)
    link = model.correlate(by_record(events, 4, "HOST2")).source_handle
    assert link is not None and link.handle is not None
    assert link.handle.reason == ("no 4656 for it in this log (opened before the log begins, or not audited); first "
                                  "seen in 4658 record 4")
    here = model.correlate(by_record(events, 4, "HOST1")).source_handle
    assert here is not None and here.handle is not None and here.handle.reason.startswith(AFTER)
