"""A directory given as input: its logs are found where collections keep them (a Velociraptor
upload is ten folders down), and when the search falls short (a depth, an entry count, a folder
it cannot read) one line says where it stopped and the status is 1: a script sees the input is
incomplete. Before, logs past 8 folders were skipped with status 0, or "no event logs" said."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import cli.common as common
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = "2015-11-12T02:24:52.3773525Z"
#: Where Velociraptor puts a host's event logs below a collection (`C%3A`: its escaped `C:`).
UPLOAD = ("case1", "HOST1", "uploads", "auto", "C%3A", "Windows", "System32", "winevt", "Logs")


def _log(folder: Path, name: str, record_id: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_events(folder / name, [event_xml(4688, record_id, T0)])


def _loaded(out: str) -> list[str]:
    return sorted(Path(f["path"]).name for f in json.loads(out)["files"])


def test_a_collection_layout_loads_every_log(tmp_path: Path) -> None:
    _log(tmp_path.joinpath("coll", *UPLOAD), "Security.xml", 1)
    _log(tmp_path / "coll" / "case1" / "HOST2", "Defender.xml", 2)
    status, out, err = run_cli("stats", "--json", str(tmp_path / "coll"))
    assert (status, err) == (0, "")
    assert _loaded(out) == ["Defender.xml", "Security.xml"]


def test_the_deepest_folder_searched_and_the_first_one_not(tmp_path: Path) -> None:
    root = tmp_path / "coll"
    deepest = root.joinpath(*[f"d{i}" for i in range(common.MAX_DEPTH)])  # MAX_DEPTH folders down
    _log(deepest, "kept.xml", 1)
    _log(deepest / "below", "missed.xml", 2)
    _log(root, "top.xml", 3)
    status, out, err = run_cli("stats", "--json", str(root))
    assert status == 1
    assert _loaded(out) == ["kept.xml", "top.xml"]
    assert err == (f"evtx-explorer: {root}: the search for logs stopped {common.MAX_DEPTH} folders down, in 1 "
                   f"folder(s) (first: {deepest}): name the folders below to load their logs\n")


def test_logs_only_past_the_depth_are_not_called_no_logs(tmp_path: Path) -> None:
    root = tmp_path / "coll"
    _log(root.joinpath(*["d"] * (common.MAX_DEPTH + 1)), "missed.xml", 1)
    status, _, err = run_cli("stats", str(root))
    assert status == 1 and err.count("\n") == 1
    assert f"stopped {common.MAX_DEPTH} folders down" in err and "no event logs" not in err


def test_too_many_entries_says_where_the_search_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "MAX_ENTRIES", 5)
    root = tmp_path / "disk"
    for i in range(4):
        _log(root / f"f{i}", "a.xml", i)
    status, _, err = run_cli("stats", str(root))
    assert status == 1 and err.count("\n") == 1
    assert err.startswith(f"evtx-explorer: {root}: more than 5 entries; the search stopped in {root / 'f'}")
    assert "no log was loaded from it (name the folders of logs instead)" in err


def _locked(names: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders named in `names` refuse to be listed (as without the permission; the tests may
    run as root, whom a mode does not stop)."""
    scandir = os.scandir

    def refusing(path: Any = ".") -> Any:
        if os.path.basename(os.fspath(path)) in names:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)


def test_a_folder_that_cannot_be_read_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "coll"
    _log(root / "locked", "missed.xml", 1)
    _log(root / "open", "kept.xml", 2)
    _locked({"locked"}, monkeypatch)
    status, out, err = run_cli("stats", "--json", str(root))
    assert status == 1 and _loaded(out) == ["kept.xml"]
    assert err == (f"evtx-explorer: {root}: 1 folder(s) in it could not be read, their logs not loaded "
                   f"(first: {root / 'locked'}: Permission denied)\n")
    _locked({"coll"}, monkeypatch)
    status, _, err = run_cli("stats", str(root))
    assert status == 1 and err == f"evtx-explorer: {root}: cannot read it (Permission denied)\n"
