"""Events outside the model (a 4673...) logged at the very time of a model event are placed among
the model's events as the model orders its own: by time, then record id, then store id. Placed
before every event of their time, a privilege use logged between a pid's 4689 and the 4688 that
reuses it went to the new process, and one logged just after a 4624 was "logged before its 4624"."""

from __future__ import annotations

import json
import random
from pathlib import Path

from core.correlate.links import ProcessLink, SessionLink
from core.correlate.model import CorrelationModel, build_model, model_from_store
from core.store.store import Store, StoredEvent
from tests.cliutil import cached_twice
from tests.correlate.events import by_record, load, p4688, p4689, s4624, xml
from tests.correlate.sysmon_events import sysmon
from tests.logs import write_events

A, B, C = r"C:\t\a.exe", r"C:\t\b.exe", r"C:\t\c.exe"


def _use(rid: int, sec: float, pid: str, lid: str = "0x3e7") -> str:
    """A 4673 (outside the model, attached to its process and session)."""
    return xml(4673, rid, sec, SubjectUserSid="S-1-5-21-1", SubjectUserName="alice", SubjectDomainName="DOM",
               SubjectLogonId=lid, ObjectServer="Security", Service="-", PrivilegeList="SeTcbPrivilege",
               ProcessId=pid, ProcessName="")


def _logoff(rid: int, sec: float, lid: str) -> str:
    return xml(4634, rid, sec, TargetUserSid="S-1-5-21-1", TargetUserName="alice", TargetDomainName="DOM",
               TargetLogonId=lid, LogonType="3")


def _log() -> list[str]:
    return [
        p4688(10, 1.0, "0x700", A, "0x4"),
        # All at 5 s: a.exe exits, its pid is reused by b.exe; Sysmon sees c.exe start.
        _use(20, 5.0, "0x700"),  # a.exe still alive
        p4689(21, 5.0, "0x700", A),
        _use(22, 5.0, "0x700"),  # between the exit and the reuse: no instance
        p4688(23, 5.0, "0x700", B, "0x4"),
        _use(24, 5.0, "0x700"),  # b.exe
        _use(25, 5.0, "0x800"),  # before c.exe starts (Sysmon record 26)
        sysmon(1, 26, 5.0, ProcessGuid="{c}", ProcessId=str(0x800), Image=C, CommandLine="c",
               ParentProcessGuid="{p}", ParentProcessId="4"),
        _use(27, 5.0, "0x800"),  # c.exe
        # All at 9 s: a logon and its uses.
        _use(29, 9.0, "0x900", lid="0x7777"),  # before its 4624
        s4624(30, 9.0, "0x7777"),
        _use(31, 9.0, "0x900", lid="0x7777"),  # after its 4624
        # All at 12 s: its logoff.
        _use(39, 12.0, "0x900", lid="0x7777"),  # before its logoff
        _logoff(40, 12.0, "0x7777"),
        _use(41, 12.0, "0x900", lid="0x7777"),  # after it
    ]


#: record -> (process image or None, confidence, reason starts with)
PROCESSES = {
    20: (A, "exact", "created by 4688 record 10"),
    22: (None, "missing", "no instance of pid 0x700 alive at this time: a.exe 0x700 (1792) ended at record 21"),
    24: (B, "exact", "created by 4688 record 23"),
    25: (None, "missing", "no instance of pid 0x800 alive at this time: the first one starts at record 26"),
    27: (C, "exact", ""),
}
#: record -> (confidence, reason)
SESSIONS = {
    29: ("inferred", "its 4624 (record 30) is logged just after this event"),
    31: ("exact", "logon 4624 record 30"),
    39: ("exact", "logon 4624 record 30"),
    41: ("inferred", "used after its logoff (4634 record 40)"),
}


def _process(link: ProcessLink | None) -> tuple[str | None, str, str]:
    assert link is not None
    return (link.process.image if link.process is not None else None), link.confidence, link.reason


def _session(link: SessionLink | None) -> tuple[str, str]:
    assert link is not None
    return link.confidence, link.reason


def _check_processes(model: CorrelationModel, events: list[StoredEvent]) -> None:
    for rid, (image, confidence, reason) in PROCESSES.items():
        se = by_record(events, rid)
        got = _process(model.correlate(se).source_process)
        assert got[:2] == (image, confidence), (rid, got)
        assert got[2].startswith(reason), (rid, got)
        # The same process hung with it (the process's list of what it did: `attach`).
        assert _process(model.attachments[se.id].process) == got, rid


def _check_sessions(model: CorrelationModel, events: list[StoredEvent]) -> None:
    for rid, expected in SESSIONS.items():
        se = by_record(events, rid)
        assert _session(model.correlate(se).session) == expected, rid
        # The same answer hung on the session (the session's list of what it did).
        assert _session(model.attachments[se.id].session) == expected, rid


def test_a_tie_with_a_process_start_or_end_is_broken_by_record_id_as_for_model_events() -> None:
    events = load(*_log())
    _check_processes(build_model(events), events)


def test_a_tie_with_a_logon_or_logoff_is_broken_by_record_id_as_for_model_events() -> None:
    events = load(*_log())
    _check_sessions(build_model(events), events)


def test_the_file_order_does_not_matter_the_record_ids_do() -> None:
    docs = _log()
    random.Random(7).shuffle(docs)
    events = load(*docs)
    model = build_model(events)
    _check_processes(model, events)
    _check_sessions(model, events)


def test_a_model_streamed_from_the_store_says_the_same(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    try:
        store.add_events(se.event for se in load(*_log()))
        store.build_indexes()
        events = list(store.iter_events())
        model = model_from_store(store)
        _check_processes(model, events)
        _check_sessions(model, events)
    finally:
        store.close()


def test_correlate_says_the_same_from_its_cache(tmp_path: Path) -> None:
    log = write_events(tmp_path / "ties.xml", _log())
    docs = json.loads(cached_twice("correlate", str(log), "--where", "4673", "--json"))
    by_rid = {d["event"]["record_id"]: d for d in docs}
    assert by_rid[22]["source_process"]["confidence"] == "missing"
    assert by_rid[31]["session"]["confidence"] == "exact"
