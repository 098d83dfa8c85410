"""Where `fleet --engine local` gave another answer than the one-machine store for the same inputs
(found by comparing them over many queries): value lists `name:(a OR b)` (ignored, or refused as
"empty list item"), `[?]`-style literals, field names no event holds (0 rows, or every event
under `-`, where the store refuses them), events without a time (first in the process model),
and the spelling a stack shows for a value written several ways. The store's answer is the
reference in every case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.stack import stack as store_stack
from core.query.timeline import timeline as store_timeline
from tests.cliutil import run_cli
from tests.fleetutil import build_store, require_fleet, store_processes, store_query
from tests.logs import event_xml, write_events

T = "2024-03-14T08:0{}:00Z"
FILLER = 60
WS = "WS01"


def _untimed(xml: str) -> str:
    return xml.replace(f'SystemTime="{T.format(0)}"', 'SystemTime=""')


def _xml_log(path: Path) -> Path:
    events = [
        event_xml(4624, 1, T.format(0), {"TargetUserName": "alice", "LogonType": "3"}, computer=WS),
        event_xml(4688, 2, T.format(1), {"NewProcessName": "C:\\Tools\\Tool.exe", "CommandLine": "what?",
                                         "SubjectUserName": "bob"}, computer=WS),
        event_xml(4625, 3, T.format(2), {"TargetUserName": "bob", "LogonType": "10"}, computer=WS),
        event_xml(4688, 4, T.format(3), {"NewProcessName": "C:\\Windows\\System32\\whoami.exe",
                                         "CommandLine": "whatX"}, computer=WS),
        event_xml(4688, 5, T.format(4), {"NewProcessName": "c:\\tools\\tool.exe"}, computer=WS),
        event_xml(4688, 6, T.format(5), {"NewProcessName": "C:\\Windows\\explorer.exe"}, computer=WS),
        # Names enough for SQLite to read a name's posting rows through its index (as in a store of
        # real logs), whose order decides the spelling a stack shows (`test_a_stack_shows_...`).
        event_xml(1, 7, T.format(5), {f"Filler{n}": str(n) for n in range(FILLER)}, computer=WS),
        # A process chain on a computer of its own, two of its events without a time: the model
        # places each after its input's previous event (the store's `time_order`).
        event_xml(4688, 501, T.format(6), {"NewProcessId": "0x600", "ProcessId": "0x4",
                                           "NewProcessName": "C:\\Windows\\System32\\cmd.exe"}, computer="HOSTN"),
        _untimed(event_xml(4688, 502, T.format(0), {"NewProcessId": "0x604", "ProcessId": "0x600",
                                                    "NewProcessName": "C:\\Windows\\System32\\net.exe"},
                           computer="HOSTN")),
        event_xml(4689, 503, T.format(8), {"ProcessId": "0x604", "ProcessName": "C:\\Windows\\System32\\net.exe"},
                  computer="HOSTN"),
        _untimed(event_xml(4689, 504, T.format(0), {"ProcessId": "0x600",
                                                    "ProcessName": "C:\\Windows\\System32\\cmd.exe"},
                           computer="HOSTN")),
    ]
    return write_events(path, events)


def _json_log(path: Path) -> Path:
    """A second input (after the first by path, as in the store's load order): the spelling
    `c:\\tools\\tool.exe` first of all places, and explorer under `Image`, a name before
    `NewProcessName`."""
    lines = [{"EventID": 1, "Computer": "WS02", "TimeCreated": T.format(0), "EventRecordID": 1,
              "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\windows\\Explorer.EXE",
              "NewProcessName": "c:\\tools\\tool.exe"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    """(the store, the DuckDB engine, the dataset) of the same two inputs."""
    require_fleet()
    from core.fleet.convert import convert
    from core.fleet.engines import LocalEngine

    tmp = tmp_path_factory.mktemp("parity")
    paths = [str(_xml_log(tmp / "a.xml")), str(_json_log(tmp / "b.jsonl"))]
    assert [r.error for r in convert(paths, tmp / "ds", jobs=1)] == [None, None]
    store = build_store(paths, tmp / "store.db")
    engine = LocalEngine(tmp / "ds")
    yield store, engine, tmp / "ds"
    engine.close()
    store.close()


LISTS = ["user:(alice OR bob)", "TargetUserName:(alice OR \"BOB\")", "image:(*cmd.exe OR *whoami.exe)",
         "id:(4624 OR 4625)", "id:(4624)", "id:(4624,4625 OR 4688)", "record:(1 OR 3)", "host:(ws01 OR nothing)",
         "-id:(4624 OR 4688)", "LogonType:(3 OR 0xa)", "after:(2024-03-14T08:04)", "cmd:what[?]",
         "cmd:(what[?] OR none)"]


@pytest.mark.parametrize("where", LISTS)
def test_value_lists_and_literals_match_the_stores_events(both: tuple[Any, Any, Path], where: str) -> None:
    """`name:(a OR b)` is any of the values, each as `name:a` (the fleet read no value of a list:
    0 rows, all of a glob's, or "empty list item" for a number); `[?]` is a literal `?`."""
    from core.fleet import api

    store, engine, _ = both
    expected = store_query(store, where)
    assert expected  # (each query finds something)
    assert [(r["source"], r["place"]) for r in api.query(engine, where)] == expected


@pytest.mark.parametrize("where", ["user:(alice OR bob)", "id:(4624 OR 4688)"])
def test_value_lists_in_stack_and_timeline_wheres(both: tuple[Any, Any, Path], where: str) -> None:
    from core.fleet import api

    store, engine, _ = both
    assert api.stack(engine, where, "id", limit=None) == store_stack(store, compile_query(where), "id", limit=None)
    assert api.timeline(engine, where) == store_timeline(store, compile_query(where), None)


@pytest.mark.parametrize("where", ["usr:alice", "tid:100", "NoSuchField:1", "CommandLine[1]:x", "-nosuch:1",
                                   "4688 OR (user:x AND TargetUsrName:(a OR b))"])
def test_a_field_no_event_holds_is_refused_as_the_store_refuses_it(both: tuple[Any, Any, Path], where: str) -> None:
    from core.fleet import api

    store, engine, _ = both
    with pytest.raises(QueryError) as expected:
        compile_query(where, store.field_names())
    with pytest.raises(QueryError) as got:
        api.check_names(engine, where)
    assert (got.value.message, got.value.position) == (expected.value.message, expected.value.position)


def test_known_field_names_pass(both: tuple[Any, Any, Path]) -> None:
    from core.fleet import api

    store, engine, _ = both
    for where in ("", "TargetUserName:bob", "logontype:(3 OR 10) -commandline:x", "user:x usersid:y", "4688"):
        compile_query(where, store.field_names())
        api.check_names(engine, where)


@pytest.mark.parametrize("action", ["query", "stack", "timeline", "processes"])
def test_cli_refuses_an_unknown_field_with_status_2(both: tuple[Any, Any, Path], action: str) -> None:
    _, _, ds = both
    status, out, err = run_cli("fleet", str(ds), action, "--engine", "local", "--where=-usr:alice")
    assert (status, out) == (2, "")
    assert "bad query: unknown field 'usr' (did you mean user" in err and "at position 1" in err


def test_events_without_a_time_take_their_place_in_the_process_model(both: tuple[Any, Any, Path]) -> None:
    """The fleet numbered a computer's events in view order, where an event without a time comes
    first: the model then took it before its process's start (net.exe's parent unknown, cmd.exe
    twice: one row more than the store)."""
    from core.fleet import api

    store, engine, _ = both
    expected = [p for p in store_processes(store) if p["computer"] == "HOSTN"]
    got = [p for p in api.processes(engine) if p["computer"] == "HOSTN"]
    assert got == expected
    assert {(p["pid"], p["parent_record_id"], p["end_record_id"]) for p in got if p["confidence"] == "exact"} == {
        (0x600, 501, 504), (0x604, 501, 503)}


@pytest.mark.parametrize("by", ["image", "NewProcessName"])
def test_a_stack_shows_the_spelling_the_store_shows(both: tuple[Any, Any, Path], by: str) -> None:
    """The store shows a value's spelling first met by name, then as stored (input, place): the
    fleet ordered by the least input and the least place taken apart (another event's), then
    by input before name."""
    from core.fleet import api

    store, engine, _ = both
    plan = store.conn.execute("EXPLAIN QUERY PLAN SELECT p.value FROM postings p WHERE p.name IN (?, ?)",
                              ("image", "newprocessname")).fetchall()
    assert "INDEX postings_value" in str(plan)  # (the store's order: by name, value, then as stored)
    expected = store_stack(store, compile_query(""), by, limit=None)
    assert api.stack(engine, "", by, limit=None) == expected
    shown = {r.value for r in expected.rows}
    assert "C:\\Tools\\Tool.exe" in shown and ("C:\\windows\\Explorer.EXE" in shown) is (by == "image")
