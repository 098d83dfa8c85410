"""Damaged EVTX headers cost no intact record, and say they are damaged.

Why: a hostile-input probe damaged a few header bytes of a real log (2,261 records):
* a chunk's free-space offset set to 0x200 (or short): the 83 records past it were dropped
  with no issue at all (python-evtx drops them too);
* a chunk's signature overwritten: the chunk (83 records) was skipped, python-evtx read it all;
* the file's signature overwritten: "not an event log", exit 1, while python-evtx read all.
Now records that continue the chunk's numbering past a short free-space offset are read, a
chunk whose signature alone is damaged (its first record intact) is read, and a file whose
signature alone is damaged (EVTX chunks follow its header) is read; each with one parse issue
saying which header was damaged. Records past a true free-space offset (stale ones of the
chunk's earlier life: real logs hold thousands) stay unread, and garbage stays refused.

Mutants of a log built here (`test_evtx_fallback_values.build_log`): 3 chunks of 40 records.
"""

from __future__ import annotations

import io
import struct
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cli.main import main
from core.model.event import InputError
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from parsers.sniff import detect_format
from tests.parsers.evtx_logs import CHUNK, HEADER, build_log, chunk, event_values, record, split, wide

PER_CHUNK = 40
TOTAL = 3 * PER_CHUNK
SECOND = HEADER + CHUNK  # the chunk the mutants damage


def _log(tmp_path: Path, name: str = "intact.evtx") -> bytearray:
    chunks = [
        chunk([event_values(4624 + c, wide(f"chunk {c} record {n}")) for n in range(PER_CHUNK)], 1 + c * PER_CHUNK)
        for c in range(3)
    ]
    return bytearray(build_log(tmp_path / name, chunks).read_bytes())


def _write(tmp_path: Path, name: str, data: bytearray) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def _load(path: Path) -> tuple[list[int], list[str]]:
    """Record numbers and issue reasons, from the event decoder and the store ingest alike."""
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    with Store(":memory:") as store:
        [info] = load_paths([str(path)], store, jobs=1)
        assert (info.records, [i.reason for i in info.parse_issues]) == (len(events), [i.reason for i in issues])
    return [e.record_number for e in events], [i.reason for i in issues]


def test_the_intact_log_reads_whole(tmp_path: Path) -> None:
    _log(tmp_path)
    numbers, reasons = _load(tmp_path / "intact.evtx")
    assert (numbers, reasons) == (list(range(1, TOTAL + 1)), [])


@pytest.mark.parametrize("free", [0x200, 0x400, 0x1000])
def test_records_past_a_short_free_space_offset_are_read_with_an_issue(tmp_path: Path, free: int) -> None:
    data = _log(tmp_path)
    struct.pack_into("<I", data, SECOND + 0x30, free)
    numbers, reasons = _load(_write(tmp_path, "free.evtx", data))
    assert numbers == list(range(1, TOTAL + 1))
    [reason] = reasons
    assert reason.startswith(f"chunk header damaged: its free-space offset 0x{free:x} ends before its records; ")
    assert reason.endswith(" more read past it")
    walked = int(reason.split("; ")[1].split()[0])
    assert 0 < walked <= PER_CHUNK and (free != 0x200 or walked == PER_CHUNK)


def test_stale_records_past_a_true_free_space_offset_stay_unread(tmp_path: Path) -> None:
    """A chunk reused by Windows holds records of its earlier life past its free-space offset:
    numbered lower than its own, they are not records of this log any more."""
    data = _log(tmp_path)
    free = struct.unpack_from("<I", data, SECOND + 0x30)[0]
    stale = record(free, 7, event_values(4688, wide("old")))  # numbered as a record long gone
    data[SECOND + free : SECOND + free + len(stale)] = stale
    numbers, reasons = _load(_write(tmp_path, "stale.evtx", data))
    assert (numbers, reasons) == (list(range(1, TOTAL + 1)), [])


def test_a_chunk_whose_signature_alone_is_damaged_is_read_with_an_issue(tmp_path: Path) -> None:
    data = _log(tmp_path)
    data[SECOND : SECOND + 8] = b"XXXXXXXX"
    numbers, reasons = _load(_write(tmp_path, "chunk_magic.evtx", data))
    assert numbers == list(range(1, TOTAL + 1))
    assert reasons == ["chunk header damaged: bad chunk signature; its records read anyway"]
    # a chunk of garbage (no intact record where the first belongs) is still skipped, once
    data[SECOND + 0x200 : SECOND + 0x204] = b"\xff" * 4
    numbers, reasons = _load(_write(tmp_path, "chunk_garbage.evtx", data))
    assert numbers == list(range(1, PER_CHUNK + 1)) + list(range(2 * PER_CHUNK + 1, TOTAL + 1))
    assert reasons == ["bad chunk signature; chunk skipped"]


def test_a_file_whose_signature_alone_is_damaged_is_read_with_an_issue(tmp_path: Path) -> None:
    data = _log(tmp_path)
    data[:8] = b"XXXXXXXX"
    path = _write(tmp_path, "file_magic.evtx", data)
    assert detect_format(str(path)) == "evtx"
    numbers, reasons = _load(path)
    assert numbers == list(range(1, TOTAL + 1))
    assert reasons == ["file header damaged: bad file signature; its chunks read anyway"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["stats", "--no-cache", "--issues", str(path)])
    assert status == 0, err.getvalue()
    assert f"format evtx, {TOTAL} records, 1 parse issue" in out.getvalue()
    assert "file header damaged: bad file signature; its chunks read anyway" in out.getvalue()
    # the first chunk damaged too: the chunks after it still say what the file is
    data[HEADER : HEADER + 8] = b"YYYYYYYY"
    assert detect_format(str(_write(tmp_path, "both.evtx", data))) == "evtx"


def test_a_file_without_evtx_chunks_is_still_refused(tmp_path: Path) -> None:
    data = _log(tmp_path)
    data[:8] = b"XXXXXXXX"
    for k in range(3):
        data[HEADER + k * CHUNK : HEADER + k * CHUNK + 8] = b"ZZZZZZZZ"
    path = _write(tmp_path, "not_evtx.bin", data)
    assert detect_format(str(path)) == "unknown"
    with pytest.raises(InputError, match="not an EVTX file"):
        list(evtx.iter_events(str(path), 0, jobs=1))
