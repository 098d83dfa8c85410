"""A Sysmon 1 logged late (Sysmon's service starts after a boot's first processes, and logs their
Sysmon 1s when it does: 11 s after their 4688s in the OTRF persistence sample, smss.exe's 26 s)
joins the 4688 of its process by the creation time it carries, not by the time it was logged
(`SysmonTracker._late`): one instance per process, never one from the 4688 and another from the
Sysmon 1; a pid reused (by the same image, even within one second) never joins the wrong one; the
Sysmon events logged with it by a provisional GUID or none go to it too (`_late_alias`)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from core.correlate.model import AMBIGUOUS, EXACT, INFERRED, CorrelationModel, build_model
from core.correlate.processes import Process
from core.correlate.sysmon import creation_said, utc_ticks
from core.model.event import datetime_to_filetime
from core.store.store import StoredEvent
from tests.correlate.boot_sysmon_logs import (
    MEMCOMPRESSION,
    RUN_KEYS,
    SERVICES,
    UPFC,
    WS5,
    guid,
    late_s1,
    late_sysmon_boot_log,
    s10_target,
    utc_time,
)
from tests.correlate.events import BASE, by_record, find_node, load
from tests.correlate.stored_models import READERS, stored_model


def _made(model: CorrelationModel, record: int, computer: str = "HOST1") -> Process:
    (p,) = [p for p in model.processes if p.created is not None and p.created.record_id == record
            and p.computer == computer and p.created.event_id == 4688]
    return p


def _target(model: CorrelationModel, events: list[StoredEvent], record: int) -> tuple[Process, str, str]:
    """The target process of the event `record` (a Sysmon 1's new process), how sure, and why."""
    link = model.correlate(by_record(events, record)).target_process
    assert link is not None and link.process is not None, record
    return link.process, link.confidence, link.reason


@pytest.mark.parametrize("reader", READERS)
def test_a_late_sysmon_1_joins_the_4688_of_its_creation_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
) -> None:
    model, events = stored_model(tmp_path, monkeypatch, late_sysmon_boot_log(), reader)
    for sysmon_record, record in ((20, 4), (21, 5), (22, 6), (24, 8), (26, 11), (28, 13)):
        p = _made(model, record)
        assert p.sysmon_created is not None and p.sysmon_created.record_id == sysmon_record, (record, p)
        assert (p.confidence, p.reason) == (EXACT, f"created by 4688 record {record}")
        assert p.joined is not None and p.joined.startswith(
            f"Sysmon 1 record {sysmon_record} and 4688 record {record} are one process: same computer, boot, pid "
            "and image, the 4688 logged 0.000 s after the creation time its UtcTime says"), p.joined
        target, confidence, _ = _target(model, events, sysmon_record)
        assert target.index == p.index and confidence == EXACT
        assert find_node(model.correlate(by_record(events, record)).tree(), f"also created: Sysmon 1 record "
                                                                           f"{sysmon_record}")
    assert "the Sysmon 1 was logged 13.800 s after that, late" in (_made(model, 4).joined or "")
    # One instance per process: none begun by a Sysmon 1 but two cmd.exe's, whose creation time
    # no 4688 is near (0x800), or whose pid another process had by then (0x900: notepad.exe).
    begun = [p for p in model.processes if p.created is not None and p.created.event_id == 1]
    assert sorted((p.pid, p.created.record_id) for p in begun if p.created) == [(0x800, 27), (0x900, 31)]
    assert _made(model, 14).sysmon_created is None  # (cmd.exe of 12.0 is not the one created at 16.0)
    assert _made(model, 15).sysmon_created is None  # (nor is cmd.exe of 11.0 the one created at 12.4)
    # lsass.exe: the one of this boot takes its later events, not a Sysmon instance begun at 24.0.
    lsass = _made(model, 5)
    assert lsass.end is None and lsass.guid == guid(12.3, 2)
    opener = model.correlate(by_record(events, 29)).source_process
    assert opener is not None and opener.process is not None and opener.process.index == lsass.index
    assert opener.confidence == EXACT


