"""Chunks off the 64 KiB grid (a carved or concatenated file) are found and read.

Why: readers look for chunks every 64 KiB after the file header. Bytes before a run of chunks
(another file's tail, a partial chunk, padding) shift every chunk after them off that grid, and
their records were all lost, one "bad chunk signature; chunk skipped" a slot. Now a grid
position that holds no chunk has its slot searched for one (`parsers.evtx.grid`), read with an
issue naming its offset; a normal log's slots are never searched, and a damaged chunk between
two intact ones is read as before.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from parsers.evtx import grid, reference
from parsers.evtx.reference import CHUNK_SIZE, FILE_HEADER_SIZE, record_xml
from tests.parsers.evtx_logs import build_log, chunk, event_values, split, wide


def _chunks(count: int, per: int = 3) -> list[bytes]:
    """`count` chunks of `per` records each, their CommandLine naming chunk and record."""
    return [chunk([event_values(data=wide(f"c{k}r{n}")) for n in range(per)], first=1 + per * k)
            for k in range(count)]


def _texts(events: list[Event]) -> list[str]:
    return [dict(e.data)["CommandLine"] for e in events]


def _log(path: Path, body: bytes) -> Path:
    """A file header (of a one-chunk log), then `body`."""
    head = build_log(path, [bytes(CHUNK_SIZE)]).read_bytes()[:FILE_HEADER_SIZE]
    path.write_bytes(head + body)
    return path


def _off_grid(issues: list[ParseIssue]) -> list[int | None]:
    return [i.offset for i in issues if i.reason.startswith("chunk off the 64 KiB grid at offset ")]


def test_chunks_after_bytes_that_shift_them_are_read(tmp_path: Path) -> None:
    """A log, 1,000 bytes of another file, then two chunks more (each now across two slots)."""
    c = _chunks(3)
    path = _log(tmp_path / "cat.evtx", c[0] + b"\x11" * 1000 + c[1] + c[2])
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert _texts(events) == [f"c{k}r{n}" for k in range(3) for n in range(3)]
    shifted = [FILE_HEADER_SIZE + CHUNK_SIZE + 1000, FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 1000]
    assert _off_grid(issues) == shifted and len(issues) == 2
    assert f"offset {shifted[0]:#x} (1,000 bytes past its grid position" in issues[0].reason
    assert [i.chunk for i in issues] == [1, 2]
    # the record's offset is its place in the file, and the detail pane finds its chunk again
    event = events[4]
    assert event.locator is not None and shifted[0] < event.locator < shifted[1]
    assert ">c1r1<" in record_xml(str(path), event.locator)
    assert ">c1r1<" in evtx.raw_xml(str(path), event.locator)
    with Store(":memory:") as store:  # the ingest's rows (`encode_chunk`): the same
        [info] = load_paths([str(path)], store, jobs=1)
        assert info.records == 9 and [i.offset for i in info.parse_issues] == shifted


def test_a_carved_run_of_chunks_behind_junk_is_read(tmp_path: Path) -> None:
    """Junk right after the header (a carved file): every chunk is off the grid; the last
    slot, which starts inside the last chunk and holds nothing else, says nothing."""
    c = _chunks(3)
    path = _log(tmp_path / "carved.evtx", b"junk" * 1500 + c[0] + c[1] + c[2])
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert len(events) == 9 and len(_off_grid(issues)) == 3 == len(issues)


def test_workers_read_the_same_whatever_slots_each_gets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An off-grid chunk reaches into the next slot, which another worker may read: each
    slot's answer depends on its neighbours' bytes alone."""
    c = _chunks(6)
    path = _log(tmp_path / "cat.evtx", c[0] + b"\x22" * 40_000 + b"".join(c[1:]))
    inline = split(evtx.iter_events(str(path), 0, jobs=1))
    monkeypatch.setattr(evtx, "INLINE_BYTES", 0)
    monkeypatch.setattr(evtx, "GROUP_CHUNKS", 1)
    monkeypatch.setattr(evtx, "default_jobs", lambda: 2)
    parallel = split(evtx.iter_events(str(path), 0, jobs=2))
    assert parallel == inline and len(inline[0]) == 18 and len(_off_grid(inline[1])) == 5


def test_junk_after_the_last_off_grid_chunk_is_named(tmp_path: Path) -> None:
    c = _chunks(2)
    path = _log(tmp_path / "tail.evtx", c[0] + b"\x33" * 100 + c[1] + b"\x44" * 2000 + bytes(CHUNK_SIZE - 2100))
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert len(events) == 6
    end = FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 100
    assert [(i.offset, i.reason) for i in issues[1:]] == [
        (end, f"no chunk in the {CHUNK_SIZE - 100:,} bytes after the chunk at offset {end - CHUNK_SIZE:#x}; skipped")]


def test_a_normal_log_and_its_damaged_chunk_read_as_before(tmp_path: Path) -> None:
    """A chunk signature inside a record's data, or a damaged chunk between two intact ones
    holding one, is no chunk off the grid: its neighbours' grid positions hold signatures."""
    c = _chunks(3)
    damaged = bytearray(c[1])
    damaged[:8] = b"DAMAGED!"
    damaged[0xF000:0xF008] = b"ElfChnk\x00"  # (in its free space: a signature no one reads)
    c[1] = bytes(damaged)
    c.append(chunk([event_values(data=(0x0E, b"ElfChnk\x00" * 3))], first=10))  # a binary value
    path = _log(tmp_path / "normal.evtx", b"".join(c))
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert len(events) == 10
    assert [i.reason for i in issues] == ["chunk header damaged: bad chunk signature; its records read anyway"]


def test_a_slot_of_signatures_is_searched_a_bounded_number_of_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """4,000 signatures (no chunk behind any) before a chunk: the slot's search gives up after
    `MAX_CANDIDATES` of them (that chunk is lost), and the next slot's chunk is still found."""
    c = _chunks(3)
    path = _log(tmp_path / "many.evtx", c[0] + b"\x55" * 3 + b"ElfChnk\x00" * 4000 + c[1] + c[2])
    looked: list[int] = []
    real = reference.intact_record

    def counted(buf: object, ofs: int, end: int) -> int:
        looked.append(ofs)
        return real(buf, ofs, end)

    monkeypatch.setattr(grid, "intact_record", counted)
    started = time.process_time()
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert time.process_time() - started < 2
    assert _texts(events) == [f"c{k}r{n}" for k in (0, 2) for n in range(3)]
    assert grid.MAX_CANDIDATES <= len(looked) <= 3 * grid.MAX_CANDIDATES  # (slot 1, slot 2 and its look back)
    assert len(issues) == 2 and issues[0].reason == "bad chunk signature; chunk skipped"
    assert _off_grid(issues) == [FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 3 + 32_000]


def test_a_record_past_the_last_whole_slot_is_found_again(tmp_path: Path) -> None:
    """A chunk that starts near the end of the last whole slot ends past it, where no slot is:
    the detail pane still finds the chunk of its last records."""
    c = _chunks(1)
    path = _log(tmp_path / "late.evtx", b"\x66" * (CHUNK_SIZE - 0x300) + c[0])
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert _texts(events) == ["c0r0", "c0r1", "c0r2"] and len(issues) == 1
    last = events[-1].locator
    assert last is not None and last >= FILE_HEADER_SIZE + CHUNK_SIZE  # (past the last whole slot)
    assert ">c0r2<" in record_xml(str(path), last) and ">c0r2<" in evtx.raw_xml(str(path), last)
