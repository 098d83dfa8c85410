"""`convert` of an input that changed since it was converted: its new version replaces the old one
(the old one's events stayed beside the new ones: a log of 10 events read as 19), and only once
the new version is complete, so that the dataset never holds neither."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fleetutil import require_fleet
from tests.logs import event_xml, write_events


@pytest.fixture(autouse=True)
def _fleet() -> None:
    require_fleet()


def _log(path: Path, n: int, computer: str = "WS01") -> Path:
    events = [event_xml(4688, i + 1, f"2024-03-14T08:0{i}:00Z", {"NewProcessName": f"C:\\x\\{i}.exe"},
                        computer=computer) for i in range(n)]
    return write_events(path, events)


def _rows(ds: Path) -> list[tuple[str, int]]:
    import pyarrow.parquet as pq

    return sorted((r["source"], r["record_id"]) for p in (ds / "events").glob("*/*/*.parquet")
                  for r in pq.read_table(p, columns=["source", "record_id"]).to_pylist())


def _markers(ds: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((ds / "inputs").glob("*.json"))]


def test_a_changed_input_replaces_its_earlier_conversion(tmp_path: Path) -> None:
    from core.fleet.convert import convert

    log, other, ds = _log(tmp_path / "a.xml", 3), _log(tmp_path / "b.xml", 2, "WS02"), tmp_path / "ds"
    convert([str(log), str(other)], ds, jobs=1)
    _log(log, 4)
    lines: list[str] = []
    [result] = convert([str(log)], ds, jobs=1, progress=lines.append)
    assert result.records == 4 and not result.skipped
    assert _rows(ds) == [(str(log), n) for n in (1, 2, 3, 4)] + [(str(other), n) for n in (1, 2)]
    assert sorted(str(m["real"]) for m in _markers(ds)) == [os.path.realpath(log), os.path.realpath(other)]
    assert not list((ds / "issues").glob("*.parquet"))
    status_line = [line for line in lines if "changed since" in line]
    assert status_line == [f"[1/1] {log}: changed since it was converted: the earlier version's events removed"]


def test_a_marker_written_before_it_named_the_real_path(tmp_path: Path) -> None:
    """The real path is read off the identity of a marker that has no `real` (a dataset converted
    before markers said it)."""
    from core.fleet.convert import convert

    log, ds = _log(tmp_path / "a.xml", 3), tmp_path / "ds"
    convert([str(log)], ds, jobs=1)
    [marker] = (ds / "inputs").glob("*.json")
    marker.write_text(json.dumps({k: v for k, v in json.loads(marker.read_text()).items() if k != "real"}))
    _log(log, 4)
    convert([str(log)], ds, jobs=1)
    assert _rows(ds) == [(str(log), n) for n in (1, 2, 3, 4)] and len(_markers(ds)) == 1


def test_the_earlier_version_stays_until_the_new_one_is_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.fleet import convert as module

    log, ds = _log(tmp_path / "a.xml", 3), tmp_path / "ds"
    module.convert([str(log)], ds, jobs=1)
    _log(log, 4)

    def broken(*args: object) -> object:
        raise RuntimeError("the loader broke")

    with monkeypatch.context() as patch:  # the new version fails: not marked, the old one kept
        patch.setattr(module, "_rows", broken)
        [result] = module.convert([str(log)], ds, jobs=1)
    assert result.error and _rows(ds) == [(str(log), n) for n in (1, 2, 3)]
    with monkeypatch.context() as patch:  # the run ends right after the new version is marked done
        patch.setattr(module, "_replace_earlier", lambda *args: None)
        module.convert([str(log)], ds, jobs=1)
    assert len(_rows(ds)) == 7 and len(_markers(ds)) == 2  # both versions, never neither
    [result] = module.convert([str(log)], ds, jobs=1)  # the re-run skips the new one, ends the old
    assert result.skipped and _rows(ds) == [(str(log), n) for n in (1, 2, 3, 4)] and len(_markers(ds)) == 1


def test_an_input_that_cannot_be_read_now_replaces_nothing(tmp_path: Path) -> None:
    """A log gone (a share not mounted) is marked done with its error; its converted events stay."""
    from core.fleet.convert import convert

    log, ds = _log(tmp_path / "a.xml", 3), tmp_path / "ds"
    convert([str(log)], ds, jobs=1)
    log.unlink()
    [result] = convert([str(log)], ds, jobs=1)
    assert result.error and _rows(ds) == [(str(log), n) for n in (1, 2, 3)]
    _log(log, 4)
    convert([str(log)], ds, jobs=1)
    assert _rows(ds) == [(str(log), n) for n in (1, 2, 3, 4)] and len(_markers(ds)) == 1


def test_inputs_converted_in_parallel_replace_theirs(tmp_path: Path) -> None:
    from core.fleet.convert import convert

    logs, ds = [_log(tmp_path / "a.xml", 2), _log(tmp_path / "b.xml", 2, "WS02")], tmp_path / "ds"
    convert([str(p) for p in logs], ds, jobs=1)
    for log in logs:
        _log(log, 3, log.stem)
    convert([str(p) for p in logs], ds, jobs=1, workers=2)
    assert _rows(ds) == [(str(log), n) for log in logs for n in (1, 2, 3)] and len(_markers(ds)) == 2


@pytest.mark.parametrize(("identity", "real"), [
    ("/logs/a|b.evtx|1024|1700000000000000000|" + "ab" * 32, "/logs/a|b.evtx"),
    ("/logs/fifo|special|4480", "/logs/fifo"),
    ("/logs/gone.evtx|error|2", "/logs/gone.evtx"),
    ("/logs/odd|error|None", "/logs/odd"),
    ("not an identity", None),
])
def test_the_real_path_of_an_earlier_marker(identity: str, real: str | None) -> None:
    from core.fleet.markers import real_path

    assert real_path({"identity": identity}) == real
    assert real_path({"real": "/x", "identity": identity}) == "/x"
    assert real_path({"real": 5}) is None
