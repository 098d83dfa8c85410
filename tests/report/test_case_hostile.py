"""Hostile case files: nesting past the decoder's recursion and numbers past Python's digit
limit are a damaged case (the `.bak` used), a mark time that is no FILETIME a dropped mark
(named), one past the dates a kept mark said to show as invalid; never a traceback, in
`Case.open` nor in `export --marks --case`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from core.model.event import datetime_to_filetime
from core.report.case import Case
from tests.cliutil import run_cli
from tests.report.case_logs import BASE, build_store, write_input, xml_log

#: The last FILETIME tick a date can hold (9999-12-31T23:59:59.9999999Z).
LAST_TICK = datetime_to_filetime(dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)) + 9
HEAD = '{"format":"evtx-explorer-case","version":1,"inputs":[],'
#: Case files no JSON decoder reads within its limits (the probe's own shapes).
UNREADABLE = {
    "deep": HEAD + '"marks":' + "[" * 200_000 + "]" * 200_000 + "}",
    "long version": '{"format":"evtx-explorer-case","version":' + "9" * 5000 + ',"marks":[]}',
    "long filetime": HEAD + '"marks":[{"event_id":4688,"filetime":' + "1" * 5000 + "}]}",
}


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _mark(record_id: int, filetime: int | None, **more: Any) -> dict[str, Any]:
    return {"source_path": "Security.xml", "source": 0, "record_id": record_id, "event_id": 4688,
            "computer": "WS01", "filetime": filetime, "store_id": None, "note": f"note {record_id}", **more}


def _case_text(marks: list[dict[str, Any]]) -> str:
    return json.dumps({"format": "evtx-explorer-case", "version": 1, "inputs": [], "count": len(marks),
                       "marks": marks})


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_an_unreadable_case_falls_back_to_its_backup(tmp_path: Path, name: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(UNREADABLE[name], encoding="utf-8")
    path.with_name("case.json.bak").write_text(_case_text([_mark(1002, BASE)]), encoding="utf-8")
    case = Case.open(path)
    assert [m.note for m in case.marks()] == ["note 1002"]
    assert len(case.warnings) == 1 and str(path) in case.warnings[0]
    assert "damaged" in case.warnings[0] and "case.json.bak" in case.warnings[0]
    case.set_note(case.marks()[0], "again")  # the damaged file is moved aside, not overwritten
    aside = list(tmp_path.glob("case.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == UNREADABLE[name]


@pytest.mark.parametrize("filetime", [2**64, 2**70, -1])
def test_a_mark_whose_time_is_no_filetime_is_dropped_and_named(tmp_path: Path, filetime: int) -> None:
    path = tmp_path / "case.json"
    text = _case_text([_mark(1002, BASE), _mark(1003, filetime), _mark(1004, 2**64 - 1)])
    path.write_text(text, encoding="utf-8")
    case = Case.open(path)
    assert [m.record_id for m in case.marks()] == [1002, 1004]  # the last FILETIME is one
    dropped = [w for w in case.warnings if "dropped" in w]
    assert len(dropped) == 1 and str(path) in dropped[0] and "1 mark(s) dropped" in dropped[0]
    assert f"mark 2 (EventID 4688, record 1003): its time {filetime} is no FILETIME" in dropped[0]
    case.set_note(case.marks()[0], "edited")  # the file still holding the dropped mark is kept aside
    aside = list(tmp_path.glob("case.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == text
    assert [m.record_id for m in Case.open(path).marks()] == [1002, 1004]


def test_a_mark_whose_time_no_date_holds_is_kept_and_said(tmp_path: Path) -> None:
    """The app marks an event whose FILETIME is past year 9999 like any other (a log may hold
    one): the mark stays, and the analyst is told its time shows as invalid."""
    path = tmp_path / "case.json"
    path.write_text(_case_text([_mark(1002, LAST_TICK), _mark(1003, LAST_TICK + 1)]), encoding="utf-8")
    case = Case.open(path)
    assert [m.filetime for m in case.marks()] == [LAST_TICK, LAST_TICK + 1]
    assert len(case.warnings) == 1 and str(path) in case.warnings[0]
    assert f"1 mark(s) with a time no date can hold, kept and shown as an invalid time: mark 2 (EventID 4688, " \
           f"record 1003): FILETIME {LAST_TICK + 1}" in case.warnings[0]
    case.set_note(case.marks()[0], "edited")
    assert not list(tmp_path.glob("case.json.damaged-*"))  # nothing dropped: nothing to keep aside
    assert [m.filetime for m in Case.open(path).marks()] == [LAST_TICK, LAST_TICK + 1]


def test_many_dropped_marks_make_one_line(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(_case_text([_mark(i, 2**70) for i in range(50)]), encoding="utf-8")
    case = Case.open(path)
    assert len(case) == 0 and len(case.warnings) == 1
    assert "50 mark(s) dropped" in case.warnings[0] and "47 more" in case.warnings[0]


def test_a_store_id_no_row_can_have_is_no_hint(tmp_path: Path) -> None:
    """The store id is only a hint: one past SQLite's rowids is forgotten, the mark found by
    what its event is."""
    log = write_input(tmp_path)
    store = build_store(tmp_path / "a.sqlite", log)
    target = store.select()[1]
    ev = target.event
    path = tmp_path / "case.json"
    path.write_text(_case_text([{"source_path": str(log.resolve()), "source": 2**80, "record_id": ev.record_id,
                                 "event_id": ev.event_id, "computer": ev.computer, "filetime": ev.filetime,
                                 "store_id": 2**70, "note": "hint too big"}]), encoding="utf-8")
    case = Case.open(path, [str(log)])
    assert case.warnings == [] and case.marks()[0].store_id is None
    assert list(case.resolve(store)) == [target.id]


@pytest.mark.parametrize("shape", ["deep", "long version", "huge time", "time past 64 bits"])
def test_export_marks_with_a_hostile_case_says_so_without_a_traceback(tmp_path: Path, shape: str) -> None:
    log = xml_log(tmp_path / "log.xml")
    path = tmp_path / f"case {shape}.json"
    if shape in UNREADABLE:
        path.write_text(UNREADABLE[shape], encoding="utf-8")
    else:
        path.write_text(_case_text([_mark(1, LAST_TICK + 1 if shape == "huge time" else 2**70)]), encoding="utf-8")
    status, out, err = run_cli("export", str(log), "--marks", "--format", "md", "--case", str(path), "--output", "-")
    assert status == 0, err
    assert "Traceback" not in err
    warning = err.splitlines()[0]
    assert warning.startswith("evtx-explorer: case file ") and str(path) in warning
    if shape in UNREADABLE:
        assert "damaged" in warning and "## Marked events (0)" in out
    elif shape == "huge time":  # kept: its time worded as invalid, exactly
        assert "kept and shown as an invalid time" in warning and "## Marked events (1)" in out
        assert f"FILETIME {LAST_TICK + 1}" in out and "not found in these inputs" in out
    else:
        assert "1 mark(s) dropped" in warning and "## Marked events (0)" in out
