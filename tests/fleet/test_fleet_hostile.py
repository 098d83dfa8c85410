"""`convert` and `fleet` against hostile inputs and datasets (`--engine local`): file names of any
bytes, a dataset directory the engines cannot open, a disk that refuses a write, damaged
done-markers, dataset parts of a foreign schema or outside the partition folders, times past year
9999 and values no column holds. Each was a traceback, a lost input, or an input marked done
whose events were never written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.model.text import printable
from tests.cliutil import run_cli
from tests.fleetutil import require_fleet
from tests.logs import event_xml, write_events

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")

#: A name with bytes that are not UTF-8, as Python gives it (lone surrogates).
ODD = os.fsdecode(b"Security-\xfe\xff.xml")
BAD_PART = os.fsdecode(b"x-\xfe.parquet")
ACTIONS = ("query", "stack", "timeline", "processes", "findings")


@pytest.fixture(autouse=True)
def _fleet() -> None:
    require_fleet()


def _log(path: Path, first: int = 1, n: int = 3, computer: str = "WS01.contoso.local") -> Path:
    events = [event_xml(4688, first + i, f"2024-03-14T08:0{i}:00Z",
                        {"NewProcessId": hex(0x100 + i), "NewProcessName": "C:\\Windows\\cmd.exe",
                         "CommandLine": f"cmd /c {i}"}, computer=computer)
              for i in range(n)]
    return write_events(path, events)


def _rows_written(ds: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in (ds / "events").glob("*/*/*.parquet"))


def _markers(ds: Path) -> list[Path]:
    return sorted((ds / "inputs").glob("*.json"))


# -- convert: names, the dataset's directory, failed writes, damaged markers ------------------


@posix_only
def test_convert_takes_file_names_of_any_bytes(tmp_path: Path) -> None:
    """A name that is not UTF-8 ended the whole run (UnicodeEncodeError in `input_key`): no
    input was converted. It converts; `source` holds it with `printable`'s escapes (Parquet
    text is UTF-8), the done-marker the exact name."""
    from core.fleet.convert import inputs

    folder = tmp_path / "logs"
    folder.mkdir()
    good = _log(folder / "a_good.xml")
    odd = _log(folder / ODD, first=10, n=2)
    ds = tmp_path / "ds"
    status, out, err = run_cli("convert", str(folder), "--to", str(ds))
    assert status == 0 and "Traceback" not in err and out.startswith("5 events converted"), err
    assert printable(str(odd)) in err  # (its progress line, escaped)
    assert sorted(m["path"] for m in inputs(ds)) == sorted([str(good), str(odd)])
    status, out, _ = run_cli("fleet", str(ds), "query", "--engine", "local", "--where", "file:Security-*")
    docs = [json.loads(line) for line in out.splitlines()]
    escaped = str(folder / "Security-\\udcfe\\udcff.xml")
    assert status == 0 and [(d["record_id"], d["file"]) for d in docs] == [(10, escaped), (11, escaped)]
    status, out, _ = run_cli("convert", str(folder), "--to", str(ds), "--quiet")
    assert status == 0 and out.startswith("0 events converted") and "(2 input(s) already there)" in out


@posix_only
def test_a_dataset_directory_the_engines_cannot_open_is_status_5(tmp_path: Path) -> None:
    """`--to` a name that is not UTF-8: the Parquet writer's error blamed the input, which was then
    marked done with no events (a re-run never converted it). Now: status 5 naming the
    directory, nothing created; the same input converts into a good directory."""
    log = _log(tmp_path / "log.xml")
    to = tmp_path / os.fsdecode(b"ds\xfe")
    status, out, err = run_cli("convert", str(log), "--to", str(to), "--quiet")
    assert status == 5 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and printable(str(to)) in err and "not valid UTF-8" in err, err
    assert not os.path.lexists(to)
    status, _, err = run_cli("fleet", str(to), "stack", "--engine", "local")
    assert status == 1 and "not valid UTF-8" in err and "Traceback" not in err
    status, out, _ = run_cli("convert", str(log), "--to", str(tmp_path / "ds"), "--quiet")
    assert status == 0 and out.startswith("3 events converted")


def test_a_write_the_dataset_refuses_marks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failing (a full disk) was caught as the input's own error: status 1, the input
    marked done with 0 events, so a re-run skipped it for good. It is status 5 naming the
    dataset, no marker, and the re-run converts the input."""
    import pyarrow.parquet as pq

    log = _log(tmp_path / "log.xml")
    ds = tmp_path / "ds"

    def full(self: Any, table: Any, row_group_size: Any = None) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pq.ParquetWriter, "write_table", full)
        status, out, err = run_cli("convert", str(log), "--to", str(ds), "--quiet")
    assert status == 5 and out == "" and "Traceback" not in err
    assert f"cannot write the dataset: {ds}: No space left on device" in err and err.count("\n") == 1, err
    assert _markers(ds) == [] and _rows_written(ds) == 0
    status, out, _ = run_cli("convert", str(log), "--to", str(ds), "--quiet")
    assert status == 0 and out.startswith("3 events converted") and "(0 input(s) already there)" in out
    assert len(_markers(ds)) == 1 and _rows_written(ds) == 3


