"""A restart of a computer ends its processes, handles and logon sessions (`core.correlate.process_boots`):
pids, handle values and logon ids are unique only within one boot. After a boot marker (4608,
6005 of the EventLog provider, the 4688 of a boot's first process) no event links to an instance
of before it, on that computer only; the instances it ended say so. SYSTEM and the other
well-known logon ids have one session per boot, whatever the number of service logons. The model
built from events, from a store (read in process or by the child) and the stored tables agree;
and the OTRF persistence sample, whose WORKSTATION5 restarts, reads right."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.correlate.model import EXACT, INFERRED, MISSING, CorrelationModel, build_model, model_from_store
from core.correlate.processes import Process
from core.store import correlation_links, correlation_tables
from core.store.store import Store, StoredEvent
from tests.cliutil import run_cli
from tests.correlate.events import by_record, find_node, h4656, load, p4688, s4624, walk, xml
from tests.correlate.reboot_logs import (
    CMD,
    NOTEPAD,
    RESTART,
    SVCHOST,
    first_processes_log,
    marker,
    reboot_log,
    system_log,
    whole_log,
)
from tests.correlate.stored_models import READERS, stored_model
from tests.correlate.stored_tables import BUILDERS, EVERYTHING, shape, store_db, stored_links, text
from tests.logs import write_events
from tui.model_cache import ModelCache
from tui.sessions import STORED, _listed, line_tree
from tui.stored_views import load_list, load_subtree


def _created(model: CorrelationModel, record: int, computer: str = "HOST1") -> Process:
    (p,) = [p for p in model.processes if p.created is not None and p.created.record_id == record
            and p.computer == computer]
    return p


def test_a_restart_ends_its_processes_and_a_pid_used_after_it_is_a_new_process() -> None:
    events = load(*reboot_log())
    model = build_model(events)
    explorer, cmd = _created(model, 2), _created(model, 3)
    boot = by_record(events, 7)
    for p, rid in ((explorer, 2), (cmd, 3)):
        assert p.exited is None and p.replaced_by is None
        assert p.end is not None and p.end[0] == boot.event.filetime  # ended at the restart, not later
        assert p.reason == f"created by 4688 record {rid}; ended by {RESTART}, no 4689 before it"
        assert p.confidence == EXACT
    after = model.correlate(by_record(events, 8)).source_process
    assert after is not None and after.process is not None and after.process.index != cmd.index
    assert after.process.created is None and after.process.image == SVCHOST and not after.process.pre_existing
    assert (after.confidence, after.reason) == (
        INFERRED, f"no 4688 for 0x300 since {RESTART}: its creation was not logged")
    # Its child's parent is that new instance, not the cmd.exe of before the restart.
    notepad = _created(model, 10)
    assert notepad.parent == after.process.index and notepad.parent_pid == 0x300
    # A 4689 after the restart ends another process than the explorer.exe of before it.
    gone = model.correlate(by_record(events, 11)).source_process
    assert gone is not None and gone.process is not None and gone.process.index != explorer.index
    assert gone.process.exited is not None and gone.process.exited.record_id == 11
    # Events outside the model: the instance alive at their time, before and after.
    before = model.correlate(by_record(events, 13)).source_process
    later = model.correlate(by_record(events, 14)).source_process
    assert before is not None and before.process is not None and before.process.index == cmd.index
    assert later is not None and later.process is not None and later.process.index == after.process.index


def test_a_restart_ends_its_open_handles_and_a_4658_after_it_closes_another() -> None:
    events = load(*reboot_log())
    model = build_model(events)
    opened = model.correlate(by_record(events, 4)).source_handle
    assert opened is not None and opened.handle is not None
    h = opened.handle
    assert h.closed is None and h.close_reason == f"no 4658 for it: ended by {RESTART}"
    closed = model.correlate(by_record(events, 9)).source_handle
    assert closed is not None and closed.handle is not None and closed.handle.index != h.index
    assert closed.handle.opened is None and closed.confidence == INFERRED
    assert closed.handle.closed is not None and closed.handle.closed.record_id == 9


def test_a_restart_ends_the_sessions_begun_before_it() -> None:
    events = load(*reboot_log())
    model = build_model(events)
    (alice,) = [s for s in model.sessions if s.logon is not None and s.logon.record_id == 1]
    end = alice.end
    assert end is not None and (end.event_id, end.record_id) == (4608, 7) and alice.restart == end
    assert [model.processes[i].created.record_id for i in alice.processes] == [2, 3]  # type: ignore[union-attr]
    # Its logon id after the restart: another logon, whose 4624 is not in the log, ended by the 4634.
    link = model.correlate(by_record(events, 10)).session
    assert link is not None and link.session is not None and link.session.index != alice.index
    assert link.confidence == INFERRED and link.reason == (
        f"no 4624 for logon 0x5a5a5 since {RESTART}; the session is known from its logoff (4634 record 12)")
    assert [model.processes[i].created.record_id for i in link.session.processes] == [10]  # type: ignore[union-attr]
    logoff = model.correlate(by_record(events, 12)).session
    assert logoff is not None and logoff.session == link.session


def test_a_logon_id_used_after_a_restart_without_its_logon_is_missing() -> None:
    docs = [*reboot_log()[:11], xml(4673, 14, 35.0, SubjectLogonId="0x5a5a5", ProcessId="0x300",
                                     PrivilegeList="SeTcbPrivilege", Service="-")]
    events = load(*docs)
    model = build_model(events)
    link = model.correlate(by_record(events, 10)).session
    assert link is not None and link.session is None and link.confidence == MISSING
    assert link.reason == f"no 4624 for logon 0x5a5a5 since {RESTART}: logon ids are unique only within one boot"
    outside = model.correlate(by_record(events, 14)).session  # (an event outside the model: looked up)
    assert outside is not None and (outside.session, outside.confidence, outside.reason) == (
        None, MISSING, link.reason)


def test_a_restart_ends_nothing_on_another_computer() -> None:
    docs = [*reboot_log(),
            p4688(21, 2.0, "0x300", CMD, "0x4", computer="HOST2"),
            h4656(22, 31.0, "0x300", "0x44", r"\REGISTRY\MACHINE\SAM", CMD, computer="HOST2"),
            s4624(23, 0.5, "0x5a5a5", computer="HOST2"),
            p4688(24, 33.0, "0x400", NOTEPAD, "0x300", logon="0x5a5a5", computer="HOST2")]
    events = load(*docs)
    model = build_model(events)
    cmd2 = _created(model, 21, "HOST2")
    assert cmd2.end is None and cmd2.reason == "created by 4688 record 21"
    assert _created(model, 3).reason.endswith(f"ended by {RESTART}, no 4689 before it")
    src = model.correlate(by_record(events, 22, "HOST2")).source_process
    assert src is not None and src.process == cmd2 and src.confidence == EXACT
    session = model.correlate(by_record(events, 24, "HOST2")).session
    assert session is not None and session.session is not None and session.session.logon is not None
    assert session.session.logon.record_id == 23 and session.session.end is None


def test_the_first_process_of_a_boot_begins_it_before_its_4608() -> None:
    """Windows logs the 4688s of a boot's first processes (Registry, smss.exe, ..., lsass.exe)
    before the boot's 4608, and 6005 later still: the boot begins at the first of them."""
    docs = first_processes_log()
    events = load(*docs)
    model = build_model(events)
    old, new = _created(model, 1), _created(model, 6)
    assert old.reason == ("created by 4688 record 1; ended by the restart (4688 record 4: Registry created by the "
                          "kernel, the first process of a boot; after the shutdown at 1100 record 3), no 4689 "
                          "before it")
    assert new.end is None and new.reason == "created by 4688 record 6"
    for rid in (7, 9, 12):  # neither the 4608 nor the 6005 is another restart
        src = model.correlate(by_record(events, rid)).source_process
        assert src is not None and src.process == new and src.confidence == EXACT
    reused = model.correlate(by_record(events, 10)).source_process
    assert reused is not None and reused.process is not None and reused.process.index != old.index
    assert reused.process.created is None
    # The parent named by the new lsass.exe is the wininit.exe of this boot, not of the last one.
    assert new.parent is not None and old.parent is not None and new.parent != old.parent
    # The 4656 on lsass after the restart names one lsass.exe alive: the new one.
    target = find_node(model.correlate(by_record(events, 9)).tree(), "target process")
    assert "0x2d4" in target.label and "ambiguous" not in (target.confidence, target.label)


