"""Hostile EVTX chunks: cycles in a chunk's string and template tables cannot hang the loader
or the raw XML tab, and a damaged record still says when it was written.

The mutants are built from a real sample inside tmp_path. Each run that could hang runs in a
child process with a time limit: a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from core.model.event import ParseIssue, iso_from_filetime
from parsers import evtx
from tests.shared import sample

HEADER, CHUNK = 0x1000, 0x10000
SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"
ROOT = Path(__file__).resolve().parents[2]


def _records(data: bytes | bytearray, base: int) -> list[int]:
    free = struct.unpack_from("<I", data, base + 0x30)[0]
    ofs, out = base + 0x200, []
    while ofs + 24 <= base + free and data[ofs : ofs + 4] == b"**\x00\x00":
        out.append(ofs)
        ofs += struct.unpack_from("<I", data, ofs + 4)[0]
    return out


def cyclic_log(tmp_path: Path, cycles: bool = True) -> tuple[Path, int, int]:
    """The sample with every string and template entry of chunk 0 pointing back at itself
    (unless not `cycles`), and one record of that chunk damaged (an unknown substitution type)
    so that our decoder hands it to python-evtx: (path, offset of a good record, offset of the
    damaged one)."""
    data = bytearray(sample(SECURITY).read_bytes())
    for table, buckets in ((0x80, 64), (0x180, 32)) if cycles else ():
        for i in range(buckets):
            entry = struct.unpack_from("<I", data, HEADER + table + 4 * i)[0]
            if entry:
                struct.pack_into("<I", data, HEADER + entry, entry)  # next offset = itself
    records = _records(data, HEADER)
    damaged = records[3]
    assert data[damaged + 28] == 0x0C  # template instance; its substitution table follows
    data[damaged + 44] = 0x22  # the first substitution's type: unknown to both decoders
    # ... and its size runs past the chunk: the fast decoder rejects the record (an unknown type
    # alone now costs only that value), so python-evtx is asked, on the cyclic tables.
    data[damaged + 42:damaged + 44] = b"\xff\xff"
    path = tmp_path / "cyclic.evtx"
    path.write_bytes(data)
    return path, records[0], damaged


def run_child(code: str, *args: str, timeout: float = 60.0) -> str:
    """Run `code` in a child interpreter (memory capped at 2 GiB); its stdout. A child that
    outlives `timeout` fails the test: that is the hang this file guards against."""
    prelude = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    try:
        done = subprocess.run(
            [sys.executable, "-c", prelude + code, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout:.0f} s: the decoder loops")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stdout


LOAD = """
import json, sys
from core.model.event import ParseIssue
from parsers import evtx
items = list(evtx.iter_events(sys.argv[1], 0, jobs=1))
issues = [(i.chunk, i.offset, i.filetime) for i in items if isinstance(i, ParseIssue)]
print(json.dumps({"events": len(items) - len(issues), "issues": issues}))
"""


def test_self_pointing_chunk_tables_cost_one_record_not_a_hang(tmp_path: Path) -> None:
    path, _, damaged = cyclic_log(tmp_path)
    intact = [i for i in evtx.iter_events(str(sample(SECURITY)), 0, jobs=1) if not isinstance(i, ParseIssue)]
    got = json.loads(run_child(LOAD, str(path)))
    assert got["events"] == len(intact) - 1  # every other record, the rest of the chunk included
    [(chunk, offset, filetime)] = got["issues"]
    assert (chunk, offset) == (0, damaged)
    assert filetime is not None


RAW = """
import sys
from core.store.raw import raw_event_text as raw_xml
for locator in sys.argv[2:]:
    print(repr(raw_xml(sys.argv[1], "evtx", int(locator))))