DAMAGED = {
    "deep": ("[" * 100_000 + "]" * 100_000).encode(),
    "wrong types": b'{"path": 5, "identity": [], "records": "x"}',
    "no issues": b'{"path": "x", "records": 3, "error": null}',
    "not utf-8": b'{"path": "\xfe"}',
    "a directory": b"",
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_marker_counts_as_absent(tmp_path: Path, damage: str) -> None:
    """A done-marker that is not what `convert` writes ended the run with a traceback
    (RecursionError, KeyError). Its input is converted again (once: no event twice), and
    `fleet stack`, which reads the markers, still answers."""
    log = _log(tmp_path / "log.xml")
    ds = tmp_path / "ds"
    assert run_cli("convert", str(log), "--to", str(ds), "--quiet")[0] == 0

    def spoil() -> None:
        [marker] = _markers(ds)
        if damage == "a directory":
            marker.unlink()
            marker.mkdir()
        else:
            marker.write_bytes(DAMAGED[damage])

    spoil()
    status, out, err = run_cli("convert", str(log), "--to", str(ds))
    assert status == 0 and "Traceback" not in err and out.startswith("3 events converted"), err
    assert "done-marker" in err and "is damaged: converting it again" in err
    assert _rows_written(ds) == 3 and len(_markers(ds)) == 1 and _markers(ds)[0].is_file()
    spoil()
    status, out, err = run_cli("fleet", str(ds), "stack", "--engine", "local", "--by", "CommandLine", "--json")
    assert status == 0 and json.loads(out)["events"] == 3, err


def test_values_no_column_holds_cost_only_themselves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a decoder may hand over (the EVTX decoder does: a lone UTF-16 surrogate, a FILETIME or
    an integer beyond its column) made building the batch raise, and the whole input was lost
    as unreadable. Each bad value is replaced (U+FFFD) or null, a parse issue names the record
    and field; a time past 9999 is kept in `ts` with `time` null (no datetime holds it)."""
    import pyarrow.parquet as pq

    import core.fleet.convert as convert
    from core.fleet.tables import event_row
    from core.model.event import Event

    year_10000 = 2_650_467_744_000_000_000 + 10
    events = [
        Event(0, 1, 1, 133_000_000_000_000_000, 4688, computer="WS01", data=(("A", "fine"),), locator=1),
        Event(0, 2, 2, 133_000_000_000_000_000, 4688, computer="WS\ud80001", data=(("B", "x\udfffy"),), locator=2),
        Event(0, 3, 3, 2**64 - 1, 2**40, computer="WS01", pid=2**70, locator=3),
        Event(0, 4, 4, year_10000, 4688, computer="WS01", locator=4),
    ]
    rows = [event_row(n, ev) for n, ev in enumerate(events, 1)]

    def decoded(path: str, jobs: int | None, repeated: set[str]) -> tuple[str, Iterator[Any]]:
        return "evtx", iter([rows])

    monkeypatch.setattr(convert, "_rows", decoded)
    log = _log(tmp_path / "log.xml")
    [result] = convert.convert([str(log)], tmp_path / "ds")
    assert result.error is None and (result.records, result.issues) == (4, 2)
    table = pq.read_table(tmp_path / "ds" / "events").to_pylist()
    by_record = {r["record_id"]: r for r in table}
    assert by_record[2]["computer"] == "WS\ufffd01" and by_record[2]["data"] == [("B", "x\ufffdy")]
    assert (by_record[3]["ts"], by_record[3]["event_id"], by_record[3]["pid"]) == (None, None, None)
    assert by_record[4]["ts"] == year_10000 and by_record[4]["time"] is None
    assert by_record[1]["time"] is not None
    issues = pq.read_table(tmp_path / "ds" / "issues").column("reason").to_pylist()
    assert sorted(issues) == sorted([
        "record 2: invalid text (lone UTF-16 surrogate) in computer, B; replaced with U+FFFD",
        f"record 3: ts {2**64 - 1} out of range (kept as no value); event_id {2**40} out of range (kept as no "
        f"value); pid {2**70} out of range (kept as no value)",
    ])


# -- fleet: foreign parts, odd values ---------------------------------------------------------


def _dataset(tmp_path: Path) -> tuple[Path, Any]:
    """A converted dataset of one small log, and the table of its one part (to forge others)."""
    import pyarrow.parquet as pq

    ds = tmp_path / "ds"
    assert run_cli("convert", str(_log(tmp_path / "log.xml")), "--to", str(ds), "--quiet")[0] == 0
    [part] = (ds / "events").glob("*/*/*.parquet")
    return ds, pq.read_table(part)


def _forge(ds: Path, where: str, table: Any) -> Path:
    """`table` written as `events/<where>` (renamed into place: pyarrow opens paths as UTF-8)."""
    import pyarrow.parquet as pq

    path = ds / "events" / where
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path.with_name("forged.tmp"))
    os.replace(path.with_name("forged.tmp"), path)
    return path


@posix_only
def test_parts_of_a_foreign_schema_or_place_are_named_and_left_out(tmp_path: Path) -> None:
    """A part with a column missing or of another type failed every query with DuckDB's Binder
    or a Python TypeError traceback; one outside the partition folders failed the dataset
    ("Hive partition mismatch"), one whose name is not UTF-8 the footer check. Each is named
    and left out, as a damaged part is: the rest answers, status 1."""
    import pyarrow as pa

    ds, table = _dataset(tmp_path)
    ts_at, eid_at = table.schema.get_field_index("ts"), table.schema.get_field_index("event_id")
    day = "host=evil-1/day=2024-03-14"
    forged = {
        _forge(ds, f"{day}/ts-text.parquet", table.set_column(
            ts_at, "ts", pa.array([str(t) for t in table.column("ts").to_pylist()]))): "ts is string, not int64",
        _forge(ds, f"{day}/missing.parquet", table.drop(["data", "fields", "ts"])): "no column ts, data, fields",
        _forge(ds, f"{day}/eid-text.parquet", table.set_column(
            eid_at, "event_id", pa.array(["x"] * table.num_rows))): "event_id is string, not int32",
        _forge(ds, f"{day}/extra.parquet", table.append_column("host", pa.array(["x"] * table.num_rows))):
            "columns not of the dataset: host",
        _forge(ds, "a/b/elsewhere.parquet", table): "not in a partition folder of the dataset",
        _forge(ds, f"{day}/{BAD_PART}", table): "a name that is not valid UTF-8",
    }
    for action in ACTIONS:
        status, out, err = run_cli("fleet", str(ds), action, "--engine", "local", "--json")
        assert status == 1 and "Traceback" not in err, (action, err)
        for path, why in forged.items():
            assert f"{printable(str(path))}: " in err and why in err, (action, why, err)
        if action == "query":
            assert len(out.splitlines()) == 3  # the good part's events, once
        if action == "stack":
            assert json.loads(out)["events"] == 3


def _odd_times(ds: Path, table: Any) -> tuple[int, int]:
    """A part (of the dataset's schema) with a time past 9999 in `ts` only, one in `ts` and
    `time` (as `convert` wrote them before it made such a `time` null), an event whose key
    columns are null and one without a computer or EventID; the ts values forged."""
    import pyarrow as pa

    from core.fleet.schema import EVENTS

    rows = table.to_pylist()[:3] + table.to_pylist()[:1]
    huge, year_10000 = 2**63 - 1, 2_650_467_744_000_000_000 + 10
    rows[0].update(ts=huge, record_id=900)
    rows[1].update(ts=year_10000, record_id=901)
    rows[2].update(record_id=None, place=None, record_number=None, ts=None)
    rows[3].update(computer=None, event_id=None, ts=None)
    forged = pa.Table.from_pylist([{**r, "time": None} for r in rows], schema=EVENTS)
    micros = [None, (year_10000 - 116_444_736_000_000_000) // 10, None, None]
    forged = forged.set_column(forged.schema.get_field_index("time"), "time",
                               pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC")))
    _forge(ds, "host=ws01.contoso.local-0000abcd/day=none/odd-1.parquet", forged)
    return huge, year_10000


def test_times_past_9999_and_null_keys_fail_no_fleet_command(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`time` past year 9999 made every row-returning answer raise (pyarrow's datetimes), a `ts`
    past it stretched the timeline over millennia (a `--bucket` error with no --bucket given),
    and a null key column failed per-host work. Such a time is shown as invalid and counts as
    no time, as the store does; the commands answer, status 0."""
    from core.fleet import api
    from core.fleet.engines import LocalEngine
    from core.fleet.query_sql import where_expr
    from core.model.event import FILETIME_END, INVALID_TIME

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # `--open` keeps its file for the user
    ds, table = _dataset(tmp_path)
    huge, year_10000 = _odd_times(ds, table)
    for action in ACTIONS:
        status, out, err = run_cli("fleet", str(ds), action, "--engine", "local", "--json")
        assert status == 0 and "Traceback" not in err, (action, err)
        if action == "query":
            times = {json.loads(line)["record_id"]: json.loads(line)["time"] for line in out.splitlines()}
            assert times[900] == f"{INVALID_TIME}{huge}" and times[901] == f"{INVALID_TIME}{year_10000}"
        if action == "timeline":
            doc = json.loads(out)
            assert (doc["events"], doc["without_time"]) == (7, 4) and sum(b["count"] for b in doc["buckets"]) == 3
    status, _, err = run_cli("fleet", str(ds), "query", "--engine", "local", "--open", "--context", "5")
    assert status == 0 and "Traceback" not in err
    status, _, err = run_cli("fleet", str(ds), "query", "--engine", "local", "--open", "--context", "nan")
    assert status == 2 and "--context" in err
    engine = LocalEngine(ds)
    try:
        odd = {r["record_id"]: r["time"] for r in api.query(engine, "record:900,901")}
    finally:
        engine.close()
    assert odd == {900: None, 901: None}
    # `--context` around a time at the end of the range stays in it (`after:`/`before:` take
    # dates); an invalid time has no surroundings.
    around = api.context_query([{"ts": FILETIME_END - 10, "computer": "a"}, {"ts": huge, "computer": "b"}], 5)
    assert around is not None and INVALID_TIME not in around and 'host:"b"' not in around
    where_expr(around)