def test_winlogons_6005_is_no_restart_the_event_logs_is() -> None:
    docs = [
        p4688(1, 0.0, "0x300", CMD, "0x4"),
        marker(6005, 2, 1.0, "Microsoft-Windows-Winlogon", "Application"),
        h4656(3, 2.0, "0x300", "0x44", r"\REGISTRY\MACHINE\X", CMD),
        marker(6006, 4, 3.0, "Microsoft-Windows-Winlogon", "Application"),
        marker(6005, 5, 4.0, "EventLog", "System"),
        h4656(6, 5.0, "0x300", "0x48", r"\REGISTRY\MACHINE\X", CMD),
    ]
    events = load(*docs)
    model = build_model(events)
    cmd = _created(model, 1)
    first = model.correlate(by_record(events, 3)).source_process
    assert first is not None and first.process == cmd
    assert cmd.reason.endswith("ended by the restart (6005 record 5: the event log service was started), no 4689 "
                               "before it")
    later = model.correlate(by_record(events, 6)).source_process
    assert later is not None and later.process is not None and later.process.index != cmd.index


def test_system_has_one_session_per_boot_and_a_service_logon_logs_on_into_it() -> None:
    events = load(*system_log())
    model = build_model(events)
    system = [s for s in model.sessions if s.logon_id == 0x3E7]
    assert [s.logon.record_id for s in system if s.logon is not None] == [1, 11] and len(system) == 2
    first, second = system

    def created(s: Any) -> list[int | None]:
        return [model.processes[i].created.record_id for i in s.processes]

    assert created(first) == [2, 5, 7] and created(second) == [10, 13]
    assert first.end is not None and (first.end.event_id, first.end.record_id) == (4608, 9) and second.end is None
    assert first.privileged and first.logon_type == "0"
    assert [s.logon.record_id for s in model.sessions if s.logon_id == 0x3E4 and s.logon] == [15]
    another = model.correlate(by_record(events, 3)).session
    assert another is not None and another.session == first and another.confidence == EXACT
    assert another.reason == ("another logon into the well-known session of NT AUTHORITY\\SYSTEM (0x3e7) begun by "
                              "4624 record 1: Windows keeps one per boot (a service logging on as this account)")
    own = model.correlate(by_record(events, 1)).session
    assert own is not None and (own.session, own.reason) == (first, "logon 4624 record 1")
    early = model.correlate(by_record(events, 10)).session
    assert early is not None and early.session == second and early.confidence == EXACT
    assert early.reason == ("well-known session of NT AUTHORITY\\SYSTEM (0x3e7), one per boot: its first 4624 in "
                            "this boot, record 11, is logged after this event")
    later = model.correlate(by_record(events, 13)).session
    assert later is not None and (later.session, later.reason) == (second, "logon 4624 record 11")


