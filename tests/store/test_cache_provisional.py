"""A log is loaded while its content is hashed: first rows never wait for the hash, and an entry
whose log changed during the load is never committed (so never served)."""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.store import cache_identity
from core.store.cache import CacheEntry, open_inputs
from core.store.ingest import Progress
from core.store.store import Store
from tests.shared import sample

SYSTEM = "evtx/parsers/omerbenamram__samples__system.evtx"  # 1.1 MB, 1881 records
SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"  # 2.1 MB: decoded by workers
HOST = "DESKTOP-2KGM189"


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _slow_hash(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[float]:
    """Make the content hash take `seconds`; returns the times at which hashes ended."""
    ended: list[float] = []
    real = hashlib.file_digest

    def slow(fh: Any, name: str, **kwargs: Any) -> Any:
        time.sleep(seconds)
        digest = real(fh, name, **kwargs)
        ended.append(time.perf_counter())
        return digest

    monkeypatch.setattr(hashlib, "file_digest", slow)
    return ended


def _computers(store: Store) -> collections.Counter[str]:
    return collections.Counter(se.event.computer for se in store.iter_events())


def test_first_rows_are_stored_before_the_hash_ends_and_the_entry_is_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the whole log was hashed before loading began (1.37 s to the first rows of a
    1 GB log). Now the rows come first; the complete entry is then kept under its final key."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    ended = _slow_hash(monkeypatch, 1.5)
    first_rows: list[float] = []

    def progress(p: Progress) -> None:
        if p.records and not first_rows:
            first_rows.append(time.perf_counter())

    entry = CacheEntry([str(log)])
    assert not entry.ready()
    store = entry.build(progress=progress, jobs=1)
    try:
        assert store.count() == 1881
        assert first_rows and ended and first_rows[0] < ended[0]
        assert not entry.provisional and not entry.db_path.name.startswith("build-")
    finally:
        store.close()
        entry.close()
    again = CacheEntry([str(log)])  # reopened: the same entry, complete, without a new build
    try:
        assert again.db_path == entry.db_path and again.ready()
    finally:
        again.close()
    assert [p.name for p in (tmp_path / "cache").glob("build-*")] == []


def test_in_the_app_the_log_is_hashed_while_the_ingest_child_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's path (`child=True`): the hash runs in a thread of the app while the child
    loads, and the first rows do not wait for it."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    ended = _slow_hash(monkeypatch, 3.0)
    first_rows: list[float] = []

    def progress(p: Progress) -> None:
        if p.records and not first_rows:
            first_rows.append(time.perf_counter())

    entry = CacheEntry([str(log)])
    store = entry.build(progress=progress, jobs=1, child=True)
    try:
        assert store.count() == 1881 and not entry.provisional
        assert first_rows and ended and first_rows[0] < ended[0]
    finally:
        store.close()
        entry.close()


def test_a_load_in_this_process_still_forks_its_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoder forks its workers only from a process running no other thread (else it
    starts them through the fork server, about 3x slower): the CLI's load is hashed after it,
    not by a thread during it."""
    from parsers import evtx

    log = tmp_path / "Security.evtx"
    shutil.copyfile(sample(SECURITY), log)
    threads: list[int] = []
    real = evtx._pool

    def pool(jobs: int) -> Any:
        threads.append(threading.active_count())
        return real(jobs)

    monkeypatch.setattr(evtx, "_pool", pool)
    before = threading.active_count()  # threads other tests of this worker left running
    store = open_inputs([str(log)], jobs=2)
    try:
        assert len(threads) == 1 and threads[0] <= before and store.count() > 0
    finally:
        store.close()


def _rewrite_in_place(path: Path, offset: int, data: bytes) -> None:
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_log_changed_while_it_loads_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The log is rewritten (same size and mtime) while it loads, then put back as it was: the
    next open must show the original events. Before, the entry was keyed by the content hashed
    before the load and filled with the bytes read during it, so the restored log was served
    the rewritten events."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    original = log.read_bytes()
    at = original.find(HOST.encode("utf-16-le"), len(original) // 2)  # read after the change
    _slow_hash(monkeypatch, 0.3)
    changed: list[bool] = []

    def progress(p: Progress) -> None:
        if p.records and not changed:
            _rewrite_in_place(log, at, "X".encode("utf-16-le"))
            changed.append(True)

    entry = CacheEntry([str(log)])
    store = entry.build(progress=progress, jobs=1)
    try:
        assert _computers(store)["XESKTOP-2KGM189"] == 1  # the load did read the new bytes
    finally:
        store.close()
        entry.close()
    _rewrite_in_place(log, at, original[at:at + 2])
    assert log.read_bytes() == original
    store = open_inputs([str(log)], jobs=1)
    try:
        assert _computers(store)["XESKTOP-2KGM189"] == 0 and store.count() == 1881
    finally:
        store.close()
    # the first build's database is deleted once unused (the second leaves a link to its entry)
    assert [p.name for p in (tmp_path / "cache").glob("build-*.sqlite") if not p.is_symlink()] == []


def test_a_log_changed_within_a_tick_of_its_ctime_is_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log changed just before it was opened may change again with the same ctime: its
    entry is committed only if a second hash after the load finds the bytes the first found."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)  # just written: unsettled
    calls: list[int] = []
    real = cache_identity.hash_file
    at = log.read_bytes().rfind(HOST.encode("utf-16-le"))
    st = log.stat()

    def hashed(path: str) -> str:
        calls.append(1)
        digest = real(path)
        if len(calls) == 1:  # a change the stat cannot show: same size, mtime and ctime
            with open(path, "r+b") as fh:
                fh.seek(at)
                fh.write("X".encode("utf-16-le"))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            ctime = os.stat(path).st_ctime_ns
            monkeypatch.setattr(cache_identity, "_stamp", lambda s: [s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns,
                                                                   ctime])
        return digest

    monkeypatch.setattr(cache_identity, "hash_file", hashed)
    entry = CacheEntry([str(log)])
    store = entry.build(jobs=1)
    try:
        assert len(calls) == 2 and entry.provisional
    finally:
        store.close()
        entry.close()


def test_reopening_a_log_soon_after_it_was_written_reuses_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log loaded seconds after it was written has an unsettled digest: the next open hashes
    it before deciding (as before this change), and reuses the complete entry."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    open_inputs([str(log)], jobs=1).close()
    built = threading.Event()
    monkeypatch.setattr("core.store.cache.load_paths", lambda *a, **k: built.set())
    entry = CacheEntry([str(log)])
    try:
        assert entry.ready() and not built.is_set()
    finally:
        entry.close()


def test_an_entry_in_use_is_not_replaced_by_a_second_build(tmp_path: Path) -> None:
    """A second build of the same content (its digest no longer remembered) while another
    process reads the committed entry: the reader's database is left alone, the second load
    still shows every event, and its provisional copy goes when it is closed."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    open_inputs([str(log)], jobs=1).close()
    reader = CacheEntry([str(log)])
    assert reader.ready()
    final = reader.db_path
    inode = final.stat().st_ino
    shutil.rmtree(tmp_path / "cache" / "identities")
    entry = CacheEntry([str(log)])
    assert entry.provisional
    store = entry.build(jobs=1)
    try:
        assert store.count() == 1881 and entry.provisional and final.stat().st_ino == inode
    finally:
        store.close()
        entry.close()
    assert [p.name for p in (tmp_path / "cache").glob("build-*")] == []
    with Store(final, readonly=True) as again:
        assert again.count() == 1881
    reader.close()


def test_a_reader_given_the_provisional_name_can_open_it_after_the_commit(tmp_path: Path) -> None:
    """The app's table is told the provisional name with the first rows and may open it only
    after the load is complete and renamed (a small log): it failed with "unable to open
    database file" and the table stayed empty. The old name leads to the entry until the
    entry is closed, pruning included."""
    from core.store.cache import prune

    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    names: list[Path] = []
    entry = CacheEntry([str(log)])
    store = entry.build(progress=lambda p: names.append(entry.db_path), jobs=1)
    old = names[0]
    try:
        assert old.name.startswith("build-") and entry.db_path != old
        prune(tmp_path / "cache", -1, keep=entry.db_path)
        with Store(old, readonly=True) as late:
            assert late.count() == 1881
    finally:
        store.close()
        entry.close()
    assert not old.is_symlink() and not old.exists()
