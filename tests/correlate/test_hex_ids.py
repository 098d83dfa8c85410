"""Ids a log gives as negative decimals (`-1`, `-5`: hostile or broken) read as the unsigned 64-bit
values they stand for, as the event table shows them: correlation wrote `0x-1`, `0x-5`."""

from __future__ import annotations

from pathlib import Path

from core.model.values import as_int, hex_id
from tests.cliutil import run_cli
from tests.correlate.hand_made_logs import unreadable_logon_ids
from tests.logs import event_xml, write_events


def test_an_id_is_worded_as_windows_prints_it() -> None:
    assert hex_id(0x3E7) == "0x3e7"
    assert hex_id(-1) == "0xffffffffffffffff"
    value = as_int("0xfffffffffffffffb")
    assert value == -5 and hex_id(value) == "0xfffffffffffffffb"  # the round trip of the store's ints


def test_correlate_words_a_negative_logon_id_and_pid_unsigned(tmp_path: Path) -> None:
    log = write_events(tmp_path / "log.xml", [
        event_xml(4624, 1, "2024-01-01T00:00:00Z", {"TargetLogonId": "-1", "TargetUserName": "bob",
                                                   "LogonType": "2"}),
        event_xml(4688, 2, "2024-01-01T00:00:01Z", {"SubjectLogonId": "-1", "NewProcessId": "-5",
                                                   "ProcessId": "0x4", "NewProcessName": "C:\\x.exe"}),
    ])
    code, out, err = run_cli("correlate", str(log), "--sessions")
    assert code == 0, err
    assert "0x-" not in out and "0xffffffffffffffff" in out
    code, out, err = run_cli("correlate", str(log), "--record", "2")
    assert code == 0, err
    assert "0x-" not in out and "0xfffffffffffffffb" in out


def test_logon_events_whose_logon_id_is_no_number_are_counted_not_lost_silently(tmp_path: Path) -> None:
    log = write_events(tmp_path / "log.xml", unreadable_logon_ids())
    code, out, err = run_cli("correlate", str(log), "--sessions")
    assert code == 0 and len(out.splitlines()) == 1 and "bob" in out
    assert "2 logon, logoff or privilege events name a logon id that is no number" in err