def test_correlate_json_and_the_sessions_list_say_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    path = write_events(tmp_path / "log.xml", [*reboot_log(), *system_log("HOST3")])
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "8", "--json")
    assert status == 0, err
    (doc,) = [d for d in json.loads(out) if d["event"]["computer"] == "HOST1"]
    assert doc["source_process"]["record_id"] is None and doc["source_process"]["confidence"] == INFERRED
    assert doc["source_process"]["reason"] == f"no 4688 for 0x300 since {RESTART}: its creation was not logged"
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "4", "--json")
    (doc,) = [d for d in json.loads(out) if d["event"]["computer"] == "HOST1"]
    assert doc["source_process"]["reason"] == f"created by 4688 record 3; ended by {RESTART}, no 4689 before it"
    assert doc["source_handle"]["close_reason"] == f"no 4658 for it: ended by {RESTART}"
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "3", "--json")
    (doc,) = [d for d in json.loads(out) if d["event"]["computer"] == "HOST1"]
    assert doc["session"]["record_id"] == 1
    assert (doc["session"]["end_event_id"], doc["session"]["end_record_id"], doc["session"]["still_open"]) == (
        4608, 7, False)
    assert [p["record_id"] for p in doc["session"]["processes"]] == [2, 3]
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--sessions", "--json")
    assert status == 0, err
    sessions = json.loads(out)
    system = [(s["record_id"], s["end_event_id"], s["end_record_id"], [p["record_id"] for p in s["processes"]])
              for s in sessions if s["logon_id"] == 0x3E7]
    assert system == [(1, 4608, 9, [2, 5, 7]), (11, None, None, [10, 13])]
    assert Counter(s["logon_id_hex"] for s in sessions) == {"0x3e7": 2, "0x5a5a5": 2, "0x3e4": 1}
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "3", "--json")
    (service,) = [d for d in json.loads(out) if d["event"]["computer"] == "HOST3"]
    assert service["session"]["record_id"] == 1 and service["session"]["reason"].startswith(
        "another logon into the well-known session of NT AUTHORITY\\SYSTEM (0x3e7) begun by 4624 record 1")


