"""Loading the inputs for the app: the cache entry, the build, and what the status line shows.

Start-up never waits for parsing: a complete cache database opens at once; otherwise the
inputs are parsed into the cache database by the app's thread worker (`Loader.run`, the body
of `EvtxApp._load`) while the table reads the rows already committed through its own
read-only connection, so rows appear while the log is still being read. `esc` stops loading
(`Loader.stop`) and keeps what was read.

The worker tells the app through data messages (`tui.messages`): `LoadStarted` once the
database exists (again, with a notice, when a full cache disk moved the build elsewhere),
`LoadProgress` at most every PROGRESS_INTERVAL, `LoadFinished` at the end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from textual.message import Message

from core.store import cache_damage
from core.store.cache import CacheEntry, needs_child_process
from core.store.cache_commit import PROVISIONAL_PREFIX
from core.store.ingest import Progress
from tui.messages import LoadFinished, LoadProgress, LoadStarted
from tui.status import LoadState

#: Progress reaches the UI at most this often (the parser calls back per batch).
PROGRESS_INTERVAL = 0.1


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Loader:
    """The load of one app's inputs: its cache entry, its stop flag and its progress sums."""

    def __init__(self, inputs: Sequence[str], *, use_cache: bool, jobs: int | None) -> None:
        self.inputs = list(inputs)
        self.use_cache = use_cache
        self.jobs = jobs
        self.entry: CacheEntry | None = None
        #: Whether the cache held a complete database for these inputs when the app started.
        self.cache_ready = False
        self.state = LoadState()
        self.stopping = threading.Event()
        #: The load worker is in `run` / the app has ended: the entry's lease is let go by
        #: whichever of the two comes last (`close`), never under a running build.
        self._ends = threading.Lock()
        self._running = False
        self._closed = False
        self._last_progress = 0.0
        self._started = 0.0
        self._records: dict[int, int] = {}
        self._bytes: dict[int, int] = {}
        self._issues: dict[int, int] = {}

    def prepare(self) -> None:
        """Before the screen is up: find the cache, and when a big log must be parsed, start
        the ingest child now, so that its start-up overlaps the app's own (first rows of a
        cold 105 MB log after 0.19-0.30 s instead of 0.35-0.48 s)."""
        self.entry = CacheEntry(self.inputs, use_cache=self.use_cache)
        self.cache_ready = self.entry.ready()
        if self.cache_ready:
            cache_damage.opened(self.entry.db_path)
        if not self.cache_ready and needs_child_process(self.inputs, self.jobs):
            try:
                self.entry.start_child(self.jobs)
            except OSError:
                pass  # the load worker tries again, and reports what stops it

    def begin(self) -> None:
        """The load is about to start: the status line shows its progress from now."""
        self.state = LoadState(active=True, bytes_total=sum(_size(f) for f in self.inputs))
        self._started = time.perf_counter()

    def run(self, post: Callable[[Message], object]) -> None:
        """Blocking (the app's load worker): build the database, posting what happens."""
        entry = self.entry
        assert entry is not None, "prepare() first"
        with self._ends:
            if self._closed:
                return
            self._running = True
        try:
            self._run(entry, post)
        finally:
            with self._ends:
                self._running = False
                close = self._closed
            if close:
                entry.close()

    def _run(self, entry: CacheEntry, post: Callable[[Message], object]) -> None:
        posted: Path | None = None  # the database the table was last told to read

        def started() -> None:
            nonlocal posted
            if entry.db_path != posted and str(entry.db_path) != ":memory:":
                # the first batch, or a build that moved (the cache disk is full)
                posted = entry.db_path
                post(LoadStarted(entry.db_path, entry.notice))

        def progress(p: Progress) -> None:
            started()
            now = time.perf_counter()
            if p.done or now - self._last_progress >= PROGRESS_INTERVAL:
                self._last_progress = now
                post(LoadProgress(p))

        error: str | None = None
        try:
            child = needs_child_process(self.inputs, self.jobs)
            store = entry.build(progress=progress, stop=self.stopping, jobs=self.jobs, child=child)
            store.close()
        except Exception as exc:  # noqa: BLE001 - shown on screen; whatever was read stays
            error = f"loading failed: {type(exc).__name__}: {exc}"
        if str(entry.db_path) == ":memory:":  # this thread's store: the table cannot read it
            error = "loading failed: no disk space left for the events (cache and temp directory full)"
        if posted is not None and posted.name.startswith(PROVISIONAL_PREFIX) and entry.db_path != posted:
            posted = entry.db_path  # committed to its final cache key (`core.store.cache_commit`)
            post(LoadStarted(entry.db_path, entry.notice, renamed=True))
        elif entry.db_path.exists():
            started()
        post(LoadFinished(error=error, stopped=self.stopping.is_set()))

    def advance(self, p: Progress) -> int:
        """Count one input's progress into the load state; returns the parse issues so far."""
        self._records[p.source] = p.records
        self._bytes[p.source] = p.bytes_total if p.done else p.bytes_done
        self._issues[p.source] = p.issues
        st = self.state
        st.records = sum(self._records.values())
        st.bytes_done = sum(self._bytes.values())
        st.elapsed = time.perf_counter() - self._started
        return sum(self._issues.values())

    def stop(self) -> bool:
        """`esc` while loading: stop after the current batch (False when nothing loads)."""
        if self.state.active and not self.stopping.is_set():
            self.stopping.set()
            return True
        return False

    def close(self) -> None:
        """The app ends: stop the build, and an ingest child the load worker never took over."""
        self.stopping.set()
        if self.entry is None:
            return
        self.entry.abandon()
        with self._ends:
            self._closed = True
            close = not self._running
        if close:
            self.entry.close()  # its lease (lock file descriptors), else held until the process ends
