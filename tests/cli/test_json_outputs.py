"""What `stats` and `export` write, as a script reads it: `stats --json --issues` is one JSON
document (the issues were printed as text lines after it), `stats` never says `None .. None`
and counts one in the singular, and `export --format json` (or an output named `.json`) is one
JSON array, streamed, where `.json` got JSON lines that no JSON reader takes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli.cmd_export import JsonArray
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = "2015-11-12T02:24:52.3773525Z"


@pytest.fixture()
def damaged(tmp_path: Path) -> Path:
    """Two events, one with a lone surrogate in a value: one parse issue."""
    return write_events(tmp_path / "damaged.xml", [
        event_xml(4688, 7, T0, {"NewProcessId": "0xc8c", "CommandLine": "cmd MARK"}).replace("MARK", "&#xD800;"),
        event_xml(4624, 8, T0, {"TargetUserName": "bob"}),
    ])


@pytest.fixture()
def clean(tmp_path: Path) -> Path:
    return write_events(tmp_path / "clean.xml", [event_xml(4624, 9, T0, {"TargetUserName": "bob"})])


# -- stats ---------------------------------------------------------------------------------------


def test_stats_json_issues_are_inside_the_document(damaged: Path, clean: Path) -> None:
    status, out, err = run_cli("stats", "--json", "--issues", str(damaged), str(clean))
    assert status == 0, err
    doc = json.loads(out)  # the whole of stdout: nothing after the document
    by_path = {f["path"]: f for f in doc["files"]}
    (issue,) = by_path[str(damaged)]["issues"]
    assert set(issue) == {"chunk", "offset", "time", "reason"} and "U+FFFD" in issue["reason"]
    assert by_path[str(clean)]["issues"] == []
    assert "issues" not in json.loads(run_cli("stats", "--json", str(damaged))[1])["files"][0]  # as before


def test_stats_text_issues_are_still_listed(damaged: Path) -> None:
    status, out, _ = run_cli("stats", "--issues", str(damaged))
    assert status == 0
    (line,) = [line for line in out.splitlines() if line.startswith("issue: ")]
    assert str(damaged) in line and "U+FFFD" in line


def test_stats_counts_one_in_the_singular(damaged: Path, clean: Path) -> None:
    out = run_cli("stats", str(clean))[1]
    assert "format xml, 1 record, 0 parse issues" in out and out.endswith("total 1 record\n")
    out = run_cli("stats", str(damaged))[1]
    assert "format xml, 2 records, 1 parse issue\n" in out


def test_stats_says_no_time_not_none(tmp_path: Path) -> None:
    """An input whose events have no time printed `time   None .. None`."""
    log = tmp_path / "untimed.jsonl"
    log.write_text('{"EventID": 4624, "Computer": "h1"}\n', encoding="utf-8")
    status, out, err = run_cli("stats", str(log))
    assert status == 0, err
    assert "None" not in out and "  time   no time\n" in out
    assert json.loads(run_cli("stats", "--json", str(log))[1])["files"][0]["first"] is None  # JSON: null


# -- export --format json ------------------------------------------------------------------------


def test_export_to_a_json_name_writes_one_json_array(damaged: Path, clean: Path, tmp_path: Path) -> None:
    out = tmp_path / "procs.json"
    status, _, err = run_cli("export", str(damaged), str(clean), "-o", str(out))
    assert status == 0, err
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["record_id"] for r in rows] == [7, 8, 9]
    assert f"wrote 3 rows to {out} as a JSON array" in err
    lines = tmp_path / "procs.jsonl"
    status, _, err = run_cli("export", str(clean), "-o", str(lines))
    assert status == 0 and f"wrote 1 row to {lines} as JSON lines" in err
    assert json.loads(lines.read_text(encoding="utf-8"))["record_id"] == 9


def test_export_format_json_to_stdout_and_of_nothing(clean: Path, tmp_path: Path) -> None:
    status, out, err = run_cli("export", str(clean), "--format", "json", "-o", "-")
    assert status == 0 and [r["record_id"] for r in json.loads(out)] == [9]
    assert "wrote 1 row to stdout as a JSON array" in err
    status, out, _ = run_cli("export", str(clean), "--format", "json", "--where", "4688", "-o", "-")
    assert status == 0 and json.loads(out) == []
    named = tmp_path / "rows.txt"
    assert run_cli("export", str(clean), "--format", "json", "-o", str(named))[0] == 0
    assert len(json.loads(named.read_text(encoding="utf-8"))) == 1


def test_the_json_array_is_streamed() -> None:
    """Each element goes on as its line ends (a million rows are not held), split or not."""
    out = io.StringIO()
    array = JsonArray(out)
    array.write('{"a": 1}\n')
    assert out.getvalue() == '[\n{"a": 1}'
    array.write('{"b": "x\\n')  # a line in two writes (its escaped newline is no line break)
    array.write('y"}\n')
    array.finish()
    assert json.loads(out.getvalue()) == [{"a": 1}, {"b": "x\ny"}]
