"""What the CLI writes to a terminal: a crafted log (or file name) must not drive it (set the
window title, write the clipboard with OSC 52, recolour it), whatever the command; a pipe or a
file gets the exact data. Run in-process with stdout/stderr on a real pty (`os.openpty`) or pipe."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import cli.cmd_export as cmd_export
from cli.output import ERASE_LINE
from tests.cliutil import run_on
from tests.findings.rules import RULE
from tests.logs import event_xml, write_events

#: A computer name that sets the title, writes the clipboard, colours the text, clears the
#: screen with an 8-bit CSI, holds a DEL and reverses the text that follows (U+202E).
HOST = "WS01\x1b]0;pwned\x07\x1b]52;c;Y2FsYw==\x07\x1b[31mRED\x9b2J\x7f\u202eevil"
CHANNEL = "Sec\x1b]2;chan\x07"
PROVIDER = "Prov\x1b]0;prov\x07\u2066"
#: Bytes none of which may reach a terminal: ESC, BEL, C1 CSI (UTF-8), DEL, RLO and LRI (UTF-8).
FORBIDDEN = (b"\x1b", b"\x07", b"\xc2\x9b", b"\x7f", "\u202e".encode(), "\u2066".encode())


def _xml_ref(text: str) -> str:
    """Control characters as XML character references (our Event XML loader recovers them)."""
    return "".join(f"&#x{ord(c):x};" if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c for c in text)


@pytest.fixture()
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """A log whose System fields are hostile, under a hostile file name, and an unreadable input
    whose name is hostile."""
    ev = event_xml(4688, 1, "2024-03-01T10:00:00.0000000Z", {"CommandLine": "mk.exe sekurlsa::logonpasswords",
                    "NewProcessName": "C:\\Users\\a\\AppData\\Local\\Temp\\mimikatz.exe"},
                   computer="HOSTMARK", channel="CHANMARK")
    ev = ev.replace("HOSTMARK", _xml_ref(HOST)).replace("CHANMARK", _xml_ref(CHANNEL))
    ev = ev.replace("Microsoft-Windows-Security-Auditing", _xml_ref(PROVIDER))
    log = write_events(tmp_path / "log\x1b]0;file\x07.xml", [ev])
    bad = tmp_path / "bad\x1b]0;title\x07.evtx"
    bad.write_bytes(b"this is not an event log\n")
    return log, bad


COMMANDS = [
    ["stats"], ["stats", "--json"], ["stats", "--issues"],
    ["query", "--format", "jsonl"], ["query", "--format", "csv"], ["query", "--format", "table"],
    ["query", "--format", "md"],
    ["correlate", "--record", "1"], ["correlate", "--record", "1", "--json"],
    ["findings"], ["findings", "--json"],
    ["export", "--format", "csv", "--output", "-"], ["export", "--format", "jsonl", "--output", "-"],
    ["export", "--format", "md", "--output", "-"],
    ["prepare"], ["prepare", "--json"],
]


def _run(argv: list[str], fds: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes]:
    """Run the CLI with stdout and stderr on the write end of `fds` (a pty or a pipe); what it wrote."""
    return run_on(argv, fds, monkeypatch)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_nothing_from_a_log_or_a_file_name_drives_a_terminal(
    command: list[str], hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, bad = hostile
    master, slave = os.openpty()
    assert os.isatty(slave)
    status, out = _run([*command, str(log), str(bad)], (master, slave), monkeypatch)
    assert status == 1, out  # the unreadable input, reported
    out = out.replace(ERASE_LINE.encode(), b"")  # a progress line's own erase sequence (`ProgressLine`)
    for raw in FORBIDDEN:
        assert raw not in out, (raw, out)
    text = out.decode("utf-8")
    assert "bad\\x1b]0;title\\x07.evtx" in text  # "cannot read this input" names the file, escaped
    if command[0] != "prepare":  # (which shows counts, no log text nor the log's name)
        assert re.search(r"(\\x1b|\\u001b)\\?\]0;(pwned|file)", text), text  # shown escaped, not run


def test_progress_lines_erase_themselves_on_a_terminal_and_are_not_in_a_pipe(
    hostile: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`prepare` and `findings --sigma` show their steps on one line of a terminal, rewritten in place: its erase
    sequence reaches the terminal as such (escaped by the stream it showed as `\\x1b[K`
    garbage); a pipe gets none."""
    log, _ = hostile
    status, out = _run(["prepare", str(log)], os.openpty(), monkeypatch)
    assert status == 0, out
    assert (ERASE_LINE + "correlating").encode() in out
    assert b"\\x1b[K" not in out and b"\\r" not in out
    status, out = _run(["prepare", str(log)], os.pipe(), monkeypatch)
    assert status == 0, out
    assert b"\x1b" not in out and b"correlating" not in out
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cleared.yml").write_text(RULE, encoding="utf-8")
    status, out = _run(["findings", "--no-cache", "--sigma", str(rules), str(log)], os.openpty(), monkeypatch)
    assert status == 0, out
    assert (ERASE_LINE + "Sigma: ").encode() in out and b"\\x1b[K" not in out


