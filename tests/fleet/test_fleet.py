"""`convert` and `fleet --engine local` (DuckDB): every answer is the SQLite store's for the same
inputs, row for row (the demo log, three shared samples, and a hostile input built here). The
Spark engine is held to the same answers in tests/fleet/test_fleet_spark.py."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apputil import DEMO
from tests.cliutil import run_cli
from tests.fleetutil import (
    HOSTILE_CMD,
    HOSTILE_HOST,
    QUERIES,
    fleet_dataset,
    hostile_log,
    require_fleet,
    store_findings_rows,
    store_handles,
    store_processes,
    store_query,
    store_stack,
    store_timeline,
)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, list[str]]]:
    yield from fleet_dataset(tmp_path_factory)


@pytest.fixture(scope="session")
def local(fleet: tuple[Path, Any, list[str]]) -> Iterator[Any]:
    from core.fleet.engines import LocalEngine

    engine = LocalEngine(fleet[0])
    yield engine
    engine.close()


def test_convert_layout_issues_and_resume(tmp_path: Path) -> None:
    require_fleet()
    import pyarrow.parquet as pq

    from core.fleet.convert import convert, input_key
    from core.fleet.schema import EVENTS

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"EventID": 1, "Computer": "a"}\nnot json\n')
    lines: list[str] = []
    first = convert([str(DEMO), str(bad)], tmp_path / "ds", progress=lines.append)
    assert [r.records for r in first] == [71, 1] and [r.issues for r in first] == [0, 1]
    hosts = sorted(p.name for p in (tmp_path / "ds" / "events").iterdir())
    assert hosts[0].startswith("host=a-") and any(h.startswith("host=dc01.contoso.local-") for h in hosts)
    days = {p.name for p in (tmp_path / "ds" / "events").glob("*/*")}
    assert days == {"day=2024-03-14", "day=none"}
    table = pq.read_table(next((tmp_path / "ds" / "events").glob("host=dc01*/*/*.parquet")))
    assert table.schema.equals(EVENTS)
    issues = pq.read_table(tmp_path / "ds" / "issues" / f"{input_key(str(bad))}.parquet").to_pylist()
    assert [(i["offset"], i["source"]) for i in issues] == [(2, str(bad))]
    assert any("71 events" in line for line in lines)
    # An interrupted run of the demo: a stale file and no marker. The re-run redoes it, once.
    key = input_key(str(DEMO))
    (tmp_path / "ds" / "inputs" / f"{key}.json").unlink()
    stale = next((tmp_path / "ds" / "events").glob("host=dc01*/*/*.parquet")).with_name(f"{key}-99.parquet")
    stale.write_bytes(b"half")
    lines.clear()
    again = convert([str(DEMO), str(bad)], tmp_path / "ds", progress=lines.append)
    assert [r.skipped for r in again] == [False, True] and not stale.exists()
    assert [line for line in lines if "already converted" in line] == [
        f"[2/2] {bad}: already converted (1 events), skipped"]
    total = sum(pq.read_table(f).num_rows for f in (tmp_path / "ds" / "events").glob("*/*/*.parquet"))
    assert total == 72


def test_partition_names_never_escape_the_dataset(fleet: tuple[Path, Any, list[str]]) -> None:
    root = fleet[0].resolve()
    for folder in (root / "events").glob("*"):
        assert folder.resolve().parent == root / "events" and "/" not in folder.name[5:]
    assert not (root.parent / "evil'\\host%_").exists()


@pytest.mark.parametrize("where", QUERIES)
def test_local_query_rows_are_the_stores(fleet: tuple[Path, Any, list[str]], local: Any, where: str) -> None:
    from core.fleet import api

    expected = store_query(fleet[1], where)
    rows = api.query(local, where)
    assert [(r["source"], r["place"]) for r in rows] == expected
    assert [(r["source"], r["place"]) for r in api.stream(local, where)] == expected
    assert api.count(local, where) == len(expected)


def test_hostile_values_are_literals(local: Any) -> None:
    from core.fleet import api

    assert api.count(local, f'host:"{HOSTILE_HOST}"') == 5
    assert api.count(local, f'cmd:"{HOSTILE_CMD}"') == 3
    assert api.count(local, "SubjectUserName:x'y") == 5
    assert api.count(local, "cmd:*%_*") == 3  # % and _ are literal, * is the glob


@pytest.mark.parametrize(("where", "by"), [("", "EventID"), ("4688", "NewProcessName"), ("4624", "LogonType"),
                                           ("", "computer"), ("", "SubjectUserName"), ("host:dc01", "channel")])
def test_local_stack_is_the_stores(fleet: tuple[Path, Any, list[str]], local: Any, where: str, by: str) -> None:
    from core.fleet import api

    assert api.stack(local, where, by, limit=None) == store_stack(fleet[1], where, by)


@pytest.mark.parametrize("bucket", [None, "1m", "1h", "1d"])
def test_local_timeline_is_the_stores(fleet: tuple[Path, Any, list[str]], local: Any, bucket: str | None) -> None:
    from core.fleet import api
    from core.query.timeline import parse_width

    width = None if bucket is None else parse_width(bucket)
    assert outcome(lambda: api.timeline(local, "4688 OR 4624", width)) == outcome(
        lambda: store_timeline(fleet[1], "4688 OR 4624", width))


def outcome(fn: Callable[[], Any]) -> Any:
    """What `fn` gives, or the message of the QueryError it raises (too many buckets...)."""
    from core.query.lexer import QueryError

    try:
        return fn()
    except QueryError as exc:
        return ("QueryError", exc.message)


def test_local_processes_handles_findings_are_the_stores(fleet: tuple[Path, Any, list[str]], local: Any) -> None:
    from core.findings.engine import load_rules
    from core.fleet import api

    procs = api.processes(local)
    assert procs == store_processes(fleet[1])
    assert any(p["confidence"] == "exact" and p["parent_image"] for p in procs)
    assert api.handles(local) == store_handles(fleet[1])
    found = api.findings(local, load_rules())
    assert found == store_findings_rows(fleet[1]) and len(found) >= 15


def test_bad_query_is_refused_where_sqlite_refuses_it() -> None:
    require_fleet()
    from core.fleet.query_sql import where_expr
    from core.query.compile import QueryError, compile_query

    for bad in ("4688 AND", "id:12,x", "(4688", 'cmd:"x', "after:yesterday"):
        with pytest.raises(QueryError) as sqlite_error:
            compile_query(bad)
        with pytest.raises(QueryError) as fleet_error:
            where_expr(bad)
        assert (fleet_error.value.message, fleet_error.value.position) == (
            sqlite_error.value.message, sqlite_error.value.position)


@pytest.mark.parametrize("target", ["a file", "a file's child", "unwritable"])
def test_convert_to_no_directory_says_so(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--to` a file (or below one), or a dataset the disk refuses: one line, status 5, no
    traceback (it was a `NotADirectoryError` traceback)."""
    require_fleet()
    afile = tmp_path / "afile"
    afile.write_text("not a dataset", encoding="utf-8")
    to = {"a file": afile, "a file's child": afile / "ds", "unwritable": tmp_path / "ds"}[target]
    if target == "unwritable":
        import core.fleet.convert as convert

        def refused(*_: object, **__: object) -> None:
            raise OSError(28, "No space left on device", str(to))

        monkeypatch.setattr(convert, "_convert_one", refused)
    status, out, err = run_cli("convert", str(DEMO), "--to", str(to), "--quiet")
    assert status == 5 and out == "" and "Traceback" not in err
    assert err.startswith("evtx-explorer convert: ") and err.count("\n") == 1, err
    assert afile.read_text(encoding="utf-8") == "not a dataset"


