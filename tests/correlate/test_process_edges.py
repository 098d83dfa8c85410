"""Process instances at their edges, on hand-made logs, each answer checked on the model built from
the events, from a store in process, and from a store read by the scan's reading child:

- an event of a pid logged just after its process's 4689 (a use, a duplication, not only a close),
  no 4688 having reused the pid, is the exited process's, noted; it made up an unlogged instance
  that then took the pid's later events (and its handle lost its 4656);
- a Sysmon 1 logged before the 4689 of the pid's previous process (the Sysmon clock ahead, within
  the skew between the channels) waits for its own 4688: begun at once, it took that 4689 (its
  process exited before it was created) and the 4688 joined it, a process that had exited; and
  between two 4688s of the pid within the skew, it joins the nearer;
- a 4688 whose new process has its creator's own pid, alive, flags its creator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.correlate import processes
from core.correlate.model import CorrelationModel, build_model
from core.correlate.persist import links
from core.store.store import StoredEvent
from tests.correlate.events import by_record, d4690, h4656, h4658, h4663, load, p4688, p4689
from tests.correlate.stored_models import stored_model
from tests.correlate.sysmon_events import s10, sysmon

A_EXE, CMD = r"C:\Windows\a.exe", r"C:\Windows\System32\cmd.exe"
B_EXE = r"C:\Windows\b.exe"
LSASS = r"C:\Windows\system32\lsass.exe"
X = r"C:\x.txt"
G1, G2, GL = "{11111111-1111-1111-1111-111111111111}", "{22222222-2222-2222-2222-222222222222}", "{4444}"

READERS = ("events", "store", "child")


def s1(rid: int, sec: float, guid: str, pid: int, image: str = CMD) -> str:
    return sysmon(1, rid, sec, ProcessGuid=guid, ProcessId=str(pid), Image=image, CommandLine=image,
                  User="DOM\\alice", LogonId="0x3e7", ParentProcessGuid="{p}", ParentProcessId="4",
                  ParentImage=r"C:\Windows\explorer.exe")


def _model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
           docs: list[str]) -> tuple[CorrelationModel, Callable[[int], StoredEvent]]:
    """The model of `docs` as `reader` builds it, and the event of a record id (one computer)."""
    if reader == "events":
        events = load(*docs)
        return build_model(events), lambda rid: by_record(events, rid)
    model, events = stored_model(tmp_path, monkeypatch, docs, reader)
    stored = {se.event.record_id: se for se in events}
    return model, stored.__getitem__


def _stored(model: CorrelationModel, rid: int, event: Callable[[int], StoredEvent]) -> dict[str, tuple[str, str]]:
    """The stored links of the event of record `rid` (`persist.links`): role -> (confidence, reason)."""
    sid = event(rid).id
    return {role: (confidence, reason) for at, role, _, _, confidence, reason in links(model) if at == sid}


def _process(model: CorrelationModel, event: StoredEvent, side: str = "source") -> tuple[Any, str, str]:
    """(instance, confidence, reason) of the event's source (or target) process link."""
    link = getattr(model.correlate(event), f"{side}_process")
    assert link is not None and link.process is not None
    return link.process, link.confidence, link.reason


def _record(ref: Any) -> int | None:
    return None if ref is None else ref.record_id


def _lines(node: Any, depth: int = 0) -> Iterator[str]:
    yield f"{'  ' * depth}[{node.confidence}] {node.label}"
    for child in node.children:
        yield from _lines(child, depth + 1)


# -- an event logged just after its process's 4689 ---------------------------------------------------


#: A process opens a handle and exits; a use of the handle is logged at its 4689's time (after it, by
#: record id), a duplication of it 0.1 s later, its close 0.2 s later.
AFTER_EXIT = [
    p4688(11, 4.0, "0x300", A_EXE, "0x4"),
    p4688(2, 4.0, "0x200", B_EXE, "0x4"),
    h4656(12, 4.1, "0x300", "0x30", X, A_EXE, otype="File"),
    p4689(13, 4.2, "0x300", A_EXE),
    h4663(14, 4.2, "0x300", "0x30", X, A_EXE),
    d4690(15, 4.3, "0x300", "0x30", "0x200", "0x88"),
    h4658(16, 4.4, "0x300", "0x30", A_EXE),
    h4656(17, 20.0, "0x300", "0x40", X, A_EXE, otype="File"),  # long after: an unlogged instance
]


