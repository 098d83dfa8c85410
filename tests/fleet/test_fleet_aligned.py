"""`fleet stack` and `fleet timeline` give the one-machine `stack` / `timeline` answers on the same
events: a small log converted to Parquet (DuckDB engine) against its SQLite store, with a
multi-valued field (two values; one value twice, in two spellings), an alias whose names share
an event (and a value), case variants, events without the field and without a time, and the
automatic and given bucket widths."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.stack import stack as store_stack
from core.query.timeline import parse_width
from core.query.timeline import timeline as store_timeline
from tests.fleetutil import build_store, require_fleet
from tests.logs import event_xml, write_events


def _log(path: Path) -> Path:
    events = [
        event_xml(4624, 1, "2024-03-14T08:00:00Z", {"TargetUserName": "Bob", "SubjectUserName": "WS01$",
                                                    "LogonType": "3", "Extra": "one"}),
        event_xml(4624, 2, "2024-03-14T08:00:30Z", {"TargetUserName": "bob", "SubjectUserName": "bob",
                                                    "LogonType": "3"}),
        event_xml(4624, 3, "2024-03-14T08:05:00Z", {"TargetUserName": "alice", "LogonType": "10"}, computer="DC01"),
        event_xml(4688, 4, "2024-03-14T09:10:00Z", {"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                                                    "CommandLine": "cmd /c whoami", "SubjectUserName": "alice"}),
        event_xml(4688, 5, "2024-03-14T11:59:59Z", {"NewProcessName": "C:\\Windows\\System32\\CMD.EXE",
                                                    "CommandLine": "cmd /c whoami"}),
        event_xml(4689, 6, "2024-03-14T12:00:00Z", {"ProcessName": "C:\\Windows\\System32\\cmd.exe"}),
    ]
    # A multi-valued field: `Extra` twice in the first event (two values), three times in another
    # (one value in two spellings, under two spellings of the name).
    events[0] = events[0].replace('<Data Name="Extra">one</Data>',
                                  '<Data Name="Extra">one</Data><Data Name="Extra">two</Data>')
    events[5] = events[5].replace("</EventData>", '<Data Name="Extra">two</Data><Data Name="extra">TWO</Data>'
                                  '<Data Name="Extra">two</Data></EventData>')
    # An event without a time; with names enough (no stack here counts them) for SQLite to read a
    # name's posting rows through its index, as in a store of real logs: that order decides the
    # spelling a stack shows (`core.fleet.query_sql.stack_pairs`).
    filler = {f"Filler{n}": str(n) for n in range(60)}
    events.append(event_xml(4624, 7, "2024-03-14T08:00:00Z", {"TargetUserName": "carol", **filler})
                  .replace('SystemTime="2024-03-14T08:00:00Z"', 'SystemTime=""'))
    return write_events(path, events)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path, Path]]:
    require_fleet()
    from core.fleet.convert import convert
    from core.fleet.engines import LocalEngine

    tmp = tmp_path_factory.mktemp("aligned")
    log = _log(tmp / "small.xml")
    assert [r.error for r in convert([str(log)], tmp / "ds", jobs=1)] == [None]
    store = build_store([str(log)], tmp / "store.db")
    engine = LocalEngine(tmp / "ds")
    yield store, engine, tmp / "ds", log
    engine.close()
    store.close()


STACKS = [("", "user"), ("", "Extra"), ("4624", "TargetUserName"), ("", "computer"), ("", "id"),
          ("", "image"), ("", "LogonType"), ("4688", "cmd"), ("-4624", "user"), ("", "file")]


@pytest.mark.parametrize(("where", "by"), STACKS)
def test_fleet_stack_is_the_stores(both: tuple[Any, Any, Path, Path], where: str, by: str) -> None:
    from core.fleet import api

    store, engine, _, _ = both
    for limit, descending in ((None, False), (2, True)):
        expected = store_stack(store, compile_query(where), by, limit=limit, descending=descending)
        got = api.stack(engine, where, by, limit=limit, descending=descending)
        assert got == expected


def test_multi_valued_fields_and_alias_overlaps_count_as_the_store_does(both: tuple[Any, Any, Path, Path]) -> None:
    from core.fleet import api

    _, engine, _, _ = both
    extra = api.stack(engine, "", "Extra", limit=None)
    assert [(r.value, r.count) for r in extra.rows] == [("one", 1), ("two", 2)]
    assert (extra.total, extra.missing) == (7, 5)  # each event holding it counted once
    users = api.stack(engine, "", "user", limit=None)
    assert ("bob", 2) in [(r.value.lower(), r.count) for r in users.rows]  # Bob/bob, one event under two names
    with pytest.raises(QueryError):
        api.stack(engine, "", "NoSuchField")
    with pytest.raises(QueryError):
        store_stack(both[0], compile_query(""), "NoSuchField")


def test_only_a_name_some_event_holds_twice_pays_for_its_surplus(both: tuple[Any, Any, Path, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack of one name is two queries, unless the dataset's markers say some event holds that
    name twice (or an input's marker predates saying it): then two more take its surplus off."""
    from core.fleet import api
    from core.fleet.convert import inputs

    _, engine, ds, _ = both
    assert [m["repeated_names"] for m in inputs(ds)] == [["extra"]]
    queries: list[object] = []
    original = engine.table

    def table(query: object) -> Any:
        queries.append(query)
        return original(query)

    monkeypatch.setattr(engine, "table", table)

    def queried(by: str) -> int:
        queries.clear()
        api.stack(engine, "", by, limit=None)
        return len(queries)

    assert (queried("TargetUserName"), queried("Extra")) == (2, 4)  # (the count, the pairs, the surplus)
    [marker] = (ds / "inputs").glob("*.json")
    saved = marker.read_text()
    try:
        marker.write_text(json.dumps({k: v for k, v in json.loads(saved).items() if k != "repeated_names"}))
        assert queried("TargetUserName") == 4
    finally:
        marker.write_text(saved)


@pytest.mark.parametrize(("where", "bucket"), [("", None), ("4624", "1m"), ("", "1h"), ("4688", None),
                                               ("4689", "30s"), ("record:7", None)])
def test_fleet_timeline_is_the_stores(both: tuple[Any, Any, Path, Path], where: str, bucket: str | None) -> None:
    from core.fleet import api

    store, engine, _, _ = both
    width = None if bucket is None else parse_width(bucket)
    assert api.timeline(engine, where, width) == store_timeline(store, compile_query(where), width)


def _cli(*argv: str) -> tuple[int, str]:
    from cli.main import main

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        status = main(list(argv))
    return status, out.getvalue()


def test_cli_fleet_stack_and_timeline_print_what_stack_and_timeline_print(both: tuple[Any, Any, Path, Path]) -> None:
    _, _, ds, log = both
    for one, fleet in (
        (["stack", str(log), "--by", "user", "--no-cache"], ["stack", "--by", "user"]),
        (["stack", str(log), "--by", "Extra", "--where", "-4689", "--format", "json", "--no-cache"],
         ["stack", "--by", "Extra", "--where", "-4689", "--json"]),
        (["timeline", str(log), "--no-cache"], ["timeline"]),
        (["timeline", str(log), "--bucket", "5m", "--format", "json", "--no-cache"],
         ["timeline", "--bucket", "5m", "--json"]),
    ):
        status, expected = _cli(*one)
        assert status == 0 and expected
        assert _cli("fleet", str(ds), fleet[0], "--engine", "local", *fleet[1:]) == (0, expected)
    status, out = _cli("fleet", str(ds), "timeline", "--engine", "local", "--json")
    assert json.loads(out)["without_time"] == 1
