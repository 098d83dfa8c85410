"""Every file in ../shared/samples/MANIFEST.tsv loads through the CLI without a traceback, and
loses nothing: records + parse_issues >= records_reference (the Rust parser's count)."""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from Evtx.Evtx import Evtx

from cli.main import main
from tests.shared import manifest, manifest_paths, require_shared, sample

PATHS = manifest_paths()


def _stats(path: Path) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["stats", "--json", "--no-cache", str(path)])
    return status, json.loads(out.getvalue()), err.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("relpath", PATHS or ["<no shared samples>"])
def test_stats_recovers_at_least_the_reference_count(relpath: str) -> None:
    require_shared()
    row = next(r for r in manifest() if r["path"] == relpath)
    status, doc, err = _stats(sample(relpath))
    assert "Traceback" not in err
    (f,) = doc["files"]
    reference = _reference_count(row, sample(relpath))
    if relpath.lower().endswith(".evt"):
        # Legacy pre-Vista format: refused with one line naming the file, exit status 1.
        assert status == 1 and f["error"] and relpath.split("/")[-1] in f["error"]
        assert "\n" not in f["error"].strip()
        return
    assert status == 0, err
    assert f["error"] is None
    assert f["records"] + f["parse_issues"] >= reference, (f["records"], f["parse_issues"], reference)
    assert doc["total_records"] == f["records"]
    if f["records"]:
        assert f["first"] and f["last"] and f["first"] <= f["last"]
        assert f["computers"]
    want_ids = json.loads(row["event_ids"] or "{}")
    for eid, n in want_ids.items():
        got = f["event_ids"].get(eid, 0)
        assert got + f["parse_issues"] >= n, (eid, got, n)


def _reference_count(row: dict[str, str], path: Path) -> int:
    """The manifest's count; for JSON zips (no reference given) an independent count of the
    non-empty JSON lines in every member."""
    if row["records_reference"]:
        return int(row["records_reference"])
    assert path.suffix == ".zip", row["path"]
    n = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as fh:
                n += sum(1 for line in fh if line.strip().startswith(b"{"))
    assert n > 0
    return n


def _python_evtx_records_count(path: Path) -> int:
    with Evtx(str(path)) as log:
        n = 0
        for _ in log.records():
            n += 1
        return n


def _header_chunk_count(path: Path) -> tuple[int, int]:
    with Evtx(str(path)) as log:
        header = log.get_file_header()
        return header.chunk_count(), (path.stat().st_size - 0x1000) // 0x10000


def test_dirty_logs_recover_records_past_the_header_chunk_count() -> None:
    """python-evtx's records() stops at the header's chunk count; we walk every chunk."""
    require_shared()
    checked = 0
    for row in manifest():
        relpath = row["path"]
        if not relpath.endswith(".evtx") or int(row["bytes"]) > 2_500_000:
            continue
        path = sample(relpath)
        try:
            declared, physical = _header_chunk_count(path)
        except Exception:  # noqa: BLE001 - files python-evtx cannot even open are covered elsewhere
            continue
        if physical <= declared or int(row["records_reference"] or 0) == 0:
            continue
        try:
            plain = _python_evtx_records_count(path)
        except Exception:  # noqa: BLE001
            continue
        if plain >= int(row["records_reference"]):
            continue
        _status, doc, _ = _stats(path)
        f = doc["files"][0]
        assert f["records"] > plain, (relpath, f["records"], plain)
        assert f["records"] + f["parse_issues"] >= int(row["records_reference"])
        checked += 1
        if checked >= 3:
            break
    assert checked >= 1, "no dirty sample found: the manifest changed?"