@pytest.mark.parametrize("reader", READERS)
def test_events_logged_just_after_the_exit_belong_to_the_exited_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, event = _model(tmp_path, monkeypatch, reader, AFTER_EXIT)
    for rid in (14, 15, 16):
        proc, confidence, reason = _process(model, event(rid))
        assert _record(proc.created) == 11 and _record(proc.exited) == 13, rid
        # A close is the kernel's as the process exits (exact); a use or a duplication after its
        # exit is outside its life, taken as its by inference.
        said = "created by 4688 record 11; logged after the process exited (4689 record 13)"
        if rid == 16:
            assert (confidence, reason) == ("exact", said), rid
        else:
            assert (confidence, reason) == ("inferred", said + ", no 4688 having reused the pid: taken as its"), rid
        assert _stored(model, rid, event)["source process"] == (confidence, reason), rid
    use, dup, close = (model.correlate(event(rid)) for rid in (14, 15, 16))
    for c in (use, close):
        assert c.source_handle is not None and c.source_handle.handle is not None
        assert _record(c.source_handle.handle.opened) == 12 and c.source_handle.confidence == "exact"
    assert dup.source_handle is not None and dup.source_handle.handle is not None
    assert _record(dup.source_handle.handle.opened) == 12
    assert dup.target_handle is not None and dup.target_handle.handle is not None
    assert dup.target_handle.handle.object_name == X
    # No instance was made up: the pid's only other one is the unlogged one 16 s later.
    late, confidence, reason = _process(model, event(17))
    assert late.created is None and "after its previous instance ended (record 13)" in reason
    assert [_record(p.created) for p in model.instances("HOST1", 0x300)] == [11, None]


@pytest.mark.parametrize("reader", READERS)
def test_a_second_4689_is_another_instance_not_the_exited_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """A process exits once: a 4689 of the pid just after another is no late event of it."""
    docs = [p4688(1, 1.0, "0x300", A_EXE, "0x4"), p4689(2, 1.5, "0x300", A_EXE), p4689(3, 1.6, "0x300", A_EXE)]
    model, event = _model(tmp_path, monkeypatch, reader, docs)
    first, _, _ = _process(model, event(2))
    second, confidence, _ = _process(model, event(3))
    assert _record(first.created) == 1 and second.created is None and confidence == "inferred"


# -- a Sysmon 1 ahead of the previous process's 4689 -------------------------------------------------


#: cmd.exe 0x100: its 4688 and Sysmon 1 (G1); the next cmd.exe of the pid's Sysmon 1 (G2, its clock
#: ahead) before the first one's 4689, then its 4688, a handle of it.
SYSMON_AHEAD = [
    p4688(1, 0.0, "0x100", CMD, "0x4"),
    s1(1001, 0.05, G1, 0x100),
    s1(1002, 0.2, G2, 0x100),
    sysmon(11, 1003, 0.25, ProcessGuid=G2, ProcessId=str(0x100), Image=CMD, TargetFilename=X),  # held with it
    p4689(2, 0.3, "0x100", CMD),
    p4688(3, 0.5, "0x100", CMD, "0x4"),
    h4656(4, 0.6, "0x100", "0x20", X, CMD, otype="File"),
]