def test_a_pipe_gets_the_exact_data(hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    log, bad = hostile
    status, out = _run(["query", "--format", "csv", str(log)], os.pipe(), monkeypatch)
    assert status == 0
    (row,) = list(csv.DictReader(io.StringIO(out.decode("utf-8"), newline="")))
    assert (row["computer"], row["channel"], row["provider"]) == (HOST, CHANNEL, PROVIDER)
    assert row["file"] == str(log)

    for argv in (["query", "--format", "jsonl", str(log)], ["export", "--output", "-", str(log)]):
        status, out = _run(argv, os.pipe(), monkeypatch)
        (doc,) = [json.loads(line) for line in out.decode("utf-8").splitlines() if line.startswith("{")]
        assert (doc["computer"], doc["channel"], doc["provider"], doc["file"]) == (HOST, CHANNEL, PROVIDER, str(log))
        for raw in FORBIDDEN:  # JSON says them with its own \\u escapes: the same data, safe anywhere
            assert raw not in out.split(b"\nwrote")[0], raw

    status, out = _run(["stats", "--json", str(log), str(bad)], os.pipe(), monkeypatch)
    assert status == 1
    text = out.decode("utf-8")
    doc = json.loads(text[: text.rindex("}") + 1])
    assert doc["files"][0]["computers"] == [HOST]
    assert f"evtx-explorer: {bad}" in text  # the error line to a pipe: the exact name


def test_findings_csv_is_exact_to_a_pipe_and_escaped_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`findings --csv` escaped every cell even into a file or pipe (a log's ESC became the text
    `\\x1b`, no longer told apart from those four characters logged as such): exact there now,
    as `export` writes, and a terminal still gets nothing that drives it."""
    ev = event_xml(4688, 1, "2024-03-01T10:00:00.0000000Z", {"CommandLine": "mk.exe sekurlsa::logonpasswords"},
                   computer="HOSTMARK")
    log = write_events(tmp_path / "log.xml", [ev.replace("HOSTMARK", _xml_ref(HOST))])
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "created.yml").write_text(RULE.replace("EventID: 1102", "CommandLine|contains: sekurlsa"),
                                       encoding="utf-8")
    argv = ["findings", "--no-cache", "--csv", "--sigma", str(rules), str(log)]
    status, out = _run(argv, os.pipe(), monkeypatch)
    assert status == 0, out
    lines = out.decode("utf-8").split("\nSigma: ")[0]  # (stderr's summary shares the pipe here)
    rows = list(csv.DictReader(io.StringIO(lines, newline="")))
    (row,) = [r for r in rows if r["engine"] == "sigma"]  # (the built-in findings too: exact as well)
    assert row["computer"] == HOST and json.loads(row["fields"]) == {"CommandLine": "mk.exe sekurlsa::logonpasswords"}
    assert {r["computer"] for r in rows} == {HOST} and len(rows) > 1
    status, out = _run(argv, os.openpty(), monkeypatch)
    assert status == 0, out
    out = out.replace(ERASE_LINE.encode(), b"")
    for raw in FORBIDDEN:
        assert raw not in out, (raw, out)
    assert b"WS01\\x1b]0;pwned" in out


def test_a_lone_surrogate_is_shown_escaped_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file name with bytes that are not UTF-8 reaches Python as lone surrogates: a terminal
    shows them escaped (as the app does), a pipe gets a backslash escape instead of a traceback."""
    from cli.output import safe_streams

    for fds, tty in ((os.openpty(), True), (os.pipe(), False)):
        read_fd, write_fd = fds
        stream = open(write_fd, "w", encoding="utf-8", errors="strict", closefd=True)  # noqa: SIM115
        with monkeypatch.context() as m:
            m.setattr(sys, "stdout", stream)
            with safe_streams():
                print("bad\udcff.evtx \u202etxt.exe")
        stream.close()
        out = b""
        while True:
            try:
                data = os.read(read_fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        os.close(read_fd)
        assert b"bad\\udcff.evtx" in out
        assert ("\u202e".encode() in out) is not tty  # the pipe keeps the exact text


def test_export_to_its_own_terminal_by_name_is_escaped_and_another_terminal_refused(
    hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o /dev/stdout` (here: the terminal's own device, as the link resolves) is written as
    `-o -` is, escaped; another terminal's device is refused, before the inputs load: an export's
    exact data (a log's escape sequences) would reach it as they are."""
    log, _ = hostile
    master, slave = os.openpty()
    status, out = _run(["export", "--format", "jsonl", "--output", os.ttyname(slave), str(log)], (master, slave),
                       monkeypatch)
    assert status == 0, out
    for raw in FORBIDDEN:
        assert raw not in out, (raw, out)
    assert b"sekurlsa" in out and b"wrote 1 row to stdout" in out
    other_master, other = os.openpty()
    loaded: list[object] = []
    real_open = cmd_export.open_store  # type: ignore[attr-defined]  # (its import, patched where it is used)

    def counted(*args: Any, **kwargs: Any) -> Any:
        loaded.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(cmd_export, "open_store", counted)
    try:
        status, out = _run(["export", "--format", "jsonl", "--output", os.ttyname(other), "--force", str(log)],
                           os.pipe(), monkeypatch)
        assert status == 5 and b"is a terminal" in out, out
        assert loaded == []  # refused before the load, not after it
        os.set_blocking(other_master, False)
        with pytest.raises(BlockingIOError):
            os.read(other_master, 1024)  # nothing reached it
    finally:
        os.close(other_master)
        os.close(other)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_on_a_full_disk_or_a_closed_stream_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """stdout on a full disk ended every command with an OSError traceback (now: one line, status 5);
    stdout closed (`>&-`) with an AttributeError traceback (now: the output is dropped); stderr
    full or closed does not end a command whose answer can be written."""
    import shlex
    import subprocess

    log = write_events(tmp_path / "log.xml", [event_xml(4624, 1, "2024-03-01T10:00:00.0000000Z", {})])
    env = {**os.environ, "EVTX_EXPLORER_CACHE_DIR": str(tmp_path / "cache")}
    root = Path(__file__).resolve().parents[2]

    def run(command: list[str], **streams: object) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "cli.main", *command, str(log)], cwd=root, env=env, text=True,
                              timeout=120, check=False, **streams)  # type: ignore[call-overload]
        return done.returncode, done.stderr or ""

    with open("/dev/full", "w", encoding="utf-8") as full:
        for command in (["stats"], ["query"], ["export", "-o", "-"], ["findings", "--json"]):
            status, err = run(command, stdout=full, stderr=subprocess.PIPE)
            assert status == 5 and err.splitlines()[-1] == ("evtx-explorer: cannot write the output: "
                                                            "No space left on device"), (command, err)
            assert "Traceback" not in err
        status, _ = run(["stats"], stdout=subprocess.PIPE, stderr=full)
        assert status == 0
    status, err = run(["stats"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert status == 0 and "Traceback" not in err
    closed = subprocess.run(f"{shlex.quote(sys.executable)} -m cli.main stats {shlex.quote(str(log))} >&-",
                            shell=True, cwd=root, env=env,  # noqa: S602 - the test's own quoted command
                            capture_output=True, text=True, timeout=120, check=False)
    assert closed.returncode == 0 and "Traceback" not in closed.stderr, closed.stderr
