"""Typed literal values in a template (a value token of another type than a string) cost only
themselves, never the record.

Why: Windows writes a template's literal values as strings, but the format lets a value token
carry any type, and python-evtx reads each with the type's length-less layout (a uint32 as its
four bytes, a string array after a 16-bit byte count). Our decoder read the scalars, but a
string array, a null, an array of another type or a value no renderer accepts (month 13) failed
the whole template: every record of it went to python-evtx, which lost those it could not read
either. Now each renders as python-evtx renders it, null as nothing, and the others are
stand-ins with a parse issue on every record of the shape (the template is parsed once per
process, so the note travels with its plan, not with the parse).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from parsers.evtx import reference as ref
from tests.parsers.evtx_literal_logs import literal_log, token, wide_literal
from tests.parsers.evtx_logs import TICKS, split
from tests.parsers.evtx_samples import fast_only

#: Value tokens python-evtx reads, by name: each must read the same through our decoder alone.
READ_BY_PYTHON_EVTX = {
    "int8": token(0x03, b"\xfe"),
    "uint8": token(0x04, b"\x07"),
    "int16": token(0x05, struct.pack("<h", -300)),
    "uint16": token(0x06, struct.pack("<H", 4688)),
    "int32": token(0x07, struct.pack("<i", -7)),
    "uint32": token(0x08, struct.pack("<I", 7)),
    "int64": token(0x09, struct.pack("<q", -5)),
    "uint64": token(0x0A, struct.pack("<Q", 1 << 40)),
    "real32": token(0x0B, struct.pack("<f", 1.5)),
    "real64": token(0x0C, struct.pack("<d", 2.25)),
    "bool": token(0x0D, struct.pack("<i", 1)),
    "binary": token(0x0E, struct.pack("<I", 3) + b"abc"),
    "GUID": token(0x0F, bytes(range(16))),
    "SizeT": token(0x10, struct.pack("<Q", 99)),
    "FILETIME": token(0x11, struct.pack("<Q", TICKS)),
    "SYSTEMTIME": token(0x12, struct.pack("<8H", 2020, 1, 3, 2, 4, 5, 6, 7)),
    "SID": token(0x13, bytes([1, 1, 0, 0, 0, 0, 0, 5]) + struct.pack("<I", 18)),
    "hex32": token(0x14, struct.pack("<I", 0xBEEF)),
    "hex64": token(0x15, struct.pack("<Q", 0xABC)),
    "ANSI string": token(0x02, struct.pack("<H", 3) + b"xyz"),
    "string array": token(0x81, struct.pack("<H", 8) + "a\0b\0".encode("utf-16-le")),
    "two values": token(0x08, struct.pack("<I", 7)) + wide_literal(" and ") + token(0x0D, struct.pack("<i", 0)),
}
#: A SYSTEMTIME of month 13: python-evtx raises on it (the record was lost).
BAD_TIME = token(0x12, struct.pack("<8H", 2020, 13, 3, 2, 4, 5, 6, 7))
#: An array of uint32 as a literal (python-evtx reads no such token), laid out as the string array.
U32_ARRAY = token(0x88, struct.pack("<HII", 8, 1, 2))


def _fast(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    """Our decoder alone (no python-evtx fallback)."""
    return split(fast_only(str(path)))


def _reference(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    return split(ref.iter_events(str(path), 0))


@pytest.mark.parametrize("name", sorted(READ_BY_PYTHON_EVTX))
def test_a_typed_literal_reads_as_python_evtx_reads_it(tmp_path: Path, name: str) -> None:
    path = literal_log(tmp_path / "t.evtx", [[READ_BY_PYTHON_EVTX[name]]])
    (mine,), issues = _fast(path)
    (theirs,), _ = _reference(path)
    assert not issues
    assert mine.data == theirs.data and mine.event_id == theirs.event_id == 4688


def test_a_typed_literal_as_an_attribute_reads_as_python_evtx_reads_it(tmp_path: Path) -> None:
    path = literal_log(tmp_path / "t.evtx", [[token(0x81, struct.pack("<H", 4) + "a\0".encode("utf-16-le"))]],
                       name=token(0x06, struct.pack("<H", 7)))
    (mine,), issues = _fast(path)
    (theirs,), _ = _reference(path)
    assert not issues
    assert mine.data == theirs.data == (("7", "<string>a</string>\n"),)


def test_a_null_literal_is_empty_text_where_python_evtx_loses_the_record(tmp_path: Path) -> None:
    path = literal_log(tmp_path / "t.evtx", [[wide_literal("a") + token(0x00, b"") + wide_literal("b")]])
    (event,), issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert not issues and event.data == (("CommandLine", "ab"),)
    assert _reference(path)[0] == []  # python-evtx fails on the null token


@pytest.mark.parametrize(("content", "what"), [
    (BAD_TIME, "(SYSTEMTIME, 16 bytes): invalid SYSTEMTIME"),
    (U32_ARRAY, "(uint32 array, 8 bytes): an array as a literal value"),
], ids=["month 13", "uint32 array"])
def test_a_bad_literal_is_a_stand_in_with_an_issue_on_every_record_of_its_shape(
        tmp_path: Path, content: bytes, what: str) -> None:
    """Two chunks of two records each, all of one template content (one compiled shape): each
    record is kept, with the stand-in, and each has its issue (not only the first one parsed)."""
    path = literal_log(tmp_path / "t.evtx", [[content, content], [content, content]])
    assert _reference(path)[0] == []  # python-evtx loses every one of them
    for events, issues in (split(evtx.iter_events(str(path), 0, jobs=1)), _fast(path)):
        assert [e.record_number for e in events] == [1, 2, 3, 4]
        assert all(dict(e.data)["CommandLine"].startswith("[bad ") for e in events)
        assert [i.offset for i in issues] == [e.locator for e in events]
        for issue in issues:
            assert issue.reason.startswith("bad value kept as a stand-in: literal value in <Data> ")
            assert what in issue.reason
    with Store(":memory:") as store:  # the ingest's rows: the same records and issues
        [info] = load_paths([str(path)], store, jobs=1)
        assert (info.records, len(info.parse_issues)) == (4, 4)


def test_a_bad_literal_name_is_a_stand_in_with_an_issue(tmp_path: Path) -> None:
    path = literal_log(tmp_path / "t.evtx", [[wide_literal("x")], [wide_literal("y")]], name=BAD_TIME)
    events, issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert [e.data[0][1] for e in events] == ["x", "y"]
    assert all(e.data[0][0].startswith("[bad SYSTEMTIME value, 16 bytes: ") for e in events)
    assert len(issues) == 2 and all("literal value in Name of <Data> (SYSTEMTIME" in i.reason for i in issues)


def test_a_bad_literal_no_field_shows_is_no_issue(tmp_path: Path) -> None:
    """A stand-in inside an element the event has no field for replaces nothing it shows."""
    path = literal_log(tmp_path / "t.evtx", [[wide_literal("x")]], extra=BAD_TIME)
    (event,), issues = split(evtx.iter_events(str(path), 0, jobs=1))
    assert not issues and event.data == (("CommandLine", "x"),)
