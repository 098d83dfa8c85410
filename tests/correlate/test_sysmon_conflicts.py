"""Sysmon records that contradict what the instance found by pid (or the joined 4688) says.

* A Sysmon event whose GUID is not the GUID of the instance alive with its pid (another image, or
  a minute after that instance's creation) was linked to it, and a 4688-only instance took the
  foreign GUID as its own: lsass.exe's GUID on a.exe. It is another process now: an inferred
  instance of its own from that event on, the reason saying why. A GUID is taken by an instance
  without one only when the image is the same; the GUID Sysmon gives a process after its Sysmon 1
  (same first three groups: aptsimulator_cobaltstrike) and a provisional one (accessed while
  being created) still link to it, inferred, and the other GUID keeps naming it after its pid is
  reused.
* A Sysmon 1 joined to its 4688 but naming another parent (ParentProcessGuid / ParentProcessId)
  than the 4688's creator was resolved silently, its link mixing both parents (explorer's pid
  with cmd.exe's instance), exact. Its parent link is now the Sysmon 1's own, ambiguous, naming
  both records.

Each answered by the model in process, by the model whose scan rows a child read, by the stored
links (`persist.links`) and by `correlate --json`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.correlate.model import build_model
from tests.correlate.events import by_record, load, p4688
from tests.correlate.stored_models import READERS, correlate_json, record_links, stored_model
from tests.correlate.sysmon_events import s10, sysmon

A_EXE = r"C:\Tools\a.exe"
B_EXE = r"C:\Tools\b.exe"
CMD = r"C:\Windows\System32\cmd.exe"
EXPLORER = r"C:\Windows\explorer.exe"
WHOAMI = r"C:\Windows\System32\whoami.exe"
LSASS = r"C:\Windows\System32\lsass.exe"
PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"

GA = "{aaaaaaaa-1111-0000-0000-0000000002bc}"
GB = "{bbbbbbbb-2222-0000-0000-0000000002bc}"
GP = "{aaaaaaaa-1111-0000-0000-000000000900}"
NO_GUID = "{00000000-0000-0000-0000-000000000000}"


def s1(rid: int, sec: float, guid: str, pid: int, image: str, parent_guid: str = NO_GUID, ppid: int = 500,
       parent: str = EXPLORER) -> str:
    return sysmon(1, rid, sec, ProcessGuid=guid, ProcessId=str(pid), Image=image, CommandLine=image,
                  User="NT AUTHORITY\\SYSTEM", LogonId="0x3e7", ParentProcessGuid=parent_guid,
                  ParentProcessId=str(ppid), ParentImage=parent)


def s_act(eid: int, rid: int, sec: float, guid: str, pid: int, image: str) -> str:
    return sysmon(eid, rid, sec, ProcessGuid=guid, ProcessId=str(pid), Image=image)


#: a.exe (Sysmon 1, GUID GA) and powershell.exe; a minute later powershell opens pid 700 as
#: lsass.exe with GUID GB: a.exe's exit was not logged, the pid is another process's.
FOREIGN_AFTER_SYSMON_1 = [
    s1(1, 1.0, GA, 700, A_EXE),
    s1(2, 2.0, GP, 2304, PS),
    s10(3, 59.0, GP, 2304, PS, GB, 700, LSASS, access="0x1410"),
]

#: The same with a.exe from a 4688 only (no Sysmon 1, no GUID).
FOREIGN_AFTER_4688 = [
    p4688(1, 1.0, "0x2bc", A_EXE, "0x1f4"),
    s1(2, 2.0, GP, 2304, PS),
    s10(3, 59.0, GP, 2304, PS, GB, 700, LSASS, access="0x1410"),
]


@pytest.mark.parametrize("reader", READERS)
def test_a_guid_of_another_image_is_another_process_not_the_sysmon_1_instance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, FOREIGN_AFTER_SYSMON_1, reader)
    target = model.correlate(by_record(events, 3)).target_process
    assert target is not None and target.process is not None
    assert (target.process.name, target.process.guid, target.confidence) == ("lsass.exe", GB, "inferred")
    assert target.process.created is None and target.process.sysmon_created is None
    assert (f"TargetProcessGuid {GB} is not the GUID of the instance alive with this pid, {GA} (Sysmon 1 record 1), "
            "and names another image, lsass.exe: another process, inferred from this event on; "
            "a.exe 0x2bc (700) ends here (its exit is not in this log)") in target.reason
    a, lsass = model.instances("HOST1", 700)
    # a.exe is named by its own records only, and ends where the other process is first seen
    assert (a.name, a.guid, a.confidence, [n for n, _ in a.names]) == ("a.exe", GA, "exact", [A_EXE])
    assert a.replaced_by is not None and a.replaced_by.record_id == 3
    assert lsass.guid == GB and [r.record_id for r in lsass.sysmon_events] == [3]
    assert record_links(model, events, 3)["target process"] == (target.confidence, target.reason)
    doc = correlate_json(tmp_path, FOREIGN_AFTER_SYSMON_1, 3)["target_process"]
    assert (doc["image"], doc["guid"], doc["record_id"], doc["confidence"]) == (LSASS, GB, None, "inferred")


@pytest.mark.parametrize("reader", READERS)
def test_a_foreign_guid_is_not_written_onto_a_4688_only_instance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, FOREIGN_AFTER_4688, reader)
    a, lsass = model.instances("HOST1", 700)
    assert (a.name, a.guid, a.confidence, a.reason) == ("a.exe", None, "exact", "created by 4688 record 1")
    target = model.correlate(by_record(events, 3)).target_process
    assert target is not None and target.process is not None and target.process.index == lsass.index
    assert (lsass.name, lsass.guid) == ("lsass.exe", GB)
    assert (f"TargetProcessGuid {GB} names lsass.exe, but the instance alive with this pid, a.exe 0x2bc (700), "
            "has no GUID and another image: another process, inferred from this event on") in target.reason
    assert record_links(model, events, 3)["target process"] == (target.confidence, target.reason)
    created = correlate_json(tmp_path, FOREIGN_AFTER_4688, 1)["target_process"]
    assert (created["image"], created["guid"], created["confidence"]) == (A_EXE, None, "exact")
    accessed = correlate_json(tmp_path, FOREIGN_AFTER_4688, 3)["target_process"]
    assert (accessed["image"], accessed["guid"]) == (LSASS, GB)


def test_a_guid_is_taken_by_a_4688_only_instance_of_the_same_image() -> None:
    events = load(
        p4688(1, 1.0, "0x2bc", A_EXE, "0x1f4"),
        s1(2, 2.0, GP, 2304, PS),
        s10(3, 5.0, GP, 2304, PS, GA, 700, A_EXE),
        s_act(3, 4, 6.0, GA, 700, A_EXE),
    )
    model = build_model(events)
    (a,) = model.instances("HOST1", 700)
    assert (a.guid, a.created and a.created.record_id) == (GA, 1)
    target = model.correlate(by_record(events, 3)).target_process
    assert target is not None and target.process is not None and target.process.index == a.index
    assert target.reason.endswith(f"TargetProcessGuid {GA} first seen here; matched by pid alive at this time, "
                                  "with the same image: the GUID is taken as this instance's")
    later = model.correlate(by_record(events, 4)).source_process
    assert later is not None and later.process is not None and later.process.index == a.index
    assert later.confidence == "exact"


def test_the_same_image_with_another_guid_long_after_its_creation_is_another_process() -> None:
    events = load(
        s1(1, 1.0, "{A}", 700, A_EXE),
        s_act(3, 2, 59.0, "{A2}", 700, A_EXE),
    )
    model = build_model(events)
    first, other = model.instances("HOST1", 700)
    assert (first.guid, other.guid) == ("{a}", "{a2}")
    source = model.correlate(by_record(events, 2)).source_process
    assert source is not None and source.process is not None and source.process.index == other.index
    assert ("ProcessGuid {a2} is not the GUID of the instance alive with this pid, {a} (Sysmon 1 record 1), and is "
            "logged 58.000 s after its creation, too late for a provisional GUID: another process") in source.reason


def test_another_guid_with_the_same_start_time_is_the_same_process_even_after_pid_reuse() -> None:
    """Some Sysmon versions give a process another GUID after its Sysmon 1, with the same first
    three groups (machine, start time): its events stay a.exe's, also once b.exe has the pid."""
    first = "{e2c04bb9-08c3-60c4-1c17-400100000000}"
    later = "{e2c04bb9-08c3-60c4-7809-000000000300}"
    events = load(
        s1(1, 0.0, first, 100, A_EXE),
        s_act(3, 2, 4.3, later, 100, A_EXE),
        s1(3, 6.0, "{e2c04bb9-08c9-60c4-1d17-400100000000}", 100, B_EXE),  # a.exe's exit not logged
        s_act(3, 4, 7.0, later, 100, A_EXE),
    )
    model = build_model(events)
    a, b = model.instances("HOST1", 100)
    assert (a.name, b.name) == ("a.exe", "b.exe")
    two = model.correlate(by_record(events, 2)).source_process
    assert two is not None and two.process is not None and two.process.index == a.index
    assert two.confidence == "inferred"
    assert (f"ProcessGuid {later} is not the GUID of the instance alive with this pid, {first} (Sysmon 1 record 1), "
            "but has its first three groups (the machine and the process's start time): another GUID Sysmon gave "
            "the same process, matched by pid and time") in two.reason
    four = model.correlate(by_record(events, 4)).source_process
    assert four is not None and four.process is not None and four.process.index == a.index
    assert four.confidence == "inferred"
    assert four.reason.endswith(f"ProcessGuid {later} is another GUID of the instance with {first}, taken for it by "
                                "pid and time at Sysmon 3 record 2")
    assert [r.record_id for r in a.sysmon_events] == [2, 4] and not b.sysmon_events


