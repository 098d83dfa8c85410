"""`correlate --sessions` lists every row the app's Sessions view lists, in its order.

The demo's view says "8 logon sessions on 2 computers": the six sessions with a 4624, and first
the SYSTEM (0x3e7) session of each computer known without a 4624 in the log (no 4624 in its
boot: Windows need not log one). The CLI listed only the six, so a script never saw DC01's
PSEXESVC.exe -> cmd.exe -> ntdsutil.exe (4688 records 913376-913378) under any session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.correlate.model import model_from_store
from core.store.cache import open_inputs
from tests.cliutil import run_cli
from tui.session_rows import session_counts, status_text
from tui.sessions import session_rows

DEMO = Path(__file__).resolve().parents[2] / "demo" / "intrusion.xml"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def cli_sessions() -> list[dict[str, Any]]:
    status, out, err = run_cli("correlate", str(DEMO), "--sessions", "--json")
    assert status == 0, err
    listed: list[dict[str, Any]] = json.loads(out)
    return listed


def test_the_cli_lists_the_rows_of_the_sessions_view_in_its_order() -> None:
    store = open_inputs([str(DEMO)], use_cache=False, jobs=1)
    model = model_from_store(store)
    rows = session_rows(model)
    total, computers, unreadable = session_counts(model)
    assert status_text(total, computers, None, unreadable) == "8 logon sessions on 2 computers"
    listed = cli_sessions()
    assert len(listed) == len(rows) == total
    for record, row in zip(listed, rows, strict=True):
        s = row.session
        assert (record["computer"], record["logon_id"], record["logon_id_hex"]) == (
            row.computer, row.logon_id, f"0x{row.logon_id:x}")
        assert (record["user"] or "?") == row.user
        assert record["before_log"] is (s is None)
        assert record["record_id"] == (s.logon.record_id if s is not None and s.logon is not None else None)
        assert record["process_count"] == len(row.processes)
        assert [(p["pid"], p["image"], p["record_id"]) for p in record["processes"]] == [
            (p.pid, p.image, (p.created or p.sysmon_created or p.first_seen).record_id) for p in row.processes]


def test_the_system_sessions_known_without_a_4624_hold_their_processes() -> None:
    listed = cli_sessions()
    before = [r for r in listed if r["before_log"]]
    assert [(r["computer"], r["logon_id_hex"], r["user"]) for r in before] == [
        ("DC01.contoso.local", "0x3e7", "NT AUTHORITY\\SYSTEM"),
        ("WS01.contoso.local", "0x3e7", "NT AUTHORITY\\SYSTEM")]
    assert listed[:2] == before  # (they began before the log: first, as in the view)
    dc = before[0]
    assert [(p["record_id"], p["image"].rsplit("\\", 1)[-1]) for p in dc["processes"]] == [
        (913376, "PSEXESVC.exe"), (913377, "cmd.exe"), (913378, "ntdsutil.exe")]
    assert dc["process_count"] == 3 and dc["start"] is None and dc["still_open"] is None
    assert "well-known session of NT AUTHORITY\\SYSTEM" in dc["reason"]
    assert all(r["reason"] is None and r["start"] is not None for r in listed[2:])
    # Every process started under a logon id is under some row.
    status, out, err = run_cli("correlate", str(DEMO), "--where", "4688", "--json")
    assert status == 0, err
    created = {d["event"]["record_id"] for d in json.loads(out)}
    assert created <= {p["record_id"] for r in listed for p in r["processes"]}


def test_the_text_lines_start_before_the_log() -> None:
    status, out, err = run_cli("correlate", str(DEMO), "--sessions")
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 8
    assert lines[0] == ("before the log  DC01.contoso.local  0x3e7  NT AUTHORITY\\SYSTEM  type -  from -  auth -  "
                        "privileged -  processes 3  end -")
    assert lines[1].startswith("before the log  WS01.contoso.local  0x3e7  ")
    assert all(not line.startswith("before the log") for line in lines[2:])
