"""A JSON file that is no event log is said to be one, as any other input is: `{"hello": 1}` or
the tool's own `correlate --json` output loaded as "format jsonl, 0 records, 1 parse issues",
status 0. A JSON log with damaged records still loads, each costing only itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model.event import InputError, ParseIssue
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import jsonlines
from parsers.registry import iter_input
from tests.cliutil import run_cli

GOOD = '{"EventID": 4624, "Computer": "h1", "TimeCreated": "2024-01-01T00:00:00Z"}'
#: The shape of `correlate --json`: its events are nested, their keys lower case.
CORRELATED = json.dumps([{"event": {"record_id": 1, "event_id": 4688, "computer": "h1"},
                          "source_process": {"pid": 4, "image": "x.exe"}}], indent=2)


@pytest.mark.parametrize("text", [
    '{"hello": 1}\n',
    '[{"a": 1}, {"b": 2}]',
    CORRELATED,
    '{"file": "x", "record_id": 1, "event_id": 4688}\n',  # `query`'s own JSON lines
    "{oops\n{still not json\n",
    "[1, 2, 3]",
])
def test_json_without_any_event_is_not_an_event_log(text: str, tmp_path: Path) -> None:
    path = tmp_path / "notalog.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="not an event log"):
        list(iter_input(str(path)))
    with Store(tmp_path / "s.sqlite") as store:
        [info] = load_paths([str(path)], store)
        assert info.error is not None and info.records == 0
        assert store.sources()[0].parse_issues == 0  # its records are no damaged events: one line says it
    status, out, err = run_cli("stats", str(path))
    assert status == 1 and "not an event log" in out and "not an event log" in err
    assert "None" not in out


@pytest.mark.parametrize("lines", [
    [GOOD, "{broken", '{"EventID": "x"}'],
    ["{broken", '{"hello": 1}', GOOD],  # the event comes last: the issues before it are kept, in order
])
def test_a_json_log_with_damaged_records_still_loads(lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "damaged.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(iter_input(str(path)))
    issues = [i for i in items if isinstance(i, ParseIssue)]
    assert len(items) - len(issues) == 1 and [i.offset for i in issues] == [n for n in (1, 2, 3)
                                                                             if lines[n - 1] != GOOD]
    status, out, _ = run_cli("stats", str(path))
    assert status == 0 and "1 record, 2 parse issues" in out


def test_records_with_an_events_fields_but_no_event_are_a_damaged_log(tmp_path: Path) -> None:
    """Not one event read, but the records are events' (an EventID no number, a System without
    one): a damaged event log, its records' issues counted, not "no event log"."""
    path = tmp_path / "damaged.jsonl"
    path.write_text('{"EventID": "x"}\n{"Event": {"System": {}}}\n{"winlog.channel": "Security"}\n',
                    encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        [info] = load_paths([str(path)], store)
        assert info.error is None and info.records == 0 and store.sources()[0].parse_issues == 3


def test_issues_are_held_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HELD_ISSUES records that are no event the issues are handed on (none held for
    ever, none lost), and the file still loads if an event comes."""
    monkeypatch.setattr(jsonlines, "HELD_ISSUES", 5)
    path = tmp_path / "late.jsonl"
    path.write_text("{}\n" * 12 + GOOD + "\n", encoding="utf-8")
    walk = iter_input(str(path))
    first = [next(walk) for _ in range(5)]
    assert [i.offset for i in first if isinstance(i, ParseIssue)] == [1, 2, 3, 4, 5]
    rest = list(walk)
    assert [i.offset for i in rest if isinstance(i, ParseIssue)] == list(range(6, 13)) and len(rest) == 8
