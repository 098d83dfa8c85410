"""An export reopened is the same events, field by field (`export --format jsonl|json`, `query
--format jsonl`, read back by `parsers.json_layouts`, "this tool's own" layout).

A reopened export lost what the lines did not hold: Version, Level, Task, Opcode, Keywords, the
Execution ProcessID/ThreadID and the Security UserID came back unknown, and a name an event repeats
(XML's `<Data Name="S">` twice) came back as the numbered name the export shows (`S[2]`), so the
reopened set neither filtered nor correlated as its log did. Every field of the event model now
comes back but those that say where an event sits in its input (`source`, `record_number`,
`locator`: the export is another input); an export written before reads as it did; a bad value
in a hand-edited line costs only itself; CSV and Markdown rows are unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from core.model.data_names import EXPORT_SYSTEM_KEYS
from core.model.event import EVENT_FIELDS, Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers.json_layouts import event_from_json
from parsers.registry import iter_input
from tests.cliutil import run_cli
from tests.logs import NS, write_events
from tests.shared import sample

#: The fields that say where an event sits in its input: an export is another input.
PLACE = ("source", "record_number", "locator")
COMPARED = tuple(name for name in EVENT_FIELDS if name not in PLACE)
#: Real logs: Security (no UserID, System fields of every kind), Sysmon (a UserID on every
#: event), and a Security log whose events repeat EventData names (92 of its 636).
SAMPLES = ("evtx/parsers/omerbenamram__samples__security.evtx", "evtx/parsers/omerbenamram__samples__sysmon.evtx",
           "evtx/parsers/omerbenamram__samples__Security_with_size_t.evtx")


def _stored(path: Path, db: Path) -> tuple[list[Event], int]:
    """The events of `path` as the tool holds them (loaded into a store: `record_id` is the
    record's place when it has none), in the input's order; and its parse issues."""
    with Store(db) as store:
        [info] = load_paths([str(path)], store)
        assert info.error is None, info.error
        events = sorted((se.event for se in store.iter_events()), key=lambda e: (e.source, e.record_number))
        return events, store.sources()[0].parse_issues


def _in_export_order(path: Path, db: Path) -> list[Event]:
    """The events of `path` in the order an export writes them (time order, `write_view`)."""
    with Store(db) as store:
        load_paths([str(path)], store)
        return [se.event for se in store.iter_events()]


def _export(log: Path, out: Path, how: str) -> None:
    """Write `log`'s events to `out`: `export` as jsonl or json, or `query`'s JSON lines."""
    if how == "query":
        status, text, err = run_cli("query", "--no-cache", str(log), "--format", "jsonl")
        out.write_text(text, encoding="utf-8")
    else:
        status, _, err = run_cli("export", "--no-cache", str(log), "--format", how, "--output", str(out))
    assert status == 0, err


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in COMPARED}


def _assert_same_events(log: Path, tmp_path: Path, how: str) -> list[Event]:
    """Export `log`, reopen the export, and check every event field by field; the log's events."""
    out = tmp_path / f"export-{how}.{'json' if how == 'json' else 'jsonl'}"
    _export(log, out, how)
    original = _in_export_order(log, tmp_path / f"log-{how}.sqlite")
    reopened, issues = _stored(out, tmp_path / f"export-{how}.sqlite")
    assert issues == 0
    assert len(reopened) == len(original) > 0
    for number, (mine, back) in enumerate(zip(original, reopened, strict=True), 1):
        assert _fields(back) == _fields(mine), f"event {number} of {out.name} (record {mine.record_id})"
    return original


@pytest.mark.parametrize("how", ["jsonl", "json", "query"])
@pytest.mark.parametrize("relpath", SAMPLES)
def test_a_real_log_exported_and_reopened_is_the_same_events(tmp_path: Path, relpath: str, how: str) -> None:
    original = _assert_same_events(sample(relpath), tmp_path, how)
    # (the logs hold what was lost: System fields, and in the last one repeated names)
    for name in ("version", "level", "task", "opcode", "keywords", "pid", "tid"):
        assert any(getattr(e, name) is not None for e in original), name
    if "sysmon" in relpath:
        assert all(e.user_sid for e in original)
    if "size_t" in relpath:
        assert sum(len({k for k, _ in e.data}) < len(e.data) for e in original) == 92


#: Hand-made events holding what an export must keep, for a run without ../shared: every System
#: field (a UserID, a Keywords mask, a Level), a name repeated beside a field named like its
#: numbered repeat (`S`, `S`, `S[1]`), a name repeated three times, and unnamed `Data`.
def _event(record: int, system: str, data: str) -> str:
    return (f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>'
            f"<EventID>4688</EventID>{system}<EventRecordID>{record}</EventRecordID>"
            f'<TimeCreated SystemTime="2024-03-14T08:00:0{record}.1234567Z"/>'
            f"<Channel>Security</Channel><Computer>WS01</Computer></System><EventData>{data}</EventData></Event>")


HAND_MADE = [
    _event(1, '<Version>2</Version><Level>4</Level><Task>13312</Task><Opcode>0</Opcode>'
              '<Keywords>0x8020000000000000</Keywords><Execution ProcessID="4" ThreadID="7208"/>'
              '<Security UserID="S-1-5-18"/>',
           "<Data Name='S'>a</Data><Data Name='S'>b</Data><Data Name='S[1]'>c</Data><Data>u1</Data><Data>u2</Data>"),
    _event(2, '<Level>2</Level><Execution ProcessID="0" ThreadID="0"/>',
           "<Data Name='A'>1</Data><Data Name='A'>2</Data><Data Name='A'>3</Data><Data Name='B'></Data>"),
    _event(3, "", ""),
]


@pytest.mark.parametrize("how", ["jsonl", "json", "query"])
def test_hand_made_events_come_back_with_every_field(tmp_path: Path, how: str) -> None:
    log = write_events(tmp_path / "odd.xml", HAND_MADE)
    original = _assert_same_events(log, tmp_path, how)
    assert original[0].data[:2] == (("S", "a"), ("S", "b")) and original[0].user_sid == "S-1-5-18"
    assert [e.data for e in original][1][:3] == (("A", "1"), ("A", "2"), ("A", "3"))


def test_the_export_says_which_numbered_names_are_repeats(tmp_path: Path) -> None:
    """The `data` object other tools read is as before (a repeat numbered, skipping a number the
    event holds as a field of its own); `data_repeats` names the repeats, only where there are."""
    log = write_events(tmp_path / "odd.xml", HAND_MADE)
    status, out, err = run_cli("query", "--no-cache", str(log), "--format", "jsonl")
    assert status == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert docs[0]["data"] == {"S": "a", "S[2]": "b", "S[1]": "c", "Data": "u1", "Data[1]": "u2"}
    assert docs[0]["data_repeats"] == {"S[2]": "S"}
    assert docs[1]["data_repeats"] == {"A[1]": "A", "A[2]": "A"}
    assert "data_repeats" not in docs[2]
    assert {k: docs[0][k] for k in EXPORT_SYSTEM_KEYS} == {
        "version": 2, "level": 4, "task": 13312, "opcode": 0, "keywords": "0x8020000000000000", "pid": 4,
        "tid": 7208, "user_sid": "S-1-5-18"}
    assert {k: docs[2][k] for k in EXPORT_SYSTEM_KEYS} == dict.fromkeys(EXPORT_SYSTEM_KEYS)  # (unknown: null)


def test_an_export_written_before_reads_as_it_did(tmp_path: Path) -> None:
    """A line of an older export (no System fields beyond these, no `data_repeats`): its numbered
    names stay as written (nothing says they were repeats), the other fields unknown."""
    old = {"file": "a.evtx", "record_id": 9, "time": "2024-03-14T08:00:00.1234567Z", "event_id": 7045,
           "computer": "WS01", "channel": "System", "provider": "Service Control Manager",
           "data": {"S": "a", "S[2]": "b", "S[1]": "c"}}
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    [event] = list(iter_input(str(path)))
    assert isinstance(event, Event)
    assert event.data == (("S", "a"), ("S[2]", "b"), ("S[1]", "c"))
    assert (event.record_id, event.event_id, event.computer, event.provider) == (9, 7045, "WS01",
                                                                                 "Service Control Manager")
    assert {name: getattr(event, name) for name in EXPORT_SYSTEM_KEYS} == dict.fromkeys(EXPORT_SYSTEM_KEYS)


GOOD = {"record_id": 1, "time": "2024-03-14T08:00:00Z", "event_id": 4688, "computer": "h",
        "data": {"S": "a", "S[1]": "b"}}


@pytest.mark.parametrize(("extra", "data", "note"), [
    ({"version": "two", "pid": 1.5}, (("S", "a"), ("S[1]", "b"), ("version", "two"), ("pid", "1.5")),
     "no integer, kept as fields of their names: version 'two', pid '1.5'"),
    ({"record_id": {"x": 1}}, (("S", "a"), ("S[1]", "b"), ("record_id", '{"x":1}')), "record_id"),
    ({"data_repeats": ["S[1]"]}, (("S", "a"), ("S[1]", "b")), "data_repeats is a JSON list, not an object"),
    ({"data_repeats": {"S[1]": "T", "X[1]": "X", "S": "S"}}, (("S", "a"), ("S[1]", "b")), "not applied: S[1]: 'T'"),
    ({"data_repeats": {"S[1]": "S", "S[9]": "S"}}, (("S", "a"), ("S", "b")), "not applied: S[9]: 'S'"),
])
def test_a_bad_value_in_an_edited_line_costs_only_itself(
    tmp_path: Path, extra: dict[str, Any], data: tuple[tuple[str, str], ...], note: str
) -> None:
    """A System value that is no integer is kept as a field of its name; a `data_repeats` entry
    naming no numbered repeat of the data is not applied; each is a parse issue, the event kept."""
    notes: list[str] = []
    event = event_from_json({**GOOD, **extra}, 0, 1, notes=notes)
    assert event.data == data and event.event_id == 4688
    assert len(notes) == 1 and note in notes[0], notes
    path = tmp_path / "edited.jsonl"
    path.write_text(json.dumps({**GOOD, **extra}) + "\n", encoding="utf-8")
    issue, kept = list(iter_input(str(path)))
    assert isinstance(issue, ParseIssue) and note in issue.reason and issue.reason.startswith("record 1: ")
    assert kept == event


def test_csv_markdown_and_table_rows_are_unchanged(tmp_path: Path) -> None:
    """The System fields and `data_repeats` are JSON's: the other formats keep their columns."""
    log = write_events(tmp_path / "odd.xml", HAND_MADE)
    status, out, err = run_cli("query", "--no-cache", str(log), "--format", "csv")
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["file", "record_id", "time", "event_id", "computer", "channel", "provider", "data"]
    assert json.loads(rows[1][7]) == {"S": "a", "S[2]": "b", "S[1]": "c", "Data": "u1", "Data[1]": "u2"}
    assert len(rows) == 4 and {len(r) for r in rows} == {8}
    md = tmp_path / "view.md"
    status, _, err = run_cli("export", "--no-cache", str(log), "--format", "md", "--output", str(md))
    assert status == 0, err
    lines = md.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["| time | record | EventID | computer | data |", "|---|---|---|---|---|"]
    assert lines[2] == "| 2024-03-14T08:00:01.1234567Z | 1 | 4688 | WS01 | S=a; S\\[2\\]=b; S\\[1\\]=c; Data=u1; " \
                       "Data\\[1\\]=u2 |"
    status, out, err = run_cli("query", "--no-cache", str(log), "--format", "table")
    assert status == 0, err
    assert out.splitlines()[0].split()[:3] == ["2024-03-14T08:00:01.1234567Z", "1", "4688"]
    assert "S-1-5-18" not in out and "data_repeats" not in out


def test_system_texts_read_as_written() -> None:
    """Keywords and UserID are text in an export: kept exactly (an empty one too); a line whose
    Keywords is a number (as NXLog writes the mask) reads as the mask, as in the other layouts."""
    event = event_from_json({**GOOD, "keywords": "", "user_sid": ""}, 0, 1)
    assert (event.keywords, event.user_sid) == ("", "")
    event = event_from_json({**GOOD, "keywords": -9214364837600034816, "user_sid": 18}, 0, 1)
    assert (event.keywords, event.user_sid) == ("0x8020000000000000", "18")
