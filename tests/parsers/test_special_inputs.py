"""Inputs that are not regular files: a FIFO once blocked the loader forever (in `open`, before
a byte was read), a device such as `/dev/zero` never ends. Each is refused at once with one line
naming it, and the other inputs still load."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.model.event import InputError
from parsers import eventxml, jsonlines
from parsers.registry import detect_format, iter_input, raw_text
from tests.logs import event_xml, write_events

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture()
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "Security.evtx"
    os.mkfifo(path)
    yield path
    # Release a reader the code under test left blocked in open() (only before the fix).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def _within(seconds: float, call: Callable[[], object]) -> BaseException | object:
    """What `call` returned or raised, failing the test if it has not finished in time."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still blocked after {seconds} s"
    return box[0]


def _refused(outcome: object, path: Path, what: str) -> None:
    assert isinstance(outcome, InputError), outcome
    msg = str(outcome)
    assert str(path) in msg and what in msg and "\n" not in msg


@pytest.mark.parametrize(
    "entry",
    [
        detect_format,
        lambda p: iter_input(p),
        lambda p: list(eventxml.iter_events(p)),
        lambda p: list(jsonlines.iter_events(p)),
        lambda p: eventxml.event_xml(p, 1),
        lambda p: jsonlines.event_json(p, 1),
        lambda p: raw_text(p, "xml", 1),
        lambda p: raw_text(p, "jsonl", 1),
    ],
    ids=["detect", "iter_input", "xml", "json", "event_xml", "event_json", "raw_xml", "raw_json"],
)
def test_every_entry_point_refuses_a_fifo_at_once(fifo: Path, entry: Callable[[str], object]) -> None:
    _refused(_within(5, lambda: entry(str(fifo))), fifo, "named pipe")


def test_devices_sockets_and_directories_are_refused(tmp_path: Path) -> None:
    if os.path.exists("/dev/zero"):
        _refused(_within(5, lambda: list(eventxml.iter_events("/dev/zero"))), Path("/dev/zero"), "device")
        _refused(_within(5, lambda: detect_format("/dev/zero")), Path("/dev/zero"), "device")
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        _refused(_within(5, lambda: detect_format(str(sock_path))), sock_path, "socket")
    _refused(_within(5, lambda: detect_format(str(tmp_path))), tmp_path, "directory")


def test_cli_reports_the_fifo_and_loads_the_other_inputs(fifo: Path, tmp_path: Path) -> None:
    log = write_events(tmp_path / "good.xml", [event_xml(4624, 1, "2015-11-12T02:26:00Z")])
    code = "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, "stats", "--json", str(fifo), str(log)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the CLI blocked on the FIFO")
    assert done.returncode == 1
    assert '"total_records": 1' in done.stdout
    lines = [line for line in done.stderr.splitlines() if str(fifo) in line]
    assert len(lines) == 1 and "named pipe" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
