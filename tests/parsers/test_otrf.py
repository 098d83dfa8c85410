"""The OTRF Security-Datasets zips of ../shared/samples (JSON lines of Windows events, member by
member): every record loads, counted apart from the loader, and SharpView's events decode as
Windows shows them (skipped when ../shared is absent, failing under CI=true)."""

from __future__ import annotations

import collections
import json
import zipfile
from pathlib import Path

import pytest

from core.model.event import ParseIssue, iso_from_filetime
from parsers.registry import iter_input, raw_text
from tests.parsers.xml_events import split
from tests.shared import manifest, manifest_paths, require_shared, sample


def _json_rows() -> list[str]:
    return [p for p in manifest_paths() if p.startswith("json/")] or ["<no shared samples>"]


def _independent_count(path: Path) -> int:
    """Non-blank lines of every member, counted without the loader."""
    n = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                n += sum(1 for line in fh if line.strip())
    return n


@pytest.mark.slow
@pytest.mark.parametrize("relpath", _json_rows())
def test_otrf_zip_loads_every_record(relpath: str) -> None:
    require_shared()
    row = next(r for r in manifest() if r["path"] == relpath)
    path = sample(relpath)
    # MANIFEST.tsv leaves records_reference empty for the JSON rows: count the lines ourselves.
    reference = int(row["records_reference"]) if row["records_reference"] else _independent_count(path)
    counts: collections.Counter[int] = collections.Counter()
    computers: set[str] = set()
    issues = []
    untimed = 0
    for item in iter_input(str(path)):
        if isinstance(item, ParseIssue):
            issues.append(item)
            continue
        counts[item.event_id] += 1
        computers.add(item.computer)
        untimed += item.filetime is None
    assert issues == []
    assert sum(counts.values()) == reference
    assert untimed == 0 and "" not in computers
    for eid, n in json.loads(row["event_ids"] or "{}").items():
        assert counts[int(eid)] == n


def test_otrf_sharpview_events_are_decoded_like_windows() -> None:
    path = sample("json/otrf/execution__host__cmd_sharpview_pcre_net.zip")
    events, issues = split(iter_input(str(path)))
    assert issues == []
    by_id = collections.Counter(e.event_id for e in events)
    assert by_id[4690] == 17  # the README's count
    sharpview = next(e for e in events if e.event_id == 4688 and e.get("NewProcessId") == "0xea8")
    assert sharpview.computer == "WORKSTATION5.theshire.local"
    assert sharpview.get("ProcessId") == "0x1e7c" and sharpview.pid is None
    assert sharpview.get("NewProcessName") == "C:\\ProgramData\\SharpView.exe"
    assert sharpview.get("Message") is None and sharpview.get("@timestamp") is None
    assert iso_from_filetime(sharpview.filetime) == "2020-10-29T08:23:20.5330000Z"
    assert sharpview.keywords == "0x8020000000000000" and sharpview.task == 13312
    raw = json.loads(raw_text(str(path), "zip", sharpview.locator or 0))
    assert raw["NewProcessId"] == "0xea8" and "Message" in raw
    for dup in (e for e in events if e.event_id == 4690):
        assert dup.get("SourceProcessId") and dup.get("TargetHandleId")
