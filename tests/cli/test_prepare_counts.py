"""`prepare` counts the sessions the Sessions view lists.

On the demo log `prepare` said "6 sessions" (the logon sessions the model made, `corr_session`)
where the Sessions view, on the store it prepared, said "8 logon sessions on 2 computers" and
`correlate --sessions` listed 8: the view also lists each logon id with processes but no session
in the log (SYSTEM's, begun at boot; a logon before the log). `prepare` now counts the view's rows
(`sessions`) and says how many of them began before the log (`sessions_before_log`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.store import correlation_tables
from core.store.store import Store
from tests.apputil import DEMO
from tests.cliutil import run_cli
from tests.correlate.hand_made_logs import hand_made
from tests.logs import event_xml, write_events

LOGON = {"TargetUserSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "bob", "TargetDomainName": "CONTOSO",
         "TargetLogonId": "0x5a3c1", "LogonType": "3", "IpAddress": "10.0.0.5"}


def _log(which: str, tmp_path: Path) -> Path:
    if which == "demo":
        return DEMO
    if which == "hand-made":  # (processes of SYSTEM on two hosts, no 4624)
        return write_events(tmp_path / "handles.xml", hand_made())
    return write_events(tmp_path / "logon.xml", [event_xml(4624, 1, "2024-03-14T08:00:00Z", LOGON)])


@pytest.mark.parametrize(("which", "listed", "before"), [("demo", 8, 2), ("hand-made", 2, 2), ("one logon", 1, 0)])
def test_prepare_counts_the_rows_the_sessions_view_lists(tmp_path: Path, which: str, listed: int, before: int) -> None:
    log = _log(which, tmp_path)
    status, out, err = run_cli("prepare", str(log), "--json")
    assert status == 0, err
    doc = json.loads(out)
    status, sessions, err = run_cli("correlate", str(log), "--sessions", "--json")
    assert status == 0, err
    records = json.loads(sessions)
    assert (doc["sessions"], doc["sessions_before_log"]) == (len(records), sum(r["before_log"] for r in records))
    assert (doc["sessions"], doc["sessions_before_log"]) == (listed, before)
    with Store(Path(doc["store"]), readonly=True) as store:  # (the total the reopened view's status shows)
        assert correlation_tables.list_size(store, "sessions")[0] == listed
        assert correlation_tables.instance_count(store, "session") == listed - before
    status, text, err = run_cli("prepare", str(log))  # (kept: the same counts, read from the store)
    assert status == 0, err
    said = f"{listed} session{'s' if listed != 1 else ''}" + (f" ({before} begun before the log)" if before else "")
    assert f", {said}; every view and the links stored" in text
