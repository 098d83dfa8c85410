"""Sysmon process identity (issue 17) on hand-made logs: a process seen by Sysmon is keyed by its
ProcessGuid (exact across pid reuse) and joined with the 4688 of the same process within the
clock skew between the channels; every Sysmon event naming a GUID links to its instance."""

from __future__ import annotations

from core.correlate.model import build_model
from core.correlate.processes import CHANNEL_SKEW, TICKS_PER_SECOND
from core.store.store import StoredEvent
from tests.correlate.events import by_record, find_node, load, p4688, p4689
from tests.correlate.sysmon_events import s10, sysmon

CMD = r"C:\Windows\System32\cmd.exe"
A_EXE = r"C:\Temp\a.exe"
B_EXE = r"C:\Temp\b.exe"


def s1(rid: int, sec: float, guid: str, pid: int, image: str, parent_guid: str = "{p}", ppid: int = 4,
       parent: str = "", computer: str = "HOST1") -> str:
    return sysmon(1, rid, sec, computer, ProcessGuid=guid, ProcessId=str(pid), Image=image,
                  CommandLine=image, User="DOM\\alice", LogonId="0x3e7", ParentProcessGuid=parent_guid,
                  ParentProcessId=str(ppid), ParentImage=parent)


def s_act(eid: int, rid: int, sec: float, guid: str, pid: int, image: str, computer: str = "HOST1") -> str:
    return sysmon(eid, rid, sec, computer, ProcessGuid=guid, ProcessId=str(pid), Image=image)


def source_of(events: list[StoredEvent], rid: int, computer: str | None = None) -> str:
    c = build_model(events).correlate(by_record(events, rid, computer))
    assert c.source_process is not None and c.source_process.process is not None
    return f"{c.source_process.process.label} {c.source_process.confidence}"


def test_a_guid_names_its_instance_across_pid_reuse() -> None:
    """A Sysmon 3 of a.exe logged after its pid was reused by b.exe still belongs to a.exe
    (by GUID); by pid and time alone it would be b.exe."""
    events = load(
        s1(1, 0.0, "{A}", 100, A_EXE),
        p4688(2, 0.01, "0x64", A_EXE, "0x4"),
        s_act(5, 3, 1.0, "{A}", 100, A_EXE),
        s1(4, 2.0, "{B}", 100, B_EXE),
        p4688(5, 2.02, "0x64", B_EXE, "0x4"),
        s_act(3, 6, 3.0, "{A}", 100, A_EXE),  # network events are logged late
        s_act(11, 7, 3.1, "{B}", 100, B_EXE),
    )
    model = build_model(events)
    late = model.correlate(by_record(events, 6)).source_process
    assert late is not None and late.process is not None
    assert late.process.name == "a.exe" and late.confidence == "exact"
    assert late.process.created is not None and late.process.created.record_id == 2
    assert late.process.sysmon_created is not None and late.process.sysmon_created.record_id == 1
    assert source_of(events, 7) == "b.exe 0x64 (100) exact"
    instances = model.instances("HOST1", 100)
    assert [p.name for p in instances] == ["a.exe", "b.exe"]
    assert [r.record_id for r in instances[0].sysmon_events] == [3, 6]
    assert [r.record_id for r in instances[1].sysmon_events] == [7]


def test_clock_skew_between_the_channels_is_measured_and_joins_both_ways() -> None:
    assert CHANNEL_SKEW == 2 * TICKS_PER_SECOND
    events = load(
        p4688(1, 1.0, "0x10", A_EXE, "0x4"),
        s1(2, 2.9, "{A}", 16, A_EXE),  # Sysmon 1.9 s after the 4688
        s1(3, 5.0, "{B}", 32, B_EXE),
        p4688(4, 6.2, "0x20", B_EXE, "0x4"),  # 4688 1.2 s after Sysmon 1
        p4688(5, 10.0, "0x30", CMD, "0x4"),
        s1(6, 13.5, "{C}", 48, CMD),  # 3.5 s apart: not the same process
    )
    model = build_model(events)
    a, b = model.instances("HOST1", 0x10)[0], model.instances("HOST1", 0x20)[0]
    assert len(model.instances("HOST1", 0x10)) == 1 and len(model.instances("HOST1", 0x20)) == 1
    assert (a.created and a.created.record_id, a.sysmon_created and a.sysmon_created.record_id) == (1, 2)
    assert (b.created and b.created.record_id, b.sysmon_created and b.sysmon_created.record_id) == (4, 3)
    assert b.joined is not None and "logged 1.200 s apart" in b.joined
    assert b.confidence == "exact" and b.reason == "created by 4688 record 4"
    cmd = model.instances("HOST1", 0x30)
    assert len(cmd) == 2 and cmd[0].created is not None and cmd[0].created.record_id == 5
    assert cmd[0].sysmon_created is None
    assert cmd[1].sysmon_created is not None and cmd[1].joined is None
    tree = model.correlate(by_record(events, 4)).tree()
    assert find_node(tree, "new process: b.exe")
    joined = find_node(tree, "also created: Sysmon 1 record 3")
    assert joined.store_id == 3 and "within the 2 s skew" in joined.children[0].label


