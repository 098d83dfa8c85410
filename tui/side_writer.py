"""The correlation tables written by two processes (`evtx-explorer prepare`).

The tables' writer is Python on one core: 42 s after the model at a million churn events, about
four minutes at ten million. Once the model is built, a forked child (it reads the model's
memory as the parent left it, copy on write) writes the Handles and Process access views (the
lists, with their event trees deduplicated across both: about two thirds of the views' writing,
the events read from the store) into a database of its own beside the store, while this process
writes the instances and the links (the most rows: written here, they need no copy). The other
views go to whichever process is free first (`_Claims`). The child's rows are then copied in
by SQL (`correlation_copies.copy_views`), so that the store holds the very rows one writer would
have written. A child that fails or outlives its bound is killed, and its part is then written
here (`ModelCache.store_now` writes whatever is not stored after this); it ends with this
process (`core.store.child_process.fork_child`).

Only on Linux (macOS's system libraries are not safe across a fork), with two cores or more,
for a model of SPLIT_EVENTS events or more, and only in a process with no thread of its own yet
(prepare's rules start at `built()`, after the fork): the app's threads (Textual's, its workers)
make a fork unsafe, so the app never splits. The child uses no SQLite connection of the
parent's: it opens its own (its database, and the store read-only for the lists' events), while
the parent's are idle (no statement running: one thread, between two steps), so the child's
connection takes its own locks.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.correlate.model import CorrelationModel
from core.store import correlation_copies, correlation_tables
from core.store.child_process import cores, fork_child
from core.store.correlation_tables import CorrelationTables
from core.store.store import Store
from core.store.tempfiles import sweep, temp_file
from tui.stored_views import ViewBuilder, write_views

#: The views the child writes: the two lists with their event trees (deduplicated across
#: both, read from the store's events), the biggest part of the views' writing.
CHILD_VIEWS = ("handles", "process_access")
#: Model events from which a second writer pays for its start and its copy.
SPLIT_EVENTS = 200_000
#: The child's bound: seconds, plus seconds per model event (~25 us an event here at 10M).
CHILD_LIMIT_S = 300.0
CHILD_LIMIT_PER_EVENT_S = 200e-6
#: How often the parent looks whether its child has ended, once its own part is written.
_POLL_S = 0.05


def can_split(model: CorrelationModel) -> bool:
    """Whether a second writer is worth it (and possible) for `model`."""
    return sys.platform.startswith("linux") and cores() >= 2 and model.size >= SPLIT_EVENTS


class _Claims:
    """The views either writer may write (the other views than the child's), each taken by the
    first writer free for it: one byte each in a pipe both processes read a byte at a time
    (a pipe gives each byte to one reader), its write end closed before the fork, so that a
    read past the last one says there is none left. Nothing to clean up after either dies."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._read, write = os.pipe()
        try:
            os.write(write, bytes(range(len(names))))
        finally:
            os.close(write)

    def take(self) -> str | None:
        """The next view not taken yet, now this process's to write, or None."""
        got = os.read(self._read, 1)
        return self.names[got[0]] if got else None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._read)


def write_split(store_path: Path, model: CorrelationModel, builders: dict[str, ViewBuilder],
                write_own: Callable[[dict[str, ViewBuilder], bool], None],
                built: Callable[[], None] | None = None) -> None:
    """Write the tables of `builders` and the links of `model` into the store at `store_path`
    with a forked child writing the lists (`CHILD_VIEWS`) into a database of its own while this
    process writes the instances and the links (`write_own({}, True)`); the other views go to
    whichever is free first (`write_own({name: builder}, False)` here); then the child's rows
    are copied in. `built()` right after the fork. Only over a store holding no tables yet; what
    is not stored when this returns is left to the caller."""
    theirs = {name: build for name, build in builders.items() if name in CHILD_VIEWS}
    with Store(store_path, readonly=True) as store:
        fresh = not correlation_tables.ready(store)
    if not fresh or not theirs or not can_split(model):
        if built is not None:
            built()
        return
    sweep(store_path.parent, store_path.name)  # a killed prepare's side database
    fd, side = temp_file(store_path.parent, store_path.name, ".part")  # beside the store: same disk
    os.close(fd)
    # The bigger first (the Processes view's rows before the Sessions'): the last taken is the shortest.
    claims = _Claims([name for name in builders if name not in CHILD_VIEWS])
    gc.freeze()  # the child's collections then leave the model's objects (and their pages) alone
    try:
        pid = fork_child(lambda: _write_side(store_path, side, model, builders, theirs, claims))
    finally:
        gc.unfreeze()
    try:
        if built is not None:
            built()
        write_own({}, True)  # the instances, then the links (the most rows: written here, none to copy)
        while (name := claims.take()) is not None:
            write_own({name: builders[name]}, False)
        limit = CHILD_LIMIT_S + CHILD_LIMIT_PER_EVENT_S * model.size
        if _ended_well(pid, time.monotonic() + limit):
            with Store(store_path) as store:
                correlation_copies.copy_views(store, side, list(builders))
    finally:
        claims.close()
        _reap(pid)
        for path in (side, Path(f"{side}-wal"), Path(f"{side}-shm"), Path(f"{side}-journal")):
            with contextlib.suppress(OSError):
                path.unlink()


def _write_side(store_path: Path, side: Path, model: CorrelationModel, builders: dict[str, ViewBuilder],
                lists: dict[str, ViewBuilder], claims: _Claims) -> bool:
    """The child's part: empty instance tables (the format the views' writer asks for), the
    views of `lists` (their event trees made from the store's events), then each view it can
    claim."""
    with Store(side) as out, Store(store_path, readonly=True) as events:
        if not correlation_tables.write_instances(out, CorrelationTables()):
            return False

        def write(name: str, build: ViewBuilder) -> bool:
            rows = {name: build(model)}
            model.release_pages()
            return write_views(out, rows, events=events)

        if not all(write(name, build) for name, build in lists.items()):
            return False
        model.release_lists()
        while (name := claims.take()) is not None:
            if not write(name, builders[name]):
                return False
        return True


def _ended_well(pid: int, deadline: float) -> bool:
    """Whether the child exited with 0 before `deadline` (`_reap` kills it past it)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _reap(pid: int) -> None:
    """Kill the child if it is still there (a bound passed, an error or Ctrl-C here) and wait for it."""
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
