"""EVTX value types: arrays render as their items joined with commas, and a bad value costs only
itself (a stand-in showing its bytes, and the record's parse issue naming it).

The logs are built here (`build_log`): one chunk of records, each with its own resident
template `<Event><System><EventID/><Computer/></System><EventData><Data Name=".."/>`, whose
Data holds substitution 2 (`repeat` times: the expansion tests use it).
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.parsers.evtx_value_logs import FILETIME, Value, build_log, load

SID_SYSTEM = b"\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00"
SID_ADMINS = b"\x01\x02\x00\x00\x00\x00\x00\x05\x20\x00\x00\x00\x20\x02\x00\x00"
GUID = bytes(range(16))

ARRAYS: list[tuple[str, Value, str]] = [
    ("int8", (0x83, b"\xff\x02"), "-1,2"),
    ("uint8", (0x84, b"\x01\x02"), "1,2"),
    ("int16", (0x85, struct.pack("<2h", -3, 4)), "-3,4"),
    ("uint16", (0x86, struct.pack("<2H", 1, 65535)), "1,65535"),
    ("int32", (0x87, struct.pack("<2i", -7, 8)), "-7,8"),
    ("uint32", (0x88, struct.pack("<3I", 7, 8, 9)), "7,8,9"),
    ("int64", (0x89, struct.pack("<q", -9)), "-9"),
    ("uint64", (0x8A, struct.pack("<2Q", 7, 2**64 - 1)), f"7,{2**64 - 1}"),
    ("real32", (0x8B, struct.pack("<2f", 1.5, -2.0)), "1.5,-2.0"),
    ("real64", (0x8C, struct.pack("<d", 0.25)), "0.25"),
    ("bool", (0x8D, struct.pack("<2I", 1, 0)), "True,False"),
    ("guid", (0x8F, GUID * 2), ",".join(["{03020100-0504-0706-0809-0a0b0c0d0e0f}"] * 2)),
    ("sizet", (0x90, struct.pack("<2Q", 3, 4)), "3,4"),
    ("filetime", (0x91, struct.pack("<Q", FILETIME)), "2019-04-17 18:40:00+00:00"),
    ("systemtime", (0x92, struct.pack("<8H", 2024, 2, 0, 29, 13, 14, 15, 0)), "2024-02-29 13:14:15"),
    ("sid", (0x93, SID_SYSTEM + SID_ADMINS), "S-1-5-18,S-1-5-32-544"),
    ("hex32", (0x94, struct.pack("<2I", 7, 0xC8C)), "0x00000007,0x00000c8c"),
    ("hex64", (0x95, struct.pack("<Q", 9)), "0x0000000000000009"),
    ("ansi", (0x82, b"ab\x00cd\x00"), "<string>ab</string>\n<string>cd</string>\n"),
    ("empty", (0x88, b""), ""),
]


def test_every_array_type_is_kept_and_rendered_as_its_items(tmp_path: Path) -> None:
    path = tmp_path / "arrays.evtx"
    path.write_bytes(build_log([[(name, value) for name, value, _ in ARRAYS]]))
    events, issues = load(path)
    assert issues == []
    assert [e.data for e in events] == [((name, shown),) for name, _, shown in ARRAYS]
    assert {e.event_id for e in events} == {4688}


BAD: list[tuple[str, Value, str, str]] = [
    ("guid5", (0x0F, b"12345"), "[bad GUID value, 5 bytes: 3132333435]", "substitution size 5 for a 16-byte value"),
    ("guid0", (0x0F, b""), "[bad GUID value, 0 bytes: ]", "substitution size 0"),
    ("sid255", (0x13, b"\x01\xff\x00\x00\x00\x00\x00\x05"), "[bad SID value, 8 bytes: 01ff000000000005]",
     "SID of 255 sub-authorities in 8 bytes"),
    ("sidcut", (0x13, b"\x01\x05"), "[bad SID value, 2 bytes: 0105]", "SID"),
    ("month13", (0x12, struct.pack("<8H", 2024, 13, 0, 1, 0, 0, 0, 0)),
     "[bad SYSTEMTIME value, 16 bytes: e8070d00000001000000000000000000]", "invalid SYSTEMTIME"),
    ("hex64of2", (0x15, b"\x01\x02"), "[bad hex64 value, 2 bytes: 0102]", "substitution size 2 for an 8-byte value"),
    ("u32of3", (0x08, b"\x01\x02\x03"), "[bad uint32 value, 3 bytes: 010203]", "substitution size 3"),
    ("type30", (0x30, b"abcd"), "[bad type 0x30 value, 4 bytes: 61626364]", "unknown value type 0x30"),
    ("u16odd", (0x86, b"\x01\x00\x02"), "[bad uint16 array value, 3 bytes: 010002]", "not a whole number"),
]


def test_a_bad_value_costs_only_itself(tmp_path: Path) -> None:
    good = ("fine", (0x01, "ok".encode("utf-16-le")))
    path = tmp_path / "bad.evtx"
    path.write_bytes(build_log([[good, *((name, value) for name, value, _, _ in BAD), good]]))
    events, _ = load(path)
    assert len(events) == 2 + len(BAD)  # every record kept, EventID and computer included
    kept = [((name, shown),) for name, _, shown, _ in BAD]
    assert [e.data for e in events] == [(("fine", "ok"),), *kept, (("fine", "ok"),)]
    assert {(e.event_id, e.computer) for e in events} == {(4688, "HOST")}
    big = (0x0F, bytes(100))  # a stand-in shows the first bytes only
    path.write_bytes(build_log([[("big", big)]]))
    [event], _ = load(path)
    assert event.data == (("big", f"[bad GUID value, 100 bytes: {'00' * 32}...]"),)


def test_a_bad_value_is_a_parse_issue_naming_it(tmp_path: Path) -> None:
    """Needs the chunk decoder to report `values.value_notes` (parsers/evtx/decoder.py)."""
    good = ("fine", (0x01, "ok".encode("utf-16-le")))
    path = tmp_path / "bad.evtx"
    path.write_bytes(build_log([[good, *((name, value) for name, value, _, _ in BAD), good]]))
    events, issues = load(path)
    assert len(events) == 2 + len(BAD)
    assert len(issues) == len(BAD)
    for issue, (name, _, _, why) in zip(issues, BAD, strict=True):
        assert issue.reason.startswith(f"bad value kept as a stand-in: {name}: substitution 2 ("), issue.reason
        assert why in issue.reason
    assert [i.offset for i in issues] == [e.locator for e in events[1:-1]]
