"""The Event XML and JSON loaders and format detection by content (the OTRF zips: test_otrf.py).

Small inputs are written by the tests themselves (tmp_path); the OTRF datasets come from
../shared/samples (skipped when absent, failing under CI=true).
"""

from __future__ import annotations

import json
import random
import shutil
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event, InputError, ParseIssue, iso_from_filetime, parse_time
from parsers import eventxml, jsonlines
from parsers.json_layouts import event_from_json
from parsers.registry import detect_format, iter_input, raw_text
from tests.parsers.xml_events import NS, split, xml_event
from tests.shared import manifest, sample


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- Event XML


def _streamed_events(items: Iterator[Event | ParseIssue]) -> int:
    """Count the events of a loader's stream, asserting it is a generator whose peak memory
    stays small (the inputs given are over 10 MB)."""
    assert isinstance(items, Iterator) and not isinstance(items, list)
    tracemalloc.start()
    try:
        n = sum(1 for item in items if isinstance(item, Event))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, peak
    return n


def test_event_viewer_save_as_xml(tmp_path: Path) -> None:
    body = "\n".join(
        xml_event(4688, 100 + i, {"NewProcessId": f"0x{i + 0x10:x}", "CommandLine": f"cmd{i}"}) for i in range(3)
    )
    path = write(tmp_path / "saved.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<Events>{body}</Events>')
    events, issues = split(iter_input(str(path), source=7))
    assert issues == []
    assert [e.record_id for e in events] == [100, 101, 102]
    assert [e.record_number for e in events] == [1, 2, 3] == [e.locator for e in events]
    first = events[0]
    assert first.source == 7 and first.event_id == 4688 and first.computer == "WS01"
    assert first.provider == "Microsoft-Windows-Security-Auditing" and first.channel == "Security"
    assert first.filetime == parse_time("2024-03-14T08:00:40.1234567Z")
    assert first.data == (("NewProcessId", "0x10"), ("CommandLine", "cmd0"))
    assert first.pid == 4 and first.tid == 88 and first.task == 13312 and first.version == 2


def test_wevtutil_output_utf16_without_root(tmp_path: Path) -> None:
    """wevtutil qe /f:xml: concatenated <Event> elements, no root; here UTF-16 with a BOM,
    non-ASCII text and RenderingInfo."""
    body = "".join(xml_event(4689, 7 + i, {"ProcessName": f"C:\\Users\\jürgen\\ä{i}.exe"}) for i in range(2))
    path = tmp_path / "wevtutil.txt"
    path.write_bytes(b"\xff\xfe" + body.encode("utf-16-le"))
    assert detect_format(str(path)) == "xml"
    events, issues = split(iter_input(str(path)))
    assert issues == []
    assert [e.get("ProcessName") for e in events] == ["C:\\Users\\jürgen\\ä0.exe", "C:\\Users\\jürgen\\ä1.exe"]
    assert eventxml.event_xml(str(path), 2).startswith("<Event") and "<EventRecordID>8<" in raw_text(
        str(path), "xml", 2
    )


def test_single_event_document(tmp_path: Path) -> None:
    path = write(tmp_path / "one.xml", '<?xml version="1.0"?>\n' + xml_event(4624, 5, {"LogonType": "10"}))
    (event,) = list(iter_input(str(path)))
    assert isinstance(event, Event) and event.event_id == 4624 and event.get("logontype") == "10"


def test_malformed_xml_event_costs_only_itself(tmp_path: Path) -> None:
    good1 = xml_event(4688, 1, {"A": "1"})
    bad = xml_event(4688, 2, {"A": "2"}).replace("</EventData>", "</EventDta>")
    no_system = f"<Event xmlns='{NS}'><EventData><Data Name='A'>3</Data></EventData></Event>"
    good2 = xml_event(4688, 4, {"A": "4"})
    truncated = xml_event(4688, 5, {"A": "5"})[:200]
    path = write(tmp_path / "mixed.xml", "<Events>" + good1 + bad + no_system + good2 + truncated)
    events, issues = split(iter_input(str(path)))
    assert [e.record_id for e in events] == [1, 4]
    assert [e.record_number for e in events] == [1, 4]
    assert [i.offset for i in issues] == [2, 3, 5]
    assert all(i.path == str(path) for i in issues)
    assert "event 2" in issues[0].reason and "invalid XML" in issues[0].reason
    assert "no <System>" in issues[1].reason
    assert "unterminated" in issues[2].reason


def test_control_characters_are_recovered_as_real_characters(tmp_path: Path) -> None:
    """Windows writes ESC/BEL that XML 1.0 forbids; the event still loads, with the characters."""
    ev = xml_event(4688, 9, {"CommandLine": "a&#x1b;[31mb&#7;c\x1bd&#x9b;e&amp;#x1b;"})
    path = write(tmp_path / "ctl.xml", ev)
    (event,) = list(iter_input(str(path)))
    assert isinstance(event, Event)
    assert event.get("CommandLine") == "a\x1b[31mb\x07c\x1bd\x9be&#x1b;"


def test_xml_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    one = xml_event(4688, 1, {"CommandLine": "x" * 1500})
    with path.open("w", encoding="utf-8") as fh:
        fh.write("<Events>")
        for _ in range(6000):
            fh.write(one)
        fh.write("</Events>")
    assert path.stat().st_size > 10_000_000
    assert _streamed_events(eventxml.iter_events(str(path))) == 6000


def test_oversized_xml_event_is_skipped_not_buffered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventxml, "MAX_EVENT_CHARS", 5000)
    big = xml_event(4688, 2, {"CommandLine": "y" * 700_000})
    path = write(
        tmp_path / "huge.xml", "<Events>" + xml_event(4688, 1, {}) + big + xml_event(4688, 3, {}) + "</Events>"
    )
    events, issues = split(iter_input(str(path)))
    assert [e.record_id for e in events] == [1, 3]
    assert len(issues) == 1 and issues[0].offset == 2 and "larger than" in issues[0].reason


