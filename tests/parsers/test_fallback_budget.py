"""Chunks of tiny damaged records cost python-evtx a budget per chunk and per file, not a run
per record.

Why: a hostile-input probe filled a chunk with ~1,500 44-byte records on a 40-byte stride whose
resident template lies past the chunk's end. Our decoder rejects each ("template outside the
chunk") and python-evtx, asked about each, walked a garbage substitution count to the end of the
file before failing, within its per-record step budget: ~16 ms a record in a 72 KB file, more
the larger the file; a 1 MB file ran for over 10 minutes. The logs are built here from scratch
(no sample needed); each load runs in a child process with a time limit, so a regression fails
instead of stalling the suite.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEADER, CHUNK = 0x1000, 0x10000
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 40.0  # seconds per child; with the budgets a load takes 1-3 s, without them hours


def hostile_chunk() -> bytes:
    """One chunk of 44-byte records whose headers say 40 bytes (so the record walk meets a
    broken magic between any two) and whose template instance points at chunk offset 0xFFF0."""
    body = b"\x0f\x01\x01\x00" + b"\x0c\x01" + struct.pack("<II", 0, 0xFFF0) + b"\xee" * 2
    records = bytearray()
    n = 0
    while 0x200 + len(records) + 44 <= CHUNK:
        head = b"**\x00\x00" + struct.pack("<IQQ", 40, n + 1, 132000000000000000 + n)
        records += head + body + struct.pack("<I", 40)
        n += 1
    chunk = bytearray(CHUNK)
    chunk[:8] = b"ElfChnk\x00"
    struct.pack_into("<QQQQ", chunk, 8, 1, n, 1, n)
    struct.pack_into("<I", chunk, 0x30, 0x200 + len(records))
    chunk[0x200 : 0x200 + len(records)] = records
    return bytes(chunk)


def hostile_log(path: Path, chunks: int, tail: int = 0) -> Path:
    """`chunks` hostile chunks, then `tail` bytes (less than a chunk: no chunk slot of its own)."""
    path.write_bytes(b"ElfFile\x00" + bytes(HEADER - 8) + hostile_chunk() * chunks + b"\x2a" * tail)
    return path


LOAD = """
import collections, json, re, sys
from core.model.event import ParseIssue
from parsers import evtx
from parsers.evtx import reference as ref
from parsers.evtx.guard import steps_taken
path, how = sys.argv[1], sys.argv[2]
if how == "events":
    items = list(evtx.iter_events(path, 0, jobs=1))
    events = sum(not isinstance(i, ParseIssue) for i in items)
    issues = [i for i in items if isinstance(i, ParseIssue)]
else:  # what the store ingest (`stats`, the app) inserts: rows from `decoder.encode_chunk`
    batches = list(evtx.iter_encoded_batches(path, 0, jobs=1))
    events = sum(len(b.rows) for b in batches)
    issues = [i for b in batches for i in b.issues]
with open(path, "rb") as fh:
    buf = fh.read()
headers = {x for index, ofs in ref.chunk_offsets(buf) for x in ref.record_offsets(buf, ofs, 0, path, index)
           if type(x) is int}
# per chunk, how many record issues give each reason (without the fast decoder's, and offsets)
reasons = collections.Counter((i.chunk, re.sub(r" \\(fast: .*|\\(read: .*", "", i.reason)) for i in issues
                              if i.offset in headers)
print(json.dumps({"events": events, "headers": len(headers), "record_issues": sum(reasons.values()),
                  "reasons": [[c, r, n] for (c, r), n in sorted(reasons.items())], "steps": steps_taken()}))
