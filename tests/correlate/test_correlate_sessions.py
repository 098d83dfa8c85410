"""Logon sessions on hand-made logs: what the Sessions view, `correlate --sessions` and the
session part of `correlate --json` say of each logon (its 4624's details, privileged or not,
start/end, the processes started in it), with logon ids reused across logoffs and computers;
and the links the model makes between a logon's events (4624, 4672, 4634) and its processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.model import build_model
from core.correlate.sessions import Session, logon_type_name
from core.model.event import iso_from_filetime
from tests.cliutil import run_cli
from tests.correlate.events import by_record, d4690, load, p4688, relations, s4624, xml
from tests.correlate.samples import RUNAS
from tests.correlate.sysmon_events import sysmon
from tests.shared import sample

ALICE = {"TargetUserSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "alice", "TargetDomainName": "DOM"}


def logon(rid: int, sec: float, lid: str, computer: str = "HOST1", **extra: str) -> str:
    """A Windows 10 4624 (every field the Sessions view reads), overridable per test."""
    data = {
        "SubjectUserSid": "S-1-5-18", "SubjectUserName": "HOST1$", "SubjectDomainName": "DOM",
        "SubjectLogonId": "0x3e7", **ALICE, "TargetLogonId": lid, "LogonType": "3",
        "LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM", "WorkstationName": "KALI",
        "LmPackageName": "NTLM V2", "IpAddress": "10.0.0.66", "IpPort": "50123", "ElevatedToken": "%%1843",
        "TargetLinkedLogonId": "0x0", "ProcessId": "0x0", "ProcessName": "-",
    }
    data.update(extra)
    return xml(4624, rid, sec, computer, **data)


def logoff(eid: int, rid: int, sec: float, lid: str, computer: str = "HOST1") -> str:
    return xml(eid, rid, sec, computer, **ALICE, TargetLogonId=lid, LogonType="3")


def privileges(rid: int, sec: float, lid: str, computer: str = "HOST1") -> str:
    return xml(4672, rid, sec, computer, SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectUserName="alice",
               SubjectDomainName="DOM", SubjectLogonId=lid, PrivilegeList="SeDebugPrivilege")


def sessions_of(docs: list[str], computer: str = "HOST1", lid: int = 0x4A5AF0) -> list[Session]:
    model = build_model(load(*docs))
    found = [s for s in model.sessions if s.computer == computer and s.logon_id == lid]
    return sorted(found, key=lambda s: s.logon.key if s.logon else (0, 0))


def images(docs: list[str], session: Session) -> list[str]:
    model = build_model(load(*docs))
    return [model.processes[i].image or "?" for i in session.processes]


def test_a_4624_gives_the_session_its_type_source_packages_and_account() -> None:
    (s,) = sessions_of([logon(1, 1.0, "0x4a5af0", ElevatedToken="%%1842", TargetLinkedLogonId="0x4a5b11")])
    assert (s.logon_type, logon_type_name(s.logon_type)) == ("3", "Network")
    assert (s.ip, s.workstation) == ("10.0.0.66", "KALI")
    assert (s.auth_package, s.lm_package, s.logon_process) == ("NTLM", "NTLM V2", "NtLmSsp")
    assert (s.user, s.user_sid) == ("DOM\\alice", "S-1-5-21-1-2-3-1104")
    assert s.elevated_token is True and s.linked_logon_id == 0x4A5B11
    assert not s.privileged  # an elevated token is not a 4672
    assert s.end is None and s.duration is None  # still open at the end of the log


def test_absent_and_dash_fields_are_none_not_text() -> None:
    (s,) = sessions_of([logon(1, 1.0, "0x4a5af0", LmPackageName="-", IpAddress="-", WorkstationName="",
                             TargetLinkedLogonId="0x0", ElevatedToken="%%1843", LogonType="10")])
    assert (s.lm_package, s.ip, s.workstation, s.linked_logon_id) == (None, None, None, None)
    assert s.elevated_token is False and logon_type_name(s.logon_type) == "RemoteInteractive"
    (old,) = sessions_of([xml(4624, 1, 1.0, TargetLogonId="0x4a5af0", LogonType="2", **ALICE)])
    assert old.elevated_token is None  # Windows 7/2008 4624s have no ElevatedToken


def test_a_reused_logon_id_after_logoff_is_a_new_session_with_its_own_end_and_processes() -> None:
    docs = [
        logon(1, 1.0, "0x4a5af0"),
        p4688(2, 2.0, "0x100", r"C:\Windows\System32\cmd.exe", "0x4", logon="0x4a5af0"),
        logoff(4634, 3, 5.0, "0x4a5af0"),
        logon(4, 20.0, "0x4a5af0", IpAddress="10.0.0.77"),  # the id again, after a reboot
        p4688(5, 21.0, "0x200", r"C:\Windows\System32\whoami.exe", "0x4", logon="0x4a5af0"),
        p4688(6, 22.0, "0x300", r"C:\Windows\System32\net.exe", "0x4", logon="0x4a5af0"),
    ]
    first, second = sessions_of(docs)
    assert first.ip == "10.0.0.66" and second.ip == "10.0.0.77"
    assert first.end is not None and first.end.record_id == 3 and first.duration == 4.0
    assert second.end is None  # not ended by the first session's 4634
    assert images(docs, first) == [r"C:\Windows\System32\cmd.exe"]
    assert images(docs, second) == [r"C:\Windows\System32\whoami.exe", r"C:\Windows\System32\net.exe"]


def test_4672_marks_only_the_session_of_its_id_on_its_computer() -> None:
    docs = [
        logon(1, 1.0, "0x4a5af0"),
        logoff(4634, 2, 2.0, "0x4a5af0"),
        privileges(3, 30.0, "0x4a5af0"),  # logged just before the 4624 of the reused id
        logon(4, 30.0, "0x4a5af0"),
        logon(5, 31.0, "0x4a5af0", computer="HOST2"),
        privileges(6, 40.0, "0x777", computer="HOST2"),
    ]
    first, second = sessions_of(docs)
    assert not first.privileged
    assert second.privileged and second.privileges is not None and second.privileges.record_id == 3
    (other,) = sessions_of(docs, computer="HOST2")
    assert not other.privileged  # the 4672 on HOST1 says nothing of HOST2's logon with that id


def test_the_session_ends_at_its_4634_and_a_lone_4647_ends_it_too() -> None:
    both = [logon(1, 1.0, "0x4a5af0"), logoff(4647, 2, 10.0, "0x4a5af0"), logoff(4634, 3, 10.5, "0x4a5af0")]
    (s,) = sessions_of(both)
    assert s.end is not None and (s.end.event_id, s.end.record_id) == (4634, 3)
    assert s.duration == 9.5
    assert [r.event_id for r in s.logoffs] == [4647, 4634]
    requested = [logon(1, 1.0, "0x4a5af0"), logoff(4647, 2, 10.0, "0x4a5af0")]
    (s,) = sessions_of(requested)
    assert s.end is not None and (s.end.event_id, s.end.record_id) == (4647, 2) and s.duration == 9.0


def test_a_logoff_before_any_4624_of_its_id_is_an_orphan_not_the_end_of_the_next_session() -> None:
    """The 4634 of a logon that began before the log, logged a second before a new 4624 with
    the same id: it does not end the new session (it said "ended" before it began)."""
    docs = [logoff(4634, 1, 9.0, "0x4a5af0"), logon(2, 10.0, "0x4a5af0")]
    orphan, new = sessions_of(docs)
    assert orphan.logon is None and [r.record_id for r in orphan.logoffs] == [1]
    assert new.logon is not None and new.logon.record_id == 2
    assert new.logoffs == () and new.end is None


def test_processes_run_in_the_new_logon_of_a_4688_and_sysmon_1_logon_id() -> None:
    """runas: the 4688's subject is the creator, its TargetLogonId the session the process runs
    in; with TargetLogonId 0x0 the process runs in its creator's session. Sysmon 1 names its
    LogonId. A process with the same id on another computer is not in the session."""
    runas = xml(4688, 3, 3.0, "HOST1", SubjectUserSid="S-1-5-18", SubjectUserName="HOST1$",
                SubjectDomainName="DOM", SubjectLogonId="0x3e7", NewProcessId="0x1c4",
                NewProcessName=r"C:\Windows\System32\cmd.exe", ProcessId="0x85c", TargetUserSid="S-1-5-21-9",
                TargetUserName="hack1", TargetDomainName="DOM", TargetLogonId="0x4a5af0")
    docs = [
        logon(1, 1.0, "0x4a5af0", LogonType="2"),
        logon(2, 1.0, "0x4a5af0", computer="HOST2"),
        runas,
        p4688(4, 4.0, "0xaf0", r"C:\Windows\System32\conhost.exe", "0x1c4", logon="0x4a5af0"),
        sysmon(1, 5, 5.0, ProcessGuid="{g1}", ProcessId="2000", Image=r"C:\Temp\tool.exe", CommandLine="tool",
               User="DOM\\hack1", LogonId="0x4a5af0", ParentProcessGuid="{p}", ParentProcessId="4"),
        p4688(6, 6.0, "0x500", r"C:\Windows\System32\svchost.exe", "0x4", logon="0x3e7"),
        p4688(7, 7.0, "0x600", r"C:\Windows\System32\calc.exe", "0x4", logon="0x4a5af0", computer="HOST2"),
    ]
    (s,) = sessions_of(docs)
    assert images(docs, s) == [r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\conhost.exe",
                               r"C:\Temp\tool.exe"]
    (other,) = sessions_of(docs, computer="HOST2")
    assert images(docs, other) == [r"C:\Windows\System32\calc.exe"]


def test_a_session_keeps_one_string_per_distinct_value() -> None:
    """A DC logs a network logon every few seconds: the same package and address strings
    must not be copied into every session (issue 18)."""
    docs = [logon(i, float(i), f"0x{0x1000 + i:x}") for i in range(1, 6)]
    model = build_model(load(*docs))
    assert len({id(s.auth_package) for s in model.sessions}) == 1
    assert len({id(s.ip) for s in model.sessions}) == 1


# -- CLI -------------------------------------------------------------------------------------


@pytest.fixture()
def session_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "sessions.xml"
    docs = [
        logon(1, 1.0, "0x4a5af0", ElevatedToken="%%1842", WorkstationName="KALI\x1b[31m"),
        privileges(2, 1.0, "0x4a5af0"),
        p4688(3, 2.0, "0x100", r"C:\Windows\System32\cmd.exe", "0x4", logon="0x4a5af0"),
        logoff(4647, 4, 8.0, "0x4a5af0"),
        logoff(4634, 5, 9.0, "0x4a5af0"),
        logon(6, 10.0, "0x99"),
    ]
    path.write_text("<Events>" + "".join(docs) + "</Events>", encoding="utf-8")
    return path


def test_cli_correlate_json_session_carries_the_logon_details(session_log: Path) -> None:
    status, out, err = run_cli("correlate", str(session_log), "--record", "3", "--json")
    assert status == 0, err
    session = json.loads(out)[0]["session"]
    assert {k: session[k] for k in ("logon_id_hex", "logon_type", "logon_type_name", "ip", "auth_package",
                                    "lm_package", "logon_process", "privileged", "privileges_record_id",
                                    "elevated_token", "end_event_id", "end_record_id", "still_open",
                                    "duration_seconds", "process_count")} == {
        "logon_id_hex": "0x4a5af0", "logon_type": "3", "logon_type_name": "Network", "ip": "10.0.0.66",
        "auth_package": "NTLM", "lm_package": "NTLM V2", "logon_process": "NtLmSsp", "privileged": True,
        "privileges_record_id": 2, "elevated_token": True, "end_event_id": 4634, "end_record_id": 5,
        "still_open": False, "duration_seconds": 8.0, "process_count": 1,
    }
    assert session["workstation"] == "KALI\x1b[31m"  # exact data (JSON escapes it)
    assert session["start"] == iso_from_filetime(by_record(load(logon(1, 1.0, "0x1")), 1).event.filetime)


def test_cli_correlate_sessions_lists_every_session_with_its_processes(session_log: Path) -> None:
    status, out, err = run_cli("correlate", str(session_log), "--sessions", "--json")
    assert status == 0, err
    first, second = json.loads(out)
    assert (first["logon_id_hex"], first["user"], first["record_id"]) == ("0x4a5af0", "DOM\\alice", 1)
    assert [(p["pid_hex"], p["image"], p["record_id"]) for p in first["processes"]] == [
        ("0x100", r"C:\Windows\System32\cmd.exe", 3)]
    assert (second["logon_id_hex"], second["still_open"], second["end"]) == ("0x99", True, None)
    status, out, err = run_cli("correlate", str(session_log), "--sessions")
    assert status == 0, err
    lines = out.splitlines()
    assert "type 3 Network" in lines[0] and "from 10.0.0.66 KALI\\x1b[31m" in lines[0]
    assert "auth NTLM/NTLM V2" in lines[0] and "privileged yes" in lines[0] and "processes 1" in lines[0]
    assert "\x1b" not in out  # log text cannot drive the terminal
    assert lines[1].endswith("end still open at end of log")


# -- a real log ------------------------------------------------------------------------------


def test_runas_sample_sessions_name_type_source_and_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`runas /user:offsec\\hack1 cmd.exe` on FS03: two linked type-2 logons by seclogo, the
    elevated one privileged (4672), cmd.exe (4688 TargetLogonId) and its children in the other."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    status, out, err = run_cli("correlate", str(sample(RUNAS)), "--sessions", "--json")
    assert status == 0, err
    rows = json.loads(out)
    by_id = {s["logon_id_hex"]: s for s in rows if not s["before_log"]}
    assert set(by_id) == {"0xa6f5fa4", "0xa6f5fc2"}
    # (admmig's logon 0x123550 is before the log: listed as the Sessions view lists it)
    assert [(s["logon_id_hex"], s["process_count"]) for s in rows if s["before_log"]] == [("0x123550", 1)]
    elevated, limited = by_id["0xa6f5fa4"], by_id["0xa6f5fc2"]
    for s in (elevated, limited):
        assert (s["computer"], s["user"], s["logon_type"], s["logon_type_name"]) == (
            "FS03.offsec.lan", "OFFSEC\\hack1", "2", "Interactive")
        assert (s["ip"], s["workstation"], s["auth_package"], s["logon_process"]) == (
            "::1", "FS03", "Negotiate", "seclogo")
        assert s["still_open"] is True
    assert elevated["privileged"] is True and elevated["privileges_record_id"] == 469350
    assert limited["privileged"] is False
    assert [p["image"].rsplit("\\", 1)[-1] for p in limited["processes"]] == ["cmd.exe", "conhost.exe", "ctfmon.exe"]
    assert elevated["processes"] == []


def test_cli_correlation_tree_names_the_logon_source_package_and_process_count(session_log: Path) -> None:
    status, out, err = run_cli("correlate", str(session_log), "--record", "3")
    assert status == 0, err
    assert "logon type 3 Network from 10.0.0.66 (KALI\\x1b[31m) via NTLM V2" in out
    assert "processes started in this session: 1" in out
    assert "\x1b" not in out


# -- a session as the model links its events ----------------------------------------------------


def test_sessions_link_logon_privileges_and_logoff() -> None:
    events = load(
        xml(4672, 1, 1.0, SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectUserName="alice", SubjectDomainName="DOM",
            SubjectLogonId="0x4a5af0", PrivilegeList="SeDebugPrivilege"),
        s4624(2, 1.0, "0x4a5af0"),
        p4688(3, 2.0, "0x2bc", r"C:\Windows\System32\rundll32.exe", "0x4", logon="0x4a5af0"),
        d4690(4, 3.0, "0x2bc", "0x10", "0x4", "0x20", logon="0x00000000004a5af0"),
        xml(4634, 5, 4.0, TargetUserName="alice", TargetDomainName="DOM", TargetLogonId="0x4a5af0", LogonType="3"),
        d4690(6, 5.0, "0x2bc", "0x10", "0x4", "0x20", logon="0x3e7"),
        d4690(7, 6.0, "0x2bc", "0x10", "0x4", "0x20", logon="0x777"),
    )
    model = build_model(events)
    s = model.correlate(by_record(events, 4)).session
    assert s is not None and s.session is not None and s.confidence == "exact"
    assert s.logon_id == 0x4A5AF0 and s.user == "DOM\\alice"
    assert s.session.logon is not None and s.session.logon.record_id == 2
    assert s.session.privileged and s.session.privileges is not None and s.session.privileges.record_id == 1
    assert [r.record_id for r in s.session.logoffs] == [5]
    assert {(2, "session logon"), (1, "session privileges"), (5, "session logoff")} <= relations(
        model.correlate(by_record(events, 4)))
    system = model.correlate(by_record(events, 6)).session
    assert system is not None and system.confidence == "exact" and system.session is None
    assert "well-known" in system.reason and system.user == "NT AUTHORITY\\SYSTEM"
    unknown = model.correlate(by_record(events, 7)).session
    assert unknown is not None and unknown.confidence == "missing"
    assert unknown.reason == "no 4624 for logon 0x777 in this log: the logon happened before the log begins"
    proc = model.correlate(by_record(events, 3)).target_process
    assert proc is not None and proc.process is not None and proc.process.logon_id == 0x4A5AF0


def _p4672(rid: int, sec: float, lid: str) -> str:
    return xml(4672, rid, sec, SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectUserName="alice",
               SubjectDomainName="DOM", SubjectLogonId=lid, PrivilegeList="SeDebugPrivilege")


def test_4672_logged_just_before_the_4624_of_a_reused_logon_id_marks_the_new_session() -> None:
    """Logon ids are reused after a reboot. Windows logs the 4672 of a logon just before its
    4624 (same time, lower record id); it belongs to that new logon, not to the old session with
    the same id that ended long before."""
    events = load(
        s4624(1, 1.0, "0x4a5af0"),
        xml(4634, 2, 2.0, TargetUserName="alice", TargetDomainName="DOM", TargetLogonId="0x4a5af0", LogonType="3"),
        _p4672(3, 30.0, "0x4a5af0"),
        s4624(4, 30.0, "0x4a5af0", user="bob"),
    )
    model = build_model(events)
    old, new = sorted(model.sessions, key=lambda s: s.logon.key if s.logon else (0, 0))
    assert old.logon is not None and old.logon.record_id == 1
    assert new.logon is not None and new.logon.record_id == 4
    assert not old.privileged
    assert new.privileged and new.privileges is not None and new.privileges.record_id == 3
    link = model.correlate(by_record(events, 3)).session
    assert link is not None and link.session is not None and link.session.logon is not None
    assert link.session.logon.record_id == 4


def test_logon_event_correlates_to_its_own_session() -> None:
    events = load(
        s4624(1, 1.0, "0x4a5af0"),
        xml(4672, 2, 1.0, SubjectUserName="alice", SubjectDomainName="DOM", SubjectLogonId="0x4a5af0"),
        xml(4647, 3, 3.0, TargetUserName="alice", TargetDomainName="DOM", TargetLogonId="0x4a5af0"),
        xml(4634, 4, 3.1, TargetUserName="alice", TargetDomainName="DOM", TargetLogonId="0x4a5af0"),
        xml(4634, 5, 9.0, TargetUserName="bob", TargetDomainName="DOM", TargetLogonId="0x999"),
    )
    model = build_model(events)
    c = model.correlate(by_record(events, 1))
    assert c.source_process is None and c.source_handle is None
    assert c.session is not None and c.session.confidence == "exact" and c.session.user == "DOM\\alice"
    assert relations(c) == {(2, "session privileges"), (3, "session logoff"), (4, "session logoff")}
    assert c.summary == "4624 logon: 0x4a5af0 DOM\\alice"
    orphan = model.correlate(by_record(events, 5)).session
    assert orphan is not None and orphan.session is not None and orphan.session.logon is None
    assert orphan.confidence == "inferred" and "known from its logoff" in orphan.reason


def test_processes_go_to_the_session_alive_when_they_started() -> None:
    """Logon ids are unique only until a reboot: a reused id is a new session, and a process
    belongs to the latest one begun before it; well-known ids have no session (orphans)."""
    events = load(
        p4688(7, 0.5, "0x50", "C:\\Windows\\System32\\conhost.exe", "0x4", logon="0x4a5af0"),
        s4624(1, 1.0, "0x4a5af0"),
        p4688(2, 2.0, "0x100", "C:\\Windows\\System32\\cmd.exe", "0x4", logon="0x4a5af0"),
        s4624(3, 10.0, "0x4a5af0"),  # the same logon id again, after a reboot
        p4688(4, 11.0, "0x200", "C:\\Windows\\System32\\whoami.exe", "0x4", logon="0x4a5af0"),
        p4688(5, 12.0, "0x300", "C:\\Windows\\System32\\svchost.exe", "0x4", logon="0x3e7"),
        s4624(6, 13.0, "0x4a5af0", computer="HOST2"),
    )
    model = build_model(events)
    by_session, orphans = model.session_processes()
    first, second = (s for s in model.sessions if s.computer == "HOST1" and s.logon_id == 0x4A5AF0)
    assert [p.pid for p in by_session[first.index]] == [0x100]
    assert [p.pid for p in by_session[second.index]] == [0x200]
    other = next(s for s in model.sessions if s.computer == "HOST2")
    assert other.index not in by_session
    assert [p.pid for p in orphans[("HOST1", 0x3E7)]] == [0x300]
    # Started before any session with its id began: its logon precedes the log.
    assert [p.pid for p in orphans[("HOST1", 0x4A5AF0)]] == [0x50]