# --------------------------------------------------------------------------- JSON


NXLOG_4688 = {
    "EventTime": "2020-08-06 11:56:14",
    "Hostname": "WORKSTATION6.theshire.local",
    "Keywords": -9214364837600034816,
    "EventType": "AUDIT_SUCCESS",
    "SeverityValue": 2,
    "Severity": "INFO",
    "EventID": 4688,
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
    "Version": 2,
    "Task": 13312,
    "OpcodeValue": 0,
    "RecordNumber": 134810,
    "ExecutionProcessID": 4,
    "ThreadID": 6244,
    "Channel": "Security",
    "Message": "A new process has been created.",
    "Category": "Process Creation",
    "Opcode": "Info",
    "SubjectUserSid": "S-1-5-18",
    "NewProcessId": "0x1d74",
    "ProcessId": "0x4f8",
    "CommandLine": "taskhostw.exe Install $(Arg0)",
    "TerminalSessionId": 3,
    "EventReceivedTime": "2020-08-06 11:56:15",
    "SourceModuleName": "eventlog",
    "SourceModuleType": "im_msvistalog",
    "@timestamp": "2020-08-06T15:56:15.260Z",
    "@version": "1",
    "host": "wec.internal.cloudapp.net",
    "tags": ["mordorDataset"],
}


def test_flat_nxlog_layout_splits_system_from_eventdata() -> None:
    event = event_from_json(NXLOG_4688, source=2, position=9)
    assert event.event_id == 4688 and event.record_id == 134810 and event.record_number == 9 == event.locator
    assert event.computer == "WORKSTATION6.theshire.local" and event.channel == "Security"
    assert event.provider == "Microsoft-Windows-Security-Auditing"
    assert event.pid == 4 and event.tid == 6244 and event.version == 2 and event.task == 13312
    assert event.keywords == "0x8020000000000000"
    assert event.level == 0  # AUDIT_SUCCESS
    # EventTime is the NXLog host's local time: shifted by the @timestamp/EventReceivedTime offset (4 h).
    assert iso_from_filetime(event.filetime) == "2020-08-06T15:56:14.0000000Z"
    # ProcessId is EventData (the creator process), in file order; metadata and Message are gone.
    assert event.data == (
        ("SubjectUserSid", "S-1-5-18"),
        ("NewProcessId", "0x1d74"),
        ("ProcessId", "0x4f8"),
        ("CommandLine", "taskhostw.exe Install $(Arg0)"),
        ("TerminalSessionId", "3"),
    )


