"""Exit statuses of every command (`cli.exit_codes.Exit`, documented in `--help` and the README),
the app's status after it quits, a directory as input, and the demo log of an installed package."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from cli import cmd_open
from tests.apputil import ROOT, opened, wait_for
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = "2015-11-12T02:24:52.3773525Z"
#: The demo story's events per EventID (cli/demo_log.py).
DEMO_COUNTS = {4624: 6, 4634: 4, 4656: 4, 4658: 6, 4663: 4, 4672: 3, 4688: 22, 4689: 20, 4690: 2}


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    return write_events(tmp_path / "sec.xml", [
        event_xml(4688, 7, T0, {"NewProcessId": "0xc8c", "NewProcessName": "C:\\Windows\\System32\\cmd.exe"}),
    ])


@pytest.fixture()
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "notes.evtx"
    path.write_bytes(b"this is not an event log\n")
    return path


@pytest.mark.parametrize("command", [
    ["stats"], ["stats", "--json"], ["query"], ["correlate", "--record", "7"], ["findings"], ["findings", "--json"],
])
def test_ok_and_input_unreadable_for_each_command(command: list[str], log: Path, bad: Path) -> None:
    status, _, err = run_cli(*command, str(log))
    assert status == 0, err
    status, _, err = run_cli(*command, str(log), str(bad))
    assert status == 1 and f"evtx-explorer: {bad}" in err


@pytest.mark.parametrize("command", [
    ["query"], ["correlate", "--record", "7"], ["findings", "--json"], ["prepare"], ["stats"],
])
def test_parse_issues_are_said_on_stderr_and_keep_the_status(command: list[str], tmp_path: Path) -> None:
    """A log with a damaged value (a lone surrogate: U+FFFD and a parse issue) and a clean one:
    every command's answer lacks what the issue cost, so each says which input had how many
    (stderr: stdout stays the answer), status 0 as documented; `stats` shows the count itself."""
    damaged = write_events(tmp_path / "damaged.xml", [event_xml(
        4688, 7, T0, {"NewProcessId": "0xc8c", "CommandLine": "cmd MARK"}).replace("MARK", "&#xD800;")])
    clean = write_events(tmp_path / "clean.xml", [event_xml(4624, 7, T0, {"TargetUserName": "bob"})])
    status, out, err = run_cli(*command, str(damaged), str(clean))
    assert status == 0, err
    said = [line for line in err.splitlines() if "parse issue" in line]
    if command == ["prepare"]:
        assert "from 2 files (1 parse issue) in" in out
    if command == ["stats"]:
        assert said == [] and ", 1 parse issue\n" in out
    else:
        assert said == [f"evtx-explorer: {damaged}: 1 parse issue(s), damaged records skipped or bad values "
                        "replaced (`evtx-explorer stats --issues` lists them)"]
    status, out, err = run_cli(*command, str(clean))
    assert status == 0 and "parse issue" not in err


def test_parse_issues_of_many_inputs_take_a_bounded_number_of_lines(tmp_path: Path) -> None:
    """A collection of damaged logs: ISSUE_LINES inputs named, the rest in one line with their sum."""
    from cli.common import ISSUE_LINES

    logs = [write_events(tmp_path / f"d{n:02}.xml", [event_xml(
        4624, n, T0, {"TargetUserName": "MARK"}).replace("MARK", "&#xD800;")]) for n in range(ISSUE_LINES + 3)]
    status, _, err = run_cli("query", *map(str, logs))
    assert status == 0, err
    said = [line for line in err.splitlines() if "parse issue" in line]
    assert len(said) == ISSUE_LINES + 1
    assert said[-1] == "evtx-explorer: 3 more input(s) with parse issues (3 in all)"


def test_export_to_a_pipe_closed_early_is_quiet_like_every_command(tmp_path: Path) -> None:
    """`export -o - | head` said "Broken pipe" and exited 5 (an output failure); `query | head`
    exits 0 quietly: the reader had what it wanted. Now both do."""
    import subprocess
    import sys

    big = write_events(tmp_path / "big.xml", [
        event_xml(4688, n, T0, {"NewProcessId": hex(n), "CommandLine": "x" * 200}) for n in range(1, 3001)])
    env = {**os.environ, "EVTX_EXPLORER_CACHE_DIR": str(tmp_path / "cache")}
    for command in (["export", str(big), "-o", "-"], ["query", str(big), "--format", "jsonl"]):
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", *command], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10)
        proc.stdout.close()  # the reader stops (more than a pipe's buffer is still to come)
        err = proc.stderr.read()
        assert proc.wait(60) == 0 and err == b"", (command, err)


def test_export_statuses(log: Path, bad: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert run_cli("export", str(log), "-o", str(out))[0] == 0
    status, _, err = run_cli("export", str(log), "-o", str(out))
    assert status == 4 and "exists" in err  # OUTPUT_EXISTS, not the unreadable-input 1
    assert run_cli("export", str(log), str(bad), "-o", str(out), "--force")[0] == 1
    assert run_cli("export", str(log), "-o", str(tmp_path / "missing" / "x.csv"))[0] == 5  # OUTPUT_FAILED
    assert run_cli("export", str(log), "-o", str(tmp_path))[0] == 5  # a directory
    assert run_cli("export", str(log), "--where", "4688 (", "-o", str(tmp_path / "y"))[0] == 2


def test_correlate_without_a_match_is_no_match(log: Path, bad: Path) -> None:
    status, out, err = run_cli("correlate", str(log), "--record", "999")
    assert status == 3 and "no event matches" in err and out == ""
    assert run_cli("correlate", str(log), "--where", "4624")[0] == 3
    assert run_cli("correlate", str(log), "--where", "4624", "--json")[0] == 3
    assert run_cli("correlate", str(log), str(bad), "--record", "999")[0] == 1  # the input may be why


def test_usage_errors(log: Path) -> None:
    assert run_cli("query", str(log), "--where", "(")[0] == 2
    assert run_cli("query")[0] == 2
    assert run_cli("open")[0] == 2
    rules = log.with_name("rules.toml")
    rules.write_text("[[nonsense", encoding="utf-8")
    assert run_cli("findings", str(log), "--rules", str(rules))[0] == 2


@pytest.mark.parametrize(("query", "culprit"), [
    ("4688 image:", 11),  # short: whole, the caret under the culprit
    ("(" * 20_000 + "4688" + ")" * 20_000, 10_000),  # too long: the part around where it stops
    ("a " * 100 + "( " + "b " * 100, 200),  # an unclosed parenthesis in the middle
])
def test_a_bad_querys_culprit_is_shown_in_a_bounded_line(query: str, culprit: int, log: Path) -> None:
    status, out, err = run_cli("query", str(log), "--where", query)
    assert status == 2 and out == ""
    said, shown, caret = err.splitlines()
    assert said.startswith("evtx-explorer: bad query: ") and said.endswith(f"at position {culprit}")
    assert len(shown) <= 2 + 3 + 2 * 60 + 3 and caret.strip() == "^"
    start = max(0, culprit - 60)
    assert shown[len(caret) - 1:].startswith(query[culprit:culprit + 10])  # the caret is under the culprit
    assert shown.startswith("  ...") == (start > 0)


def test_help_documents_the_statuses_and_demo() -> None:
    from cli.exit_codes import Exit

    status, out, _ = run_cli("--help")
    assert status == 0
    assert "demo" in out
    for code in Exit:
        assert re.search(rf"^\s+{code.value}\s+\S", out, re.M), code
    assert "exit status" in run_cli("export", "--help")[1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in Exit:
        assert re.search(rf"\| `{code.value}` \|", readme), f"README lacks exit status {code.value}"


# -- the app -----------------------------------------------------------------------------------


def _headless_run(self: Any) -> None:
    """`EvtxApp.run` for tests: the real app, headless, until it loaded; then `q` as a user would."""

    async def go() -> None:
        async with opened(self, ready=False) as pilot:
            await wait_for(pilot, lambda: self.workspace.loaded)
            await pilot.press("q")

    asyncio.run(go())


def test_the_app_exits_1_after_quitting_when_an_input_was_unreadable(
    log: Path, bad: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.app import EvtxApp

    monkeypatch.setattr(EvtxApp, "run", _headless_run)
    monkeypatch.setattr(cmd_open, "has_terminal", lambda: True)  # (pytest holds stdout: the app runs headless)
    status, _, err = run_cli(str(log), str(bad))
    assert status == 1 and str(bad) in err  # said again on the shell once the app is gone
    assert run_cli("open", str(log))[0] == 0


# -- inputs: directories and the demo ----------------------------------------------------------


def test_a_directory_loads_the_logs_inside_it(log: Path, tmp_path: Path) -> None:
    sub = tmp_path / "more"
    sub.mkdir()
    write_events(sub / "b.xml", [event_xml(4689, 8, T0, {"ProcessId": "0xc8c"})])
    (tmp_path / "README.txt").write_text("not a log", encoding="utf-8")
    status, out, err = run_cli("stats", "--json", str(tmp_path))
    assert status == 0, err
    doc = json.loads(out)
    assert doc["total_records"] == 2
    assert sorted(Path(f["path"]).name for f in doc["files"]) == ["b.xml", "sec.xml"]

    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run_cli("stats", str(empty))
    assert status == 1
    assert err.count("\n") == 1 and "no event logs" in err and "Traceback" not in err and "Errno" not in err


def test_a_file_named_more_than_once_is_loaded_once(log: Path, tmp_path: Path) -> None:
    """Again, through `./`, through a link, and inside a directory also named: one input, its
    events once (twice, every 4688 would have had a twin and every link been ambiguous)."""
    link = tmp_path / "link.xml"
    link.symlink_to(log)
    twin = tmp_path / "twin.xml"  # the same events in another file: another input
    twin.write_bytes(log.read_bytes())
    names = [str(log), str(log), str(log.parent / "." / log.name), str(link), str(tmp_path)]
    status, out, err = run_cli("stats", "--json", *names)
    assert status == 0, err
    doc = json.loads(out)
    assert [Path(f["path"]).name for f in doc["files"]] == ["sec.xml", "twin.xml"]
    assert doc["total_records"] == 2
    status, out, err = run_cli("correlate", "--json", "--record", "7", str(log), str(link))
    assert status == 0, err
    [answer] = json.loads(out)
    assert answer["event"]["record_id"] == 7


def test_demo_is_generated_into_the_data_dir_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an installed package does: no checkout, the demo log written under the user data dir
    on first use (EVTX_EXPLORER_DATA_DIR here), then `stats demo` and `query demo` read it."""
    data = tmp_path / "elsewhere"
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)  # no demo/ folder here
    status, out, err = run_cli("stats", "--json", "demo")
    assert status == 0, err
    doc = json.loads(out)
    (f,) = doc["files"]
    assert Path(f["path"]).is_relative_to(data) and doc["total_records"] == sum(DEMO_COUNTS.values())
    assert {int(k): v for k, v in f["event_ids"].items()} == DEMO_COUNTS
    ids = collections.Counter(json.loads(line)["event_id"] for line in run_cli("query", "demo")[1].splitlines())
    assert dict(ids) == DEMO_COUNTS
    # Same text as the committed demo/intrusion.xml, which `python demo/make_demo.py` writes.
    assert Path(f["path"]).read_bytes() == (ROOT / "demo" / "intrusion.xml").read_bytes()
