"""The tool's own JSON lines (`export --format jsonl|json`, `query --format jsonl`) open again as
the same events (`parsers.json_layouts`, "this tool's own" layout): an analyst exports a filtered
set to reopen or share it, and the tool said the file was "not an event log ... no record in it
is a Windows event or has an event's fields". Each event comes back with its EventID, record id,
time (to the 100 ns), computer, channel, provider and EventData names and values, in order; the
export's layout is unchanged (other tools read it)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from core.model.data_names import data_object
from core.model.event import Event, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers.json_layouts import event_from_json
from parsers.registry import iter_input
from tests.apputil import DEMO
from tests.cliutil import run_cli
from tests.logs import NS, event_xml, write_events

#: What an export keeps of an event (the System fields it writes, and the data as it shows it).
KEPT = ("event_id", "record_id", "filetime", "computer", "channel", "provider")
LAYOUT = {"file", "record_id", "time", "event_id", "computer", "channel", "provider", "version", "level", "task",
          "opcode", "keywords", "pid", "tid", "user_sid", "data"}


def _query(path: Path | str, *where: str) -> list[dict[str, Any]]:
    status, out, err = run_cli("query", "--no-cache", str(path), *where, "--format", "jsonl")
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _events(path: Path) -> list[Event]:
    items = list(iter_input(str(path)))
    assert not [i for i in items if isinstance(i, ParseIssue)]
    return [i for i in items if isinstance(i, Event)]


def _kept(event: Event) -> tuple[Any, ...]:
    """What an export keeps of an event: a record without EventRecordID is numbered by its place
    (the store's `record_id`, as every output shows it)."""
    event = event if event.record_id is not None else dataclasses.replace(event, record_id=event.record_number)
    return (*(getattr(event, name) for name in KEPT), data_object(event.data))


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
@pytest.mark.parametrize("where", [[], ["--where", "4688 OR 4656 OR user:alice"]])
def test_an_exported_view_opens_again_as_the_same_events(tmp_path: Path, fmt: str, where: list[str]) -> None:
    out = tmp_path / f"view.{fmt}"
    status, _, err = run_cli("export", "--no-cache", str(DEMO), *where, "--format", fmt, "--output", str(out))
    assert status == 0, err
    if fmt == "jsonl":  # (the layout other tools read: unchanged)
        assert {frozenset(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines()} == {
            frozenset(LAYOUT)}
    status, stats, err = run_cli("stats", "--no-cache", str(out))
    assert status == 0 and "not an event log" not in err, err
    original, reopened = _query(DEMO, *where), _query(out)
    assert len(reopened) == len(original) > (20 if where else 70)
    for mine, back in zip(original, reopened, strict=True):
        assert (mine.pop("file"), back.pop("file")) == (str(DEMO), str(out))
        assert back == mine
        assert list(back["data"]) == list(mine["data"])  # (names in the log's order)
    assert f"{len(original)} records, 0 parse issues" in stats


#: Values a log holds that a writer or reader may get wrong: repeated and unnamed names, text
#: that is not ASCII, escapes, control characters and markup, a name like the export's own keys,
#: empty values, a time to the 100 ns, none at all, no record id, other channels and computers.
ODD = [
    event_xml(4688, 7, "2024-03-14T08:00:00.1234567Z",
              {"CommandLine": 'cmd /c "echo \x1b[31m[red]x[/red] ünïcødé \\u0041"', "file": "x", "time": "t",
               "Empty": "", "event_id": "4"}),
    event_xml(4663, 8, "2024-03-14T08:00:00.1234568Z", {"ObjectName": "C:\\a\tb\r\nc"},
              computer="dc01.CONTOSO.local", channel="Microsoft-Windows-Sysmon/Operational"),
    event_xml(4624, None, "2024-03-14T08:00:01Z", {"TargetUserName": "bob"}),
    (f'<Event xmlns="{NS}"><System><Provider Name="Service Control Manager"/><EventID>7045</EventID>'
     "<EventRecordID>9</EventRecordID><Channel>System</Channel><Computer>WS01</Computer></System>"
     "<EventData><Data Name='S'>a</Data><Data Name='S'>b</Data><Data Name='S[1]'>c</Data><Data>u1</Data>"
     "<Data>u2</Data></EventData></Event>"),
]


def test_odd_values_come_back_exactly(tmp_path: Path) -> None:
    log = write_events(tmp_path / "odd.xml", ODD)
    out = tmp_path / "odd.jsonl"
    status, _, err = run_cli("export", "--no-cache", str(log), "--format", "jsonl", "--output", str(out))
    assert status == 0, err
    before, after = _events(log), _events(out)
    assert [e.filetime is None for e in before] == [False, False, False, True]
    assert sorted(map(_kept, after), key=repr) == sorted(map(_kept, before), key=repr)
    # Every System field the model holds comes back as the log had it (unknown where it was).
    system = ("version", "level", "task", "opcode", "keywords", "pid", "tid", "user_sid")
    assert sorted((tuple(getattr(e, n) for n in system) for e in after), key=repr) == sorted(
        (tuple(getattr(e, n) for n in system) for e in before), key=repr)
    # Loaded beside its log, every exported event is the same record as the log's, the one holding
    # a name twice too: the export numbers the repeat (`S`, `S[2]` beside a name `S[1]` of its own)
    # and says which numbered names are repeats (`data_repeats`), so it comes back as logged.
    status, out_text, err = run_cli("stats", "--copies", "--json", "--no-cache", str(log), str(out))
    assert status == 0, err
    assert [f["copies"]["records"] for f in json.loads(out_text)["files"]] == [0, len(ODD)]
    assert [e.data for e in after if e.event_id == 7045] == [
        (("S", "a"), ("S", "b"), ("S[1]", "c"), ("Data", "u1"), ("Data[1]", "u2"))]


def test_an_exported_time_no_date_can_show_reads_back_exactly() -> None:
    """The export words such a FILETIME `invalid FILETIME <ticks>` (`iso_from_filetime`)."""
    ticks = 2_650_467_744_000_000_123
    event = event_from_json({"event_id": 4688, "time": f"invalid FILETIME {ticks}", "data": {"A": "1"}}, 0, 1)
    assert event.filetime == ticks and event.data == (("A", "1"),)
    notes: list[str] = []
    event = event_from_json({"event_id": 4688, "time": "not a time", "data": {"A": "1"}}, 0, 1, notes=notes)
    assert event.filetime is None and event.data == (("A", "1"), ("time", "not a time")) and len(notes) == 1


def test_an_exported_line_that_is_no_event_is_a_damaged_record(tmp_path: Path) -> None:
    """An EventID that is no number costs its record (a parse issue), not the whole file."""
    good = {"file": "a", "record_id": 1, "time": "2024-03-14T08:00:00.0000000Z", "event_id": 4624,
            "computer": "h", "channel": "Security", "provider": "p", "data": {"A": "1"}}
    path = tmp_path / "damaged.jsonl"
    path.write_text(json.dumps({**good, "event_id": "x"}) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    items = list(iter_input(str(path)))
    assert [type(i).__name__ for i in items] == ["ParseIssue", "Event"]
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text(json.dumps({**good, "event_id": "x"}) + "\n", encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        [info] = load_paths([str(only_bad)], store)
        assert info.error is None and info.records == 0 and store.sources()[0].parse_issues == 1