def _blocks(out: str) -> dict[str, str]:
    """The text trees `correlate --record N` prints, one per event (`# FILE record N (EID)`), by
    the first line of each (its summary)."""
    blocks = [b for b in out.split("\n# ") if b.strip()]
    return {b.splitlines()[1]: b for b in blocks}


def test_the_text_tree_says_the_restart_ended_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not "still running at the end of the log" nor "no logoff in this log": the restart ended
    the processes, the handle and the sessions (text trees: `correlate --record N`)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    path = write_events(tmp_path / "log.xml", [*reboot_log(), *system_log("HOST3")])
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "3")
    assert status == 0, err
    blocks = _blocks(out)
    cmd = blocks["[exact] 4688 process created: cmd.exe 0x300 (768) by explorer.exe 0x200 (512)"]
    lines = [line.strip() for line in cmd.splitlines()]
    # The parent (explorer.exe) and the new process (cmd.exe): both ended by the restart.
    assert lines.count(f"[exact] no 4689: ended by {RESTART}") == 2
    assert f"[missing] close: no 4658 for it: ended by {RESTART}" in lines
    assert "[exact] no logoff: ended by the restart (4608 record 7 at 2021-10-08T12:57:30.0000000Z)" in lines
    assert "still running" not in cmd and "no logoff in this log" not in cmd
    # HOST3's service logon into SYSTEM's session of the first boot, which its restart ended.
    service = blocks["[exact] 4624 logon: 0x3e7 NT AUTHORITY\\SYSTEM"]
    assert "    [exact] no logoff: ended by the restart (4608 record 9 at 2021-10-08T12:57:20.0000000Z)\n" in service
    # After the restart: notepad.exe runs on to the end of the log; SYSTEM's second session too.
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "10")
    assert status == 0, err
    blocks = _blocks(out)
    notepad = blocks["[exact] 4688 process created: notepad.exe 0x400 (1024) by svchost.exe 0x300 (768)"]
    assert "[missing] no 4689 in this log: still running at the end of the log" in notepad
    assert "ended by the restart" not in notepad.split("[exact] new process:")[1].split("logon session")[0]
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "13")
    (svchost,) = [b for first, b in _blocks(out).items() if first.startswith("[exact] 4688 process created: svc")]
    assert "[missing] no logoff in this log" in svchost and "no logoff: ended by" not in svchost