@pytest.mark.parametrize("reader", READERS)
def test_a_sysmon_1_ahead_of_the_previous_exit_waits_for_its_4688(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, event = _model(tmp_path, monkeypatch, reader, SYSMON_AHEAD)
    first, second = model.instances("HOST1", 0x100)
    assert (_record(first.created), _record(first.sysmon_created), _record(first.exited)) == (1, 1001, 2)
    assert first.replaced_by is None and first.guid == G1.lower()
    assert (_record(second.created), _record(second.sysmon_created), second.exited) == (3, 1002, None)
    assert second.guid == G2.lower() and second.joined is not None and "logged 0.300 s apart" in second.joined
    assert [r.record_id for r in second.sysmon_events] == [1003]
    assert second.start is not None and first.end is not None and second.start >= first.end
    exited, confidence, _ = _process(model, event(2))
    assert exited.index == first.index and confidence == "exact"
    opener, confidence, reason = _process(model, event(4))
    assert opener.index == second.index and (confidence, reason) == ("exact", "created by 4688 record 3")
    made, _, _ = _process(model, event(1003))
    assert made.index == second.index
    tree = "\n".join(_lines(model.correlate(event(1)).tree()))
    assert "exited: 4689 record 2" in tree and "reused" not in tree


def test_a_flood_of_events_during_a_wait_is_held_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wait lasts 2 s of the log's time, which a crafted log can fill with any number of events
    naming the waiting process: past `MAX_HELD` they are taken at once (memory stays bounded), and
    every one is still correlated."""
    from core.correlate import sysmon as sysmon_module

    monkeypatch.setattr(sysmon_module, "MAX_HELD", 3)
    flood = [sysmon(11, 1100 + i, 0.21 + i / 1000, ProcessGuid=G2, ProcessId=str(0x100), Image=CMD,
                    TargetFilename=X) for i in range(8)]
    events = load(*SYSMON_AHEAD[:3], *flood, *SYSMON_AHEAD[4:])
    model = build_model(events)
    first, second = model.instances("HOST1", 0x100)
    assert (_record(second.created), _record(second.sysmon_created)) == (3, 1002)
    made = [_process(model, by_record(events, 1100 + i))[0].index for i in range(8)]
    # Held with the Sysmon 1 (1002 and two more), then taken at once: by pid, the instance alive.
    assert made == [second.index] * 2 + [first.index] * 6


#: cmd.exe 0x100 without Sysmon 1; the next cmd.exe's Sysmon 1 (G2) 0.45 s after the first's 4688 and
#: 0.05 s before its own; a Sysmon 10 of G2 and its 4656 after it.
TWO_4688S = [
    p4688(1, 0.0, "0x100", CMD, "0x4"),
    s1(1004, 0.45, G2, 0x100),
    p4689(3, 0.46, "0x100", CMD),
    p4688(4, 0.5, "0x100", CMD, "0x4"),
    h4656(5, 0.7, "0x100", "0x20", r"\Device\HarddiskVolume3\Windows\System32\lsass.exe", CMD, otype="Process"),
    s10(1005, 0.701, G2, 0x100, CMD, GL, 700, LSASS),
]


@pytest.mark.parametrize("reader", READERS)
def test_a_sysmon_1_joins_the_nearer_of_two_4688s_within_the_skew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    model, event = _model(tmp_path, monkeypatch, reader, TWO_4688S)
    first, second = model.instances("HOST1", 0x100)
    assert (_record(first.created), first.sysmon_created, _record(first.exited)) == (1, None, 3)
    assert (_record(second.created), _record(second.sysmon_created)) == (4, 1004)
    assert second.joined is not None and "logged 0.050 s apart" in second.joined
    assert "4688 record 1 of the same pid and image, 0.450 s from the Sysmon 1, is farther" in second.joined
    accessor, confidence, _ = _process(model, event(1005))
    assert accessor.index == second.index and confidence == "exact"
    assert [r.record_id for r in second.sysmon_events] == [1005]
    twins = model.correlate(event(1005)).tree()
    assert "4656 of the same access (4656 record 5" in "\n".join(_lines(twins))


@pytest.mark.parametrize("reader", READERS)
def test_a_farther_4688_leaves_the_sysmon_1_with_the_nearer_earlier_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """The other way round (a guard: as before the wait): the Sysmon 1 0.1 s after the first 4688
    and 0.4 s before the second; an event of its GUID logged while a nearer 4688 may still come
    (until 0.2 s) waits with it, and is the first's."""
    docs = [
        p4688(1, 0.0, "0x100", CMD, "0x4"),
        s1(1001, 0.1, G1, 0x100),
        s10(1002, 0.15, G1, 0x100, CMD, GL, 700, LSASS),
        p4689(2, 0.3, "0x100", CMD),
        p4688(3, 0.5, "0x100", CMD, "0x4"),
    ]
    model, event = _model(tmp_path, monkeypatch, reader, docs)
    first, second = model.instances("HOST1", 0x100)
    assert (_record(first.created), _record(first.sysmon_created), _record(first.exited)) == (1, 1001, 2)
    assert first.joined is not None and "logged 0.100 s apart" in first.joined and "farther" not in first.joined
    assert (_record(second.created), second.sysmon_created) == (3, None)
    accessor, confidence, _ = _process(model, event(1002))
    assert accessor.index == first.index and confidence == "exact"


@pytest.mark.parametrize("reader", READERS)
def test_a_sysmon_1_whose_4688_never_comes_begins_its_own_instance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """A Sysmon 1 of another process while the pid's 4688 instance lives, and no 4688 within the
    skew: the pid reused as Sysmon tells it, its Sysmon events with it; the Security events of the
    pid logged while it waited are the instance alive then, whose life ends with the wait."""
    docs = [
        p4688(1, 0.0, "0x100", CMD, "0x4"),
        s1(1001, 0.01, G1, 0x100),
        s1(1002, 1.0, G2, 0x100, A_EXE),
        s10(1003, 1.5, G2, 0x100, A_EXE, GL, 700, LSASS),
        h4656(3, 1.6, "0x100", "0x30", X, CMD, otype="File"),  # while it waits: the 4688's instance
        h4656(4, 3.5, "0x100", "0x40", X, A_EXE, otype="File"),  # after: Sysmon's
        p4688(2, 9.0, "0x200", B_EXE, "0x4"),
    ]
    model, event = _model(tmp_path, monkeypatch, reader, docs)
    first, second = model.instances("HOST1", 0x100)
    assert (_record(first.created), _record(first.replaced_by)) == (1, 1002)
    assert _record(second.created) == 1002 and second.guid == G2.lower()
    accessor, _, _ = _process(model, event(1003))
    assert accessor.index == second.index
    during, _, _ = _process(model, event(3))
    after, confidence, _ = _process(model, event(4))
    assert during.index == first.index and (after.index, confidence) == (second.index, "exact")
    assert first.end is not None and second.start == first.end
    assert event(3).event.filetime < first.end[0] <= event(4).event.filetime  # type: ignore[operator]


@pytest.mark.parametrize("reader", READERS)
def test_a_4688_never_joins_an_instance_sysmon_began_that_has_exited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """A Sysmon 1 after the pid's previous process exited begins an instance; a 4689 of the pid
    ends it; a 4688 of the same image after that is not its creation (a process's 4689 is logged
    after its 4688): joined, the instance read "created" after "exited"."""
    docs = [
        p4688(1, 0.0, "0x100", CMD, "0x4"),
        s1(1001, 0.01, G1, 0x100),
        p4689(2, 0.1, "0x100", CMD),
        s1(1002, 0.15, G2, 0x100),
        p4689(3, 0.2, "0x100", CMD),
        p4688(4, 0.4, "0x100", CMD, "0x4"),
    ]
    model, _ = _model(tmp_path, monkeypatch, reader, docs)
    instances = model.instances("HOST1", 0x100)
    assert [(_record(p.created), _record(p.sysmon_created), _record(p.exited)) for p in instances] == [
        (1, 1001, 2), (1002, 1002, 3), (4, None, None)]
    for p in instances:
        assert p.exited is None or p.created is None or p.exited.key >= p.created.key


def test_waiting_sysmon_1s_leave_the_streamed_instances_as_frozen_at_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance a Sysmon 1 may join is kept while it waits (`ProcessTracker.awaited`): the
    model is the same whether instances are frozen during the scan or at its end."""
    docs = [*TWO_4688S,
            # The candidate of a waiting Sysmon 1 superseded meanwhile (a second 4689: an unlogged
            # instance): it is the one joined, once no nearer 4688 can come.
            p4688(21, 1.0, "0x600", CMD, "0x4"),
            s1(1021, 1.3, G1, 0x600),
            p4689(22, 1.35, "0x600", CMD),
            p4689(23, 1.4, "0x600", CMD),
            s10(1022, 1.7, G1, 0x600, CMD, GL, 700, LSASS)]
    for n in range(40):  # pid reuse around them: instances superseded (and frozen) meanwhile
        docs.append(p4688(100 + 2 * n, 0.2 + n * 0.04, "0x500", B_EXE, "0x4"))
        docs.append(p4689(101 + 2 * n, 0.205 + n * 0.04, "0x500", B_EXE))
    events = load(*docs)
    monkeypatch.setattr(processes, "RELEASE_BATCH", 1)
    answers = []
    for streamed in (True, False):
        monkeypatch.setattr(processes, "STREAM", streamed)
        model = build_model(events)
        answers.append(([list(_lines(model.correlate(se).tree())) for se in events], sorted(links(model))))
        first, unlogged = model.instances("HOST1", 0x600)
        assert (_record(first.created), _record(first.sysmon_created), _record(first.exited)) == (21, 1021, 22)
        assert unlogged.created is None and _record(unlogged.exited) == 23
        assert [r.record_id for r in first.sysmon_events] == [1022]
    assert answers[0] == answers[1]


# -- a 4688 whose new process has its creator's pid ---------------------------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_a_child_with_its_creators_own_pid_flags_the_creator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    docs = [p4688(16, 5.0, "0x400", A_EXE, "0x4"), p4688(17, 6.0, "0x400", B_EXE, "0x400", A_EXE),
            p4688(18, 7.0, "0x500", B_EXE, "0x400", B_EXE)]
    model, event = _model(tmp_path, monkeypatch, reader, docs)
    creator, _, reason = _process(model, event(17))
    assert _record(creator.created) == 16
    assert "its pid 0x400 is also the new process's (NewProcessId): a live process cannot create a child " \
        "with its own pid" in reason
    _, _, reason = _process(model, event(18))  # an ordinary creator: no such note
    assert reason == "created by 4688 record 17"


def test_a_guid_written_without_braces_is_the_same_guid() -> None:
    """Exports write a ProcessGuid with or without braces: `22222222-...` named the process
    `{22222222-...}` began, yet read "is not the GUID of the instance alive"."""
    bare = G2.strip("{}").upper()
    events = load(s1(1002, 0.2, G2, 0x100),
                  sysmon(11, 1003, 0.25, ProcessGuid=bare, ProcessId=str(0x100), Image=CMD, TargetFilename=X))
    model = build_model(events)
    made, confidence, reason = _process(model, by_record(events, 1003))
    (only,) = model.instances("HOST1", 0x100)
    assert made.index == only.index and only.guid == G2.lower()
    assert confidence == "exact" and "is not the GUID" not in reason, reason
