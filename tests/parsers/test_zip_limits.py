"""A zip costs bounded work, reads each byte once, and a damaged member costs only itself.

* Overlapping entries: a central directory may list many entries over the same bytes; Python's
  zipfile (3.11) reads each, so a 100 KB zip cost a minute and reported each event ten times.
* Compression ratio: what a zip's members decompress to is capped relative to its size.
* A corrupt deflate or LZMA stream raised zlib.error / LZMAError, which lost the whole zip; a
  bzip2 one (OSError) lost the positions of the records after it, so the detail pane showed
  another record than the one loaded.
"""

from __future__ import annotations

import json
import random
import struct
import zipfile
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from parsers import zip_members
from parsers.jsonrecords import records
from parsers.registry import iter_input, raw_text
from tests.parsers.xml_events import split


def _line(n: int, member: str = "a") -> str:
    return json.dumps({"EventID": 4688, "Computer": f"{member}{n}", "TimeCreated": "2020-01-01T00:00:00Z"})


def _lines(member: str, count: int) -> str:
    return "".join(_line(n, member) + "\n" for n in range(count))


def _central_directory(data: bytes) -> tuple[int, int]:
    """(size, offset) of a zip's central directory, from its end record."""
    size, offset = struct.unpack_from("<II", data, data.rfind(b"PK\x05\x06") + 12)
    return size, offset


def test_entries_over_the_same_local_header_are_read_once(tmp_path: Path) -> None:
    small = tmp_path / "one.zip"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.jsonl", _lines("a", 3))
    data = small.read_bytes()
    size, offset = _central_directory(data)
    directory = data[offset : offset + size] * 50  # 50 entries, all pointing at offset 0
    bomb = tmp_path / "overlap.zip"
    bomb.write_bytes(data[:offset] + directory + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 50, 50, len(directory),
                                                                             offset, 0))  # fmt: skip
    events, issues = split(iter_input(str(bomb)))
    assert [e.computer for e in events] == ["a0", "a1", "a2"]  # not 150
    assert len(issues) == 49
    assert all(i.reason.startswith("a.jsonl: member skipped") and "overlapping" in i.reason for i in issues)


def test_an_entry_whose_data_runs_into_the_next_is_skipped(tmp_path: Path) -> None:
    """A stored member made to span the next one's header and data would read that data twice."""
    path = tmp_path / "span.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.jsonl", _lines("a", 2))
        zf.writestr("b.jsonl", _lines("b", 2))
    data = bytearray(path.read_bytes())
    _, offset = _central_directory(bytes(data))
    span = offset - 30 - len("a.jsonl")  # a's data now reaches the central directory
    struct.pack_into("<II", data, offset + 20, span, span)  # a's central entry: sizes
    struct.pack_into("<II", data, 18, span, span)  # a's local header: sizes
    path.write_bytes(bytes(data))
    items = list(iter_input(str(path)))
    events = [e.computer for e in items if isinstance(e, Event)]
    assert events == ["b0", "b1"]  # b's records once, not also as lines of a
    [issue] = [i for i in items if isinstance(i, ParseIssue)]
    assert issue.reason.startswith("a.jsonl: member skipped") and "runs into the next entry" in issue.reason


def test_decompressed_size_is_capped_relative_to_the_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zip_members, "MIN_ZIP_ALLOWANCE", 1 << 20)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("a.jsonl", _lines("a", 5))
        zf.writestr("b.jsonl", _lines("b", 2) + "\n" * (8 << 20) + _lines("z", 1))  # ~8 KB compressed
        zf.writestr("c.jsonl", _lines("c", 5))
    assert path.stat().st_size * zip_members.MAX_ZIP_RATIO < 8 << 20
    events, issues = split(iter_input(str(path)))
    assert [e.computer for e in events] == ["a0", "a1", "a2", "a3", "a4", "b0", "b1"]
    [issue] = issues
    assert issue.reason.startswith("b.jsonl: read in part, and the 1 member(s) after it not at all")
    assert f"more than {zip_members.MAX_ZIP_RATIO} times its size (or 1 MiB for a small zip)" in issue.reason
    assert "Extract the zip to read them" in issue.reason


def _corrupt_member(path: Path, index: int, at: float) -> None:
    """Flip bytes of member `index`'s compressed data from fraction `at` of it on."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[index]
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    first = start + int(info.compress_size * at)
    for k in range(first, min(first + 180, start + info.compress_size - 8), 3):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_a_corrupt_member_costs_only_itself(tmp_path: Path, method: int) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("a.jsonl", _lines("a", 50))
        zf.writestr("b.jsonl", _lines("b", 5000))
        zf.writestr("c.jsonl", _lines("c", 50))
    _corrupt_member(path, 1, 0.0)
    events, issues = split(iter_input(str(path)))
    assert [e.computer for e in events] == [f"a{n}" for n in range(50)] + [f"c{n}" for n in range(50)]
    assert len(issues) == 1 and issues[0].reason.startswith("b.jsonl: ")


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_records_before_the_damage_are_kept_and_positions_go_on(tmp_path: Path, method: int) -> None:
    path = tmp_path / "late.zip"
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("a.jsonl", _lines("a", 50))
        zf.writestr("b.jsonl", _lines("b", 20000))  # damaged near its end: its first records are read
        zf.writestr("c.jsonl", _lines("c", 50))
    _corrupt_member(path, 1, 0.9)
    events, issues = split(iter_input(str(path)))
    names = [e.computer for e in events]
    assert names[:50] == [f"a{n}" for n in range(50)] and names[-50:] == [f"c{n}" for n in range(50)]
    from_b = names[50:-50]
    assert from_b[:1000] == [f"b{n}" for n in range(1000)] and len(from_b) < 20000
    assert any(i.reason.startswith("b.jsonl: damaged zip member") for i in issues)
    positions = [e.locator for e in events]
    assert len(set(positions)) == len(positions)  # no position given twice
    c0 = events[-50]
    assert c0.locator is not None and json.loads(raw_text(str(path), "zip", c0.locator))["Computer"] == "c0"


def test_runs_of_blank_lines_are_skipped_whole_and_positions_kept() -> None:
    """A zip of newlines (1 GiB in 1 MB) cost a Python step per line; runs are now dropped in
    one regex pass. The records, and so their positions, are what a plain split gives."""
    rnd = random.Random(7)
    pieces = []
    for n in range(3000):
        pieces.append(rnd.choice(["\n", "\r\n", "\n\n\n", "\n  \t\n", "\r\n\r\n \n"]) * rnd.randrange(1, 4))
        pieces.append(" " * rnd.randrange(0, 2) + _line(n) + rnd.choice(["", " ", "\r"]))
    text = "".join(pieces)
    expected = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    for size in (7, 64, 4096):  # chunk edges inside runs, lines and CRLFs
        chunks = iter([text[i : i + size] for i in range(0, len(text), size)])
        assert list(records(chunks)) == expected, size
