"""Ingest in a child process (what the app does for large EVTX logs): the same store as an
in-process load, progress relayed line by line, and the rule that picks it."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.store.cache import CacheEntry, is_complete, needs_child_process
from core.store.ingest import Progress, load_paths
from core.store.store import Store
from tests.logs import event_xml, write_events
from tests.shared import sample

SYSTEM = "evtx/parsers/omerbenamram__samples__system.evtx"  # 1.1 MB, 1881 records


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _rows(store: Store) -> list[tuple[object, ...]]:
    return [(se.event.record_id, se.event.filetime, se.event.event_id, se.event.data) for se in store.iter_events()]


def test_child_process_builds_the_same_store(tmp_path: Path) -> None:
    path = str(sample(SYSTEM))
    seen: list[Progress] = []
    entry = CacheEntry([path])
    child_store = entry.build(progress=seen.append, child=True)
    try:
        assert is_complete(child_store)
        with Store(tmp_path / "inproc.sqlite") as inproc:
            load_paths([path], inproc)
            assert _rows(child_store) == _rows(inproc)
            assert child_store.count() == 1881
    finally:
        child_store.close()
    assert seen and seen[-1].done and seen[-1].records == 1881
    assert entry.ready()  # the cache is reused next time


def test_stopped_child_load_is_partial_and_not_cached(tmp_path: Path) -> None:
    path = str(sample(SYSTEM))
    stop = threading.Event()
    stop.set()  # as if esc was pressed at once: the child is told at its first progress line
    entry = CacheEntry([path])
    store = entry.build(stop=stop, child=True)
    try:
        assert not is_complete(store)
    finally:
        store.close()
    assert not entry.ready()


def test_only_large_evtx_needs_a_child_process(tmp_path: Path) -> None:
    small = str(sample(SYSTEM))
    xml = write_events(tmp_path / "big.xml", [event_xml(4688, i, "2024-01-01T00:00:00Z") for i in range(1, 4000)])
    assert xml.stat().st_size > 2 * 1024 * 1024
    assert not needs_child_process([small])
    assert not needs_child_process([str(xml)])  # not EVTX: no decoder workers to fork
    big = str(sample("evtx/parsers/omerbenamram__samples__security.evtx"))  # 2.1 MB
    assert needs_child_process([small, big])
    assert not needs_child_process([big], jobs=1)
    assert not needs_child_process([str(tmp_path / "missing.evtx")])


def test_finished_cache_keeps_no_write_ahead_log() -> None:
    """The app reads the cache through read-only connections while it loads and after, and
    those cannot fold the write-ahead log back into the database: the build does, or tens of
    MB of log would stay beside every cached database."""
    path = str(sample(SYSTEM))
    entry = CacheEntry([path])
    readers: list[Store] = []

    def progress(_p: Progress) -> None:
        if not readers:  # a reader open while the child writes, as the app's table is
            readers.append(Store(entry.db_path, readonly=True))

    store = entry.build(progress=progress, child=True)
    try:
        assert readers and readers[0].count() == 1881
        readers[0].close()
        wal = Path(str(entry.db_path) + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    finally:
        store.close()


def test_a_child_started_early_is_followed_not_started_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app starts the ingest child before its screen is up (`start_child`, its start-up
    overlapping the app's); the load worker's `build` then follows that same process."""
    import subprocess

    started: list[list[str]] = []

    class Counted(subprocess.Popen[str]):
        def __init__(self, cmd: list[str], *args: Any, **kwargs: Any) -> None:
            started.append(cmd)
            super().__init__(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Counted)
    path = str(sample(SYSTEM))
    entry = CacheEntry([path])
    entry.start_child()
    entry.start_child()  # once only
    seen: list[Progress] = []
    store = entry.build(progress=seen.append)  # `child` not even asked for: the child is running
    try:
        assert is_complete(store) and store.count() == 1881
    finally:
        store.close()
    assert len(started) == 1 and "core.store.ingest_child" in started[0]
    assert seen and seen[-1].done
    entry.abandon()  # nothing left to abandon: harmless
    assert entry.ready()


def test_a_child_nobody_took_over_is_stopped_and_lets_go_of_the_lock() -> None:
    """The app closing before its load worker ran: the early child is stopped (after its
    batch), the cache stays incomplete, and its lock is free for the next launch."""
    path = str(sample(SYSTEM))
    entry = CacheEntry([path])
    entry.start_child()
    assert entry._child is not None
    proc = entry._child[0]
    entry.abandon()
    assert proc.poll() is not None
    assert not entry.ready()
    again = CacheEntry([path])
    assert again.acquire()  # the lock was let go
    again.release()
    store = again.build(child=True)
    try:
        assert is_complete(store)
    finally:
        store.close()


def test_the_app_starts_the_child_before_its_screen_and_follows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big EVTX log: the app starts the ingest child while it loads (before mounting), its
    load worker follows that child to the end, and the table holds every event."""
    import asyncio
    import inspect

    from tests.apputil import opened
    from tui.app import EvtxApp

    big = str(sample("evtx/parsers/omerbenamram__samples__security.evtx"))  # 2.1 MB: a child
    assert needs_child_process([big])
    seen: list[str] = []

    class Probe(EvtxApp):
        def on_mount(self) -> None:
            entry = self.loader.entry
            seen.append("child started" if entry is not None and entry._child is not None else "no child yet")
            super().on_mount()

    Probe.CSS_PATH = [str(Path(inspect.getfile(EvtxApp)).parent / name) for name in EvtxApp.CSS_PATH]

    async def run() -> int:
        app = Probe([big])
        async with opened(app, timeout=60) as pilot:
            assert app.workspace.loaded and pilot.app is app
            return int(app.table.total or 0)

    total = asyncio.run(run())
    assert seen == ["child started"]
    with Store(":memory:") as reference:
        load_paths([big], reference, jobs=1)
        assert total == reference.count()


def test_a_child_that_never_answers_is_killed_once_the_load_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay of the child's output sees the stop (esc, the app quitting) only when a line
    comes: a child stopped for good, or stuck, held the load, and the app's exit, for ever. It
    is now killed STOP_GRACE s after the stop."""
    from core.store import cache, child_process

    hang = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    monkeypatch.setattr(cache, "module_command", lambda module, *args: ([sys.executable, "-c", hang], {}))
    monkeypatch.setattr(child_process, "STOP_GRACE", 1.0)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    begun = time.monotonic()
    with pytest.raises(RuntimeError, match="status -9"):
        CacheEntry([str(sample(SYSTEM))]).build(stop=stop, child=True)
    assert time.monotonic() - begun < 20
