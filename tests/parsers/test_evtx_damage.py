"""Damaged EVTX logs: bytes changed inside one chunk cost only what they touch.

Each case copies a real sample, changes bytes inside one chunk (scattered bytes, a run of
garbage, a zeroed run, a 0xFFFFFFFF size or count, a chunk-header byte) and checks what an
analyst relies on: nothing raises, every other chunk decodes exactly as in the intact file,
and the damaged chunk's records are still there or reported as parse issues, never dropped
silently. Deterministic (seeded); `/tmp`-free (pytest's tmp_path).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from tests.shared import sample

CHUNK = 0x10000
HEADER = 0x1000
SAMPLES = [
    "evtx/parsers/omerbenamram__samples__security.evtx",
    "evtx/parsers/log2timeline__test_data__evtx__System.evtx",
    "evtx/parsers/omerbenamram__samples__E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
    "evtx/parsers/omerbenamram__samples__MSExchange_Management_wec.evtx",
]
MODES = ("bytes", "run", "zero", "ff", "header")
#: A sample with records our decoder rejects and python-evtx fails on too (so it runs).
PYTHON_EVTX_FAILS = (
    "evtx/parsers/omerbenamram__samples__2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager"
    "%4Operational.evtx"
)


def _items(path: Path) -> list[Event | ParseIssue]:
    return list(evtx.iter_events(str(path), 0, jobs=1))


def _chunk(item: Event | ParseIssue) -> int:
    place = item.locator if isinstance(item, Event) else item.offset
    assert place is not None
    return (place - HEADER) // CHUNK


def _same(item: Event | ParseIssue) -> object:
    """Issues name the file: compare them without it."""
    return (item.reason, item.chunk, item.offset) if isinstance(item, ParseIssue) else item


def _damage(data: bytearray, rnd: random.Random, index: int, mode: str) -> None:
    base = HEADER + index * CHUNK
    if mode == "bytes":
        for _ in range(rnd.randint(1, 40)):
            data[base + rnd.randrange(CHUNK)] = rnd.randrange(256)
    elif mode == "run":
        start = base + rnd.randrange(0x200, CHUNK)
        for i in range(start, min(start + rnd.randint(1, 2000), base + CHUNK)):
            data[i] = rnd.randrange(256)
    elif mode == "zero":
        start = base + rnd.randrange(0x200, CHUNK)
        end = min(start + rnd.randint(1, 500), base + CHUNK)
        data[start:end] = bytes(end - start)
    elif mode == "ff":
        start = base + rnd.randrange(0x200, CHUNK - 4)
        data[start : start + 4] = b"\xff\xff\xff\xff"
    else:
        data[base + rnd.randrange(0x200)] = rnd.randrange(256)


@pytest.mark.parametrize("seed", range(12))
def test_damage_costs_only_the_damaged_chunk(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    rel = SAMPLES[seed % len(SAMPLES)]
    intact = sample(rel)
    before = _items(intact)
    for case in range(6):
        data = bytearray(intact.read_bytes())
        index = rnd.randrange((len(data) - HEADER) // CHUNK)
        mode = MODES[(seed + case) % len(MODES)]
        _damage(data, rnd, index, mode)
        damaged = tmp_path / f"damaged-{case}.evtx"
        damaged.write_bytes(data)
        after = _items(damaged)  # raises nothing
        assert [_same(x) for x in after if _chunk(x) != index] == [_same(x) for x in before if _chunk(x) != index]
        had = sum(isinstance(x, Event) for x in before if _chunk(x) == index)
        kept = sum(1 for x in after if _chunk(x) == index)
        if had and mode != "header":  # a broken chunk signature is itself one reported issue
            assert kept > 0, (rel, mode, index)


def test_damaged_log_through_the_worker_ingest_keeps_what_the_decoder_reads(tmp_path: Path) -> None:
    """The app's path (worker processes writing the store) loses nothing either."""
    intact = sample(SAMPLES[0])  # over 2 MB: decoded by worker processes
    data = bytearray(intact.read_bytes())
    rnd = random.Random(99)
    for index in (1, 7, 20):
        _damage(data, rnd, index, "run")
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(data)
    assert evtx.uses_workers(str(damaged), 2)
    items = _items(damaged)
    events = sum(isinstance(x, Event) for x in items)
    issues = sum(isinstance(x, ParseIssue) for x in items)
    assert issues > 0
    with Store(tmp_path / "store.sqlite") as store:
        info = load_paths([str(damaged)], store, jobs=2)[0]
        assert (info.records, len(info.parse_issues)) == (events, issues)
        assert store.count() == events
        assert store.issue_count() == issues


def test_python_evtx_warnings_stay_off_stderr() -> None:
    """python-evtx logs "Unexpected token encountered" for some damaged records; every such
    record is a parse issue already, and the line must not land in the middle of CLI output
    (in a fresh interpreter: no logging configured, as for the CLI)."""
    import subprocess
    import sys

    code = (
        "import logging\n"
        "from parsers import evtx\n"
        "from core.model.event import ParseIssue\n"
        f"items = list(evtx.iter_events({str(sample(PYTHON_EVTX_FAILS))!r}, 0, jobs=1))\n"
        "assert any(isinstance(x, ParseIssue) for x in items)\n"
        "logging.getLogger('Evtx.Evtx').warning('Unexpected token encountered')\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stderr == ""
