"""The correlation tables written by two processes (`evtx-explorer prepare`).

The tables' writer is Python on one core: 46 s after the model at a million churn events, about
four minutes at ten million. Once the model is built, a forked child (it reads the model's
memory as the parent left it, copy on write) writes the Processes and Sessions views and the
links into a database of its own beside the store, while this process writes the instances and
the Handles and Process access views (the two with the lists' event trees, deduplicated across
both). The child's rows are then copied in by SQL (`copy_views`, `copy_links`), so that the
store holds the very rows one writer would have written. A child that fails or outlives its
bound is killed, and its part is then written here (`ModelCache.store_now` writes whatever is
not stored after this); it ends with this process (`core.store.child_process.fork_child`).

Only on Linux (macOS's system libraries are not safe across a fork), with two cores or more,
for a model of SPLIT_EVENTS events or more, and only in a process with no thread of its own yet
(prepare's rules start at `built()`, after the fork): the app's threads (Textual's, its workers)
make a fork unsafe, so the app never splits.
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
from core.store import correlation_copies, correlation_links, correlation_tables
from core.store.child_process import cores, fork_child
from core.store.correlation_tables import CorrelationTables
from core.store.store import Store
from core.store.tempfiles import sweep, temp_file
from tui.stored_views import ViewBuilder, write_views

#: The views the child writes (no event trees among them), with the links.
CHILD_VIEWS = ("processes", "sessions")
#: Model events from which a second writer pays for its start and its copy (the copies: ~1 s a
#: million links).
SPLIT_EVENTS = 200_000
#: The child's bound: seconds, plus seconds per model event (~25 us an event here at 10M).
CHILD_LIMIT_S = 300.0
CHILD_LIMIT_PER_EVENT_S = 200e-6
#: How often the parent looks whether its child has ended, once its own part is written.
_POLL_S = 0.05


def can_split(model: CorrelationModel) -> bool:
    """Whether a second writer is worth it (and possible) for `model`."""
    return sys.platform.startswith("linux") and cores() >= 2 and model.size >= SPLIT_EVENTS


def write_split(store_path: Path, model: CorrelationModel, builders: dict[str, ViewBuilder],
                write_own: Callable[[dict[str, ViewBuilder]], None],
                built: Callable[[], None] | None = None) -> None:
    """Write the tables of `builders` and the links of `model` into the store at `store_path`
    with a forked child writing its part (`CHILD_VIEWS`, the links) beside `write_own(own
    builders)` (the instances and the other views, no links), then copy the child's rows in;
    `built()` right after the fork. Only over a store holding no tables yet; what is not
    stored when this returns is left to the caller."""
    theirs = {name: build for name, build in builders.items() if name in CHILD_VIEWS}
    own = {name: build for name, build in builders.items() if name not in CHILD_VIEWS}
    with Store(store_path, readonly=True) as store:
        fresh = not correlation_tables.ready(store)
    if not fresh or not theirs or not can_split(model):
        if built is not None:
            built()
        return
    sweep(store_path.parent, store_path.name)  # a killed prepare's side database
    fd, side = temp_file(store_path.parent, store_path.name, ".part")  # beside the store: same disk
    os.close(fd)
    gc.freeze()  # the child's collections then leave the model's objects (and their pages) alone
    try:
        pid = fork_child(lambda: _write_side(side, model, theirs))
    finally:
        gc.unfreeze()
    try:
        if built is not None:
            built()
        write_own(own)
        limit = CHILD_LIMIT_S + CHILD_LIMIT_PER_EVENT_S * model.size
        if _ended_well(pid, time.monotonic() + limit):
            with Store(store_path) as store:
                if correlation_copies.copy_views(store, side, list(theirs)):
                    correlation_links.copy_links(store, side)
    finally:
        _reap(pid)
        for path in (side, Path(f"{side}-wal"), Path(f"{side}-shm"), Path(f"{side}-journal")):
            with contextlib.suppress(OSError):
                path.unlink()


def _write_side(side: Path, model: CorrelationModel, builders: dict[str, ViewBuilder]) -> bool:
    """The child's part: empty instance tables (the format the views' and links' writers ask
    for), the views of `builders`, then the links unindexed (the store indexes its copy)."""
    from core.correlate.persist import links

    with Store(side) as out:
        if not correlation_tables.write_instances(out, CorrelationTables()):
            return False
        for name, build in builders.items():
            rows = {name: build(model)}
            model.release_pages()
            if not write_views(out, rows):
                return False
            del rows
        model.release_lists()
        return correlation_links.write_links(out, links(model), index=False)


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