def test_the_process_forest_names_the_restart_and_jumps_to_its_event() -> None:
    """The Processes view's trees (`process_forest`): a process a restart ended says so; where
    the restart is a boot's first 4688 (in the model's events) its line jumps to it."""
    from core.correlate.tree import process_forest

    events = load(*reboot_log())
    model = build_model(events)
    ends = [n for root in process_forest(model, "HOST1") for n in walk(root) if n.label.startswith("no 4689")]
    # System, explorer.exe and cmd.exe; the svchost.exe and notepad.exe of after it run on.
    assert Counter(n.label for n in ends) == {f"no 4689: ended by {RESTART}": 3,
                                              "no 4689 in this log: still running at the end of the log": 2}
    assert all(n.confidence == EXACT and n.store_id is None for n in ends  # (the 4608 is no model event)
               if n.label.endswith(f"{RESTART}"))
    events = load(*first_processes_log())
    model = build_model(events)
    old = _created(model, 1)
    ended = [n for root in process_forest(model, "HOST1") for n in walk(root)
             if n.label.startswith("no 4689: ended by the restart")]
    # The old lsass.exe and the processes named before the restart (its parent wininit.exe...).
    assert len(ended) >= 2 and {n.label for n in ended} == {
        "no 4689: " + old.reason.split("; ", 1)[1].removesuffix(", no 4689 before it")}
    assert {n.store_id for n in ended} == {by_record(events, 4).id}  # Registry's 4688


def _answers(model: CorrelationModel, events: list[StoredEvent]) -> dict[tuple[str, int, int], tuple[Any, ...]]:
    """What the model says of every event, keyed by computer, record and EventID (not store id)."""
    def proc(link: Any) -> Any:
        p = link.process if link is not None else None
        return link and (link.confidence, link.reason, p and (p.pid, p.created and p.created.record_id, p.start,
                                                              p.end, p.reason, p.pre_existing))

    def handle(link: Any) -> Any:
        h = link.handle if link is not None else None
        return link and (link.confidence, link.reason, h and (h.handle_id, h.close_reason))

    def session(link: Any) -> Any:
        s = link.session if link is not None else None
        return link and (link.confidence, link.reason, s and (
            s.logon and s.logon.record_id, s.end and s.end.record_id,
            [model.processes[i].pid for i in s.processes]))

    out = {}
    for se in events:
        c = model.correlate(se)
        ev = se.event
        out[(ev.computer, ev.record_id or 0, ev.event_id)] = (
            proc(c.source_process), proc(c.target_process), handle(c.source_handle), session(c.session))
    return out


@pytest.mark.parametrize("reader", READERS)
def test_a_store_built_model_says_what_the_events_model_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
) -> None:
    docs = whole_log()
    events = load(*docs)
    expected = _answers(build_model(events), events)
    model, stored = stored_model(tmp_path, monkeypatch, docs, reader)
    assert _answers(model, stored) == expected
    assert any("ended by the restart" in p.reason for p in model.processes)


def test_the_stored_tables_read_back_as_the_model_shows_them(tmp_path: Path) -> None:
    """The Sessions list, the instances and the links a reopened log reads from the store are the
    model's: the sessions a restart ended end there."""
    db = store_db(tmp_path, load(*whole_log()))
    cache = ModelCache()
    for name in BUILDERS:
        assert cache.stored_view(db, True, name, BUILDERS, wait=True)
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        lines = _listed(model)[0]
        _total, _count, rows = load_list(store, STORED, EVERYTHING)
        cells = [[text(c) for c in r.cells] for r in rows]
        assert cells == [[text(c) for c in line.cells] for line in lines]
        for number, line in enumerate(lines):
            assert shape(load_subtree(store, STORED, number)) == shape(line_tree(line)), number
        # Alice's two sessions on HOST1 (ended by the restart at :30; after it, known from its
        # 4634), hers on HOST2 (still open), SYSTEM's two on HOST3 (one per boot, the first ended
        # by its restart at :20) and NETWORK SERVICE's one.
        shown = sorted((line.cells[0].plain, line.cells[1].plain, line.cells[8].plain) for line in lines)
        assert shown == [
            ("2021-10-08 12:57:00", "HOST1", "2021-10-08 12:57:30"),
            ("2021-10-08 12:57:00", "HOST2", "still open"),
            ("2021-10-08 12:57:00", "HOST3", "2021-10-08 12:57:20"),
            ("2021-10-08 12:57:06", "HOST3", "2021-10-08 12:57:20"),
            ("2021-10-08 12:57:21", "HOST3", "still open"),
            ("no 4624", "HOST1", "2021-10-08 12:57:40"),
        ]
        for p in model.processes:
            row = correlation_tables.instance(store, "process", p.index)
            assert row is not None and (row["confidence"], row["reason"], row["pre_existing"]) == (
                p.confidence, p.reason, int(p.pre_existing))
            assert (row["end_ts"], row["end_order"]) == (p.end or (None, None))
        # HOST1's System, explorer.exe and cmd.exe; HOST3's services.exe (0x2ac), two svchost.exe, spoolsv.exe.
        assert sum("ended by the restart" in p.reason for p in model.processes) == 7
        correlated = {sid for sid, _eid in model.event_roles()}
        for se in store.iter_events():
            expected = stored_links(model, se) if se.id in correlated else []
            assert correlation_links.links_of(store, se.id) == expected, se.id


