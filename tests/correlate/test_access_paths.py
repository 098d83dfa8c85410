"""A Sysmon 10 and a 4656 are one access only when they name the same target file, not the same
file name: a handle to \\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe was paired with a
Sysmon 10 on C:\\Temp\\lsass.exe and called exact "same target image" (and the masquerading
lsass.exe outside System32 is what the 4688 page's monitoring recommendations flag). The 4656's
device path and Sysmon's drive path are compared below their volumes; a path naming no volume
pairs by its file name only, inferred, saying so.

Answered by the model, by the trees stored for the Process access view (as the model's), and
by `correlate --json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.correlate.access import same_place, target_path
from core.correlate.model import build_model
from core.store.store import StoredEvent
from tests.cliutil import run_cli
from tests.correlate.access_events import LSASS, LSASS_OBJECT, open_process
from tests.correlate.events import by_record, load, p4688
from tests.correlate.stored_tables import line_trees_as_the_model_shows_them
from tests.correlate.sysmon_events import s10
from tests.logs import write_events

DUMP = r"C:\Tools\procdump64.exe"
FAKE = r"C:\Temp\lsass.exe"
FAKE_OBJECT = r"\Device\HarddiskVolume2\Temp\lsass.exe"

#: procdump opens the real lsass.exe (record 2) and a fake one in C:\Temp (record 3), 4 ms
#: apart; Sysmon logs the fake one first (record 4, with the real one's time) and the real one
#: second (record 5): by file name alone, 2 paired with 4 and 3 with 5, both "exact".
CROSSED = [
    p4688(1, 0.0, "0x1000", DUMP, "0x200"),
    open_process(2, 3.000, "0x1000", "0x88", "0x1410", image=DUMP, target=LSASS_OBJECT),
    open_process(3, 3.004, "0x1000", "0x8c", "0x1410", image=DUMP, target=FAKE_OBJECT),
    s10(4, 3.000, "{P}", 4096, DUMP, "{F}", 9000, FAKE, access="0x1410"),
    s10(5, 3.004, "{P}", 4096, DUMP, "{L}", 700, LSASS, access="0x1410"),
]

SAME_IMAGE = "same source process and target image, logged 4 ms apart, same access mask 0x1410"


def _twins(events: list[StoredEvent], rid: int) -> list[tuple[str, int | None, str, str]]:
    model = build_model(events)
    return [(x.relation, x.ref.record_id if x.ref else None, x.confidence, x.reason)
            for x in model.correlate(by_record(events, rid)).links]


def test_twins_are_paired_by_full_path_not_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = load(*CROSSED)
    assert _twins(events, 2) == [("Sysmon 10 of the same access", 5, "exact", SAME_IMAGE)]
    assert _twins(events, 3) == [("Sysmon 10 of the same access", 4, "exact", SAME_IMAGE)]
    assert _twins(events, 4) == [("4656 of the same access", 3, "exact", SAME_IMAGE)]
    assert _twins(events, 5) == [("4656 of the same access", 2, "exact", SAME_IMAGE)]
    # The Process access view's lines: the Sysmon 10 on the fake lsass holds the fake's handle.
    accesses = [a for g in build_model(events).process_accesses() for a in g.accesses]
    held = {a.evidence.record_id: a.twin.ref.record_id for a in accesses if a.twin is not None}
    assert held == {4: 3, 5: 2}
    # The trees stored for the view are the model's.
    assert line_trees_as_the_model_shows_them(tmp_path, events, monkeypatch, paged=False)[0] >= 2
    path = write_events(tmp_path / "cli.xml", CROSSED)
    status, out, err = run_cli("correlate", "--no-cache", str(path), "--record", "4", "--json")
    assert status == 0, err
    (doc,) = json.loads(out)
    assert [(x["record_id"], x["confidence"], x["reason"]) for x in doc["links"]] == [(3, "exact", SAME_IMAGE)]


def test_a_lsass_exe_outside_system32_never_pairs_with_the_real_one() -> None:
    """Nor is the handle to the real one taken for the fake's, by the Sysmon 10's twin or as the
    only lsass.exe alive: the 4656's target is then not named (and says why)."""
    events = load(
        p4688(1, 0.0, "0x1000", DUMP, "0x200"),
        open_process(2, 3.000, "0x1000", "0x88", "0x1410", image=DUMP, target=LSASS_OBJECT),
        s10(3, 3.002, "{P}", 4096, DUMP, "{F}", 9000, FAKE, access="0x1410"),
    )
    assert _twins(events, 3) == []
    assert _twins(events, 2) == [("target process", None, "missing", "no lsass.exe of the 4656's path alive on HOST1 "
                                  "at this time in this log; lsass.exe 0x2328 (9000): another file")]
    accesses = {a.evidence.record_id: a for g in build_model(events).process_accesses() for a in g.accesses}
    assert accesses[2].target is None and accesses[2].twin is None
    assert accesses[3].target is not None and accesses[3].target.image == FAKE and accesses[3].twin is None


def test_a_target_named_without_a_volume_pairs_by_file_name_inferred_and_says_so() -> None:
    events = load(
        p4688(1, 0.0, "0x1000", DUMP, "0x200"),
        open_process(2, 3.000, "0x1000", "0x88", "0x1410", image=DUMP, target=LSASS_OBJECT),
        s10(3, 3.002, "{P}", 4096, DUMP, "{L}", 700, "lsass.exe", access="0x1410"),
    )
    assert _twins(events, 3) == [("4656 of the same access", 2, "inferred",
                                  "same source process and target file name lsass.exe, logged 2 ms apart, same "
                                  "access mask 0x1410; the Sysmon 10's TargetImage names no volume: the full paths "
                                  "cannot be compared")]


def test_paths_are_compared_below_their_volumes() -> None:
    real = target_path(LSASS_OBJECT)
    assert real == ("\\device\\harddiskvolume2", "\\windows\\system32\\lsass.exe")
    assert target_path(LSASS) == ("c:", "\\windows\\system32\\lsass.exe")
    assert target_path("\\??\\C:\\Windows\\System32\\lsass.exe") == target_path(LSASS)
    assert target_path("\\\\?\\c:/windows/system32/LSASS.EXE") == target_path(LSASS)
    assert same_place(real, target_path(LSASS)) is True  # a device and a drive: which is which is not known
    assert same_place(real, target_path(FAKE)) is False
    assert same_place(target_path("D:\\Windows\\System32\\lsass.exe"), target_path(LSASS)) is False  # two drives
    assert same_place(real, target_path("\\Device\\HarddiskVolume3\\Windows\\System32\\lsass.exe")) is False
    unc = target_path("\\\\srv\\share\\x.exe")
    assert same_place(unc, target_path("\\Device\\Mup\\srv\\share\\x.exe")) is True
    assert same_place(unc, target_path("\\\\?\\UNC\\srv\\share\\x.exe")) is True
    for bare in ("lsass.exe", "", None, "%SystemRoot%\\System32\\lsass.exe", "\\\\"):
        assert target_path(bare) is None
        assert same_place(target_path(bare), real) is None