def test_same_pid_and_guid_text_on_two_hosts_are_two_processes() -> None:
    events = load(
        s1(1, 0.0, "{same}", 100, A_EXE, computer="HOST1"),
        p4688(2, 0.01, "0x64", A_EXE, "0x4", computer="HOST1"),
        s1(1, 0.0, "{same}", 100, B_EXE, computer="HOST2"),
        p4688(2, 0.01, "0x64", B_EXE, "0x4", computer="HOST2"),
        s_act(3, 3, 1.0, "{same}", 100, A_EXE, computer="HOST1"),
        s_act(3, 3, 1.0, "{same}", 100, B_EXE, computer="HOST2"),
    )
    assert source_of(events, 3, "HOST1") == "a.exe 0x64 (100) exact"
    assert source_of(events, 3, "HOST2") == "b.exe 0x64 (100) exact"
    model = build_model(events)
    for host in ("HOST1", "HOST2"):
        (p,) = model.instances(host, 100)
        assert p.created is not None and p.created.event_id == 4688 and p.sysmon_created is not None


def test_a_sysmon_10_source_is_named_from_its_image() -> None:
    """lsass.exe and mimi.exe have no 4688 and no Sysmon 1: the Sysmon 10 names them."""
    events = load(
        p4688(1, 0.0, "0x200", CMD, "0x4"),  # process creation is audited on this host
        s10(2, 1.0, "{M}", 900, r"C:\Temp\mimi.exe", "{L}", 700, r"C:\Windows\system32\lsass.exe"),
        s_act(3, 3, 2.0, "{M}", 900, r"C:\Temp\mimi.exe"),
    )
    c = build_model(events).correlate(by_record(events, 2))
    assert c.summary == "Sysmon 10 process accessed: lsass.exe 0x2bc (700) by mimi.exe 0x384 (900)"
    assert c.source_process is not None and c.source_process.process is not None
    assert c.source_process.process.guid == "{m}"
    assert source_of(events, 3) == "mimi.exe 0x384 (900) inferred"


def test_a_guid_sysmon_never_created_is_matched_by_pid_and_says_so() -> None:
    events = load(
        s1(1, 0.0, "{A}", 100, A_EXE),
        s10(2, 0.5, "{C}", 200, CMD, "{provisional}", 100, A_EXE),
    )
    c = build_model(events).correlate(by_record(events, 2))
    assert c.target_process is not None and c.target_process.process is not None
    assert c.target_process.process.name == "a.exe" and c.target_process.confidence == "inferred"
    assert "TargetProcessGuid {provisional} is not the GUID of the instance alive with this pid, {a}" in (
        c.target_process.reason)


def test_sysmon_1_parent_by_guid_and_exit_by_sysmon_5() -> None:
    events = load(
        s1(1, 0.0, "{P}", 300, CMD),
        s1(2, 1.0, "{K}", 400, A_EXE, parent_guid="{P}", ppid=300, parent=CMD),
        s_act(5, 3, 2.0, "{K}", 400, A_EXE),
        p4689(4, 3.0, "0x999", B_EXE),  # termination is audited: a.exe ended by its Sysmon 5
    )
    model = build_model(events)
    (child,) = model.instances("HOST1", 400)
    assert child.parent is not None and model.processes[child.parent].guid == "{p}"
    assert child.exited is not None and child.exited.record_id == 3
    c = model.correlate(by_record(events, 2))
    assert c.source_process is not None and c.source_process.process is not None
    assert c.source_process.process.name == "cmd.exe"


def test_other_providers_with_sysmon_event_ids_stay_outside_the_model() -> None:
    """An EventID 1 of another provider (no GUID) is not a process creation."""
    events = load(
        sysmon(1, 1, 0.0, Foo="bar", ProcessId="100"),
        p4688(2, 0.5, "0x64", A_EXE, "0x4"),
    )
    model = build_model(events)
    assert [p.name for p in model.instances("HOST1", 100)] == ["a.exe"]
    assert model.correlate(by_record(events, 1)).summary.startswith("1 record 1")