"""


def test_raw_xml_tab_on_a_cyclic_chunk_answers(tmp_path: Path) -> None:
    path, good, damaged = cyclic_log(tmp_path)
    good_xml, damaged_text = run_child(RAW, str(path), str(good), str(damaged), timeout=30).splitlines()
    assert "<EventID" in good_xml  # python-evtx still renders the intact record
    assert damaged_text  # an error text (or a reconstruction), never a spin


def test_step_budget_stops_a_looping_call() -> None:
    from parsers.evtx.guard import StepBudgetExceeded, run_bounded

    def spin() -> None:
        while True:
            len("")

    with pytest.raises(StepBudgetExceeded):
        run_bounded(spin, steps=10_000)
    assert sys.getprofile() is None


def test_damaged_record_keeps_its_header_time(tmp_path: Path) -> None:
    path, _, damaged = cyclic_log(tmp_path, cycles=False)
    [issue] = [i for i in evtx.iter_events(str(path), 0, jobs=1) if isinstance(i, ParseIssue)]
    ticks = struct.unpack_from("<Q", path.read_bytes(), damaged + 16)[0]
    assert issue.filetime == ticks
    assert (iso_from_filetime(issue.filetime) or "").startswith("2016-07-")


def test_issues_panel_shows_the_damaged_record_time(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from tests.apputil import opened, sync, wait_for
    from tui.app import EvtxApp
    from tui.issues_panel import IssuesScreen

    path, _, damaged = cyclic_log(tmp_path, cycles=False)
    ticks = struct.unpack_from("<Q", path.read_bytes(), damaged + 16)[0]
    shown = (iso_from_filetime(ticks) or "")[:19].replace("T", " ")

    @sync
    async def run() -> None:
        app = EvtxApp([str(path)], use_cache=False)
        async with opened(app, (160, 30)) as pilot:
            await pilot.press("exclamation_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, IssuesScreen))
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count >= 1)
            cells = [str(c) for c in table.get_row_at(0)]
            assert cells[:3] == ["cyclic.evtx", "0", f"0x{damaged:x}"]
            assert shown in cells

    run()


def exploding_log(levels: int) -> bytes:
    """One chunk, one record: a template whose only element holds its substitution 0 twice,
    and a chain of `levels` nested BinXML values that each instantiate that same template:
    expanded naively, 2**levels copies from a record of a few hundred bytes."""
    rec = 0x200
    tpl = rec + 24 + 4 + 10  # resident template definition, right after the record's instance
    name = tpl + 0x18 + 4 + 11  # the element's name, stored inline after its header
    body = b"\x0f\x01\x01\x00" + b"\x01\xff\xff" + struct.pack("<II", 0, name)
    body += struct.pack("<IHH", 0, 0, 1) + "E".encode("utf-16-le") + b"\x00\x00"
    body += b"\x02" + b"\x0d\x00\x00\x21" * 2 + b"\x04\x00"
    template = struct.pack("<I", 0) + bytes(16) + struct.pack("<I", len(body)) + body
    instance = b"\x0f\x01\x01\x00\x0c\x01" + struct.pack("<II", 1, tpl)
    value = instance + struct.pack("<I", 1) + struct.pack("<HBB", 4, 8, 0) + b"\x07\x00\x00\x00"
    for _ in range(levels - 1):
        value = instance + struct.pack("<I", 1) + struct.pack("<HBB", len(value), 0x21, 0) + value
    top = instance + template + struct.pack("<I", 1) + struct.pack("<HBB", len(value), 0x21, 0) + value
    size = 24 + len(top) + 4
    record = b"**\x00\x00" + struct.pack("<IQQ", size, 1, 132000000000000000) + top + struct.pack("<I", size)
    chunk = bytearray(CHUNK)
    chunk[:8] = b"ElfChnk\x00"
    struct.pack_into("<I", chunk, 0x30, rec + len(record))
    chunk[rec : rec + len(record)] = record
    return b"ElfFile\x00" + bytes(HEADER - 8) + bytes(chunk)


def test_record_reusing_its_template_in_nested_values_is_refused_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "exploding.evtx"
    path.write_bytes(exploding_log(22))  # 4 million copies: minutes, before the bound
    got = json.loads(run_child(LOAD, str(path), timeout=30))
    assert got["events"] == 0
    [(chunk, offset, filetime)] = got["issues"]
    assert (chunk, offset, filetime) == (0, HEADER + 0x200, 132000000000000000)


def _template_with_references(entity: str) -> tuple[bytes, int]:
    """A chunk-like buffer holding one template: <E a="x&{entity};y">1&{entity};&#x41;</E>,
    names stored inline; returns (buffer, template offset)."""

    def name(text: str) -> bytes:
        return struct.pack("<IHH", 0, 0, len(text)) + text.encode("utf-16-le") + b"\x00\x00"

    def value(text: str) -> bytes:
        return b"\x05\x01" + struct.pack("<H", len(text)) + text.encode("utf-16-le")

    tpl = 0x100
    body = bytearray(b"\x0f\x01\x01\x00")
    at = tpl + 0x18 + len(body)
    body += b"\x41\xff\xff" + struct.pack("<II", 0, at + 15) + struct.pack("<I", 0) + name("E")
    body += b"\x06" + struct.pack("<I", tpl + 0x18 + len(body) + 5) + name("a")
    body += value("x") + b"\x09" + struct.pack("<I", tpl + 0x18 + len(body) + len(value("x")) + 5) + name(entity)
    body += value("y") + b"\x02" + value("1")
    body += b"\x09" + struct.pack("<I", tpl + 0x18 + len(body) + 5) + name(entity)
    body += b"\x08\x41\x00" + b"\x04\x00"
    buf = bytearray(0x1000)
    buf[tpl : tpl + 0x18] = struct.pack("<I", 0) + bytes(16) + struct.pack("<I", len(body))
    buf[tpl + 0x18 : tpl + 0x18 + len(body)] = body
    return bytes(buf), tpl


def test_entity_and_character_references_in_templates() -> None:
    from parsers.evtx.template_key import template_key
    from parsers.evtx.templates import Elem, parse_template

    buf, tpl = _template_with_references("amp")
    [elem] = [item for item in parse_template(buf, tpl) if isinstance(item, Elem)]
    assert elem.name == "E"
    assert elem.attrs == [("a", ["x", "&", "y"])]
    assert "".join(str(p) for p in elem.content) == "1&A"
    # templates that differ only by an entity never share a compiled shape
    other, _ = _template_with_references("lt")
    assert template_key(buf, tpl) != template_key(other, tpl)
    [lt] = [item for item in parse_template(other, tpl) if isinstance(item, Elem)]
    assert "".join(str(p) for p in lt.content) == "1<A"


SHRINK = """
import json, os, shutil, sys
from core.model.event import ParseIssue
from parsers import evtx
path, keep = sys.argv[1], int(sys.argv[2])
out = {}
items = evtx.iter_events(path, 0, jobs=1)  # in this process
first = next(items)
os.truncate(path, keep)  # the log shrinks while it is read (rotated, rewritten, hostile)
rest = [first, *items]
out["inline"] = [len(rest), sum(isinstance(i, ParseIssue) and "shrank" in i.reason for i in rest)]
shutil.copy(sys.argv[3], path)
evtx._mapped(path)  # a worker's image of the file, then the file shrinks before its task
os.truncate(path, keep)
batch = evtx.encode_range(path, 0, 0, 1000)
out["worker"] = [len(batch.rows), sum("shrank" in i.reason for i in batch.issues)]
print(json.dumps(out))
"""


def test_a_log_that_shrinks_while_it_is_read_costs_its_chunks_not_the_process(tmp_path: Path) -> None:
    """The file was mapped: a read past its new end killed the process with SIGBUS (exit -7),
    the app with it. Each chunk is now read into memory of our own: the chunks the file no longer
    holds are parse issues saying so, the others decode."""
    source = sample(SECURITY)
    chunks = (source.stat().st_size - HEADER) // 65536
    assert chunks >= 3
    path = tmp_path / "shrinking.evtx"
    path.write_bytes(source.read_bytes())
    keep = HEADER + 65536 + 1000  # the first chunk whole, the second in part
    got = json.loads(run_child(SHRINK, str(path), str(keep), str(source)))
    first_chunk = [i for i in evtx.iter_events(str(source), 0, jobs=1)
                   if not isinstance(i, ParseIssue) and i.locator is not None and i.locator < HEADER + 65536]
    assert got["inline"] == [len(first_chunk) + chunks - 1, chunks - 1]
    assert got["worker"] == [len(first_chunk), chunks - 1]
