"""Starting one of our own modules as a child process (`python -m core.xxx_child ...`).

The app hands long CPU-bound work to children (ingest, findings): it keeps the GIL for the UI,
and a thread-running process must not fork. The child runs in this same interpreter, with the
project on its path whatever the current directory is. A child ends with its parent
(`die_with_parent`, first thing in its `main`): a killed app or CLI leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from parsers.lifeline import die_with_parent as _die_with_parent

ROOT = str(Path(__file__).resolve().parents[2])
#: The pid of the process that started a child (it checks that it is still there).
PARENT_ENV = "EVTX_EXPLORER_PARENT_PID"


def module_command(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `python -m module args...`. `-P` (3.11+) keeps
    the current directory off the child's path: the analyst's working folder (often the
    collected evidence) could hold a `core` package that `-m` would otherwise import first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env[PARENT_ENV] = str(os.getpid())
    return [sys.executable, "-P", "-m", module, *args], env


class Pipe(Protocol):
    """What `write_all` writes to: a binary stream, buffered or raw (whose `write` may take part
    of a chunk, or nothing: None)."""

    def write(self, data: memoryview, /) -> int | None: ...

    def fileno(self) -> int: ...


def write_all(out: Pipe, *chunks: bytes | bytearray | memoryview) -> None:
    """Write every byte of `chunks` to `out`, a child's stdout (a pipe to its parent). Under
    PYTHONUNBUFFERED (set in many containers, and inherited) `sys.stdout.buffer` is the raw
    file, whose `write` may take part of a chunk only: when the child is stopped and resumed
    (Ctrl-Z then `fg` stops the app's whole process group) while the pipe is full, the pipe
    takes what fits; what it did not take was lost (the parent then read a corrupt frame)."""
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        while view:  # bounded: each turn writes at least a byte, or raises
            n = out.write(view)
            if n is None:  # a non-blocking pipe that is full (never ours): wait for room
                select.select([], [out], [])
                continue
            view = view[n:]


def cores() -> int:
    """The CPUs this process may run on (a process pinned to one gains nothing from a child)."""
    affinity = getattr(os, "sched_getaffinity", None)  # (not on macOS or Windows)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def die_with_parent() -> None:
    """In a child started by `module_command`: end when the process that started it ends."""
    raw = os.environ.get(PARENT_ENV, "")
    _die_with_parent(int(raw) if raw.isdigit() else None)


def fork_child(work: Callable[[], bool]) -> int:
    """Fork a child that runs `work()` and exits 0 when it says True, else 1 (an exception is
    said in one line on stderr), ending with this process (`die_with_parent`); its pid. Only
    from a process with no thread of its own running: a lock another thread held at the fork
    stays held in the child (`tui.side_writer`)."""
    owner = os.getpid()
    pid = os.fork()
    if pid == 0:  # out by `os._exit`: none of the parent's exit handlers nor buffers run twice
        code = 1
        try:
            _die_with_parent(owner)
            code = 0 if work() else 1
        except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the parent says so
            pass
        except BaseException as exc:  # noqa: BLE001 - the parent does the work instead
            with contextlib.suppress(Exception):
                print(f"evtx-explorer: a forked writer failed: {type(exc).__name__}: {exc}", file=sys.stderr,
                      flush=True)
        finally:
            os._exit(code)
    return pid


#: How much a background child (findings, Sigma) yields the CPU to the app (`os.nice`).
BACKGROUND_NICENESS = 10


def background_priority() -> None:
    """In a child whose work nobody waits for (findings, Sigma): lower its CPU priority. On a
    machine with no idle core it took its share from the app's UI (a reopened view took up to
    0.6 s instead of 0.1-0.3); with a core free it runs as fast as before."""
    nice = getattr(os, "nice", None)  # (not on Windows)
    if nice is not None:
        try:
            nice(BACKGROUND_NICENESS)
        except OSError:
            pass


class ChildFailed(Exception):
    """The child exited without an answer (or was stopped); the message says why."""


def run_child(
    module: str, args: list[str], what: str, stop: threading.Event | None = None, poll: float = 0.1,
    tick: Callable[[], None] | None = None,
) -> bytes:
    """Run `python -m module args...` and return what it wrote on stdout.

    The caller's thread waits in steps of `poll` seconds so that `stop` (the app quits) kills the
    child at once; its pipes are closed whatever happens. Raises ChildFailed naming `what` with
    the last lines of its stderr when it fails. `tick()` runs at each poll (to relay a child's
    progress)."""
    cmd, env = module_command(module, *args)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    with proc:  # closes its pipes whatever happens
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=poll)
                    break
                except subprocess.TimeoutExpired:
                    if stop is not None and stop.is_set():
                        raise ChildFailed("stopped") from None
                    if tick is not None:
                        tick()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        tail = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise ChildFailed(f"{what} process exited with status {proc.returncode}: {tail}")
    return out


#: Seconds a child told to stop (esc, the app quitting) has to end before it is killed: the
#: ingest child stops after its current batch (a fraction of a second) or, asked while it builds
#: the indexes, once they are built (tens of seconds at ten million events).
STOP_GRACE = 120.0


def stop_when_asked(proc: subprocess.Popen[str], stop: threading.Event, ended: threading.Event) -> None:
    """Once `stop` is set while the child runs (until `ended`), kill the child if it has not
    ended STOP_GRACE s later. The thread relaying its output tells it to stop (SIGTERM) when a
    line comes, waiting in a read of it meanwhile: a child stopped for good, or stuck, held the
    load, and the app's exit, for ever."""
    while not stop.wait(0.2):
        if ended.is_set():
            return
    if not ended.wait(STOP_GRACE):
        with contextlib.suppress(OSError):
            proc.kill()
