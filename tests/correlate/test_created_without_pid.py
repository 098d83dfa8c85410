"""A 4688 whose NewProcessId is absent or no number (`-`) still names its parent, its session and
that a process was created: it is correlated as far as it goes, and says what it cannot name.

The scan returned before resolving anything: the answer was "4688 process created: ? by ?", no
parent, the creator's session, and no word of the missing new process."""

from __future__ import annotations

import pytest

from core.correlate.model import CorrelationModel, build_model
from core.correlate.persist import links
from core.store.store import StoredEvent
from tests.correlate.events import by_record, h4656, load, p4688, s4624, xml

PARENT = r"C:\t\parent.exe"
CHILD = r"C:\t\nopid.exe"


def _created(rid: int, sec: float, parent_pid: str, parent: str = "", **pid: str) -> str:
    """A 4688 by `parent_pid`, for user bob in logon 0x1234; `pid` its NewProcessId, if any."""
    return xml(4688, rid, sec, SubjectUserName="HOST1$", SubjectDomainName="DOM", SubjectLogonId="0x3e7",
               NewProcessName=CHILD, ProcessId=parent_pid, ParentProcessName=parent, TargetUserName="bob",
               TargetDomainName="DOM", TargetLogonId="0x1234", **pid)


def _log() -> list[StoredEvent]:
    return load(
        s4624(1, 0.0, "0x1234", user="bob"),
        p4688(2, 0.5, "0x200", PARENT, "0x4"),
        _created(3, 1.0, "0x4"),                           # no NewProcessId at all
        _created(4, 1.5, "0x4", NewProcessId="-"),         # one that is no number
        _created(5, 2.0, "0x200", PARENT, NewProcessId="-"),       # by a process the log created
        h4656(1, 3.0, "0x300", "0x10", r"\REGISTRY\X", computer="HOST2"),
        _created(2, 3.5, "0x4", NewProcessId="").replace("HOST1", "HOST2"),
    )


@pytest.mark.parametrize("rid", [3, 4])
def test_its_parent_is_resolved_as_any_4688s_is(rid: int) -> None:
    events = _log()
    c = build_model(events).correlate(by_record(events, rid))
    parent = c.source_process
    assert parent is not None and parent.process is not None
    assert parent.pid == 4 and parent.process.name == "System"
    assert parent.confidence == "inferred" and parent.reason.startswith("pid 4 is System")
    assert "by System 0x4" in c.summary
    # The new process's session (its TargetLogonId), as for a 4688 that names its process.
    assert c.session is not None and c.session.logon_id == 0x1234
    assert c.session.session is not None and c.session.session.logon is not None
    assert c.session.session.logon.record_id == 1


def test_a_parent_the_log_created_is_that_instance() -> None:
    events = _log()
    model = build_model(events)
    parent = model.correlate(by_record(events, 5)).source_process
    assert parent is not None and parent.process is not None
    assert parent.confidence == "exact" and parent.process.created is not None
    assert parent.process.created.record_id == 2
    # No instance is made for the process the 4688 cannot name.
    assert [p.pid for p in model.processes if p.computer == "HOST1"] == [4, 0x200]


def test_it_counts_as_a_logged_4688_for_its_computer() -> None:
    """Process Creation auditing is on for HOST2 (it logged a 4688): a process with no 4688 there
    started before the log, it is not "no 4688 at all"."""
    events = _log()
    model = build_model(events)
    other = model.correlate(by_record(events, 1, "HOST2")).source_process
    assert other is not None and other.process is not None
    assert "no 4688 at all" not in other.reason and "started before the log begins" in other.reason


def _stored(model: CorrelationModel, se: StoredEvent) -> list[tuple[str, str, int | None, str, str]]:
    """The links the store keeps for `se` (`persist.links`), as (role, kind, index, confidence, reason)."""
    return [row[1:] for row in links(model) if row[0] == se.id]


@pytest.mark.parametrize("rid", [3, 4])
def test_the_new_process_is_a_missing_link_that_says_why(rid: int) -> None:
    events = _log()
    model = build_model(events)
    se = by_record(events, rid)
    c = model.correlate(se)
    child = c.target_process
    assert child is not None and child.process is None and child.pid is None
    assert child.confidence == "missing" and child.reason == "the 4688 names no new process id"
    parent = c.source_process
    assert parent is not None and parent.process is not None
    # The store keeps the same answers (a reopen shows them without the model).
    assert _stored(model, se)[:2] == [
        ("source process", "process", parent.process.index, "inferred", parent.reason),
        ("target process", "process", None, "missing", "the 4688 names no new process id"),
    ]
