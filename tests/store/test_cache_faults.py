"""The cache under faults: a log changed in place, a full disk, pruning by another instance."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.store import cache, cache_identity
from core.store.cache import CacheEntry, open_inputs
from core.store.ingest import load_paths
from core.store.store import Store
from tests.cliutil import run_cli
from tests.shared import sample
from tests.stores import disk_full_after

SYSTEM = "evtx/parsers/omerbenamram__samples__system.evtx"  # 1.1 MB, 1881 records
SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"  # 2.1 MB: decoded by workers
ROOT = Path(__file__).resolve().parents[2]


def _seen(store: Store) -> tuple[int, int, collections.Counter[str]]:
    """What a user sees: events, parse issues, and the computers named."""
    computers = collections.Counter(se.event.computer for se in store.iter_events())
    return store.count(), sum(s.parse_issues for s in store.sources()), computers


def _fresh(path: Path) -> tuple[int, int, collections.Counter[str]]:
    with Store(":memory:") as store:
        load_paths([str(path)], store, jobs=1)
        return _seen(store)


def _rewrite_in_place(path: Path, offset: int, data: bytes) -> None:
    """Change bytes in the middle of the file, keeping its size and its mtime."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("change", ["renamed computer", "damaged records"])
def test_a_log_changed_in_the_middle_is_parsed_again(
    tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same size and mtime, other bytes in the middle: the cache must not serve the old
    events (it did: the identity hashed only the first and last 64 KiB). The remembered digest
    of the first open (a file just copied counts as settled here) must not hide the change."""
    monkeypatch.setattr(cache_identity, "RACY_SECONDS", 0.0)
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    store = open_inputs([str(log)], jobs=1)
    before = _seen(store)
    store.close()
    data = log.read_bytes()
    middle = len(data) // 2
    if change == "renamed computer":  # a record rewritten: one event names another computer
        at = data.find("DESKTOP-2KGM189".encode("utf-16-le"), middle)
        _rewrite_in_place(log, at, "X".encode("utf-16-le"))
    else:  # a burst of garbage inside a chunk, its checksums not updated (as corruption does)
        _rewrite_in_place(log, middle + 0x1000, b"\xff" * 2048)
    expected = _fresh(log)
    assert expected != before  # the change is visible to a fresh parse
    store = open_inputs([str(log)], jobs=1)
    try:
        assert _seen(store) == expected
    finally:
        store.close()
    if change == "renamed computer":
        assert expected[2]["XESKTOP-2KGM189"] == 1


def test_reopening_an_unchanged_log_does_not_hash_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole-content hash costs ~80 ms per 100 MB: an unchanged file (same inode, size,
    mtime and ctime) is not read again; a recently changed one is (its ctime may not tick)."""
    log = tmp_path / "System.evtx"
    shutil.copyfile(sample(SYSTEM), log)
    first = cache.input_identity(str(log))  # just written: too recent to remember
    reads: list[str] = []
    real = hashlib.file_digest

    def counted(fh: io.BufferedReader, name: str, **kwargs: int) -> object:
        reads.append(name)
        return real(fh, name, **kwargs)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    assert cache.input_identity(str(log)) == first and reads == ["sha256"]
    monkeypatch.setattr(cache_identity, "RACY_SECONDS", 0.0)
    assert cache.input_identity(str(log)) == first and len(reads) == 2  # now remembered
    assert cache.input_identity(str(log)) == first and len(reads) == 2
    _rewrite_in_place(log, 600_000, bytes([log.read_bytes()[600_000] ^ 0xFF]))
    assert cache.input_identity(str(log)) != first and len(reads) == 3


def _leftovers(directory: Path) -> list[str]:
    """Database files (not the 0-6 byte lock files) in the cache directory."""
    return sorted(p.name for p in directory.glob("*.sqlite*") if not p.name.endswith(".lock"))


def test_a_full_cache_disk_loads_without_cache_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection (runs everywhere): writing the cache fails with SQLite's disk-full
    error half-way. Before: the input was reported unreadable (exit 1) and the partial
    database stayed; now one line says so, the output is whole, and nothing is left."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(cache_dir))
    log = sample(SYSTEM)
    calls = disk_full_after(monkeypatch, cache_dir)

    status, out, err = run_cli("stats", "--json", "--jobs", "1", str(log))
    assert calls["n"] > 2
    assert err == "evtx-explorer: cache disk full: loaded without cache\n"
    assert status == 0
    assert '"records": 1881' in out
    assert _leftovers(cache_dir) == []


def _can_mount_tmpfs(target: Path) -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


@pytest.mark.parametrize("how", ["cli", "app child"])
def test_a_real_5mb_cache_disk(tmp_path: Path, how: str) -> None:
    """A 5 MB tmpfs as the cache dir (root only, else skipped) and a log whose database does
    not fit: the CLI (a subprocess, workers inserting) and the app's way (an ingest child)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not _can_mount_tmpfs(mnt):
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = tmp_path / "big.evtx"
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_big_log.py"), str(sample(SECURITY)), str(big),
                        "--mb", "10"], check=True, capture_output=True)
        env = dict(os.environ, EVTX_EXPLORER_CACHE_DIR=str(mnt))
        if how == "cli":
            for _ in range(2):  # the second run: the first left the disk as it found it
                done = subprocess.run([sys.executable, "-m", "cli.main", "stats", "--json", str(big)], cwd=ROOT,
                                      env=env, capture_output=True, text=True, timeout=120)
                assert done.returncode == 0, done.stderr
                assert done.stderr == "evtx-explorer: cache disk full: loaded without cache\n"
                assert '"records": 13915' in done.stdout or '"records": 13,915' in done.stdout
                assert _leftovers(mnt) == []
        else:
            entry = CacheEntry([str(big)], directory=mnt)
            store = entry.build(child=True)
            try:
                assert entry.notice == "cache disk full: loaded without cache"
                assert store.count() == 13915 and mnt not in entry.db_path.parents
            finally:
                store.close()
                entry.close()
            assert _leftovers(mnt) == []
        small = sample(SYSTEM)  # a small log still gets its cache on that disk
        done = subprocess.run([sys.executable, "-m", "cli.main", "stats", str(small)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stderr == ""
        assert len(list(mnt.glob("*.sqlite"))) == 1
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


_HOLD = """
import sys, time
from core.store.cache import open_inputs
store = open_inputs([sys.argv[1]], jobs=1)
print(store.path, flush=True)
sys.stdin.readline()
print(store.count(), flush=True)
"""


def test_pruning_never_deletes_a_database_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One instance holds a cache open; another, with a cache limit of 0, builds its own and
    prunes: the open one stays (before: deleted under the running instance) and is pruned
    once it is closed."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    first = tmp_path / "first.evtx"
    shutil.copyfile(sample(SYSTEM), first)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(first)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    with holder:
        assert holder.stdout is not None and holder.stdin is not None
        held = Path(holder.stdout.readline().strip())
        assert held.exists()
        monkeypatch.setenv("EVTX_EXPLORER_CACHE_LIMIT_MB", "0")
        other = open_inputs([str(sample(SECURITY))], jobs=1)  # builds, then prunes
        other.close()
        assert held.exists(), "pruning deleted the database another instance has open"
        with Store(held, readonly=True) as reader:  # as the app's table opens new readers
            assert reader.count() == 1881
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1881"
        holder.stdin.close()
        holder.stdout.close()
        assert holder.wait() == 0
    cache.prune(tmp_path / "cache", 0)
    assert not held.exists()  # no longer in use: pruned


def test_two_handles_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same within one process (the app's entry and a CLI-like `open_inputs`)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    entry = CacheEntry([str(sample(SYSTEM))])
    store = entry.build(jobs=1)
    store.close()
    cache.prune(tmp_path / "cache", 0)
    cache.clear_cache()  # `cache --clear` from another terminal
    assert entry.db_path.exists()  # the entry holds its lease
    with Store(entry.db_path, readonly=True) as reader:
        assert reader.count() == 1881
    entry.close()
    cache.prune(tmp_path / "cache", 0)
    assert not entry.db_path.exists()
