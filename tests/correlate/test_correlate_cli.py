"""`evtx-explorer correlate` on hand-made logs: a record id shared by two files printed for both,
scoped by host; the text output is the tree; errors and exit statuses; terminal controls in
event data escaped on a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cliutil import run_cli
from tests.correlate.events import d4690, h4658
from tests.correlate.hand_made_logs import scenario


@pytest.fixture()
def two_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two hosts' logs that share record IDs: HOST1 has the 4688 behind its 4690, HOST2 not."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    one = tmp_path / "host1.xml"
    one.write_text("<Events>" + "".join(scenario()) + "</Events>", encoding="utf-8")
    two = tmp_path / "host2.xml"
    two.write_text("<Events>" + "".join([
        d4690(2, 1.0, "0x1dac", "0x1ac", "0x4", "0x1644", computer="HOST2"),
        h4658(3, 1.1, "0x1dac", "0x1644", r"C:\x\other.exe", computer="HOST2"),
    ]) + "</Events>", encoding="utf-8")
    return one, two


def test_cli_record_shared_by_two_files_prints_both_scoped_by_host(two_logs: tuple[Path, Path]) -> None:
    one, two = two_logs
    status, out, err = run_cli("correlate", str(one), str(two), "--record", "2", "--json")
    assert status == 0, err
    docs = json.loads(out)
    assert [(d["event"]["computer"], d["event"]["file"]) for d in docs] == [("HOST1", str(one)), ("HOST2", str(two))]
    h1, h2 = docs
    assert h1["source_process"]["record_id"] == 1 and h1["source_process"]["confidence"] == "exact"
    assert h1["source_process"]["image"] == r"C:\Windows\System32\drvinst.exe"
    assert h2["source_process"] == {
        "record_id": None, "pid": 0x1DAC, "image": r"C:\x\other.exe", "confidence": "inferred",
        "reason": "no 4688 for 0x1dac: there is no 4688 at all for HOST2 in this log (Process Creation auditing "
                  "seems off)",
        "pid_hex": "0x1dac", "guid": None, "sysmon_record_id": None,
    }
    assert h1["source_handle"]["open_record_id"] == 4 and h2["source_handle"]["open_record_id"] is None
    assert h2["target_handle"]["close_record_id"] == 3
    assert h1["event"]["time"] == "2021-10-08T12:57:01.0000000Z"
    assert {k: h1["session"][k] for k in ("logon_id", "record_id", "user")} == {
        "logon_id": 0x3E7, "record_id": None, "user": "NT AUTHORITY\\SYSTEM"}
    assert (h1["session"]["logon_id_hex"], h1["session"]["confidence"]) == ("0x3e7", "exact")
    assert h1["source_handle"]["handle_id_hex"] == "0x1ac" and h1["source_handle"]["confidence"] == "inferred"


def test_cli_text_output_is_the_tree(two_logs: tuple[Path, Path]) -> None:
    one, _ = two_logs
    status, out, _ = run_cli("correlate", str(one), "--where", "4690")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("# ") and lines[0].endswith("record 2 (4690)")
    assert lines[1].startswith("[exact] 4690 handle duplicated: drvinst.exe 0x1dac (7596) handle 0x1ac")
    assert "  [exact] source process: drvinst.exe 0x1dac (7596)" in lines


def test_cli_errors_and_exit_statuses(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    one, _ = two_logs
    status, out, err = run_cli("correlate", str(one), "--where", "4690 AND (", "--json")
    assert status == 2 and out == "" and "bad query" in err and "^" in err
    status, out, err = run_cli("correlate", str(one), "--json")
    assert status == 2 and "usage" in err
    status, out, err = run_cli("correlate", str(one), "--record", "twelve")
    assert status == 2 and "not a record ID" in err
    missing = tmp_path / "gone.evtx"
    status, out, err = run_cli("correlate", str(missing), str(one), "--record", "2", "--json")
    assert status == 1 and str(missing) in err
    assert [d["event"]["record_id"] for d in json.loads(out)] == [2]
    status, out, err = run_cli("correlate", str(one), "--record", "999", "--json")
    assert status == 3 and json.loads(out) == [] and "no event matches record ID 999" in err


def test_cli_text_output_escapes_terminal_controls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    log = tmp_path / "evil.jsonl"
    log.write_text(json.dumps({
        "EventID": 4688, "Hostname": "WS1", "TimeCreated": "2020-10-29T08:23:20.533Z", "Channel": "security",
        "NewProcessId": "0xea8", "NewProcessName": "C:\\x\\evil\u001b]52;c;AAAA\u0007.exe", "ProcessId": "0x4",
    }) + "\n", encoding="utf-8")
    status, out, err = run_cli("correlate", str(log), "--record", "1", "--no-cache")
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b]52;c;AAAA\\x07.exe" in out
