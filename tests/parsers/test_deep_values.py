"""A value nested too deep costs that value, never its record (probe finding 8).

A 4688 whose field `X` held an array 1,500 deep failed on the recursion limit (JSON lines), and
an Event XML `<Data>` holding elements past lxml's depth limit (256) failed with "Excessive
depth": both were counted as issues, but the event, its NewProcessName and CommandLine with it,
was lost. Now the event is kept with its other fields exact, the over-deep value is replaced
by a stand-in that says so, and a parse issue names the field.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from core.model.event import Event, ParseIssue
from parsers import jsonrecords, xml_depth
from parsers.registry import iter_input
from tests.parsers.xml_events import split, xml_event

JSON_STAND_IN = "[value nested deeper than 100 levels: not read]"
CMD = 'cmd.exe /c "echo [[{x}]]"'  # brackets in a string are not nesting


def _load(path: Path) -> tuple[list[Event], list[ParseIssue]]:
    return split(iter_input(str(path)))


def _by_rid(events: list[Event]) -> dict[int | None, Event]:
    return {e.record_id: e for e in events}


def _flat(rid: int, **extra: object) -> str:
    record = {"EventID": 4688, "EventRecordID": rid, "Computer": "WS01", "TimeCreated": "2024-03-14T08:00:01Z",
              "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": CMD}
    return json.dumps({**record, **extra})


def _deep_json(depth: int, value: str = "[") -> str:
    close = {"[": "]", '{"a":': "}"}[value]
    return value * depth + ("1" if value != "[" else "") + close * depth


def _json_lines(deep_line: str) -> str:
    return "\n".join([_flat(1), deep_line, _flat(3)]) + "\n"


def _check_json_kept(events: list[Event], issues: list[ParseIssue], field: str = "X") -> Event:
    assert [e.record_id for e in events] == [1, 2, 3]
    event = _by_rid(events)[2]
    data = dict(event.data)
    assert event.event_id == 4688 and event.computer == "WS01" and event.filetime is not None
    assert data["NewProcessName"] == "C:\\Windows\\System32\\cmd.exe"
    assert data["CommandLine"] == CMD
    assert data["Y"] == "after"
    assert [i.offset for i in issues] == [2]
    assert f"record 2: value nested deeper than 100 levels in {field}; not read" in issues[0].reason
    return event


def test_json_line_with_an_array_1500_deep_keeps_the_record(tmp_path: Path) -> None:
    deep = _flat(2)[:-1] + ', "X": ' + _deep_json(1500) + ', "Y": "after"}'
    path = tmp_path / "deep.jsonl"
    path.write_text(_json_lines(deep))
    events, issues = _load(path)
    event = _check_json_kept(events, issues)
    assert dict(event.data)["X"] == JSON_STAND_IN
    assert [k for k, _ in event.data] == ["NewProcessName", "CommandLine", "X", "Y"]  # order kept


def test_json_200000_deep_in_an_array_file_keeps_the_record(tmp_path: Path) -> None:
    deep = _flat(2)[:-1] + ', "X": ' + _deep_json(200_000) + ', "Y": "after"}'
    path = tmp_path / "deep.json"
    path.write_text("[" + ",\n".join([_flat(1), deep, _flat(3)]) + "]")
    events, issues = _load(path)
    assert dict(_check_json_kept(events, issues).data)["X"] == JSON_STAND_IN


def test_json_deep_array_element_is_delimited_by_its_brackets(tmp_path: Path) -> None:
    """`}, {` in its strings, deep inside or not, does not split the element (the best-effort
    resync after a broken element would)."""
    deep = _flat(2)[:-1] + ', "X": ' + "[" * 1500 + '"}, {"' + "]" * 1500 + ', "Y": "after"}'
    path = tmp_path / "deep.json"
    path.write_text("[" + ",".join([_flat(1), deep, _flat(3)]) + "]")
    events, issues = _load(path)
    assert dict(_check_json_kept(events, issues).data)["X"] == JSON_STAND_IN


def test_json_nested_objects_keep_their_first_levels(tmp_path: Path) -> None:
    deep = _flat(2)[:-1] + ', "X": ' + _deep_json(3000, '{"a":') + ', "Y": "after"}'
    path = tmp_path / "deep.jsonl"
    path.write_text(_json_lines(deep))
    events, issues = _load(path)
    event = _check_json_kept(events, issues, "X.a.a.a.a")
    x = json.loads(dict(event.data)["X"])
    assert x == {"a": {"a": {"a": {"a": JSON_STAND_IN}}}}  # the value of the key at level 6 goes


def test_json_evtx_dump_layout_names_the_field_by_its_path(tmp_path: Path) -> None:
    deep = json.dumps({"Event": {"System": {"EventID": 4688, "EventRecordID": 2, "Computer": "WS01",
                                            "TimeCreated": {"#attributes": {"SystemTime": "2024-03-14T08:00:01Z"}}},
                                 "EventData": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                                               "CommandLine": CMD, "X": "@", "Y": "after"}}})
    deep = deep.replace('"@"', _deep_json(2000))
    path = tmp_path / "deep.jsonl"
    path.write_text(_json_lines(deep))
    events, issues = _load(path)
    assert dict(_check_json_kept(events, issues, "Event.EventData.X").data)["X"] == JSON_STAND_IN


def test_json_two_deep_fields_are_both_named(tmp_path: Path) -> None:
    deep = _flat(2)[:-1] + ', "X": ' + _deep_json(1500) + ', "Z": [1, ' + _deep_json(1200) + '], "Y": "after"}'
    path = tmp_path / "deep.jsonl"
    path.write_text(_json_lines(deep))
    events, issues = _load(path)
    data = dict(_check_json_kept(events, issues, "X, Z").data)
    assert data["X"] == JSON_STAND_IN
    assert data["Z"] == JSON_STAND_IN  # the whole value of its key


def test_json_deep_and_truncated_record_is_still_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(_json_lines(_flat(2)[:-1] + ', "X": ' + "[" * 1500))
    events, issues = _load(path)
    assert [e.record_id for e in events] == [1, 3]
    assert [i.offset for i in issues] == [2]
    assert "invalid JSON" in issues[0].reason


def test_cut_deep_leaves_ordinary_json_alone() -> None:
    assert jsonrecords.cut_deep(_flat(1)) is None
    assert jsonrecords.cut_deep('{"a": "' + "[" * 500 + '"}') is None  # brackets in a string
    text, names = jsonrecords.cut_deep("[" * 300 + "]" * 300) or ("", [])
    assert json.loads(text) == JSON_STAND_IN and names == ["(record)"]


# --------------------------------------------------------------------------- Event XML


def _xml_file(tmp_path: Path, deep_event: str) -> Path:
    path = tmp_path / "deep.xml"
    events = [xml_event(4688, 1, {"CommandLine": "one"}), deep_event, xml_event(4688, 3, {"CommandLine": "three"})]
    path.write_text("<Events>" + "".join(events) + "</Events>")
    return path


def _check_xml_kept(events: list[Event], issues: list[ParseIssue], field: str) -> dict[str, str]:
    assert [e.record_id for e in events] == [1, 2, 3]
    event = _by_rid(events)[2]
    assert event.event_id == 4688 and event.computer == "WS01" and event.filetime is not None
    assert event.channel == "Security" and event.pid == 4
    assert [i.offset for i in issues] == [2]
    assert f"event 2: value nested deeper than 100 levels in {field}; not read" in issues[0].reason
    return dict(event.data)


def _fields(deep: str) -> dict[str, str]:
    return {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "evil &amp; more", "X": deep,
            "Y": "after"}


def test_xml_data_nested_300_deep_keeps_the_event(tmp_path: Path) -> None:
    deep = "<x>" * 300 + "</x>" * 300
    events, issues = _load(_xml_file(tmp_path, xml_event(4688, 2, _fields(deep))))
    data = _check_xml_kept(events, issues, "X")
    assert data == {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "evil & more",
                    "X": xml_depth.DEEP_STAND_IN, "Y": "after"}


def test_xml_deep_value_keeps_its_text_beside(tmp_path: Path) -> None:
    deep = "pre<x a='&gt;'>" + "<x b='1'><!-- </x> -->" * 400 + "in" + "</x>" * 400 + "</x><e/>post"
    events, issues = _load(_xml_file(tmp_path, xml_event(4688, 2, _fields(deep))))
    assert _check_xml_kept(events, issues, "X")["X"] == "pre" + xml_depth.DEEP_STAND_IN + "post"


def test_xml_unnamed_data_and_control_characters(tmp_path: Path) -> None:
    event = xml_event(4688, 2, {"CommandLine": "a&#x1b;[31mb", "Y": "after"}).replace(
        "</EventData>", "<Data>u0</Data><Data>" + "<x>" * 500 + "</x>" * 500 + "</Data></EventData>")
    events, issues = _load(_xml_file(tmp_path, event))
    data = _check_xml_kept(events, issues, "Data[1]")
    assert data == {"CommandLine": "a\x1b[31mb", "Y": "after", "Data": "u0", "Data[1]": xml_depth.DEEP_STAND_IN}


def test_xml_user_data_field_is_named(tmp_path: Path) -> None:
    event = xml_event(4688, 2, {}).replace(
        "<EventData></EventData>",
        "<UserData><Inner><F>" + "<x>" * 300 + "</x>" * 300 + "</F><G>g</G></Inner></UserData>")
    events, issues = _load(_xml_file(tmp_path, event))
    assert _check_xml_kept(events, issues, "F") == {"F": xml_depth.DEEP_STAND_IN, "G": "g"}


def test_xml_deep_in_a_zip_member(tmp_path: Path) -> None:
    xml = _xml_file(tmp_path, xml_event(4688, 2, _fields("<x>" * 300 + "</x>" * 300)))
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(xml, "deep.xml")
    events, issues = _load(path)
    assert _check_xml_kept(events, issues, "X")["X"] == xml_depth.DEEP_STAND_IN


def test_xml_deep_and_unterminated_is_still_an_issue(tmp_path: Path) -> None:
    events, issues = _load(_xml_file(tmp_path, xml_event(4688, 2, _fields("<x>" * 300))))
    assert [e.record_id for e in events] == [1, 3]
    assert [i.offset for i in issues] == [2]


def test_xml_oversize_nested_event_is_skipped_and_the_next_loads(tmp_path: Path) -> None:
    n = 1_300_000  # over MAX_EVENT_CHARS: 9 MB of nested elements
    events, issues = _load(_xml_file(tmp_path, xml_event(4688, 2, _fields("<x>" * n + "</x>" * n))))
    assert [e.record_id for e in events] == [1, 3]
    assert [i.offset for i in issues] == [2] and "larger than" in issues[0].reason
