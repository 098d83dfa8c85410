"""A JSON value reads back as written, and nothing a record holds is lost silently (README,
"Inputs"): the JSON loader (`parsers.json_values`, `parsers.json_layouts`).

* A key repeated in an object kept only its last value, silently (`"D":"first","D":"second"`
  gave D=second). EventData keeps every value under the repeated name, as the XML loader does
  for a repeated `<Data Name="D">`; a repeated System key takes the last and names the others
  in a parse issue.
* Numbers were rewritten (`-0.0` -> 0, `1.10` -> 1.1, `1e5` -> 100000, `1.0000000000000001` ->
  1, `-0` -> 0): a value keeps the number's text; System integers are still read as numbers.
* A time text that reads as no time (`not a time`, year 10000, offset `+15:00`) left the event
  without a time and the text gone, with no parse issue: the text is kept as a field under its
  key and counted as a parse issue.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.model.event import Event, ParseIssue, parse_time
from core.query.compile import compile_query
from core.store.ingest import load_paths
from core.store.store import Store
from parsers.registry import iter_input
from tests.parsers.xml_events import split, xml_event

T1 = "2024-01-01T00:00:01Z"


def _load(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    return split(iter_input(str(path)))


def _flat(n: int, extra: str = "", time: str = T1) -> str:
    return f'{{"EventID": 4688, "TimeCreated": "{time}", "Computer": "WS01", "RecordNumber": {n}{extra}}}'


def _both(tmp_path: Path, lines: list[str]) -> list[Path]:
    """The records as JSON lines and as one JSON array (the array walk decodes them too)."""
    plain = tmp_path / "lines.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    array = tmp_path / "array.json"
    array.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    return [plain, array]


# --------------------------------------------------------------------------- repeated keys


def test_repeated_event_data_key_keeps_every_value_as_the_xml_loader_does(tmp_path: Path) -> None:
    for path in _both(tmp_path, [_flat(1, ', "D": "first", "S": "x", "D": "second"'), _flat(2, ', "D": "only"')]):
        events, issues = _load(path)
        assert issues == [], path
        assert events[0].data == (("D", "first"), ("S", "x"), ("D", "second")), path
        assert events[1].data == (("D", "only"),)
    xml = tmp_path / "same.xml"
    xml.write_text("<Events>" + xml_event(4688, 1, {}).replace(
        "<EventData></EventData>",
        "<EventData><Data Name='D'>first</Data><Data Name='S'>x</Data><Data Name='D'>second</Data></EventData>",
    ) + "</Events>")  # fmt: skip
    [from_xml], _ = _load(xml)
    assert from_xml.data == events[0].data  # one scheme: queries, stack and export treat them alike
    with Store(":memory:") as store:  # stored with both values, each found by a query
        load_paths([str(tmp_path / "lines.jsonl")], store)
        for query in ("D:first", "D:second"):
            assert [se.event.record_id for se in store.select(compile_query(query))] == [1], query


def test_repeated_keys_in_the_nested_layouts_keep_every_value(tmp_path: Path) -> None:
    dump = (
        '{"Event": {"System": {"EventID": 4688, "EventRecordID": 1, "TimeCreated": {"#attributes": '
        '{"SystemTime": "2024-01-01T00:00:01Z"}}}, "EventData": {"D": "a", "Data": "u0", "D": "b", "Data": "u1"}}}'
    )
    beat = (
        '{"@timestamp": "2024-01-01T00:00:01Z", "winlog": {"event_id": 4688, "record_id": 2, '
        '"event_data": {"D": "a", "D": "b"}}}'
    )
    dotted = (
        '{"@timestamp": "2024-01-01T00:00:01Z", "winlog.event_id": 4688, "winlog.record_id": 3, '
        '"winlog.event_data.D": "a", "winlog.event_data.S": "x", "winlog.event_data.D": "b"}'
    )
    merged = (
        '{"@timestamp": "2024-01-01T00:00:01Z", "winlog": {"event_id": 4688, "record_id": 4, '
        '"event_data": {"A": "1"}}, "winlog.event_data.B": "2"}'
    )  # (merged as before)
    nested = _flat(5, ', "Obj": {"k": 1, "k": 2, "n": {"z": "a", "z": "b"}}, "Arr": [{"k": 1, "k": 1.50}]')
    events, issues = _load(_both(tmp_path, [dump, beat, dotted, merged, nested])[0])
    assert issues == []
    assert [e.data for e in events] == [
        (("D", "a"), ("Data", "u0"), ("D", "b"), ("Data[1]", "u1")),
        (("D", "a"), ("D", "b")),
        (("D", "a"), ("S", "x"), ("D", "b")),
        (("A", "1"), ("B", "2")),
        (("Obj", '{"k":1,"k":2,"n":{"z":"a","z":"b"}}'), ("Arr", '[{"k":1,"k":1.50}]')),
    ]
    assert [e.record_id for e in events] == [1, 2, 3, 4, 5]


def test_repeated_system_key_uses_the_last_value_and_names_the_others(tmp_path: Path) -> None:
    lines = [
        _flat(1, ', "Computer": "WS02", "S": "x"'),  # Computer WS01, then WS02
        _flat(2, ', "Computer": "WS01"'),  # the same value twice: nothing lost
        '{"Event": {"System": {"EventID": 4688, "EventRecordID": 3, "Computer": "A", "Computer": "B"}, '
        '"EventData": {"S": "y"}}}',
    ]
    for path in _both(tmp_path, lines):
        events, issues = _load(path)
        assert [(e.computer, e.data) for e in events] == [
            ("WS02", (("S", "x"),)), ("WS01", ()), ("B", (("S", "y"),)),
        ], path  # fmt: skip
        assert [(i.offset, i.reason) for i in issues] == [
            (1, "record 1: key repeated with other values, the last one used: Computer = 'WS01', 'WS02'"),
            (3, "record 3: key repeated with other values, the last one used: Event.System.Computer = 'A', 'B'"),
        ], path


# --------------------------------------------------------------------------- numbers


NUMBERS = ["-0.0", "1.10", "1e5", "1E+2", "0.1", "100000000000000000000.0", "1.0000000000000001", "-0", "2.50",
           "5e-324", "1e400", "-1e999", "12345678901234567890123", "0", "-7"]  # fmt: skip


def test_numbers_read_back_as_written(tmp_path: Path) -> None:
    body = "".join(f', "N{i}": {n}' for i, n in enumerate(NUMBERS))
    nested = ', "List": [-0, 1.10, {"x": -0.0, "y": 1e5}], "Obj": {"a": -0}'
    expected = (
        *((f"N{i}", n) for i, n in enumerate(NUMBERS)),
        ("List", '[-0,1.10,{"x":-0.0,"y":1e5}]'),
        ("Obj", '{"a":-0}'),
    )
    for path in _both(tmp_path, [_flat(7, body + nested)]):
        [event], issues = _load(path)
        assert issues == [] and event.data == expected, path
        assert event.record_id == 7 and event.event_id == 4688  # System numbers are still numbers
    with Store(":memory:") as store:  # stored and read back, found by their text
        load_paths([str(tmp_path / "lines.jsonl")], store)
        [stored] = [se.event for se in store.select(compile_query('N1:"1.10"'))]
        assert stored.data == expected


def test_system_numbers_are_still_read_as_numbers(tmp_path: Path) -> None:
    flat = (
        '{"EventID": 4624, "TimeCreated": "2024-01-01T00:00:01Z", "Hostname": "WS01", "RecordNumber": 12, '
        '"ExecutionProcessID": 640, "ExecutionThreadID": 88, "Level": 0, "Task": 12544, '
        '"Keywords": -9214364837600034816, '
        '"ProcessID": 4, "ProcessId": "0x280", "Version": 2}'
    )
    [event], issues = _load(_both(tmp_path, [flat])[0])
    assert issues == []
    assert (event.event_id, event.record_id, event.pid, event.tid, event.level, event.task, event.version) == (
        4624, 12, 640, 88, 0, 12544, 2
    )  # fmt: skip
    assert event.keywords == "0x8020000000000000" and event.data == (("ProcessId", "0x280"),)


# --------------------------------------------------------------------------- times


BAD_TIMES = [
    ("not a time", "not a time"),
    ("10000-01-01T00:00:00Z", "not a time"),
    ("2024-01-01T00:00:09+15:00", "offset +15:00 beyond ±14:00"),
    ("2024-02-30T00:00:00Z", "day is out of range for month"),
    ("1600-12-31T23:59:59Z", "before 1601"),
]


def test_unreadable_time_is_kept_as_a_field_and_counted(tmp_path: Path) -> None:
    lines = [_flat(i, ', "S": "v"', time=text) for i, (text, _) in enumerate(BAD_TIMES, 1)]
    lines.append(_flat(9, ', "S": "zero"', time="1601-01-01T00:00:00Z"))  # Windows' "no time": no issue
    lines.append(_flat(10, ', "S": "ok"'))
    for path in _both(tmp_path, lines):
        events, issues = _load(path)
        assert [e.filetime for e in events] == [None] * 6 + [parse_time(T1)], path
        assert [e.data for e in events] == [
            *((("TimeCreated", text), ("S", "v")) for text, _ in BAD_TIMES),
            (("S", "zero"),), (("S", "ok"),),
        ]  # fmt: skip
        assert [(i.offset, i.reason) for i in issues] == [
            (n, f"record {n}: unreadable time TimeCreated={text!r} ({why}); kept as the field TimeCreated")
            for n, (text, why) in enumerate(BAD_TIMES, 1)
        ]
    with Store(":memory:") as store:  # counted for `stats`, and found by a query
        [info] = load_paths([str(tmp_path / "lines.jsonl")], store)
        assert info.records == 7 and store.sources()[0].parse_issues == len(BAD_TIMES)
        [found] = [se.event for se in store.select(compile_query('TimeCreated:"not a time"'))]
        assert found.record_id == 1


def test_unreadable_time_in_the_other_layouts(tmp_path: Path) -> None:
    dump = (
        '{"Event": {"System": {"EventID": 4688, "EventRecordID": 1, "TimeCreated": {"#attributes": '
        '{"SystemTime": "2024-13-01T00:00:00Z"}}}, "EventData": {"S": "a"}}}'
    )
    beat = (
        '{"@timestamp": "yesterday", "event": {"created": "2024-01-01T00:00:01Z"}, '
        '"winlog": {"event_id": 4688, "record_id": 2, "event_data": {"S": "b"}}}'
    )
    nxlog = (
        '{"EventID": 4688, "RecordNumber": 3, "Hostname": "WS01", "TimeCreated": "garbage", '
        '"EventTime": "2024-01-01 00:00:01", "S": "c"}'
    )  # (the time from EventTime)
    events, issues = _load(_both(tmp_path, [dump, beat, nxlog])[0])
    assert [(e.filetime, e.data) for e in events] == [
        (None, (("S", "a"), ("TimeCreated", "2024-13-01T00:00:00Z"))),
        (parse_time(T1), (("S", "b"), ("@timestamp", "yesterday"))),
        (parse_time(T1), (("TimeCreated", "garbage"), ("S", "c"))),
    ]
    assert [i.reason for i in issues] == [
        "record 1: unreadable time TimeCreated='2024-13-01T00:00:00Z' (month must be in 1..12); "
        "kept as the field TimeCreated",
        "record 2: unreadable time @timestamp='yesterday' (not a time); kept as the field @timestamp",
        "record 3: unreadable time TimeCreated='garbage' (not a time); kept as the field TimeCreated",
    ]


def test_raw_record_still_shows_the_file_as_written(tmp_path: Path) -> None:
    """The detail pane's raw record is the line itself: repeated keys and numbers as written."""
    from parsers.registry import raw_text

    line = _flat(1, ', "D": "first", "D": "second", "N": 1.10')
    path = tmp_path / "raw.jsonl"
    path.write_text(line + "\n")
    assert raw_text(str(path), "jsonl", 1) == line
    assert json.loads(raw_text(str(path), "jsonl", 1))["N"] == 1.1  # (plain json, for contrast)
