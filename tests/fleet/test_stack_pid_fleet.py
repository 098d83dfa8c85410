"""`fleet stack --by pid` / `--by processid` give the one-machine stacks (`core.query.stack`) on the
same events: the process-id fields and the System header's ProcessID (outside the Security and
Sysmon logs for `pid`), numbers grouped as numbers and shown in hex, an event holding one number
in a field and the header counted once (a Parquet dataset on DuckDB against its SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.query.compile import compile_query
from core.query.stack import stack as store_stack
from tests.fleetutil import build_store, require_fleet
from tests.logs import event_xml, write_events

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _log(path: Path) -> Path:
    at = "2024-03-14T08:00:{:02d}Z".format
    events = [
        event_xml(4688, 1, at(1), {"NewProcessId": "0x1e0c", "ProcessId": "0x2a8"}, pid=680),
        event_xml(4688, 2, at(2), {"NewProcessId": "0x1f40", "ProcessId": "0x1E0C"}, pid=680),
        event_xml(1, 3, at(3), {"ProcessId": "7692", "ParentProcessId": "680"}, channel=SYSMON, pid=2000),
        event_xml(7036, 4, at(4), {"ProcessId": "0x00001e0c"}, channel="System", pid=7692),
        event_xml(7036, 5, at(5), {"ProcessId": "0x4"}, channel="System", pid=7692),
        event_xml(7036, 6, at(6), {"param1": "x"}, channel="System", pid=4),
        event_xml(1000, 7, at(7), {"ProcessId": "-", "TargetProcessId": "0xffffffffffffffff"}, channel="Application",
                  pid=8000),
        event_xml(1000, 8, at(8), {"Other": "y"}, channel="Application", pid=8000)
        .replace('<Execution ProcessID="8000" ThreadID="100" />', ""),
    ]
    return write_events(path, events)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    require_fleet()
    from core.fleet.convert import convert
    from core.fleet.engines import LocalEngine

    tmp = tmp_path_factory.mktemp("pids")
    log = _log(tmp / "pids.xml")
    assert [r.error for r in convert([str(log)], tmp / "ds", jobs=1)] == [None]
    store = build_store([str(log)], tmp / "store.db")
    engine = LocalEngine(tmp / "ds")
    yield store, engine
    engine.close()
    store.close()


@pytest.mark.parametrize("by", ["pid", "processid"])
@pytest.mark.parametrize("where", ["", "4688", "-4688", "channel:System", "pid:0x1e0c", "NOT 1000"])
def test_fleet_pid_stacks_are_the_stores(both: tuple[Any, Any], where: str, by: str) -> None:
    from core.fleet import api

    store, engine = both
    for limit, descending in ((None, False), (2, True)):
        expected = store_stack(store, compile_query(where), by, limit=limit, descending=descending)
        assert api.stack(engine, where, by, limit=limit, descending=descending) == expected, (where, by)


def test_the_fleet_counts_one_number_once_per_event(both: tuple[Any, Any]) -> None:
    """By hand: `0x1e0c` is 4688's hex, Sysmon's decimal and a System header (with the same number
    in its field: once); lsass (680) and Sysmon (2000) are their logs' loggers, so `pid` leaves
    their headers out and `processid` keeps them; a crafted `0xffffffffffffffff` shows as -1."""
    from core.fleet import api

    _, engine = both
    pids = api.stack(engine, "", "pid", limit=None)
    assert {r.value: r.count for r in pids.rows} == {"0x1e0c": 5, "0x2a8": 2, "0x1f40": 2, "0x4": 2, "-": 1, "-1": 1}
    assert (pids.field, pids.total, pids.missing) == ("pid", 8, 1)
    header = api.stack(engine, "", "processid", limit=None)
    assert {r.value: r.count for r in header.rows} == {"0x2a8": 2, "0x1e0c": 4, "0x7d0": 1, "0x4": 2, "0x1f40": 1,
                                                      "-": 1}
    assert (header.field, header.missing) == ("processid", 1)
