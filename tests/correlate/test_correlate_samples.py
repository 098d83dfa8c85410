"""Correlation on real logs from ../shared/samples (README "Where the 4690 evidence is"), through
the engine and through `evtx-explorer correlate --json` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.model import CorrelationModel, Duplication, build_model
from core.store.store import StoredEvent
from tests.cliutil import run_cli
from tests.correlate.samples import MIMIKATZ, NIGHTMARE, SHARPVIEW, load_evtx, load_json
from tests.shared import sample

EMPIRE = "json/otrf/defense_evasion__host__empire_dllinjection_LoadLibrary_CreateRemoteThread.zip"


def dups_by_source(model: CorrelationModel) -> dict[int, list[Duplication]]:
    out: dict[int, list[Duplication]] = {}
    for d in model.handle_duplications():
        assert d.source.pid is not None
        out.setdefault(d.source.pid, []).append(d)
    return out


@pytest.fixture(scope="module")
def nightmare() -> tuple[list[StoredEvent], CorrelationModel]:
    events = load_evtx(NIGHTMARE)
    return events, build_model(events)


def test_nightmare_drvinst_4690s_resolve_to_their_two_different_4688s(
    nightmare: tuple[list[StoredEvent], CorrelationModel],
) -> None:
    _, model = nightmare
    groups = dups_by_source(model)
    assert sorted(len(v) for v in groups.values()) == [3, 3, 4]
    creations = {}
    for pid, record in ((0x1DAC, 2183531), (0x7A4, 2183545)):
        assert len(groups[pid]) == 3
        for d in groups[pid]:
            p = d.source.process
            assert p is not None and d.source.confidence == "exact"
            assert p.created is not None and p.created.record_id == record and p.created.event_id == 4688
            assert d.source_name == "drvinst.exe" and d.target_name == "System"
            creations[pid] = p.index
    assert creations[0x1DAC] != creations[0x7A4]


def test_nightmare_spoolsv_4690s_are_inferred_pre_existing(
    nightmare: tuple[list[StoredEvent], CorrelationModel],
) -> None:
    events, model = nightmare
    spool = dups_by_source(model)[0x678]
    assert len(spool) == 4
    instances = {d.source.process.index for d in spool if d.source.process is not None}
    assert len(instances) == 1
    for d in spool:
        p = d.source.process
        assert p is not None and p.created is None and p.pre_existing
        assert d.source.confidence == "inferred"
        assert d.source.reason == "no 4688 for 0x678 in this log: started before the log begins"
        assert p.image == r"C:\Windows\System32\spoolsv.exe"
    # ... and it is the parent of the later cmd.exe (4688 record 2183569)
    cmd = next(se for se in events if se.event.record_id == 2183569)
    parent = model.correlate(cmd).source_process
    assert parent is not None and parent.process is not None and parent.process.index in instances


def test_nightmare_handles_follow_the_out_of_order_quirks(
    nightmare: tuple[list[StoredEvent], CorrelationModel],
) -> None:
    _, model = nightmare
    for d in model.handle_duplications():
        rid = d.event.record_id
        assert rid is not None
        th, sh = d.target_handle.handle, d.source_handle.handle
        # the target (in System) is closed by the very next record, under the SOURCE pid
        assert th is not None and th.pid == 4
        assert th.closed is not None and th.closed.record_id == rid + 1
        assert "under the source process" in th.close_reason
        # the source handle's 4656 is logged after the 4690, its 4658 right after that
        assert sh is not None and d.source_handle.confidence == "inferred"
        assert sh.opened is not None and sh.opened.record_id == rid + 2
        assert sh.closed is not None and sh.closed.record_id == rid + 3
        assert th.object_name == sh.object_name and th.object_name


def test_mimikatz_4690_links_to_its_process_and_handle_life() -> None:
    events = load_evtx(MIMIKATZ)
    model = build_model(events)
    (d,) = model.handle_duplications()
    assert d.event.record_id == 9217074
    src = d.source.process
    assert src is not None and src.image == r"C:\TOOLS\Security_tool\Mimikatz-fev-2020\mimikatz.exe"
    # the log holds one 4688 (WMIADAP.exe 0x1058): mimikatz.exe was started before the log begins
    assert src.created is None and d.source.confidence == "inferred"
    assert "no 4688 for 0x1e20" in d.source.reason
    sh = d.source_handle.handle
    assert sh is not None
    assert sh.opened is not None and sh.opened.record_id == 9217076
    assert (sh.object_type, sh.object_name) == ("Process", r"\Device\HarddiskVolume4\Windows\System32\lsass.exe")
    assert [r.record_id for r in sh.accesses] == [9217077]
    assert sh.closed is None and "still open at the end of the log" in sh.close_reason
    th = d.target_handle.handle
    assert th is not None and th.closed is not None and th.closed.record_id == 9217075
    c = model.correlate(next(se for se in events if se.event.record_id == 9217074))
    assert {(r.ref.record_id, r.relation) for r in c.related} == {
        (9217075, "target handle closed"),
        (9217076, "source handle opened"),
        (9217077, "source handle accessed"),
    }


def test_sharpview_17_4690s_resolve_to_their_4688_scoped_by_host() -> None:
    sharp = load_json(SHARPVIEW)
    # mixed with another dataset with its own hosts (one also named WORKSTATION5, another domain)
    other = load_json(EMPIRE, first_id=len(sharp) + 1, source=1)
    model = build_model(sharp + other)
    sharp_ids = {se.id for se in sharp}
    dups = [d for d in model.handle_duplications() if d.event.store_id in sharp_ids]
    assert len(dups) == 17
    for d in dups:
        p = d.source.process
        assert p is not None and d.source.confidence == "exact"
        assert p.computer == "WORKSTATION5.theshire.local"
        assert p.image == r"C:\ProgramData\SharpView.exe"
        assert p.created is not None and p.created.store_id in sharp_ids and p.created.event_id == 4688
        assert p.exited is not None and p.exited.event_id == 4689
        th = d.target_handle.handle
        assert th is not None and th.closed is not None and th.closed.store_id in sharp_ids
    assert len({d.source.process.index for d in dups if d.source.process}) == 1


# -- the CLI end to end ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


KEYS = ["event", "source_process", "target_process", "source_handle", "target_handle", "session", "related", "links",
        "same_as"]


def test_cli_correlate_json_on_the_nightmare_log() -> None:
    path = str(sample(NIGHTMARE))
    status, out, err = run_cli("correlate", path, "--where", "4690", "--json", "--no-cache")
    assert status == 0, err
    docs = json.loads(out)
    assert len(docs) == 10
    for doc in docs:
        assert list(doc) == KEYS
        assert list(doc["event"]) == ["record_id", "event_id", "channel", "computer", "time", "file"]
        assert list(doc["source_process"]) == ["record_id", "pid", "image", "confidence", "reason", "pid_hex", "guid",
                                               "sysmon_record_id"]
        assert list(doc["target_handle"]) == ["handle_id", "open_record_id", "object_type", "object_name",
                                              "close_record_id", "handle_id_hex", "confidence", "reason",
                                              "close_reason"]
        assert list(doc["session"])[:6] == ["logon_id", "record_id", "user", "logon_id_hex", "confidence", "reason"]
        assert {"logon_type", "ip", "auth_package", "privileged", "start", "end", "process_count"} \
               <= set(doc["session"])
        assert isinstance(doc["source_process"]["pid"], int) and isinstance(doc["target_handle"]["handle_id"], int)
    first = next(d for d in docs if d["event"]["record_id"] == 2183532)
    assert first["event"] == {
        "record_id": 2183532, "event_id": 4690, "channel": "Security", "computer": "fs01.offsec.lan",
        "time": "2021-10-08T12:57:15.1925793Z", "file": path,
    }
    assert first["source_process"] == {
        "record_id": 2183531, "pid": 0x1DAC, "image": r"C:\Windows\System32\drvinst.exe", "confidence": "exact",
        "reason": "created by 4688 record 2183531", "pid_hex": "0x1dac", "guid": None, "sysmon_record_id": None,
    }
    assert first["target_process"]["pid"] == 4 and first["target_process"]["image"] == "System"
    assert first["source_handle"] == {
        "handle_id": 0x1AC, "open_record_id": 2183534, "object_type": "Key",
        "object_name": r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates",
        "close_record_id": 2183535, "handle_id_hex": "0x1ac", "confidence": "inferred",
        "reason": "its 4656 (record 2183534) is logged 0.0000135 s after this 4690 (out of order): the nearest open "
                  "of that value by that process",
        "close_reason": "closed by 4658 record 2183535",
    }
    assert first["target_handle"]["handle_id"] == 0x1644 and first["target_handle"]["close_record_id"] == 2183533
    assert first["target_handle"]["open_record_id"] is None
    assert {k: v for k, v in first["session"].items() if v is not None or k == "record_id"} == {
        "logon_id": 0x3E7, "record_id": None, "user": "NT AUTHORITY\\SYSTEM", "logon_id_hex": "0x3e7",
        "confidence": "exact",
        "reason": "well-known session of NT AUTHORITY\\SYSTEM (0x3e7): it begins at boot and Windows logs no 4624 "
                  "for it",
    }
    assert {(r["record_id"], r["event_id"], r["relation"]) for r in first["related"]} == {
        (2183531, 4688, "source process created"),
        (2183533, 4658, "target handle closed"),
        (2183534, 4656, "source handle opened"),
        (2183535, 4658, "source handle closed"),
    }
    spool = next(d for d in docs if d["event"]["record_id"] == 2183522)
    assert spool["source_process"]["record_id"] is None and spool["source_process"]["confidence"] == "inferred"
    assert spool["source_process"]["image"] == r"C:\Windows\System32\spoolsv.exe"


def test_cli_correlate_record_on_a_4688_prints_what_applies() -> None:
    path = str(sample(NIGHTMARE))
    status, out, _ = run_cli("correlate", path, "--record", "2183569", "--json", "--no-cache")
    assert status == 0
    (doc,) = json.loads(out)
    assert doc["source_handle"] is None and doc["target_handle"] is None
    assert doc["source_process"]["pid"] == 0x678 and doc["source_process"]["confidence"] == "inferred"
    assert doc["target_process"] == {
        "record_id": 2183569, "pid": 0x8CC, "image": r"C:\Windows\System32\cmd.exe", "confidence": "exact",
        "reason": "created by 4688 record 2183569", "pid_hex": "0x8cc", "guid": None, "sysmon_record_id": None,
    }
    assert (2183570, 4688, "child created") in {(r["record_id"], r["event_id"], r["relation"]) for r in doc["related"]}
