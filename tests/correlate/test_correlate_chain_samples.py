"""Issue 17 on real logs (OTRF datasets in ../shared/samples): Sysmon 1 joined with the 4688 of
the same process, Sysmon 10 <-> 4656 of the same access to lsass, a service install seen in
Security and System linked to the process services.exe started for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.model import CorrelationModel, build_model
from core.correlate.scan import record_id_of
from core.store.store import StoredEvent
from tests.cliutil import run_cli
from tests.correlate.samples import COBALT, load_json
from tests.shared import sample

COVENANT = "json/otrf/lateral_movement__host__covenant_psremoting_command.zip"


def _by_record(events: list[StoredEvent], rid: int, eid: int) -> StoredEvent:
    (found,) = [se for se in events if record_id_of(se.event) == rid and se.event.event_id == eid]
    return found


@pytest.fixture(scope="module")
def cobalt() -> tuple[list[StoredEvent], CorrelationModel]:
    events = load_json(COBALT)
    return events, build_model(events)


def test_every_4688_joins_its_sysmon_1(cobalt: tuple[list[StoredEvent], CorrelationModel]) -> None:
    events, model = cobalt
    created = [p for p in model.processes if p.created is not None and p.created.event_id == 4688]
    assert len(created) == sum(1 for se in events if se.event.event_id == 4688) == 36
    assert all(p.sysmon_created is not None and p.guid for p in created)
    # 7z.exe 0x1948: its 4688 and its Sysmon 1 are one instance with both records
    (seven,) = model.instances("WORKSTATION5", 0x1948)
    assert seven.name == "7z.exe" and seven.created is not None and seven.sysmon_created is not None
    assert (seven.created.event_id, seven.sysmon_created.event_id) == (4688, 1)
    assert seven.joined is not None and "same computer, pid and image" in seven.joined


def test_sysmon_10_and_4656_on_lsass_are_one_access(cobalt: tuple[list[StoredEvent], CorrelationModel]) -> None:
    events, model = cobalt
    pairs = []
    for rid in (2328, 2367, 2408, 2449, 2558):
        (twin,) = model.correlate(_by_record(events, rid, 4656)).links
        assert twin.ref is not None and twin.ref.event_id == 10 and twin.confidence == "exact"
        pairs.append((rid, twin.ref.record_id))
    assert pairs == [(2328, 301), (2367, 688), (2408, 1039), (2449, 1399), (2558, 1947)]
    c = model.correlate(_by_record(events, 301, 10))
    assert c.source_process is not None and c.source_process.label == "WmiPrvSE.exe 0x1290 (4752)"
    assert c.target_process is not None and c.target_process.name == "lsass.exe"
    groups = model.process_accesses()
    assert groups[0].target == "lsass.exe 0x2f0 (752)"
    assert [r.evidence.record_id for r in groups[0].accesses if r.twin is not None] == [301, 688, 1039, 1399, 1947]


def test_service_install_links_both_records_and_the_process_it_started(
    cobalt: tuple[list[StoredEvent], CorrelationModel],
) -> None:
    events, model = cobalt
    install = model.correlate(_by_record(events, 2501, 4697))
    assert install.source_process is not None and install.source_process.pid == 6116
    assert [(x.relation, x.ref and x.ref.record_id, x.confidence) for x in install.links] == [
        ("same install in System", 2609, "exact"), ("started process", 2508, "inferred")]
    started = model.correlate(_by_record(events, 2508, 4688))
    assert started.target_process is not None and started.target_process.label == "cmd.exe 0xf6c (3948)"
    assert {(x.relation, x.ref and x.ref.record_id) for x in started.links} == {
        ("started by", 2501), ("started by", 2609)}


def test_identical_lsass_opens_at_one_moment_pair_in_order() -> None:
    events = load_json(COVENANT)
    model = build_model(events)
    got = []
    for rid in (135118, 135121, 135128, 135164):
        (twin,) = model.correlate(_by_record(events, rid, 4656)).links
        assert twin.ref is not None
        got.append((rid, twin.ref.record_id, twin.confidence))
    assert got == [(135118, 479077, "exact"), (135121, 479078, "inferred"), (135128, 479079, "inferred"),
                   (135164, 479085, "inferred")]


def test_cli_json_carries_every_link_with_confidence_reason_and_hex_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    status, out, err = run_cli("correlate", str(sample(COBALT)), "--where", "4656", "--json", "--no-cache")
    assert status == 0, err
    doc = next(d for d in json.loads(out) if d["event"]["record_id"] == 2328)
    handle = doc["source_handle"]
    assert (handle["handle_id_hex"], handle["confidence"], handle["reason"]) == (
        f"0x{handle['handle_id']:x}", "exact", "opened by this 4656")
    assert handle["close_reason"].startswith("closed by 4658 record")
    session = doc["session"]
    assert (session["logon_id"], session["logon_id_hex"], session["confidence"]) == (0x3719FB, "0x3719fb", "missing")
    assert session["reason"] == ("no 4624 for logon 0x3719fb: there is no 4624 at all for WORKSTATION5 in this log "
                                 "(Logon auditing seems off)")
    process = doc["source_process"]
    assert (process["pid"], process["pid_hex"]) == (4752, "0x1290") and process["guid"].startswith("{e2c04bb9-")
    assert doc["links"] == [{
        "relation": "Sysmon 10 of the same access", "record_id": 301, "event_id": 10, "label": "",
        "confidence": "exact",
        "reason": "same source process and target image, logged 0 ms apart, same access mask 0x1410",
    }]
