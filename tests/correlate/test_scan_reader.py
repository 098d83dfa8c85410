"""The model built from rows a child process read (`core.correlate.scan_reader`, the second core)
is the model built from rows read in process: every process, handle and session, every event's
facts, each 4690's source choice and the views' lists, on a churn store whose pids, handle values
and logon ids are reused within and across computers, also when the child forgets the blobs it
numbered every few rows, and when the child fails (the build then reads in process)."""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.model_digest import digests
from core.correlate import scan_reader
from core.correlate.model import model_from_store
from core.correlate.roles import scanned_event_ids
from core.store.store import Store
from tests.correlate.reader_churn import EVENTS


def _in_process(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    with monkeypatch.context() as m:
        m.setattr(scan_reader, "CHILD_EVENTS", 10**12)
        with Store(path, readonly=True) as store:
            return digests(model_from_store(store))


def _by_child(path: Path, monkeypatch: pytest.MonkeyPatch, *, fallback: bool = False) -> dict[str, str]:
    """The model built with the child reading (and, unless `fallback`, no read in process)."""
    read: list[int] = []
    child_rows = scan_reader.child_rows

    def counted(*args: Any, **kwargs: Any) -> Any:
        for rows in child_rows(*args, **kwargs):
            read.append(len(rows))
            yield rows

    def no_stream(*args: Any) -> Any:
        raise AssertionError("read in process")

    with monkeypatch.context() as m:
        m.setattr(scan_reader, "CHILD_EVENTS", 0)
        m.setattr(scan_reader, "cores", lambda: 2)
        m.setattr(scan_reader, "child_rows", counted)
        if not fallback:
            m.setattr(scan_reader, "stream", no_stream)
        with Store(path, readonly=True) as store:
            got = digests(model_from_store(store))
            if not fallback:
                assert sum(read) == store.count_of(scanned_event_ids()) > EVENTS // 2  # every row from the child
    return got


def test_the_store_reuses_pids_within_and_across_computers(churn: Path) -> None:
    with Store(churn, readonly=True) as store:
        pids: dict[str, set[str]] = defaultdict(set)
        for se in store.iter_events():
            ev = se.event
            if ev.event_id == 4688:
                pids[ev.computer].add(dict(ev.data)["NewProcessId"])
    assert len(pids) == 3
    a, b, c = pids.values()
    assert a & b and b & c


def test_the_childs_rows_build_the_model_read_in_process(churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _by_child(churn, monkeypatch) == _in_process(churn, monkeypatch)


def test_numbers_forgotten_every_few_rows_build_the_same_model(churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The child's frames made here, of 7 rows each, its blobs forgotten at most frames' start
    # (5 kept) and numbered again: the scan's rows must still name what they stood for.
    original = Store.iter_key_rows
    monkeypatch.setattr(Store, "iter_key_rows", lambda self, ids, size=7: original(self, ids, size=size))
    forgot: list[bool] = []

    def here(store: Store, ids: list[int], expected: int, decoded: dict[Any, Any], kept: int | None = None) -> Any:
        for frame in scan_reader.frames(store, ids, kept=5):
            forgot.append(marshal.loads(frame)[0])
            yield scan_reader.taken(frame, decoded)

    monkeypatch.setattr(scan_reader, "child_rows", here)
    assert _by_child(churn, monkeypatch) == _in_process(churn, monkeypatch)
    assert len(forgot) > EVENTS // 10 and sum(forgot) > len(forgot) // 3


def test_a_failed_child_leaves_the_build_to_read_in_process(churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'\\0' * 3); sys.exit(3)"], {}

    monkeypatch.setattr(scan_reader, "module_command", failing)
    assert _by_child(churn, monkeypatch, fallback=True) == _in_process(churn, monkeypatch)


def test_a_store_still_being_written_or_one_core_is_read_in_process(
        churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_reader, "cores", lambda: 2)
    with Store(churn, readonly=True) as store:
        assert scan_reader.usable(store, 10**6)
        assert not scan_reader.usable(store, scan_reader.CHILD_EVENTS - 1)
        monkeypatch.setattr(scan_reader, "cores", lambda: 1)
        assert not scan_reader.usable(store, 10**6)
        monkeypatch.setattr(scan_reader, "cores", lambda: 2)
        monkeypatch.setattr(store, "get_meta", lambda key: None)
        assert not scan_reader.usable(store, 10**6)


def test_a_frames_columns_give_back_its_rows_exactly() -> None:
    """The child sends the int fields as packed columns (`FrameRows`); a column holding a value
    that is not a 64-bit int (None, a text, a bigger int) goes as it is, and every row comes back
    equal, value and type."""
    rows = [(1, 133_500_000_000_000_000, 7, 4663, "WS1", 3), (2, 133_500_000_000_000_001, None, 4688, "WS1", {}),
            (1 << 62, 5, "12", 4656, "WS2", None)]
    columns = [list(column) for column in zip(*rows, strict=True)]
    packed = [scan_reader._packed(column) for column in columns[:4]]
    assert [type(column) for column in packed] == [bytes, bytes, list, bytes]
    assert scan_reader._packed([1 << 64]) == [1 << 64]
    got = scan_reader.FrameRows([scan_reader._unpacked(column) for column in packed] + columns[4:])
    assert len(got) == 3 and list(got) == rows and got[2] == rows[2] and got[1:] == rows[1:]
    assert [type(v) for row in got for v in row] == [type(v) for row in rows for v in row]


def test_a_child_stopped_and_resumed_while_its_pipe_is_full_loses_no_byte(
        churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-Z then `fg` stops and resumes the app's whole process group, this child included. Under
    # PYTHONUNBUFFERED (many containers set it) its stdout is the raw pipe, which then takes part
    # of a frame only: the rest was lost, and the build failed on the corrupt frame.
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setattr(scan_reader, "PIPE_BYTES", 4096)  # full at once: the child waits in `write`
    monkeypatch.setattr(scan_reader, "AHEAD", 1)
    popen = subprocess.Popen
    children: list[Any] = []

    def started(*args: Any, **kwargs: Any) -> Any:
        proc = popen(*args, **kwargs)
        children.append(proc)
        threading.Thread(target=_stop_and_resume, args=(proc,), daemon=True).start()
        return proc

    monkeypatch.setattr(subprocess, "Popen", started)  # where `scan_reader` looks it up
    original = Store.iter_key_rows
    monkeypatch.setattr(Store, "iter_key_rows", lambda self, ids, size=500: original(self, ids, size=size))
    slow = scan_reader.taken

    def taken_slowly(frame: bytes, decoded: dict[Any, Any]) -> Any:
        time.sleep(0.02)  # the scan behind the child: its pipe stays full
        return slow(frame, decoded)

    monkeypatch.setattr(scan_reader, "taken", taken_slowly)
    assert _by_child(churn, monkeypatch) == _in_process(churn, monkeypatch)
    assert children and children[0].returncode == 0


def _stop_and_resume(proc: Any) -> None:
    while proc.poll() is None:  # bounded: the child ends (the test's build waits for it)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.003)
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.003)


def test_a_corrupt_frame_leaves_the_build_to_read_in_process(churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A frame that is not one (cut, garbled) fails the child, not the build.
    garbage = "import struct, sys; f = b'\\xee' * 10; sys.stdout.buffer.write(struct.pack('<Q', 10) + f + bytes(8))"

    def garbling(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", garbage], {}

    monkeypatch.setattr(scan_reader, "module_command", garbling)
    assert _by_child(churn, monkeypatch, fallback=True) == _in_process(churn, monkeypatch)


def test_a_child_stopped_for_good_leaves_the_build_to_read_in_process(
        churn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A reading child that stops writing (stopped by a signal and never resumed, stuck) held the
    # build for ever: the scan's process waited for its next frame without a limit.
    monkeypatch.setattr(scan_reader, "STALL", 1.0)
    monkeypatch.setattr(scan_reader, "PIPE_BYTES", 4096)  # the child cannot be done before it is stopped
    monkeypatch.setattr(scan_reader, "AHEAD", 1)
    original = Store.iter_key_rows
    monkeypatch.setattr(Store, "iter_key_rows", lambda self, ids, size=50: original(self, ids, size=size))
    popen = subprocess.Popen
    children: list[Any] = []

    def started(*args: Any, **kwargs: Any) -> Any:
        proc = popen(*args, **kwargs)
        if scan_reader.__name__ in args[0]:
            children.append(proc)
        return proc

    taken = scan_reader.taken

    def stopping(frame: bytes, decoded: dict[Any, Any]) -> Any:
        if children[-1].poll() is None:
            os.kill(children[-1].pid, signal.SIGSTOP)
        return taken(frame, decoded)

    monkeypatch.setattr(subprocess, "Popen", started)  # where `scan_reader` looks it up
    monkeypatch.setattr(scan_reader, "taken", stopping)
    begun = time.monotonic()
    assert _by_child(churn, monkeypatch, fallback=True) == _in_process(churn, monkeypatch)
    assert time.monotonic() - begun < 30
    assert len(children) == 1 and children[0].returncode == -signal.SIGKILL