# -- a real log: the OTRF persistence sample, whose WORKSTATION5 restarts ---------------------------

RUN_KEYS = "json/otrf/persistence__host__empire_persistence_registry_modification_run_keys_standard_user.zip"
WS5 = "WORKSTATION5.theshire.local"


@pytest.fixture(scope="module")
def run_keys() -> tuple[CorrelationModel, list[StoredEvent]]:
    from tests.correlate.samples import load_json

    events = load_json(RUN_KEYS)
    return build_model(events), events


def test_the_otrf_restart_ends_the_old_lsass_and_services_sit_in_the_new_system_session(
    run_keys: tuple[CorrelationModel, list[StoredEvent]],
) -> None:
    """WORKSTATION5 shuts down (6006, 1100 at 07:07:19) and boots (Registry's 4688 record 40859 at
    07:07:40, lsass.exe 0x2d4 at record 40871, 4608 record 40875 at 07:07:55)."""
    model, events = run_keys
    ws5 = [se for se in events if se.event.computer == WS5 and se.event.channel.casefold() == "security"]
    (old,) = [p for p in model.instances(WS5, 0x2D8) if p.image and p.image.lower().endswith("lsass.exe")]
    new = _created(model, 40871, WS5)
    assert old.reason.endswith("ended by the restart (4688 record 40859: Registry created by the kernel, the first "
                               "process of a boot; after the shutdown at 1100 record 40630), no 4689 before it")
    # (Sysmon's 1 of it, logged 11 s after its 4688, joins it by the creation time it says: test_boot_sysmon.py)
    assert new.pid == 0x2D4 and new.reason == "created by 4688 record 40871"
    opens = [se for se in ws5 if se.event.event_id == 4656 and (se.event.record_id or 0) > 40875
             and dict(se.event.data).get("ObjectType") == "Process"
             and dict(se.event.data).get("ObjectName", "").lower().endswith("\\lsass.exe")]
    assert len(opens) >= 5
    for se in opens:  # the new lsass.exe, the only one alive: not "ambiguous" between the two
        target = find_node(model.correlate(se).tree(), "target process")
        assert "lsass.exe 0x2d4" in target.label and target.confidence != "ambiguous", target
    # services.exe of the new boot, started before its SYSTEM logon (type 0, record 40876).
    services = model.correlate(next(se for se in ws5 if se.event.record_id == 40870)).session
    assert services is not None and services.session is not None and services.session.logon is not None
    assert services.session.logon.record_id == 40876 and services.confidence == EXACT
    system = [s for s in model.sessions if s.computer == WS5 and s.logon_id == 0x3E7]
    assert [s.logon.record_id for s in system if s.logon is not None] == [40398, 40876]
    before, after = system
    assert before.end is not None and before.end.record_id == 40859
    made = [model.processes[i].created for i in before.processes]
    assert all(ref is None or (ref.record_id or 0) < 40859 for ref in made)
    assert _created(model, 40870, WS5).index in after.processes and len(after.processes) > 100
