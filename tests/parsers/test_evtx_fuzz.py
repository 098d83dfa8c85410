"""Fuzzing the EVTX loader with mutants of real logs: it always finishes, never raises, and every
record header it finds is an event or a counted parse issue.

Fixed seeds (the same mutants every run). Each mutant is loaded by the real loader
(`core.store.ingest.load_paths` into a store) in a child process with a time limit and an address
space limit (`RLIMIT_AS`): a decoder that loops or grows without bound fails the test instead of
hanging or swapping the machine. Mutations: scattered bit flips, truncation, string and template
chain entries pointing back at themselves (with a damaged record so that python-evtx is asked),
and chunk dwords replaced by their own offset (self-referencing name, template and value
offsets).
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import sample

HEADER, CHUNK = 0x1000, 0x10000
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    "evtx/parsers/log2timeline__test_data__evtx__System.evtx",
    "evtx/parsers/omerbenamram__samples__E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
    "evtx/parsers/omerbenamram__samples__MSExchange_Management_wec.evtx",
    "evtx/attack/Antivirus__ID1116-1117-Defender threat detected.evtx",
    "evtx/attack/TA0002-Execution__T1059.001-PowerShell__ID800-4103-Interactive PipeShell over named pipe"
    " (server and client).evtx",
    "evtx/parsers/omerbenamram__samples__security.evtx",
]
MODES = ("flip", "truncate", "strings", "templates", "selfref", "flip")
SEEDS = range(6)
TIME_LIMIT = 30.0  # seconds per mutant (a mutant loads in well under a second)
MEMORY_LIMIT = 2 << 30


def _records(data: bytearray, base: int) -> list[int]:
    free = struct.unpack_from("<I", data, base + 0x30)[0]
    ofs = base + 0x200
    out: list[int] = []
    while ofs + 24 <= base + min(free, CHUNK) and data[ofs : ofs + 4] == b"**\x00\x00" and len(out) < 10_000:
        size = struct.unpack_from("<I", data, ofs + 4)[0]
        if size < 28:
            break
        out.append(ofs)
        ofs += size
    return out


def _self_chains(data: bytearray, base: int, table: int, buckets: int, rnd: random.Random) -> None:
    """Every entry of a hash table's chains points at itself; one record is damaged so that our
    decoder hands it to python-evtx, which walks those chains."""
    for i in range(buckets):
        entry = struct.unpack_from("<I", data, base + table + 4 * i)[0]
        if 0 < entry < CHUNK - 4:
            struct.pack_into("<I", data, base + entry, entry)
    records = _records(data, base)
    if records:
        rec = rnd.choice(records)
        data[rec + 24 + rnd.randrange(4, 24)] = rnd.randrange(256)


def mutate(data: bytearray, rnd: random.Random, mode: str) -> bytearray:
    chunks = (len(data) - HEADER) // CHUNK
    base = HEADER + rnd.randrange(chunks) * CHUNK
    if mode == "flip":
        for _ in range(rnd.randint(1, 40)):
            data[base + rnd.randrange(CHUNK)] ^= 1 << rnd.randrange(8)
    elif mode == "truncate":
        del data[rnd.randrange(HEADER + 0x200, len(data)) :]
    elif mode == "strings":
        _self_chains(data, base, 0x80, 64, rnd)
    elif mode == "templates":
        _self_chains(data, base, 0x180, 32, rnd)
    else:  # dwords in records replaced by their own chunk offset (or the record's)
        for rec in rnd.sample(_records(data, base) or [base + 0x200], k=1):
            for _ in range(rnd.randint(1, 6)):
                at = rec + 24 + rnd.randrange(0, 120)
                struct.pack_into("<I", data, at, rnd.choice((at - base, rec - base, at - base - 4)))
    return data


CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import mmap
from core.store.ingest import load_paths
from core.model.event import ParseIssue
from core.store.store import Store
from parsers.evtx import reference as ref
path, db = sys.argv[1], sys.argv[2]
with Store(db) as store:
    info = load_paths([path], store, jobs=1)[0]
    stored = store.count()
headers = 0
with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
    for index, ofs in ref.chunk_offsets(buf):
        if buf[ofs : ofs + 8] == ref.CHUNK_MAGIC:
            headers += sum(1 for x in ref.record_offsets(buf, ofs, 0, path, index) if type(x) is int)
print(json.dumps({{"records": info.records, "issues": len(info.parse_issues), "stored": stored,
                  "headers": headers, "error": info.error}}))
"""


@pytest.mark.slow
def test_mutants_of_real_logs_load_in_bounded_time_and_memory(tmp_path: Path) -> None:
    failures: list[str] = []
    for case, (seed, mode) in enumerate((s, m) for s in SEEDS for m in MODES):
        rnd = random.Random(seed * 31 + case)
        rel = SAMPLES[(seed + case) % len(SAMPLES)]  # every mode meets every sample
        path = tmp_path / f"mutant-{case}.evtx"
        path.write_bytes(mutate(bytearray(sample(rel).read_bytes()), rnd, mode))
        code = CHILD.format(limit=MEMORY_LIMIT)
        args = [sys.executable, "-c", code, str(path), str(tmp_path / f"store-{case}.sqlite")]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIME_LIMIT, cwd=ROOT)
        except subprocess.TimeoutExpired:
            failures.append(f"{case} {mode} {rel}: still running after {TIME_LIMIT:.0f} s")
            continue
        if done.returncode != 0 or "Traceback" in done.stderr:
            failures.append(f"{case} {mode} {rel}: exit {done.returncode}: {done.stderr[-500:]}")
            continue
        got = json.loads(done.stdout)
        assert got["error"] is None, (case, mode, rel, got)
        assert got["stored"] == got["records"], (case, mode, rel, got)
        # every record header the walk finds is an event or an issue (issues also name skipped bytes)
        assert got["records"] + got["issues"] >= got["headers"], (case, mode, rel, got)
    assert not failures, "\n".join(failures)
