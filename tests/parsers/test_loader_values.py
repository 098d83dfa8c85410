"""A bad value costs only itself, and a value the loader replaces or drops is counted (README,
"Inputs"): the JSON and Event XML loaders.

* A JSON integer of more than 4300 digits made json raise ("use sys.set_int_max_str_digits()"):
  the record was lost (in a JSON array, the whole input). It is kept as its digits.
* A float beyond the float range (`1e999`) was stored as "inf", one below it as "0": both are
  kept as written.
* An integer too long to hold in a System field (XML `<EventRecordID>` of 5000 digits) became
  None silently (the record id then fell back to the position): it is dropped and counted.
* Undecodable bytes became U+FFFD silently, and a JSON `\\u0000` was kept as NUL: both become
  U+FFFD and are counted, naming the field (a U+FFFD the log itself holds is not counted).
"""

from __future__ import annotations

import json
from pathlib import Path

from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers.registry import iter_input, raw_text
from tests.parsers.xml_events import split, xml_event

HUGE = "9" * 5000


def _record(n: int, extra: str = "") -> str:
    return f'{{"EventID": 4688, "Computer": "h1", "RecordNumber": {n}{extra}}}'


def _load(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    return split(iter_input(str(path)))


def test_huge_integer_in_event_data_is_kept_exactly(tmp_path: Path) -> None:
    lines = [_record(1), _record(2, f', "ProcessId": {HUGE}, "Neg": -{HUGE}, "List": [1, {HUGE}]'), _record(3)]
    plain = tmp_path / "big.jsonl"
    plain.write_text("\n".join(lines) + "\n")
    array = tmp_path / "big.json"
    array.write_text("[" + ",\n".join(lines) + "]")
    for path in (plain, array):
        events, issues = _load(path)
        assert issues == [] and [e.record_id for e in events] == [1, 2, 3], path
        assert events[1].data == (("ProcessId", HUGE), ("Neg", "-" + HUGE), ("List", f"[1,{HUGE}]"))


def test_float_out_of_range_is_kept_as_written(tmp_path: Path) -> None:
    long_float = "1" + "0" * 400 + ".5e5"
    path = tmp_path / "floats.jsonl"
    path.write_text(_record(1, f', "A": 1e999, "B": -1e999, "C": {long_float}, "D": 1e-999, "E": 2.5, "F": 1e3, '
                               '"G": NaN, "H": -Infinity, "I": {"x": 1e999}') + "\n")  # fmt: skip
    events, issues = _load(path)
    assert issues == []
    assert events[0].data == (
        ("A", "1e999"), ("B", "-1e999"), ("C", long_float), ("D", "1e-999"), ("E", "2.5"), ("F", "1e3"),
        ("G", "NaN"), ("H", "-Infinity"), ("I", '{"x":1e999}'),
    )  # fmt: skip


def test_integer_too_long_for_a_system_field_is_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "rid.jsonl"
    path.write_text(_record(1) + "\n" + f'{{"EventID": 4688, "RecordNumber": {HUGE}, "Computer": "h2"}}\n')
    events, issues = _load(path)
    assert [(e.computer, e.record_id) for e in events] == [("h1", 1), ("h2", None)]
    [issue] = issues
    assert issue.offset == 2 and issue.reason == "record 2: integer too long in record_id; dropped"
    xml = tmp_path / "rid.xml"
    huge_id = xml_event(4688, 8, {}).replace(">8<", f">{HUGE}<")
    xml.write_text("<Events>" + xml_event(4688, 7, {}) + huge_id + "</Events>")
    events, issues = _load(xml)
    assert [e.record_id for e in events] == [7, None]
    [issue] = issues
    assert issue.offset == 2 and issue.reason == "event 2: integer too long in record_id; dropped"
    with Store(":memory:") as store:  # stored: the record id falls back to the position, counted
        [info] = load_paths([str(xml)], store)
        assert info.records == 2 and store.sources()[0].parse_issues == 1


def test_undecodable_bytes_and_nul_become_u_fffd_and_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(
        (_record(1, ', "Ok": "fine \ufffd"') + "\n").encode()  # a U+FFFD the log holds: not counted
        + b'{"EventID": 4688, "Computer": "h\xff1", "RecordNumber": 2, "X": "a\\u0000b"}\n'
        + (_record(3, ', "K\\u0000": "v"') + "\n").encode()
    )
    events, issues = _load(path)
    assert [e.record_id for e in events] == [1, 2, 3]
    assert events[0].data == (("Ok", "fine \ufffd"),)
    assert events[1].computer == "h\ufffd1" and events[1].data == (("X", "a\ufffdb"),)
    assert events[2].data == (("K\ufffd", "v"),)
    assert [(i.offset, i.reason) for i in issues] == [
        (2, "record 2: invalid text (NUL, undecodable bytes) in computer, X; replaced with U+FFFD"),
        (3, "record 3: invalid text (NUL) in K\ufffd; replaced with U+FFFD"),
    ]
    xml = tmp_path / "bytes.xml"
    xml.write_bytes(("<Events>" + xml_event(4688, 1, {"A": "x@@y", "B": "\ufffd"}) + "</Events>").encode().replace(
        b"@@", b"\xff"
    ))  # fmt: skip
    events, issues = _load(xml)
    assert events[0].data == (("A", "x\ufffdy"), ("B", "\ufffd"))
    [issue] = issues
    assert issue.reason.startswith("event 1: invalid character")
    assert issue.reason.endswith(" in A; replaced with U+FFFD")


def test_raw_record_of_a_replaced_value_shows_what_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b'{"EventID": 1, "A": "x\xffy"}\n')
    assert json.loads(raw_text(str(path), "jsonl", 1)) == {"EventID": 1, "A": "x\ufffdy"}


def test_a_local_event_time_is_not_shifted_out_of_the_date_range(tmp_path: Path) -> None:
    """NXLog's local EventTime, moved by the offset between @timestamp and EventReceivedTime: at
    the end of year 9999 that move left the date range (a time no date shows)."""
    from core.model.event import time_in_range

    line = {"EventID": 4688, "Hostname": "h1", "EventTime": "9999-12-31 23:30:00",
            "@timestamp": "2020-01-01T02:00:00Z", "EventReceivedTime": "2020-01-01 00:00:00"}
    path = tmp_path / "nx.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    [event] = [e for e in iter_input(str(path), 0) if isinstance(e, Event)]
    assert event.filetime is not None and time_in_range(event.filetime)