def test_a_provisional_guid_while_being_created_still_links_and_says_when() -> None:
    events = load(
        s1(1, 0.0, "{A}", 100, A_EXE),
        s10(2, 0.5, "{C}", 200, CMD, "{provisional}", 100, A_EXE),
    )
    model = build_model(events)
    (a,) = model.instances("HOST1", 100)
    target = model.correlate(by_record(events, 2)).target_process
    assert target is not None and target.process is not None and target.process.index == a.index
    assert target.confidence == "inferred"
    assert ("TargetProcessGuid {provisional} is not the GUID of the instance alive with this pid, {a} (Sysmon 1 "
            "record 1), logged 0.500 s after its creation (a process accessed while it is being created gets a "
            "provisional GUID): matched by pid and time") in target.reason


GE = "{aaaaaaaa-0000-0000-0000-0000000001f0}"
GC = "{aaaaaaaa-0000-0000-0000-000000000200}"
GW = "{aaaaaaaa-0000-0000-0000-000000000300}"

#: The 4688 says whoami.exe 0x300 was created by cmd.exe 0x200; its Sysmon 1 says by explorer.exe
#: (its GUID, pid 496 = 0x1f0).
PARENTS = [
    s1(11, 0.5, GE, 496, EXPLORER, ppid=400, parent=r"C:\Windows\System32\userinit.exe"),
    p4688(1, 1.0, "0x200", CMD, "0x1f0", parent=EXPLORER),
    s1(12, 1.0, GC, 512, CMD, parent_guid=GE, ppid=496, parent=EXPLORER),
    p4688(2, 2.0, "0x300", WHOAMI, "0x200", parent=CMD),
    s1(13, 2.0, GW, 768, WHOAMI, parent_guid=GE, ppid=496, parent=EXPLORER),
]