def test_flat_layout_judgement_calls() -> None:
    sysmon = {
        "EventID": 13, "Hostname": "WS", "EventType": "SetValue", "EventTypeOrignal": "INFO",
        "AccountName": "SYSTEM", "Domain": "NT AUTHORITY", "AccountType": "User", "UserID": "S-1-5-18",
        "ProcessID": "3120", "ThreadID": 4496, "TimeCreated": "2020-10-29T08:23:20.533Z", "Level": "4",
    }  # fmt: skip
    event = event_from_json(sysmon, 0, 1)
    assert event.data == (("EventType", "SetValue"), ("ProcessID", "3120"))
    assert event.user_sid == "S-1-5-18" and event.tid == 4496 and event.pid is None and event.level == 4
    assert event.filetime == parse_time("2020-10-29T08:23:20.533Z") and event.record_id is None
    service = {"EventID": 7045, "Hostname": "WS", "AccountName": "LocalSystem", "ServiceName": "evil"}
    assert event_from_json(service, 0, 1).data == (("AccountName", "LocalSystem"), ("ServiceName", "evil"))
    old_nxlog = {"EventID": 4624, "ProcessID": 640, "Hostname": "WS", "ProcessId": "0x280"}
    event = event_from_json(old_nxlog, 0, 1)
    assert event.pid == 640 and event.data == (("ProcessId", "0x280"),)
    values = {"EventID": "4688", "Flag": True, "Nothing": None, "Ratio": 2.0, "List": [1, "a"]}
    assert event_from_json(values, 0, 1).data == (
        ("Flag", "true"), ("Nothing", ""), ("Ratio", "2"), ("List", '[1,"a"]')
    )  # fmt: skip


def test_evtx_dump_layout_with_attributes() -> None:
    record = {
        "Event": {
            "#attributes": {"xmlns": NS},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{5484}"}},
                "EventID": {"#attributes": {"Qualifiers": ""}, "#text": 4690},
                "Version": 0, "Level": 0, "Task": 12807, "Opcode": 0, "Keywords": "0x8020000000000000",
                "TimeCreated": {"#attributes": {"SystemTime": "2021-03-26T16:36:00.829018Z"}},
                "EventRecordID": 9217074, "Correlation": None,
                "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 456}},
                "Channel": "Security", "Computer": "jump01.offsec.lan", "Security": None,
            },
            "EventData": {
                "SubjectLogonId": "0xe922e", "SourceHandleId": "0x274", "SourceProcessId": "0x1e20",
                "TargetHandleId": "0x11c0", "TargetProcessId": "0x4", "Count": 3,
            },
        }
    }  # fmt: skip
    event = event_from_json(record, 0, 1)
    assert (event.event_id, event.record_id, event.computer, event.pid, event.tid) == (
        4690, 9217074, "jump01.offsec.lan", 4, 456
    )  # fmt: skip
    assert event.filetime == parse_time("2021-03-26T16:36:00.829018Z")
    assert event.keywords == "0x8020000000000000" and event.task == 12807
    assert event.data[-2:] == (("TargetProcessId", "0x4"), ("Count", "3"))


def test_evtx_dump_separate_attributes_userdata_and_unnamed_data() -> None:
    separate = {
        "Event": {
            "System": {
                "Provider_attributes": {"Name": "Microsoft-Windows-Eventlog"}, "EventID": 1102,
                "TimeCreated_attributes": {"SystemTime": "2020-10-29T08:23:18.073Z"},
                "Execution_attributes": {"ProcessID": 1032, "ThreadID": 7}, "Computer": "WS",
                "Security_attributes": {"UserID": "S-1-5-21-1-2-3-1104"},
            },
            "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "x"}, "SubjectUserName": "pgustavo"}},
        }
    }  # fmt: skip
    event = event_from_json(separate, 0, 1)
    assert event.provider == "Microsoft-Windows-Eventlog" and event.pid == 1032
    assert event.user_sid == "S-1-5-21-1-2-3-1104" and event.data == (("SubjectUserName", "pgustavo"),)
    unnamed = {"System": {"EventID": 7036, "Computer": "WS"}, "EventData": {"Data": ["Spooler", "running"]}}
    assert event_from_json(unnamed, 0, 1).data == (("Data", "Spooler"), ("Data[1]", "running"))