def test_a_damaged_part_costs_its_events_not_the_query(tmp_path: Path) -> None:
    """A Parquet file of the dataset cut short failed every query with DuckDB's traceback: it is
    named and left out, the rest answers, status 1 (an input could not be read)."""
    require_fleet()
    ds = tmp_path / "ds"
    assert run_cli("convert", str(DEMO), "--to", str(ds), "--quiet")[0] == 0
    status, whole, _ = run_cli("fleet", str(ds), "stack", "--engine", "local", "--by", "EventID", "--json")
    assert status == 0
    import pyarrow.parquet as pq

    parts = sorted((ds / "events").glob("*/*/*.parquet"))  # the demo's two computers
    assert len(parts) == 2
    damaged, kept = parts
    left = pq.read_metadata(kept).num_rows
    damaged.write_bytes(damaged.read_bytes()[:100])
    status, out, err = run_cli("fleet", str(ds), "stack", "--engine", "local", "--by", "EventID", "--json")
    assert status == 1 and f"{damaged}: damaged Parquet file, skipped" in err and "Traceback" not in err
    assert json.loads(whole)["events"] == 71 and json.loads(out)["events"] == left < 71
    kept.write_bytes(b"PAR1")
    status, out, err = run_cli("fleet", str(ds), "stack", "--engine", "local", "--by", "EventID")
    assert status == 1 and "no readable converted events" in err and out == ""


