"""A session's own logoffs are no use of it after its logoff: Windows logs a 4647 (logoff
requested), then the 4634 of the same logoff, and a session may have several 4634s. Each said
"used after its logoff (4647 record 4)"; an event that does use the session after its 4647 still
says so, between two of its logoffs as after the last."""

from __future__ import annotations

import json
from pathlib import Path

from core.correlate.links import SessionLink
from core.correlate.model import CorrelationModel, build_model
from core.correlate.persist import links
from core.store.store import StoredEvent
from tests.cliutil import cached_twice
from tests.correlate.events import by_record, load, p4688, s4624, xml
from tests.logs import write_events

LID = "0xa1b2c"
ALICE = {"TargetUserSid": "S-1-5-21-1", "TargetUserName": "alice", "TargetDomainName": "DOM"}
SUBJECT = {"SubjectUserSid": "S-1-5-21-1", "SubjectUserName": "alice", "SubjectDomainName": "DOM"}
EXACT = ("exact", "logon 4624 record 1")
AFTER = ("inferred", "used after its logoff (4647 record 4)")


def _log() -> list[str]:
    return [
        s4624(1, 0.0, LID),
        xml(4672, 2, 0.0, **SUBJECT, SubjectLogonId=LID, PrivilegeList="SeDebugPrivilege"),
        p4688(3, 1.0, "0x100", r"C:\t\a.exe", "0x4", logon=LID),
        xml(4647, 4, 5.0, **ALICE, TargetLogonId=LID),
        # Alice's own uses after the 4647 (the same user as her logoffs: one answer may serve both).
        xml(4656, 5, 5.5, **SUBJECT, SubjectLogonId=LID, ObjectServer="Security", ObjectType="Key",
            ObjectName=r"\REGISTRY\X", HandleId="0x10", AccessMask="0x1", ProcessId="0x100", ProcessName=""),
        xml(4673, 6, 5.6, **SUBJECT, SubjectLogonId=LID, ObjectServer="Security", Service="-",
            PrivilegeList="SeTcbPrivilege", ProcessId="0x100", ProcessName=""),
        xml(4634, 7, 6.0, **ALICE, TargetLogonId=LID, LogonType="2"),
        xml(4634, 8, 7.0, **ALICE, TargetLogonId=LID, LogonType="2"),  # a second 4634
        xml(4656, 9, 8.0, **SUBJECT, SubjectLogonId=LID, ObjectServer="Security", ObjectType="Key",
            ObjectName=r"\REGISTRY\Y", HandleId="0x14", AccessMask="0x1", ProcessId="0x100", ProcessName=""),
    ]


#: record -> (confidence, reason)
EXPECTED = {1: EXACT, 2: EXACT, 3: EXACT, 4: EXACT, 5: AFTER, 6: AFTER, 7: EXACT, 8: EXACT, 9: AFTER}


def _said(link: SessionLink | None) -> tuple[str, str]:
    assert link is not None
    return link.confidence, link.reason


def _answers(model: CorrelationModel, events: list[StoredEvent]) -> dict[int, tuple[str, str]]:
    return {rid: _said(model.correlate(by_record(events, rid)).session) for rid in EXPECTED}


def test_a_sessions_own_logoffs_are_not_used_after_its_logoff() -> None:
    events = load(*_log())
    assert _answers(build_model(events), events) == EXPECTED


def test_the_stored_links_say_the_same() -> None:
    """The links written to the correlation tables (what a reopen reads)."""
    events = load(*_log())
    model = build_model(events)
    record = {se.id: se.event.record_id for se in events}
    stored = {record[sid]: (confidence, reason) for sid, role, _, _, confidence, reason in links(model)
              if role == "session"}
    assert stored == {rid: said for rid, said in EXPECTED.items() if rid != 6}  # (the 4673 is no model event)


def test_correlate_says_so_from_its_cache(tmp_path: Path) -> None:
    log = write_events(tmp_path / "logoff.xml", _log())
    docs = json.loads(cached_twice("correlate", str(log), "--where", "4647 OR 4634 OR 4673", "--json"))
    said = {d["event"]["record_id"]: (d["session"]["confidence"], d["session"]["reason"]) for d in docs}
    assert said == {rid: EXPECTED[rid] for rid in (4, 6, 7, 8)}
