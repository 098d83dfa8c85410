"""`fleet --engine local` against parts whose footer is intact but whose data is not: pages that
do not decode, text that is not UTF-8. The footer check (`readable_parts`) passes them, and
DuckDB's read failed every query of the dataset with one line that did not name the file. The
part is now found (read whole only once a read has failed), named, left out, and the answer asked
again on the rest, status 1. Also: `query --limit 0` (all, as the help says) and a null EventData
value (empty text, as the store has it, not "None")."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from core.model.text import printable
from tests.apputil import DEMO
from tests.cliutil import run_cli
from tests.fleetutil import require_fleet

ACTIONS = ("query", "stack", "timeline", "processes", "findings")
DEMO_EVENTS = 71


@pytest.fixture(autouse=True)
def _fleet() -> None:
    require_fleet()


def _demo(tmp_path: Path) -> tuple[Path, list[Path]]:
    """The demo converted: its two parts (one per computer)."""
    ds = tmp_path / "ds"
    assert run_cli("convert", str(DEMO), "--to", str(ds), "--quiet")[0] == 0
    parts = sorted((ds / "events").glob("*/*/*.parquet"))
    assert len(parts) == 2
    return ds, parts


def _damage_pages(part: Path) -> None:
    """Garbage over everything between the leading magic and the footer: the footer (schema, row
    groups) still reads, no page does."""
    data = bytearray(part.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    rnd = random.Random(99)
    for i in range(4, len(data) - 8 - footer):
        data[i] = rnd.randrange(256)
    part.write_bytes(bytes(data))


def _bad_utf8(ds: Path, like: Path) -> Path:
    """A part of the dataset's schema whose `computer` and `channel` hold bytes that are not UTF-8
    (labelled as text), in a partition folder of its own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(like)
    raw = pa.array([b"WS01\xff\xfe.contoso"] * table.num_rows, type=pa.binary())
    for name in ("computer", "channel"):
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name),
                                 pa.Array.from_buffers(pa.string(), len(raw), raw.buffers()))
    path = ds / "events" / "host=badutf8-00000000" / "day=2024-03-14" / "bad.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    return path


def _rows(part: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(part).num_rows)


@pytest.mark.parametrize("damage", ["pages", "utf8"])
def test_a_part_whose_data_cannot_be_read_is_named_and_left_out(tmp_path: Path, damage: str) -> None:
    """Every command answered status 1 with "the dataset could not be read: don't know what type"
    (the file not named) or DuckDB's UTF-8 error: the whole dataset lost to one part. The part is
    named and left out, the rest answers as the dataset without it, status 1."""
    ds, (first, second) = _demo(tmp_path)
    if damage == "pages":
        _damage_pages(first)
        bad, left = first, _rows(second)
    else:
        bad, left = _bad_utf8(ds, first), DEMO_EVENTS
    why = "damaged Parquet file, skipped" if damage == "pages" else "invalid data, skipped"
    for action in ACTIONS:
        status, out, err = run_cli("fleet", str(ds), action, "--engine", "local", "--json", "--by", "computer")
        # (a timeline of no filter reads no text column: the part's times answer it)
        named = not (action == "timeline" and damage == "utf8")
        assert status == named and "Traceback" not in err and "could not be read" not in err, (action, err)
        assert err.count(f"{printable(str(bad))}: {why}") == named, (action, err)
        if action == "query":
            assert len(out.splitlines()) == left
        if action == "stack":
            doc = json.loads(out)
            assert doc["events"] == left and "WS01\ufffd" not in out


def test_the_answer_is_asked_again_whole_without_the_part(tmp_path: Path) -> None:
    """A stack's count does not read the damaged pages, its values do: the whole stack is asked
    again without the part, so the total and the values count the same events."""
    from core.fleet import api
    from core.fleet.engines import LocalEngine

    ds, (first, second) = _demo(tmp_path)
    _damage_pages(first)
    lines: list[str] = []
    engine = LocalEngine(ds, report=lines.append)
    try:
        got = api.stack(engine, "", "EventID", limit=None)
        assert engine.parts == [str(second)] and len(lines) == 1 and lines[0].startswith(f"{first}: ")
        assert got.total == _rows(second) == sum(r.count for r in got.rows) + got.missing
        assert api.count(engine, "") == got.total  # (the view stays without it)
    finally:
        engine.close()


