"""The event table's reader: one thread, one read-only connection (another after a failed query), a queue of jobs.

All of the table's SQL (pages, counts, locating an event, find) runs here, so a slow query (a
free-text filter over a million events, a deep OFFSET) never freezes the screen. A job is
`fn(store) -> result` with `done(result)` to run on the main thread: the answer goes back as a
`PageFetcher.Fetched` message to the table. Jobs of an older generation (a view the user has
replaced) are skipped unrun, and their answers dropped.
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
#: A queued job: its generation, and the work that returns how to deliver its answer.
_Job = tuple[int, Callable[[Store], Callable[[], None]]]


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
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="evtx-page-fetcher", daemon=True)
        self._thread.start()

    def submit(self, generation: int, fn: Callable[[Store], T], done: Callable[[T], None]) -> None:
        """Run `fn(store)` in the thread, then `done(result)` on the main thread."""

        def job(store: Store) -> Callable[[], None]:
            result = fn(store)
            return lambda: done(result)

        self._jobs.put((generation, job))

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        store: Store | None = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                generation, job = item
                if generation != self.generation:
                    continue
                if store is None:
                    store = Store(self.db_path, readonly=True)
                try:
                    deliver = job(store)
                except Exception as exc:  # noqa: BLE001 - shown to the user, the table goes on
                    if isinstance(exc, StoreError):  # the connection may stay failed: the next job opens another
                        with contextlib.suppress(StoreError):
                            store.close()
                        store = None
                    self.target.post_message(self.Fetched(generation, None, exc))
                else:
                    self.target.post_message(self.Fetched(generation, deliver))
        finally:
            if store is not None:
                store.close()