@pytest.mark.parametrize("reader", READERS)
def test_a_sysmon_1_naming_another_parent_than_its_4688_is_ambiguous_and_consistent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, events = stored_model(tmp_path, monkeypatch, PARENTS, reader)
    (whoami,) = model.instances("HOST1", 0x300)
    assert whoami.sysmon_created is not None and whoami.sysmon_created.record_id == 13
    assert whoami.parent is not None and model.processes[whoami.parent].name == "cmd.exe"  # the tree keeps the 4688's
    parent = model.correlate(by_record(events, 13)).source_process
    assert parent is not None and parent.process is not None
    # one parent, consistently: explorer's pid with explorer's instance
    assert (parent.pid, parent.process.pid, parent.process.name, parent.process.guid) == (
        0x1F0, 0x1F0, "explorer.exe", GE)
    assert parent.confidence == "ambiguous"
    assert parent.reason.endswith(
        f"this Sysmon 1 names its parent by ParentProcessGuid {GE}: explorer.exe 0x1f0 (496), created by Sysmon 1 "
        "record 11; but 4688 record 2, the creation of the same process, names cmd.exe 0x200 (512), created by 4688 "
        "record 1: the two records disagree on the parent (the process tree keeps 4688 record 2's)")
    # the 4688 of the same process names its own creator, and a Sysmon 1 that agrees stays exact
    creator = model.correlate(by_record(events, 2)).source_process
    assert creator is not None and creator.process is not None and creator.process.name == "cmd.exe"
    agreed = model.correlate(by_record(events, 12)).source_process
    assert agreed is not None and agreed.process is not None
    assert (agreed.process.name, agreed.confidence) == ("explorer.exe", "exact")
    assert "disagree" not in agreed.reason
    assert record_links(model, events, 13)["source process"] == (parent.confidence, parent.reason)
    doc = correlate_json(tmp_path, PARENTS, 13)["source_process"]
    assert (doc["pid_hex"], doc["image"], doc["guid"], doc["confidence"]) == ("0x1f0", EXPLORER, GE, "ambiguous")
    assert "but 4688 record 2, the creation of the same process, names cmd.exe 0x200 (512)" in doc["reason"]


def test_a_sysmon_1_naming_another_parent_pid_unknown_to_sysmon_is_ambiguous() -> None:
    """The Sysmon 1's parent GUID never seen: its parent by pid and time, still against the 4688's."""
    events = load(
        p4688(1, 1.0, "0x200", CMD, "0x1f0", parent=EXPLORER),
        p4688(2, 2.0, "0x300", WHOAMI, "0x200", parent=CMD),
        s1(3, 2.0, GW, 768, WHOAMI, parent_guid="{unseen}", ppid=1000, parent=r"C:\Tools\other.exe"),
    )
    model = build_model(events)
    parent = model.correlate(by_record(events, 3)).source_process
    assert parent is not None and parent.process is not None
    assert (parent.pid, parent.process.pid, parent.process.name, parent.confidence) == (
        1000, 1000, "other.exe", "ambiguous")
    assert ("this Sysmon 1 names its parent by ParentProcessId 1000 (matched by pid and time): other.exe 0x3e8 (1000), "
            "inferred (its creation is not in this log); but 4688 record 2, the creation of the same process, names "
            "cmd.exe 0x200 (512), created by 4688 record 1") in parent.reason