def test_winlogbeat_layout_nested_and_dotted() -> None:
    nested = {
        "@timestamp": "2021-05-01T10:00:00.123Z",
        "event": {"code": "4688", "created": "2021-05-01T10:00:02Z", "kind": "event"},
        "log": {"level": "information"},
        "winlog": {
            "event_id": "4688", "computer_name": "WS02.corp", "channel": "Security",
            "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": "5512", "task": "Process Creation",
            "opcode": "Info", "keywords": ["Audit Success"], "process": {"pid": 4, "thread": {"id": 90}},
            "event_data": {"NewProcessId": "0x1f4", "ProcessId": "0x3e8"},
            "user": {"identifier": "S-1-5-18"}, "version": 2,
        },
        "message": "A new process has been created.",
    }  # fmt: skip
    event = event_from_json(nested, 0, 3)
    assert (event.event_id, event.record_id, event.computer, event.pid, event.tid, event.version) == (
        4688, 5512, "WS02.corp", 4, 90, 2
    )  # fmt: skip
    assert event.filetime == parse_time("2021-05-01T10:00:00.123Z") and event.level == 4
    assert event.keywords == "0x8020000000000000" and event.task is None and event.user_sid == "S-1-5-18"
    assert event.data == (("NewProcessId", "0x1f4"), ("ProcessId", "0x3e8"))
    dotted = {
        "winlog.event_id": 4689, "winlog.computer_name": "WS03", "winlog.record_id": 7,
        "winlog.event_data.ProcessId": "0x1f4", "event.created": "2021-05-01T10:00:05Z",
    }  # fmt: skip
    event = event_from_json(dotted, 0, 1)
    assert (event.event_id, event.computer, event.record_id) == (4689, "WS03", 7)
    assert event.data == (("ProcessId", "0x1f4"),) and event.filetime == parse_time("2021-05-01T10:00:05Z")


def test_json_lines_file_with_bad_records(tmp_path: Path) -> None:
    lines = [
        json.dumps({"EventID": 4688, "Hostname": "A", "RecordNumber": 1, "NewProcessId": "0x10"}),
        "",
        '{"EventID": 4688, "Hostname": "A", "RecordNumber": 2,',  # cut short
        json.dumps(["not", "an", "object"]),
        json.dumps({"Hostname": "A", "RecordNumber": 4}),  # no EventID
        "   ",
        json.dumps({"EventID": 4689, "Hostname": "A", "RecordNumber": 5, "ProcessId": "0x10"}) + "\r",
    ]
    path = write(tmp_path / "events.jsonl", "\n".join(lines))
    events, issues = split(iter_input(str(path)))
    assert [(e.record_id, e.record_number) for e in events] == [(1, 1), (5, 5)]
    assert [i.offset for i in issues] == [2, 3, 4]
    assert "invalid JSON" in issues[0].reason and "not an object" in issues[1].reason
    assert "EventID" in issues[2].reason
    assert json.loads(jsonlines.event_json(str(path), 5))["RecordNumber"] == 5
    assert raw_text(str(path), "jsonl", 2).startswith('{"EventID": 4688, "Hostname": "A", "RecordNumber": 2,')


def test_json_array_file(tmp_path: Path) -> None:
    records = [{"EventID": 4624 + i, "Hostname": "B", "RecordNumber": i, "Text": "a, {b}"} for i in range(3)]
    path = write(tmp_path / "export.json", json.dumps(records, indent=2), encoding="utf-16")
    events, issues = split(iter_input(str(path)))
    assert issues == []
    assert [e.event_id for e in events] == [4624, 4625, 4626]
    assert json.loads(jsonlines.event_json(str(path), 2))["RecordNumber"] == 1


def test_malformed_array_element_costs_only_itself(tmp_path: Path) -> None:
    records = [{"EventID": 4624, "Hostname": "B", "RecordNumber": i} for i in range(6)]
    text = json.dumps(records, indent=2).replace('"RecordNumber": 2', '"RecordNumber": 2 oops', 1)
    path = write(tmp_path / "export.json", text)
    events, issues = split(iter_input(str(path)))
    assert [e.record_id for e in events] == [0, 1, 3, 4, 5]
    assert [e.record_number for e in events] == [1, 2, 4, 5, 6]
    assert [i.offset for i in issues] == [3]


def _random_chunks(text: str, seed: int) -> Iterator[str]:
    rnd = random.Random(seed)
    i = 0
    while i < len(text):
        n = rnd.randint(1, 200)
        yield text[i : i + n]
        i += n


def test_chunk_boundaries_do_not_change_what_loads() -> None:
    """Tokens (`<Event`, `</Event>`, line ends, array commas) split across reads still parse."""
    xml = (
        "<!-- <Event> --><Events><![CDATA[<Event>]]>"
        + "\n".join(xml_event(4688, i, {"N": f"{i}"}) for i in range(1, 40))
        + "</Events>"
    )
    lines = "\n".join(json.dumps({"EventID": 1, "Hostname": "H", "N": "}, {" * (i % 3)}) for i in range(60))
    array = json.dumps([{"EventID": 2, "Hostname": "H", "N": i} for i in range(60)], indent=1)
    for loader, text in ((eventxml, xml), (jsonlines, lines), (jsonlines, array)):
        whole = list(loader.iter_text_events(iter([text]), "p", 0))
        assert len(whole) in (39, 60) and all(isinstance(x, Event) for x in whole)
        for seed in range(10):
            assert list(loader.iter_text_events(_random_chunks(text, seed), "p", 0)) == whole