def test_cli_convert_fleet_and_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_fleet()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # `--open` keeps its file for the user
    status, out, err = run_cli("convert", str(DEMO), "--to", str(tmp_path / "ds"))
    assert status == 0 and "71 events converted" in out and "intrusion.xml: 71 events" in err
    status, out, _ = run_cli("fleet", str(tmp_path / "ds"), "stack", "--engine", "local", "--by", "LogonType",
                             "--where", "4624", "--json")
    assert status == 0 and [(v["value"], v["count"]) for v in json.loads(out)["values"]] == [
        ("10", 2), ("2", 2), ("3", 2)]
    status, out, _ = run_cli("fleet", str(tmp_path / "ds"), "processes", "--engine", "local")
    assert status == 0 and "PSEXESVC.exe  parent C:\\Windows\\System32\\services.exe (0x26c)" in out
    status, out, err = run_cli("fleet", str(tmp_path / "ds"), "findings", "--engine", "local", "--open")
    assert status == 0 and "open them with: evtx-explorer open " in err
    opened = err.split("open them with: evtx-explorer open ")[1].strip()
    status, out, _ = run_cli("query", opened, "--no-cache")
    records = sorted(json.loads(line)["record_id"] for line in out.splitlines())
    assert status == 0 and len(records) == 8 and 48262 in records
    status, _, err = run_cli("fleet", str(tmp_path / "ds"), "query", "--engine", "local", "--where", "4688 AND")
    assert status == 2 and "nothing after 'AND'" in err
    status, _, err = run_cli("fleet", str(tmp_path / "nothing"), "query", "--engine", "local")
    assert status == 1 and "no converted events" in err


def test_parallel_convert_writes_the_same_rows(tmp_path: Path) -> None:
    require_fleet()
    import pyarrow.dataset as pads

    from core.fleet.convert import convert

    other = hostile_log(tmp_path / "hostile.jsonl")
    lines: list[str] = []
    parallel = convert([str(DEMO), str(other)], tmp_path / "par", workers=2, progress=lines.append)
    serial = convert([str(DEMO), str(other)], tmp_path / "ser")
    assert [r.records for r in parallel] == [r.records for r in serial] == [71, 5]
    assert sorted(lines) == sorted(f"[{n}/2] {r.path}: {r.records} events, 0 issues in {r.seconds:.1f} s"
                                   for n, r in enumerate(parallel, 1))

    def rows(root: Path) -> list[tuple[Any, ...]]:
        table = pads.dataset(str(root / "events"), format="parquet").to_table()
        return sorted(zip(*(table.column(c).to_pylist() for c in ("source", "place", "computer", "record_id")),
                          strict=True))

    assert rows(tmp_path / "par") == rows(tmp_path / "ser")


def test_open_with_context_adds_the_hosts_surrounding_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_fleet()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # `--open` keeps its file for the user
    run_cli("convert", str(DEMO), "--to", str(tmp_path / "ds"), "--quiet")

    def opened(*extra: str) -> list[dict[str, Any]]:
        status, _, err = run_cli("fleet", str(tmp_path / "ds"), "query", "--engine", "local", "--where",
                                 "record:48262", "--open", *extra)
        assert status == 0
        path = err.split("open them with: evtx-explorer open ")[1].strip()
        status, out, _ = run_cli("query", path, "--no-cache")
        return [json.loads(line) for line in out.splitlines()]

    assert [e["record_id"] for e in opened()] == [48262]
    around = opened("--context", "1")
    times = [e["time"] for e in around]
    assert 48262 in [e["record_id"] for e in around] and len(around) > 1
    assert {e["computer"] for e in around} == {"WS01.contoso.local"}
    assert min(times) >= "2024-03-14T08:30:00" and max(times) <= "2024-03-14T08:32:00.0000001Z"
