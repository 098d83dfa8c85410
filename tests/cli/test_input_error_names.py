"""A file name holding a newline (POSIX allows it) cannot start a line of its own in the stderr
lines `query`/`export` print about their inputs on a terminal: the name is escaped as a field
(`\\n`), as `stats` prints it. A pipe still gets the exact name. Run in-process with stderr on a
real pty (`os.openpty`) or pipe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cliutil import run_on
from tests.logs import event_xml, write_events

ISSUES_NAME = "nl\nfake line: 0 parse issue(s).xml"
BAD_NAME = "bad\nevtx-explorer: forged.evtx"


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "names"
    folder.mkdir()
    good = event_xml(4688, 1, "2024-01-01T00:00:00Z", {"NewProcessName": "C:\\a.exe"})
    broken = "<Event><System><EventID>4688</Event>"
    write_events(folder / ISSUES_NAME, [good, broken])  # one parse issue
    (folder / BAD_NAME).write_bytes(b"\x00" * 64)  # not an event log
    return folder


def _stderr(argv: list[str], fds: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """(status, what the CLI wrote on stderr, a pty or pipe); stdout goes to /dev/null."""
    status, err = run_on(argv, fds, monkeypatch, stdout=False)
    return status, err.decode("utf-8").replace("\r\n", "\n")


def _argv(command: str, tmp_path: Path) -> list[str]:
    argv = [command, "--no-cache", str(_inputs(tmp_path))]
    return [*argv, "--output", str(tmp_path / "out.jsonl")] if command == "export" else argv


@pytest.mark.parametrize("command", ["query", "export"])
def test_a_newline_in_a_file_name_stays_in_its_line_on_a_terminal(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, err = _stderr(_argv(command, tmp_path), os.openpty(), monkeypatch)
    lines = [line for line in err.strip().splitlines() if not line.startswith("wrote 1 row to ")]
    assert status == 1, err  # one input could not be read
    assert all(line.startswith("evtx-explorer: ") for line in lines), lines
    assert not any(line.startswith(("fake line", "evtx-explorer: forged")) for line in lines), lines
    assert any("nl\\nfake line: 0 parse issue(s).xml: 1 parse issue(s)" in line for line in lines), lines
    assert any("bad\\nevtx-explorer: forged.evtx" in line and "not an event log" in line for line in lines), lines
    assert len(lines) == 2, lines


def test_a_pipe_gets_the_exact_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, err = _stderr(_argv("query", tmp_path), os.pipe(), monkeypatch)
    assert status == 1, err
    assert f"{ISSUES_NAME}: 1 parse issue(s)" in err and f"{BAD_NAME}: not an event log" in err