def test_without_its_utc_time_a_late_sysmon_1_is_joined_by_its_guid_s_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An export or forwarder that drops `UtcTime` leaves the start time the ProcessGuid holds
    (to the second): the same joins, worded by it."""
    log = [re.sub(r'<Data Name="UtcTime">[^<]*</Data>', "", line) for line in late_sysmon_boot_log()]
    assert not any("UtcTime" in line for line in log)
    model, _ = stored_model(tmp_path, monkeypatch, log, READERS[0])
    for sysmon_record, record in ((20, 4), (21, 5), (22, 6), (24, 8), (26, 11), (28, 13)):
        p = _made(model, record)
        assert p.sysmon_created is not None and p.sysmon_created.record_id == sysmon_record, (record, p)
        assert p.joined is not None and p.joined.startswith(
            f"Sysmon 1 record {sysmon_record} and 4688 record {record} are one process: same computer, boot, pid "
            "and image, the 4688 logged in the second of the creation time its ProcessGuid holds"), p.joined


@pytest.mark.parametrize("reader", READERS)
def test_a_late_sysmon_1_never_joins_a_reuse_of_its_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
) -> None:
    """upfc.exe 0x714 created at 13.1 and again at 13.6 (its first exited: one second for both,
    as the GUIDs tell), then MemCompression; svchost.exe 0x1030 at 15.0 and again at 19.0: each
    Sysmon 1 joins its own 4688, none the later reuse of its pid nor the earlier."""
    model, _events = stored_model(tmp_path, monkeypatch, late_sysmon_boot_log(), reader)
    upfc = model.instances("HOST1", 0x714)
    assert [(p.name, p.created and p.created.record_id, p.sysmon_created and p.sysmon_created.record_id)
            for p in upfc] == [("upfc.exe", 6, 22), ("upfc.exe", 8, 24), (MEMCOMPRESSION, 10, None)]
    memcompression = upfc[2]
    # Nothing Sysmon logged late ended MemCompression or was taken for it.
    assert memcompression.end is None and memcompression.replaced_by is None
    assert (memcompression.confidence, memcompression.reason) == (EXACT, "created by 4688 record 10")
    svchost = model.instances("HOST1", 0x1030)
    assert [(p.created and p.created.record_id, p.sysmon_created and p.sysmon_created.record_id)
            for p in svchost] == [(11, 26), (13, 28)]
    assert svchost[0].exited is not None and svchost[0].exited.record_id == 12


@pytest.mark.parametrize("reader", READERS)
def test_the_sysmon_events_logged_with_a_late_sysmon_1_name_its_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
) -> None:
    """A Sysmon 10 logged just after the late Sysmon 1 of upfc.exe names it by a provisional GUID
    (another second), the next by the zero GUID: by pid at their log time they would name
    MemCompression (or make up a process ending it)."""
    model, events = stored_model(tmp_path, monkeypatch, late_sysmon_boot_log(), reader)
    first, second = _made(model, 6), _made(model, 8)
    for record, p in ((23, first), (25, second)):
        target, confidence, reason = _target(model, events, record)
        assert target.index == p.index and confidence == INFERRED, (record, target, reason)
        assert "after that Sysmon 1, which was logged late and joined its 4688 by the creation time it says" in reason
    assert f"TargetProcessGuid {guid(14.0, 4)} is not the GUID of upfc.exe 0x714 (1812), {guid(13.1, 3)}" in (
        _target(model, events, 23)[2])
    assert "no TargetProcessGuid names upfc.exe 0x714 (1812)" in _target(model, events, 25)[2]
    assert [r.record_id for r in first.sysmon_events] == [23]
    assert [r.record_id for r in second.sysmon_events] == [25]
    assert len(model.instances("HOST1", 0x714)) == 3
    assert all(p.confidence != AMBIGUOUS for p in model.instances("HOST1", 0x714))


def test_a_sysmon_1_says_its_creation_time_by_its_utc_time_else_its_guid() -> None:
    at = datetime_to_filetime(dt.datetime.fromisoformat(BASE + "13.100+00:00"))
    assert utc_ticks(utc_time(13.1)) == at and utc_ticks("2021-13-08 12:57:13.100") is None
    assert utc_ticks(None) is None and utc_ticks("yesterday") is None
    said = creation_said({"UtcTime": "2021-10-08 12:57:13.100"}, guid(13.1, 1))
    assert said is not None and (said.at, said.slack) == (at, 0)
    assert said.words == "the creation time its UtcTime says, 2021-10-08 12:57:13.100"
    said = creation_said({}, guid(13.1, 1))  # (the scan's values carry no UtcTime: the GUID's second)
    assert said is not None and (said.at - said.slack, said.slack) == (at - 1_000_000, 5_000_000)
    assert said.words == "the second of the creation time its ProcessGuid holds, 2021-10-08 12:57:13"
    assert creation_said({}, "{a}") is None and creation_said({}, None) is None


def test_a_sysmon_1_logged_on_time_joins_by_its_log_time_as_before() -> None:
    """Not logged late (within a second of its GUID's time): the usual join, worded as before."""
    events = load(*late_sysmon_boot_log()[:13], late_s1(30, 13.15, 13.1, 3, 0x714, UPFC, 0x2AC, SERVICES))
    p = _made(build_model(events), 6)
    assert p.joined is not None and "logged 0.050 s apart (within the 2 s skew" in p.joined


# -- the real log: the OTRF persistence sample, whose WORKSTATION5 reboots ---------------------------

@pytest.fixture(scope="module")
def run_keys() -> tuple[CorrelationModel, list[StoredEvent]]:
    from tests.correlate.samples import load_json

    events = load_json(RUN_KEYS)
    return build_model(events), events


def test_the_otrf_boot_has_one_instance_per_process(run_keys: tuple[CorrelationModel, list[StoredEvent]]) -> None:
    """WORKSTATION5 boots at 07:07:40 (Registry's 4688 record 40859); Sysmon logs the Sysmon 1s
    of the boot's processes from 07:08:06 on: each joins its 4688, none begins an instance."""
    model, events = run_keys
    ws5 = [p for p in model.processes if p.computer == WS5]
    assert not [p for p in ws5 if p.created is not None and p.created.event_id == 1]
    late = [p for p in ws5 if p.joined and "late" in p.joined]
    assert len(late) == 88 and all((p.created.record_id or 0) > 40859 for p in late if p.created)
    new = _made(model, 40871, WS5)
    assert [p.index for p in model.instances(WS5, 0x2D4)] == [new.index]
    assert new.sysmon_created is not None and new.sysmon_created.record_id == 139766 and new.end is None
    assert new.joined is not None and "the Sysmon 1 was logged 10.207 s after that, late" in new.joined
    assert "the creation time its UtcTime says, 2020-09-04 07:07:55.793" in new.joined
    # Its Security events after the Sysmon 1 were logged (a 4673 at 07:08:07) are its own.
    later = model.correlate(next(se for se in events if se.event.record_id == 46808 and se.event.computer == WS5))
    assert later.source_process is not None and later.source_process.process is not None
    assert later.source_process.process.index == new.index
    smss = _made(model, 40862, WS5)  # 26 s late
    assert smss.sysmon_created is not None and smss.sysmon_created.record_id == 139007


def test_the_otrf_boot_reuses_a_pid_and_a_late_sysmon_1_takes_the_first(
    run_keys: tuple[CorrelationModel, list[StoredEvent]],
) -> None:
    """upfc.exe 0x714 (4688 record 41521, exited) then MemCompression (41638) a second later; the
    Sysmon 1 of upfc.exe (140597, 07:08:06) joins the first, and the Sysmon 10 logged next, by a
    provisional GUID, names it too; svchost.exe 0xb70 exited before its Sysmon 1 and a Sysmon 10
    naming it by the zero GUID were logged."""
    model, events = run_keys
    upfc, memcompression = _made(model, 41521, WS5), _made(model, 41638, WS5)
    assert upfc.sysmon_created is not None and upfc.sysmon_created.record_id == 140597
    assert memcompression.sysmon_created is None and memcompression.replaced_by is None
    assert [p.index for p in model.instances(WS5, 0x714)] == [upfc.index, memcompression.index]

    def target(record: int) -> Process:
        se = next(se for se in events if se.event.record_id == record and se.event.computer == WS5)
        link = model.correlate(se).target_process
        assert link is not None and link.process is not None
        return link.process

    assert target(140598).index == upfc.index
    svchost = _made(model, 42040, WS5)
    assert svchost.sysmon_created is not None and svchost.sysmon_created.record_id == 141390
    assert target(141391).index == svchost.index
    assert [p.index for p in model.instances(WS5, 0xB70) if p.created is None] == []


def test_a_guid_of_another_start_time_is_not_taken_for_the_late_process() -> None:
    """Logged with the late Sysmon 1s of upfc.exe, a Sysmon 10 naming pid 0x714 and upfc.exe by a
    GUID started 6 s after either was created is another process (`_by_pid`'s), not theirs."""
    events = load(*late_sysmon_boot_log(), s10_target(40, 24.0, guid(20.0, 9), 0x714, UPFC))
    model = build_model(events)
    target, _, reason = _target(model, events, 40)
    assert target.index not in (_made(model, 6).index, _made(model, 8).index), reason
    assert "after that Sysmon 1" not in reason