def test_a_healthy_dataset_is_never_read_whole_and_a_named_part_is_read_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full read is the failure's cost only: none for a dataset whose queries succeed; when the
    engine's error names the file (DuckDB's UTF-8 error does), that part alone is read."""
    import core.fleet.parts as parts
    from core.fleet import api
    from core.fleet.engines import LocalEngine

    read: list[str] = []
    real = parts.data_problem

    def data_problem(part: str) -> str | None:
        read.append(part)
        return real(part)

    monkeypatch.setattr(parts, "data_problem", data_problem)
    ds, (first, _) = _demo(tmp_path)
    engine = LocalEngine(ds)
    try:
        api.query(engine, "")
        api.stack(engine, "", "computer")
        api.processes(engine)
        assert read == []
    finally:
        engine.close()
    bad = _bad_utf8(ds, first)
    engine = LocalEngine(ds)
    try:
        assert len(api.query(engine, "")) == DEMO_EVENTS and read == [str(bad)]
    finally:
        engine.close()


def test_the_retries_are_bounded_and_an_error_no_part_explains_is_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure that leaves a part out each time is asked again MAX_RETRIES times, then raised; a
    failure no part is to blame for is raised at once (after reading the parts whole, once)."""
    import duckdb

    import core.fleet.parts as parts
    from core.fleet import api
    from core.fleet.engines import MAX_RETRIES, LocalEngine

    ds, (first, _) = _demo(tmp_path)
    for n in range(2 * MAX_RETRIES):
        copy = ds / "events" / f"host=copy{n}-00000000" / "day=2024-03-14" / "x.parquet"
        copy.parent.mkdir(parents=True)
        copy.write_bytes(first.read_bytes())
    engine = LocalEngine(ds)
    asked: list[str] = []

    def failing(query: Any) -> Any:
        asked.append(engine.parts[0])
        raise duckdb.IOException(f"cannot read {engine.parts[0]}")

    try:
        monkeypatch.setattr(engine, "table", failing)
        monkeypatch.setattr(parts, "data_problem", lambda part: "forced, skipped")
        with pytest.raises(duckdb.IOException):
            api.count(engine, "")
        assert len(asked) == MAX_RETRIES + 1 and len(engine.skipped) == MAX_RETRIES
        assert asked[:MAX_RETRIES] == [line.split(": forced")[0] for line in engine.skipped]
        monkeypatch.setattr(parts, "data_problem", lambda part: None)
        asked.clear()
        with pytest.raises(duckdb.IOException):
            api.count(engine, "")
        assert len(asked) == 1 and len(engine.skipped) == MAX_RETRIES
    finally:
        engine.close()


def test_every_part_unreadable_is_one_line_status_1(tmp_path: Path) -> None:
    """When the last part is left out there is nothing to answer: one line, status 1."""
    ds, damaged = _demo(tmp_path)
    for part in damaged:
        _damage_pages(part)
    status, out, err = run_cli("fleet", str(ds), "stack", "--engine", "local", "--by", "computer")
    assert status == 1 and out == "" and "Traceback" not in err
    assert "no readable converted events" in err and err.count("damaged Parquet file, skipped") == 3  # (2 + the last)


def test_query_limit_0_is_all(tmp_path: Path) -> None:
    """`--limit 0` printed no row (LIMIT 0) where the help says 0 = all, as `stack` takes it."""
    ds, _ = _demo(tmp_path)
    for limit, rows in (("0", DEMO_EVENTS), ("2", 2)):
        status, out, err = run_cli("fleet", str(ds), "query", "--engine", "local", "--limit", limit)
        assert status == 0 and len(out.splitlines()) == rows, (limit, err)


def test_a_null_data_value_is_empty_text_as_the_store_has_it(tmp_path: Path) -> None:
    """A null value in a part's `data` became the text "None" (`str(None)`); the store's loaders
    render a missing value as "" (`query --format jsonl` prints {"k": ""}), so does the fleet,
    for `query` and for the records `--open` hands the app."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.fleet.documents import dump_record

    ds, (first, _) = _demo(tmp_path)
    table = pq.read_table(first)
    row = {**table.slice(0, 1).to_pylist()[0], "record_id": 900, "data": [("k", None), ("j", "x")]}
    path = ds / "events" / "host=nulls-00000000" / "day=2024-03-14" / "n.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=table.schema), path)
    status, out, err = run_cli("fleet", str(ds), "query", "--engine", "local", "--where", "record:900")
    assert status == 0 and json.loads(out)["data"] == {"k": "", "j": "x"}, err
    store_out = run_cli("query", str(_null_log(tmp_path)), "--format", "jsonl")[1]
    assert json.loads(store_out)["data"] == {"k": "", "j": "x"}
    assert dump_record({**row, "data": [("k", None)]})["Event"]["EventData"] == {"k": ""}


def _null_log(tmp_path: Path) -> Path:
    """One JSON-lines event whose EventData value `k` is null: what the store makes of it."""
    path = tmp_path / "null.jsonl"
    path.write_text(json.dumps({"EventID": 4688, "Computer": "WS01", "TimeCreated": "2024-03-15T10:00:00Z",
                                "Channel": "Security", "EventRecordID": 1, "k": None, "j": "x"}) + "\n")
    return path


def test_a_fleet_query_line_is_the_stores_query_line(tmp_path: Path) -> None:
    """`fleet query` says it prints `query`'s JSON lines; it lacked the System fields (version,
    level, pid, user SID...) once `query` wrote them, and `data_repeats` for a repeated name."""
    ds, _ = _demo(tmp_path)
    status, out, err = run_cli("fleet", str(ds), "query", "--engine", "local", "--where", "4688", "--limit", "0")
    assert status == 0, err
    store_status, store_out, store_err = run_cli("query", str(DEMO), "--where", "4688", "--format", "jsonl")
    assert store_status == 0, store_err

    def keyed(text: str) -> dict[tuple[str, int], dict[str, Any]]:
        docs = [json.loads(line) for line in text.splitlines()]
        return {(d["computer"], d["record_id"]): {k: v for k, v in d.items() if k != "file"} for d in docs}

    fleet, store = keyed(out), keyed(store_out)
    assert fleet and fleet == store
    assert all(d["pid"] is not None and "level" in d for d in fleet.values())
