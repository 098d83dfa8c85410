"""A logoff (4634/4647) logged before any 4624 of its logon id is a session whose logon precedes
the log: it spans from the log's start to that logoff. The events of its id logged before the
logoff are its own (inferred: its logon is before the log, it is known from its logoff), and so
are the processes started then; one logged after it is "used after its logoff", as after the
logoff of a session whose 4624 is in the log. A later 4624 of the same id is a new session. The
same in process, through the model's reading child, in the stored links and from the CLI
(`correlate --json`, `correlate --sessions --json`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.links import SessionLink
from core.correlate.model import CorrelationModel, build_model
from core.correlate.persist import links
from core.store.store import StoredEvent
from tests.cliutil import cached_twice
from tests.correlate.events import by_record, load, p4688, s4624, xml
from tests.correlate.stored_models import stored_model
from tests.logs import write_events

LID = "0x1234"
ALICE = {"TargetUserSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "alice", "TargetDomainName": "DOM"}
A, B, C = r"C:\Windows\a.exe", r"C:\Windows\b.exe", r"C:\Windows\c.exe"
#: (confidence, reason) of the events of the session that ends at record 2.
BEFORE = ("inferred", "no 4624 for logon 0x1234 in this log: the logon happened before the log begins; "
                      "the session is known from its logoff (4634 record 2)")
AFTER = ("inferred", "used after its logoff (4634 record 2)")
LOGON = ("exact", "logon 4624 record 3")


def _log(*, later_logon: bool = False) -> list[str]:
    """08:00 a process of logon 0x1234, 09:00 its 4634 (no 4624 before), 09:30 another process
    of that id; with `later_logon`, a 4624 of the id at 10:00 and a process of it (the tester's
    t8c and t8 logs, in seconds)."""
    docs = [
        p4688(1, 1.0, "0x100", A, "0x4", logon=LID),
        xml(4634, 2, 10.0, **ALICE, TargetLogonId=LID, LogonType="2"),
    ]
    if later_logon:
        docs += [s4624(3, 40.0, LID), p4688(4, 41.0, "0x200", C, "0x4", logon=LID)]
    return [*docs, p4688(5, 20.0, "0x300", B, "0x4", logon=LID)]


def _expected(later_logon: bool) -> dict[int, tuple[str, str]]:
    """record -> (confidence, reason) of its session link."""
    return {1: BEFORE, 2: BEFORE, 5: AFTER, **({3: LOGON, 4: LOGON} if later_logon else {})}


def _said(link: SessionLink | None) -> tuple[str, str]:
    assert link is not None
    return link.confidence, link.reason


def _check(model: CorrelationModel, events: list[StoredEvent], later_logon: bool) -> None:
    expected = _expected(later_logon)
    assert {rid: _said(model.correlate(by_record(events, rid)).session) for rid in expected} == expected
    # Records 1, 2 and 5 link to the one session known from the 4634, which has no 4624.
    linked = {rid: model.correlate(by_record(events, rid)).session for rid in (1, 2, 5)}
    sessions = {link.session.index for link in linked.values() if link is not None and link.session is not None}
    assert len(sessions) == 1
    (old,) = (model.sessions[i] for i in sessions)
    assert old.logon is None and old.end is not None and old.end.record_id == 2
    # Its processes: the one started before its logoff and the one after (as for a session whose
    # 4624 is in the log); neither is an orphan of its id.
    by_session, orphans = model.session_processes()
    assert [p.pid for p in by_session[old.index]] == [0x100, 0x300]
    assert ("HOST1", 0x1234) not in orphans
    assert len(model.sessions) == (2 if later_logon else 1)
    if later_logon:
        (new,) = (s for s in model.sessions if s.index != old.index)
        assert new.logon is not None and new.logon.record_id == 3
        assert [p.pid for p in by_session[new.index]] == [0x200]


@pytest.mark.parametrize("later_logon", [False, True])
def test_the_events_before_the_logoff_are_the_sessions_those_after_used_after_it(later_logon: bool) -> None:
    events = load(*_log(later_logon=later_logon))
    _check(build_model(events), events, later_logon)


@pytest.mark.parametrize("reader", ["in process", "child"])
def test_the_same_from_a_store_read_in_process_or_by_the_reading_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    model, events = stored_model(tmp_path, monkeypatch, _log(later_logon=True), reader)
    _check(model, events, True)


@pytest.mark.parametrize("later_logon", [False, True])
def test_the_stored_links_say_the_same(later_logon: bool) -> None:
    """The links written to the correlation tables (what a reopen reads)."""
    events = load(*_log(later_logon=later_logon))
    record = {se.id: se.event.record_id for se in events}
    stored = {record[sid]: (confidence, reason) for sid, role, _, _, confidence, reason in links(build_model(events))
              if role == "session"}
    assert stored == _expected(later_logon)


def test_a_4672_before_the_logoff_marks_that_session_privileged() -> None:
    """The session spans from the log's start: a 4672 of its id before its logoff is its own,
    not a session of its own."""
    events = load(
        xml(4672, 1, 1.0, SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectUserName="alice", SubjectDomainName="DOM",
            SubjectLogonId=LID, PrivilegeList="SeDebugPrivilege"),
        xml(4647, 2, 10.0, **ALICE, TargetLogonId=LID),
    )
    model = build_model(events)
    (s,) = model.sessions
    assert s.privileged and s.privileges is not None and s.privileges.record_id == 1
    assert s.end is not None and s.end.record_id == 2
    reason = ("no 4624 for logon 0x1234 in this log: the logon happened before the log begins; "
              "the session is known from its logoff (4647 record 2)")
    assert _said(model.correlate(by_record(events, 1)).session) == ("inferred", reason)


@pytest.mark.parametrize("later_logon", [False, True])
def test_correlate_json_and_sessions_json_say_so_from_its_cache(tmp_path: Path, later_logon: bool) -> None:
    log = write_events(tmp_path / "before_log.xml", _log(later_logon=later_logon))
    docs = json.loads(cached_twice("correlate", str(log), "--where", "4688 OR 4634 OR 4624", "--json"))
    said = {d["event"]["record_id"]: (d["session"]["confidence"], d["session"]["reason"]) for d in docs}
    assert said == _expected(later_logon)
    rows = json.loads(cached_twice("correlate", str(log), "--sessions", "--json"))
    got = {(row["record_id"], row["end_record_id"]): [p["record_id"] for p in row["processes"]] for row in rows}
    expected: dict[tuple[int | None, int | None], list[int]] = {(None, 2): [1, 5]}
    if later_logon:
        expected[(3, None)] = [4]
    assert got == expected
