"""The headless CLI: output shapes, exit statuses, the cache, hex/decimal equality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import core.store.cache
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = "2015-11-12T02:24:52.3773525Z"


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(cache))
    return cache


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    return write_events(
        tmp_path / "sec.xml",
        [
            event_xml(4688, 2814, T0, {"SubjectUserName": "dadmin", "NewProcessId": "0x0000000000000c8c",
                                        "NewProcessName": "C:\\Windows\\System32\\rundll32.exe",
                                        "ProcessId": "0xe74", "CommandLine": ""}),
            event_xml(4689, 2815, "2015-11-12T02:25:00Z", {"ProcessId": "0xc8c",
                                                           "ProcessName": "C:\\Windows\\System32\\rundll32.exe"}),
            event_xml(4624, 2816, "2015-11-12T02:26:00Z", {"TargetUserName": "bob", "LogonType": "2"},
                      computer="DC01.contoso.local"),
        ],
    )


def test_stats_json_shape(log: Path) -> None:
    status, out, err = run_cli("stats", "--json", str(log))
    assert status == 0, err
    doc = json.loads(out)
    assert doc["total_records"] == 3
    (f,) = doc["files"]
    assert set(f) >= {"path", "records", "parse_issues", "error", "event_ids", "first", "last", "computers"}
    assert f["path"] == str(log) and f["records"] == 3 and f["parse_issues"] == 0 and f["error"] is None
    assert f["event_ids"] == {"4624": 1, "4688": 1, "4689": 1}
    assert f["first"] == "2015-11-12T02:24:52.3773525Z"
    assert f["last"].startswith("2015-11-12T02:26:00")
    assert f["computers"] == ["DC01.contoso.local", "WS01.contoso.local"]


def test_query_jsonl_shape_and_hex_decimal_equality(log: Path) -> None:
    for where in ("pid:3212", "pid:0xc8c", "pid:0x00000c8c", "pid:0x0000000000000c8c"):
        status, out, err = run_cli("query", str(log), "--where", where)
        assert status == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        assert [r["record_id"] for r in rows] == [2814, 2815], where
    first = json.loads(run_cli("query", str(log), "--where", "4688")[1].splitlines()[0])
    assert set(first) == {"file", "record_id", "time", "event_id", "computer", "channel", "provider", "version",
                          "level", "task", "opcode", "keywords", "pid", "tid", "user_sid", "data"}
    assert first["time"].endswith("Z") and first["event_id"] == 4688 and first["channel"] == "Security"
    assert first["data"]["NewProcessId"] == "0x0000000000000c8c"
    assert first["data"]["CommandLine"] == ""


def test_query_limit_csv_and_table(log: Path) -> None:
    status, out, _ = run_cli("query", str(log), "--limit", "2", "--format", "csv")
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("file,record_id,time") and len(lines) == 3
    status, out, _ = run_cli("query", str(log), "--format", "table", "--where", "host:DC01*")
    assert status == 0 and "2816" in out and "2814" not in out


def test_record_id_falls_back_to_position(tmp_path: Path) -> None:
    log = write_events(tmp_path / "norid.xml", [event_xml(4688, None, T0), event_xml(4689, None, T0)])
    rows = [json.loads(x) for x in run_cli("query", str(log))[1].splitlines()]
    assert [r["record_id"] for r in rows] == [1, 2]


def test_bad_query_exit_2_with_position(log: Path) -> None:
    status, out, err = run_cli("query", str(log), "--where", "4688 AND (user:bob")
    assert status == 2 and out == ""
    assert "position" in err and "^" in err


def test_usage_error_exit_2() -> None:
    status, _, err = run_cli("query")
    assert status == 2 and "usage" in err


def test_unreadable_input_exit_1_others_still_load(log: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    garbage = tmp_path / "notes.evtx"
    garbage.write_bytes(b"this is not an event log\n" * 10)
    status, out, err = run_cli("stats", "--json", str(empty), str(log), str(garbage))
    assert status == 1
    doc = json.loads(out)
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path[str(log)]["records"] == 3 and by_path[str(log)]["error"] is None
    for bad in (empty, garbage):
        msg = by_path[str(bad)]["error"]
        assert msg and str(bad) in msg and "\n" not in msg
        assert str(bad) in err
    assert doc["total_records"] == 3
    assert "Traceback" not in err


def test_cache_reused_then_invalidated_by_change(log: Path, _cache_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("stats", "--json", str(log))[0] == 0
    assert len(list(_cache_dir.glob("*.sqlite"))) == 1

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("parsed again although the cache was complete")

    with monkeypatch.context() as m:
        m.setattr(core.store.cache, "load_paths", boom)
        status, out, _ = run_cli("stats", "--json", str(log))
        assert status == 0 and json.loads(out)["total_records"] == 3
    # The same name with other content is another log: it must be re-read.
    write_events(log, [event_xml(4688, 1, T0), event_xml(4688, 2, T0), event_xml(4688, 3, T0),
                       event_xml(4688, 4, T0)])
    status, out, _ = run_cli("stats", "--json", str(log))
    assert json.loads(out)["total_records"] == 4


def test_no_cache_leaves_no_database(log: Path, _cache_dir: Path) -> None:
    status, out, _ = run_cli("stats", "--json", "--no-cache", str(log))
    assert status == 0 and json.loads(out)["total_records"] == 3
    assert not list(_cache_dir.glob("*.sqlite"))


def test_cache_key_changes_with_the_parse_revision(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = core.store.cache.cache_key([str(log)])
    monkeypatch.setattr(core.store.cache, "PARSE_REVISION", core.store.cache.PARSE_REVISION + 1)
    assert core.store.cache.cache_key([str(log)]) != before


def test_demo_names_the_bundled_log_and_no_file_is_a_usage_error() -> None:
    from cli.cmd_open import resolve_files
    from cli.demo_log import demo_log

    assert resolve_files(["demo", "x.evtx"]) == [str(demo_log()), "x.evtx"]
    assert demo_log().is_file()
    status, _, err = run_cli()
    assert status == 2 and "usage" in err
