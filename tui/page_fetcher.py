"""The event table's reader: one thread, one read-only connection (another after a failed query), a queue of jobs.

All of the table's SQL (pages, counts, locating an event, find) runs here, so a slow query (a
free-text filter over a million events, a deep OFFSET) never freezes the screen. A job is
`fn(store) -> result` with `done(result)` to run on the main thread: the answer goes back as a
`PageFetcher.Fetched` message to the table. Jobs of an older generation (a view the user has
replaced) are skipped unrun, their answers dropped, and a statement of one running stops.
Between jobs the thread does the table's idle work (`when_idle`) a short step at a time.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from core.store.store import Store, StoreError

T = TypeVar("T")
#: SQLite steps between two checks that the running job's view is still the table's (a few ms).
ABORT_STEPS = 100_000
#: A queued job: its generation, and the work that returns how to deliver its answer.
_Job = tuple[int, Callable[[Store], Callable[[], None]]]


@dataclass(frozen=True)
class _Idle:
    """Work done a step at a time while no job waits: `step(store)` says whether more remain."""

    generation: int
    step: Callable[[Store], bool]


class PageFetcher:
    """See the module docstring; `target` (the table) receives the `Fetched` messages."""

    @dataclass
    class Fetched(Message):
        """A job's answer, to deliver on the main thread (`deliver()`), or its `error`."""

        generation: int
        deliver: Callable[[], None] | None
        error: Exception | None = None

    def __init__(self, db_path: Path, target: MessagePump) -> None:
        self.db_path = db_path
        self.target = target
        self.generation = 0
        self._jobs: queue.Queue[_Job | _Idle | None] = queue.Queue()
        #: The generation of the job or idle step running (its statements stop when replaced).
        self._running = 0
        self._thread = threading.Thread(target=self._run, name="evtx-page-fetcher", daemon=True)
        self._thread.start()

    def submit(self, generation: int, fn: Callable[[Store], T], done: Callable[[T], None]) -> None:
        """Run `fn(store)` in the thread, then `done(result)` on the main thread."""

        def job(store: Store) -> Callable[[], None]:
            result = fn(store)
            return lambda: done(result)

        self._jobs.put((generation, job))

    def when_idle(self, generation: int, step: Callable[[Store], bool]) -> None:
        """Run `step(store)` in the thread whenever no job waits, until it returns False or the
        generation changes (the marks of a big view: `core.query.view.fill_marks`); it replaces
        any such work given before. A job queued meanwhile waits for one step at most."""
        self._jobs.put(_Idle(generation, step))

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        store: Store | None = None
        idle: _Idle | None = None
        try:
            while True:
                if idle is not None and idle.generation != self.generation:
                    idle = None
                try:
                    item = self._jobs.get() if idle is None else self._jobs.get_nowait()
                except queue.Empty:  # nothing waits: a step of the idle work
                    assert idle is not None
                    self._running = idle.generation
                    try:
                        store = self._open() if store is None else store
                        more = idle.step(store)
                    except Exception as exc:  # noqa: BLE001 - shown to the user, the table goes on
                        if not self._stopped(exc):
                            store = self._failed(store, exc)
                            self.target.post_message(self.Fetched(idle.generation, None, exc))
                        more = False
                    idle = idle if more else None
                    continue
                if item is None:
                    return
                if isinstance(item, _Idle):
                    idle = item
                    continue
                generation, job = item
                if generation != self.generation:
                    continue
                self._running = generation
                try:  # (a store that cannot be opened fails this job, not the thread)
                    store = self._open() if store is None else store
                    deliver = job(store)
                except Exception as exc:  # noqa: BLE001 - shown to the user, the table goes on
                    if not self._stopped(exc):
                        store = self._failed(store, exc)
                        self.target.post_message(self.Fetched(generation, None, exc))
                else:
                    self.target.post_message(self.Fetched(generation, deliver))
        finally:
            if store is not None:
                store.close()

    def _open(self) -> Store:
        """The thread's connection; a statement of a job or step whose view the user has
        replaced stops (`Store.abort_when`) instead of holding up the new view's first page
        (the position of the selected row in a compound view of 10M events: 1.4 s)."""
        store = Store(self.db_path, readonly=True)
        store.abort_when(lambda: self._running != self.generation, ABORT_STEPS)
        return store

    def _stopped(self, exc: Exception) -> bool:
        """Whether `exc` is SQLite stopping a statement of a replaced view (`_open`): its answer
        was to be dropped anyway, and the connection (its id sets, its marks) stays."""
        return (isinstance(exc, StoreError) and "interrupt" in str(exc)
                and self._running != self.generation)

    @staticmethod
    def _failed(store: Store | None, exc: Exception) -> Store | None:
        """The connection to go on with after `exc`: none after a store error (it may stay
        failed: the next job opens another)."""
        if store is None or not isinstance(exc, StoreError):
            return store
        with contextlib.suppress(StoreError):
            store.close()
        return None
