"""A restart (4608, 6005 of the EventLog, 4609/1100/6006 before it: `core.correlate.process_boots`)
ends the processes, handles and sessions of its computer: `fleet --engine local` reads its markers
as the store's model does (`api.model_event_ids`), and gives the store's process and handle rows
for the logs of `tests/correlate/test_reboot.py`. Without the markers the fleet took the pid,
handle value and logon id used after the restart for the instances of before it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.correlate.process_boots import MARKER_EVENT_IDS
from tests.correlate.events import h4656, h4658, p4688
from tests.correlate.reboot_logs import RESTART, marker, reboot_log, system_log
from tests.fleetutil import build_store, require_fleet, store_handles, store_processes
from tests.logs import write_events

CMD = r"C:\Windows\System32\cmd.exe"


def _log() -> list[str]:
    """HOST1 restarts (4609, 1100, 4608) with processes, a handle and a logon alive; HOST2 logs the
    same before the restart only (nothing ends it); HOST3 boots twice with SYSTEM's sessions; HOST4
    restarts by its System log's 6005 alone (a 6005 of Winlogon is none), a handle open."""
    return [
        *reboot_log(), *reboot_log("HOST2")[:4], *system_log("HOST3"),
        p4688(31, 1.0, "0x300", CMD, "0x4", computer="HOST4"),
        marker(6005, 32, 2.0, "Microsoft-Windows-Winlogon", "Application", "HOST4"),
        h4656(33, 3.0, "0x300", "0x44", r"\REGISTRY\MACHINE\X", CMD, computer="HOST4"),
        marker(6005, 34, 4.0, "EventLog", "System", "HOST4"),
        h4656(35, 5.0, "0x300", "0x48", r"\REGISTRY\MACHINE\X", CMD, computer="HOST4"),
        h4658(36, 6.0, "0x300", "0x48", CMD, computer="HOST4"),
    ]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """(the store, the DuckDB engine) of the same log."""
    require_fleet()
    from core.fleet.convert import convert
    from core.fleet.engines import LocalEngine

    tmp = tmp_path_factory.mktemp("restarts")
    paths = [str(write_events(tmp / "log.xml", _log()))]
    assert [r.error for r in convert(paths, tmp / "ds", jobs=1)] == [None]
    store = build_store(paths, tmp / "store.db")
    engine = LocalEngine(tmp / "ds")
    yield store, engine
    engine.close()
    store.close()


def test_the_fleet_model_reads_the_restart_markers() -> None:
    from core.fleet.api import model_event_ids

    assert set(MARKER_EVENT_IDS) <= set(model_event_ids())


def test_processes_end_at_the_restart_as_the_stores_do(both: tuple[Any, Any]) -> None:
    from core.fleet import api

    store, engine = both
    expected = store_processes(store)
    assert api.processes(engine) == expected
    host1 = [(p["pid"], p["start_record_id"], p["end_record_id"]) for p in expected if p["computer"] == "HOST1"]
    # System, explorer.exe and cmd.exe ended by the 4608 (record 7); after it a new 0x300 (no
    # 4688: first seen by the 4656 record 8) parent of notepad.exe, and a new 0x200 that exits.
    assert sorted(host1) == [(0x4, 2, 7), (0x200, 2, 7), (0x200, 11, 11), (0x300, 3, 7), (0x300, 8, None),
                             (0x400, 10, None)]
    (old,) = [p for p in expected if p["computer"] == "HOST1" and p["pid"] == 0x300 and p["end_record_id"] == 7]
    assert old["end_time"] is not None and old["end_time"] > old["start_time"]
    # Nothing ends HOST2's; HOST4's cmd.exe ends at the EventLog's 6005, not at Winlogon's.
    assert {p["end_record_id"] for p in expected if p["computer"] == "HOST2"} == {None}
    assert [(p["start_record_id"], p["end_record_id"]) for p in expected
            if p["computer"] == "HOST4" and p["pid"] == 0x300] == [(31, 34), (35, None)]


def test_handles_end_at_the_restart_as_the_stores_do(both: tuple[Any, Any]) -> None:
    from core.fleet import api

    store, engine = both
    expected = store_handles(store)
    assert api.handles(engine) == expected
    ended = {(h["computer"], h["handle_id"]): h["close_reason"] for h in expected
             if "ended by the restart" in (h["close_reason"] or "")}
    assert ended == {("HOST1", 0x44): f"no 4658 for it: ended by {RESTART}",
                     ("HOST4", 0x44): "no 4658 for it: ended by the restart (6005 record 34: the event log service "
                                      "was started)"}
