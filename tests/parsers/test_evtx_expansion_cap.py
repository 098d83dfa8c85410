"""One EVTX record may not expand without bound: a template naming a substitution thousands of
times, with a long value, is refused past `MAX_RECORD_CHARS` (the limit of the other inputs'
records), checked from the values' lengths before any field is joined, in bounded memory, and
python-evtx is not asked to expand it instead."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from parsers import eventxml, evtx, jsonrecords
from parsers.evtx import values
from tests.parsers.evtx_value_logs import build_log, load


def test_one_limit_for_every_input() -> None:
    assert values.MAX_RECORD_CHARS == eventxml.MAX_EVENT_CHARS == jsonrecords.MAX_RECORD_CHARS


def _amplified(path: Path, repeat: int, chars: int, chunks: int = 1) -> Path:
    value = (0x01, ("\u4e00" * chars).encode("utf-16-le"))  # CJK: 2 bytes a character in str too
    path.write_bytes(build_log([[("CommandLine", value)] for _ in range(chunks)], repeat=repeat))
    return path


def test_a_record_repeating_a_long_value_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = _amplified(tmp_path / "amp.evtx", 7000, 4000, chunks=2)  # 28 M characters a record
    tracemalloc.start()
    try:
        events, issues = load(path)
        batch = evtx.encode_range(str(path), 0, 0, 2)  # the store's path, too
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024  # a naive expansion holds hundreds of MB
    assert events == [] and batch.rows == []
    assert len(issues) == len(batch.issues) == 2
    for issue in [*issues, *batch.issues]:
        assert issue.reason.startswith("HopelessRecord: record expands to 28,0"), issue.reason
        assert "7,000 times" in issue.reason
        assert "python-evtx" not in issue.reason and "(fast:" not in issue.reason  # never asked


def test_a_record_within_the_limit_is_kept_whole(tmp_path: Path) -> None:
    path = _amplified(tmp_path / "fine.evtx", 100, 4000)  # 400 k characters
    events, issues = load(path)
    assert issues == []
    [event] = events
    assert event.data == (("CommandLine", "\u4e00" * 400_000),)
    batch = evtx.encode_range(str(path), 0, 0, 1)
    assert len(batch.rows) == 1 and batch.issues == []


def test_a_chunk_of_large_records_expands_within_its_budget(tmp_path: Path) -> None:
    """Each record (2,000 repeats of 1,000 characters: 2 M) is within the record limit; the chunk's
    large records may add up to `MAX_CHUNK_CHARS` (8 Mi): four are kept, the rest are issues."""
    value = (0x01, ("x" * 1_000).encode("utf-16-le"))
    path = tmp_path / "many.evtx"
    path.write_bytes(build_log([[("CommandLine", value)] * 2] * 2, repeat=2_000))  # 2 chunks of 2
    events, issues = load(path)
    assert [len(e.data[0][1]) for e in events] == [2_000_000] * 4
    assert issues == []
    path.write_bytes(build_log([[("CommandLine", value)] * 6] * 2, repeat=2_000))  # 2 chunks of 6
    events, issues = load(path)
    assert len(events) == 8 and len(issues) == 4
    assert [i.offset for i in issues] == sorted(i.offset or 0 for i in issues)
    assert all("its chunk's limit of 8,388,608" in i.reason for i in issues), issues[0].reason
    batch = evtx.encode_range(str(path), 0, 0, 2)
    assert len(batch.rows) == 8 and len(batch.issues) == 4
