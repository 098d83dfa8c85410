"""Our decoder reads every record the Rust `evtx` parser reads, on every shared sample.

Why: records we counted as parse issues where another parser reads them were lost to the
analyst, among them every Defender threat detection of a sample (BinXML entity references,
`&amp;` in a URL) and CAPI2 and PowerShell records. The Rust-backed `evtx` package (a dev
dependency) is the independent count; without it, the manifest's `records_reference` (the
same parser's count when the samples were collected) stands in.
"""

from __future__ import annotations

import json

import pytest

from core.model.event import Event, ParseIssue
from parsers import evtx
from tests.shared import manifest, manifest_paths, sample

EVTX = [p for p in manifest_paths() if p.lower().endswith(".evtx")]
DEFENDER = "evtx/attack/Antivirus__ID1116-1117-Defender threat detected.evtx"


def _rust_records(path: str) -> list[dict[str, object]] | None:
    """The Rust parser's records (event_record_id, parsed JSON), or None without the package."""
    try:
        from evtx import PyEvtxParser
    except ImportError:
        return None
    out: list[dict[str, object]] = []
    it = iter(PyEvtxParser(path, number_of_threads=1).records_json())
    while True:
        try:
            record = next(it)
        except StopIteration:
            return out
        except Exception:  # noqa: BLE001, S112 - a record it cannot read is not counted
            continue
        assert record is not None  # evtx's stub: __next__ -> Optional, but None ends the iteration
        out.append({"id": record["event_record_id"], "event": json.loads(record["data"])["Event"]})


def _ours(path: str) -> tuple[list[Event], list[ParseIssue]]:
    events: list[Event] = []
    issues: list[ParseIssue] = []
    for item in evtx.iter_events(path, 0, jobs=1):
        if isinstance(item, ParseIssue):
            issues.append(item)
        else:
            events.append(item)
    return events, issues


@pytest.mark.parametrize("rel", EVTX, ids=[p.rsplit("/", 1)[-1][:80] for p in EVTX])
def test_we_decode_at_least_what_the_rust_parser_reads(rel: str) -> None:
    path = str(sample(rel))
    rust = _rust_records(path)
    if rust is None:
        expected = int(next(row for row in manifest() if row["path"] == rel)["records_reference"] or 0)
    else:
        expected = len(rust)
    events, issues = _ours(path)
    assert len(events) >= expected, f"{len(events)} decoded, Rust reads {expected}; issues: {issues[:3]}"


def test_defender_threat_detections_with_entity_references_decode() -> None:
    path = str(sample(DEFENDER))
    events, issues = _ours(path)
    assert not issues
    assert sorted(e.event_id for e in events) == [1116] * 5 + [1117]
    first = dict(events[0].data)
    link = first["FWLink"]
    assert "&name=HackTool:Win64/Mikatz!dha&threatid=" in link  # `&amp;` references, resolved
    rust = _rust_records(path)
    if rust is not None:
        by_id = {r["id"]: r["event"] for r in rust}
        for event in events:
            record = by_id[event.record_number]
            assert isinstance(record, dict)
            data = record["EventData"]
            assert dict(event.data) == data
