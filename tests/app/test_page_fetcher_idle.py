"""The event table's reader does its idle work (a big view's marks) a step at a time between
jobs (`tui.page_fetcher.PageFetcher.when_idle`): a page asked for meanwhile waits one step, not
the whole work; the work stops when it says so, fails, or the view is replaced."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import cast

from textual.message_pump import MessagePump

from core.store.store import Store
from tests.app.fetch_target import Target
from tui.page_fetcher import PageFetcher


def _wait(until: threading.Event) -> None:
    assert until.wait(10)


def test_jobs_run_between_the_steps_of_idle_work(demo_store: Path) -> None:
    target = Target()
    fetcher = PageFetcher(demo_store, cast(MessagePump, target))
    steps: list[int] = []
    started, finished = threading.Event(), threading.Event()

    def step(store: Store) -> bool:
        steps.append(store.count())
        started.set()
        time.sleep(0.01)
        if len(steps) == 200:
            finished.set()
        return len(steps) < 200

    try:
        fetcher.when_idle(0, step)
        _wait(started)
        fetcher.submit(0, lambda store: len(steps), lambda n: None)
        answer = target.messages.get(timeout=10)
        at_answer = len(steps)
        _wait(finished)
        time.sleep(0.1)
    finally:
        fetcher.close()
    assert answer.error is None and at_answer < 100  # answered within a step or two, not after all 200
    assert len(steps) == 200  # stopped when the step said so
    with Store(demo_store, readonly=True) as store:
        assert set(steps) == {store.count()}


def test_idle_work_stops_with_its_view_or_its_first_error(demo_store: Path) -> None:
    target = Target()
    fetcher = PageFetcher(demo_store, cast(MessagePump, target))
    steps: list[str] = []
    started, failed = threading.Event(), threading.Event()

    def endless(store: Store) -> bool:
        steps.append("endless")
        started.set()
        time.sleep(0.005)
        return True

    def broken(store: Store) -> bool:
        steps.append("broken")
        failed.set()
        raise RuntimeError("a step failed")

    try:
        fetcher.when_idle(0, endless)
        _wait(started)
        fetcher.generation = 1  # the user replaced the view
        fetcher.submit(1, lambda store: None, lambda _: None)
        target.messages.get(timeout=10)
        count = len(steps)
        time.sleep(0.1)
        assert len(steps) == count
        fetcher.when_idle(1, broken)
        _wait(failed)
        error = target.messages.get(timeout=10)
        fetcher.submit(1, Store.count, lambda _: None)  # the reader goes on
        after = target.messages.get(timeout=10)
    finally:
        fetcher.close()
    assert isinstance(error.error, RuntimeError) and error.generation == 1
    assert after.error is None
    assert steps.count("broken") == 1