def test_json_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps({**NXLOG_4688, "CommandLine": "z" * 600}) + "\n"
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(8000):
            fh.write(line)
    assert path.stat().st_size > 10_000_000
    assert _streamed_events(jsonlines.iter_events(str(path))) == 8000


def test_zip_is_one_input_member_by_member(tmp_path: Path) -> None:
    path = tmp_path / "collection.log"  # misleading extension
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("logs/", "")
        zf.writestr("logs/a.json", "\n".join(json.dumps({"EventID": 1, "Hostname": "H", "N": i}) for i in range(3)))
        zf.writestr("logs/b.xml", "<Events>" + xml_event(4688, 77, {"N": "x"}) + "</Events>")
        zf.writestr("logs/c.evtx", b"ElfFile\x00" + b"\x00" * 200)
        zf.writestr("logs/d.jsonl", json.dumps({"EventID": 2, "Hostname": "H"}) + "\n{broken\n")
    assert detect_format(str(path)) == "zip"
    events, issues = split(iter_input(str(path), source=3))
    assert [(e.event_id, e.record_number) for e in events] == [(1, 1), (1, 2), (1, 3), (4688, 4), (2, 5)]
    assert all(e.source == 3 for e in events)
    assert len(issues) == 2
    assert "logs/c.evtx" in issues[0].reason and "EVTX" in issues[0].reason
    assert issues[1].offset == 6 and issues[1].reason.startswith("logs/d.jsonl: record 6")
    assert "<EventRecordID>77<" in raw_text(str(path), "zip", 4)
    assert json.loads(jsonlines.event_json(str(path), 2))["N"] == 1
    with pytest.raises(ValueError, match="no record at position 9"):
        jsonlines.event_json(str(path), 9)


# --------------------------------------------------------------------------- detection and refusals


def test_detection_by_content_not_extension(tmp_path: Path) -> None:
    xml = write(tmp_path / "looks.json", "\ufeff  \n" + xml_event(1, 1, {}))
    js = write(tmp_path / "looks.evtx", '\n {"EventID": 1}')
    arr = write(tmp_path / "looks.xml", '[{"EventID": 1}]')
    fake_evtx = tmp_path / "looks.txt"
    fake_evtx.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    assert [detect_format(str(p)) for p in (xml, js, arr, fake_evtx)] == ["xml", "jsonl", "jsonl", "evtx"]
    assert [type(x) for x in iter_input(str(xml))] == [Event]
    assert [type(x) for x in iter_input(str(js))] == [Event]


def test_real_evtx_with_misleading_extension_loads(tmp_path: Path) -> None:
    rel = "evtx/parsers/omerbenamram__samples__Security_short_selected.evtx"
    row = next(r for r in manifest() if r["path"] == rel)
    path = tmp_path / "export.json"
    shutil.copyfile(sample(rel), path)
    assert detect_format(str(path)) == "evtx"
    events, issues = split(iter_input(str(path)))
    assert len(events) + len(issues) >= int(row["records_reference"]) > 0
    assert f">{events[0].event_id}</EventID>" in raw_text(str(path), "evtx", events[0].locator or 0)


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        ("zero.evtx", b"", "empty"),
        ("blank.xml", b"  \r\n\t ", "empty"),
        ("old.evt", b"\x30\x00\x00\x00LfLe\x01\x00\x00\x00" + b"\x00" * 40, "legacy"),
        ("garbage.evtx", bytes(range(1, 200)), "not an event log"),
        ("notes.json", b"hello world", "not an event log"),
    ],
)
def test_unreadable_inputs_raise_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, expect: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        iter_input(str(path))  # raised at call time, before any iteration
    message = str(info.value)
    assert str(path) in message and expect in message and "\n" not in message


def test_refusals_of_broken_zip_missing_file_and_non_event_xml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(InputError, match=r"broken\.zip: not a readable zip"):
        iter_input(str(broken))
    with pytest.raises(InputError, match=r"nope\.xml: cannot open"):
        iter_input(str(tmp_path / "nope.xml"))
    html = write(tmp_path / "page.xml", "<html><body><p>hi</p></body></html>")
    with pytest.raises(InputError, match=r"page\.xml: no <Event> element"):
        list(iter_input(str(html)))
    empty_export = write(tmp_path / "none.xml", '<?xml version="1.0"?><Events></Events>')
    assert list(iter_input(str(empty_export))) == []