"""


def load(path: Path, how: str = "events") -> dict[str, Any]:
    args = [sys.executable, "-c", LOAD, str(path), how]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path.name} still ran after {TIMEOUT:.0f} s: python-evtx asked about every record")
    assert done.returncode == 0, done.stderr[-2000:]
    got: dict[str, Any] = json.loads(done.stdout)
    return got


def test_chunks_of_tiny_damaged_records_cost_a_budget_each_then_none(tmp_path: Path) -> None:
    from parsers.evtx.decoder import CHUNK_STEPS, MAX_GIVE_UPS
    from parsers.evtx.guard import MAX_STEPS

    got = load(hostile_log(tmp_path / "hostile.evtx", 5))
    # nothing lost, nothing invented: every record header is one counted parse issue
    assert got["events"] == 0
    assert got["record_issues"] == got["headers"] == 5 * 1477
    # python-evtx took at most one chunk budget (and its last record's) on each of the first chunks
    assert got["steps"] <= MAX_GIVE_UPS * (CHUNK_STEPS + MAX_STEPS)
    by_chunk: dict[int, dict[str, int]] = {}
    for chunk, reason, n in got["reasons"]:
        by_chunk.setdefault(chunk, {})[reason] = n
    chunk_spent = f"python-evtx skipped: this chunk's records spent its budget of {CHUNK_STEPS:,} steps"
    file_spent = f"python-evtx skipped: it looped or spent its budget on {MAX_GIVE_UPS} chunks of this file"
    for chunk in range(MAX_GIVE_UPS):  # python-evtx was asked about a few records of the chunk only
        asked = {reason: n for reason, n in by_chunk[chunk].items() if not reason.startswith("python-evtx skipped")}
        assert 0 < sum(asked.values()) < 100, by_chunk[chunk]
        assert by_chunk[chunk] == asked | {chunk_spent: 1477 - sum(asked.values())}, by_chunk[chunk]
    for chunk in range(MAX_GIVE_UPS, 5):  # then the file's budget is spent too: not asked at all
        assert by_chunk[chunk] == {file_spent: 1477}, by_chunk[chunk]


def test_store_rows_of_the_probes_log_count_every_record(tmp_path: Path) -> None:
    """The probe's 72 KB log (one chunk and a tail) through the path of `stats` and the app
    (store rows): python-evtx walks each record's garbage count over the tail, ~90k steps a
    record, 130M for the chunk (27 s) before the budget."""
    from parsers.evtx.decoder import CHUNK_STEPS
    from parsers.evtx.guard import MAX_STEPS

    got = load(hostile_log(tmp_path / "probe.evtx", 1, 6476), "store")
    assert got["events"] == 0
    assert got["record_issues"] == got["headers"] == 1477
    assert got["steps"] <= CHUNK_STEPS + MAX_STEPS
    # python-evtx was asked about the first records (each its own issue), not the others
    [(_, failed, asked), (_, spent, skipped)] = sorted(got["reasons"], key=lambda r: r[1].startswith("python-evtx"))
    assert failed.startswith("OverrunBufferException") and 0 < asked < 100 and asked + skipped == 1477
    assert spent == f"python-evtx skipped: this chunk's records spent its budget of {CHUNK_STEPS:,} steps"


AGAIN = """
import json, sys
from core.model.event import ParseIssue
from parsers import evtx
from parsers.evtx import decoder
decoder.MAX_GIVE_UPS = 1  # (one hostile chunk spends the file's budget)
loads = [sorted(i.reason.split(" (fast:")[0] for i in evtx.iter_events(sys.argv[1], 0, jobs=1)
         if isinstance(i, ParseIssue)) for _ in range(2)]
print(json.dumps(loads))
"""


def test_a_file_loaded_again_in_one_process_spends_the_same_budgets(tmp_path: Path) -> None:
    """The file's budget (`MAX_GIVE_UPS` chunks) was counted per process across loads: an app
    opening a log again skipped python-evtx on every chunk, and gave other issues, once one
    load had spent it."""
    path = hostile_log(tmp_path / "again.evtx", 1, 6476)  # (the tail: python-evtx spends the chunk budget)
    done = subprocess.run([sys.executable, "-c", AGAIN, str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = json.loads(done.stdout)
    assert len(first) >= 1477  # (every record header an issue, and the walk's own)
    assert first == second
    assert not any("chunks of this file" in reason for reason in second)
