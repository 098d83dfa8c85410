"""`correlate --record N` on a logon said `processes started in this session: 2` and listed
none of them (`--json`: only `process_count`), while it listed every event the session did. The
tree lists them now (name, pid, image, creation record; a long list cut to its edges as the
tree's other lists), and the JSON session names them as `correlate --sessions --json` does."""

from __future__ import annotations

import json
from pathlib import Path

from core.correlate.tree import TREE_EDGE
from core.report.sessions import SESSION_PROCESSES_LISTED
from tests.cliutil import run_cli
from tests.correlate.events import p4688, s4624

LOGON = "0x4a5af0"


def _log(tmp_path: Path, processes: int) -> Path:
    """A 4624 (record 1) and `processes` 4688s started in its session (records 2, 3, ...)."""
    docs = [s4624(1, 1.0, LOGON)]
    docs += [p4688(2 + i, 2.0 + i * 0.5, hex(0x100 + 4 * i), rf"C:\Tools\tool{i}.exe", "0x4", logon=LOGON)
             for i in range(processes)]
    path = tmp_path / "sessions.xml"
    path.write_text("<Events>" + "".join(docs) + "</Events>", encoding="utf-8")
    return path


def test_the_tree_lists_each_process_with_image_pid_and_creation_record(tmp_path: Path) -> None:
    status, out, err = run_cli("correlate", str(_log(tmp_path, 2)), "--no-cache", "--record", "1")
    assert status == 0, err
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "processes started in this session: 2" in line)
    assert [line.strip() for line in lines[at + 1 : at + 3]] == [
        r"[exact] tool0.exe 0x100 (256): C:\Tools\tool0.exe, created 4688 record 2 at 2021-10-08T12:57:02.0000000Z",
        r"[exact] tool1.exe 0x104 (260): C:\Tools\tool1.exe, created 4688 record 3 at 2021-10-08T12:57:02.5000000Z",
    ]


def test_a_long_list_is_cut_to_its_edges_saying_how_many_and_which_records(tmp_path: Path) -> None:
    n = 2 * TREE_EDGE + 10
    status, out, err = run_cli("correlate", str(_log(tmp_path, n)), "--no-cache", "--record", "1")
    assert status == 0, err
    shown = [line for line in out.splitlines() if ": C:\\Tools\\tool" in line]
    assert len(shown) == 2 * TREE_EDGE
    assert "tool0.exe" in shown[0] and f"tool{n - 1}.exe" in shown[-1]
    first_hidden, last_hidden = 2 + TREE_EDGE, 2 + n - TREE_EDGE - 1
    assert (f"... 10 more processes, records {first_hidden} to {last_hidden} "
            f"(the first and last {TREE_EDGE} are shown)") in out


def test_the_json_session_names_its_processes_as_the_sessions_listing_does(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    status, out, err = run_cli("correlate", str(log), "--no-cache", "--record", "1", "--json")
    assert status == 0, err
    session = json.loads(out)[0]["session"]
    assert session["process_count"] == 2 and session["processes_left_out"] == 0
    assert [(p["record_id"], p["pid"], p["image"]) for p in session["processes"]] == [
        (2, 0x100, r"C:\Tools\tool0.exe"), (3, 0x104, r"C:\Tools\tool1.exe")]
    status, out, err = run_cli("correlate", str(log), "--no-cache", "--sessions", "--json")
    assert status == 0, err
    [listed] = json.loads(out)
    assert session["processes"] == listed["processes"]  # the one shape


def test_the_json_list_is_capped_with_a_count_of_the_rest(tmp_path: Path) -> None:
    n = SESSION_PROCESSES_LISTED + 7
    status, out, err = run_cli("correlate", str(_log(tmp_path, n)), "--no-cache", "--record", "1", "--json")
    assert status == 0, err
    session = json.loads(out)[0]["session"]
    assert session["process_count"] == n and session["processes_left_out"] == 7
    assert [p["record_id"] for p in session["processes"]] == list(range(2, 2 + SESSION_PROCESSES_LISTED))


def test_an_event_without_a_session_has_no_process_list(tmp_path: Path) -> None:
    """A 4688 under a logon id no 4624 of the log opened: the session link is missing, its
    fields None (as `session_fields` leaves them), the processes too: no list to read as empty."""
    path = tmp_path / "nosession.xml"
    path.write_text("<Events>" + p4688(1, 1.0, "0x100", r"C:\Tools\a.exe", "0x4", logon="0x77") + "</Events>",
                    encoding="utf-8")
    status, out, err = run_cli("correlate", str(path), "--no-cache", "--record", "1", "--json")
    assert status == 0, err
    session = json.loads(out)[0]["session"]
    assert session["confidence"] == "missing" and session["process_count"] is None
    assert session["processes"] is None and session["processes_left_out"] is None
