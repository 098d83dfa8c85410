"""The store as a cache: reopening the same logs skips parsing.

A cache database is keyed by the identity of its inputs, not their names: each input's real
path, size, mtime and a hash of its first and last 64 KiB (the EVTX header and last chunk), so
a log that changed (or a different log at the same path) is re-read. The cache lives under
the user's cache directory (`platformdirs`), is built under an exclusive lock (two processes
opening the same new log do not write the same database), and is pruned oldest-first beyond a
size limit.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import platformdirs

from core import schema
from core.child_process import module_command
from core.ingest import Progress, ProgressFn, load_paths
from core.store import Store

APP_NAME = "evtx-explorer"
#: Part of every cache key: bump it whenever parsing produces different events for the same
#: bytes (a decoder that recovers more records, a loader fix), so stale caches are not reused.
PARSE_REVISION = 4
DEFAULT_LIMIT_BYTES = 4 * 1024**3
_EDGE = 64 * 1024


def cache_dir() -> Path:
    """Where cache databases live (`EVTX_EXPLORER_CACHE_DIR` overrides, for tests)."""
    override = os.environ.get("EVTX_EXPLORER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def input_identity(path: str) -> str:
    """Identity of one input: real path, size, mtime and a hash of its first and last 64 KiB.
    An unreadable input still gets an identity (its error is then cached with it)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        h = hashlib.sha256()
        with open(real, "rb") as fh:
            h.update(fh.read(_EDGE))
            if st.st_size > _EDGE:
                fh.seek(max(_EDGE, st.st_size - _EDGE))
                h.update(fh.read(_EDGE))
        return f"{real}|{st.st_size}|{st.st_mtime_ns}|{h.hexdigest()}"
    except OSError as exc:
        return f"{real}|error|{exc.errno}"


def cache_key(paths: Sequence[str]) -> str:
    joined = "\n".join(input_identity(p) for p in paths)
    version = f"v{schema.SCHEMA_VERSION}.{PARSE_REVISION}"
    return hashlib.sha256(f"{version}\n{joined}".encode()).hexdigest()[:40]


def is_complete(store: Store) -> bool:
    return store.get_meta("complete") == "1"


def prune(directory: Path, limit_bytes: int, keep: Path | None = None) -> None:
    """Delete the least recently used cache databases until the total fits `limit_bytes`."""
    dbs = sorted(directory.glob("*.sqlite"), key=lambda p: p.stat().st_atime if p.exists() else 0)
    total = sum(p.stat().st_size for p in dbs if p.exists())
    for db in dbs:
        if total <= limit_bytes:
            return
        if keep is not None and db == keep:
            continue
        size = db.stat().st_size
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        total -= size


class CacheEntry:
    """A cache database for a set of inputs, with its build lock.

    The TUI uses this directly (build in a worker thread, read on the main thread); the CLI
    uses `open_inputs`.
    """

    def __init__(self, paths: Sequence[str], *, use_cache: bool = True, directory: Path | None = None) -> None:
        self.paths = list(paths)
        self.use_cache = use_cache
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if use_cache:
            self.directory = directory or cache_dir()
            self.directory.mkdir(parents=True, exist_ok=True)
            self.db_path = self.directory / f"{cache_key(self.paths)}.sqlite"
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="evtx-explorer-")
            self.directory = Path(self._tmp.name)
            self.db_path = self.directory / "events.sqlite"
        self._lock_fh: int | None = None
        #: A child started by `start_child` (process, its stderr file), until `build` ends.
        self._child: tuple[subprocess.Popen[str], IO[bytes]] | None = None
        self._following = False  # `build` has taken the child over
        self._hand_over = threading.Lock()

    def ready(self) -> bool:
        """True when a complete database for these inputs already exists."""
        if not self.use_cache or not self.db_path.exists():
            return False
        try:
            with Store(self.db_path, readonly=True) as store:
                return is_complete(store)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            return False

    def acquire(self) -> bool:
        """Take the build lock; False if another process holds it (then build without cache)."""
        if not self.use_cache:
            return True
        fd = os.open(str(self.db_path) + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fh = fd
        return True

    def release(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            os.close(self._lock_fh)
            self._lock_fh = None

    def reset(self) -> None:
        """Remove a stale or partial database before rebuilding it."""
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.db_path) + suffix).unlink(missing_ok=True)

    def build(
        self,
        *,
        progress: ProgressFn | None = None,
        stop: threading.Event | None = None,
        jobs: int | None = None,
        child: bool = False,
    ) -> Store:
        """Parse the inputs into a fresh database (under the lock) and return a Store on it.

        `child=True` parses in a child process (`core.ingest_child`): what a threaded caller
        such as the app wants for large EVTX logs (see `needs_child_process`)."""
        with self._hand_over:
            started = self._child is not None
            if not started:
                self._prepare()
        try:
            if child or started:
                self._build_in_child(progress, stop, jobs)
                store = Store(self.db_path)
            else:
                store = Store(self.db_path)
                load_paths(self.paths, store, progress=progress, stop=stop, jobs=jobs)
                if all(s.complete for s in store.sources()) and not (stop is not None and stop.is_set()):
                    store.set_meta("complete", "1")
            store.checkpoint()
            return store
        finally:
            self.release()
            if self.use_cache:
                prune(self.directory, cache_limit(), keep=self.db_path)

    def _prepare(self) -> None:
        """Take the build lock (else switch to a private build) and clear the database."""
        if not self.acquire():
            # Someone else is building this cache: do our own private build instead.
            self.use_cache = False
            self._tmp = tempfile.TemporaryDirectory(prefix="evtx-explorer-")
            self.directory = Path(self._tmp.name)
            self.db_path = self.directory / "events.sqlite"
        self.reset()

    def start_child(self, jobs: int | None = None) -> None:
        """Start the build in a child process now; `build` then follows it. The app calls this
        before its screen is up: the child's start-up (an interpreter, the decoder, the first
        chunks) then overlaps the app's own: the first rows of a cold 105 MB log were on screen
        after 0.19-0.30 s instead of 0.35-0.48 s. `abandon` ends it if `build` never runs."""
        with self._hand_over:
            if self._child is not None or self._following:
                return
            self._prepare()
            self._spawn(jobs)

    def _spawn(self, jobs: int | None) -> None:
        args = [str(self.db_path)] + (["--jobs", str(jobs)] if jobs is not None else []) + ["--", *self.paths]
        cmd, env = module_command("core.ingest_child", *args)
        errors = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env, text=True
        )
        self._child = (proc, errors)

    def abandon(self) -> None:
        """Stop a child started by `start_child` that `build` has not taken over (the app is
        closing before its load began): it stops after its current batch, keeping the cache
        incomplete, and the lock is let go."""
        with self._hand_over:
            if self._child is None or self._following:
                return
            proc, errors = self._child
            self._child = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait()
        errors.close()
        self.release()

    def _build_in_child(self, progress: ProgressFn | None, stop: threading.Event | None, jobs: int | None) -> None:
        """Run `core.ingest_child` (or follow the one `start_child` started), relaying its
        progress lines and our stop request."""
        with self._hand_over:
            self._following = True
            if self._child is None:
                self._spawn(jobs)
            assert self._child is not None
            proc, errors = self._child
        with errors:
            assert proc.stdout is not None
            signalled = False
            try:
                for line in proc.stdout:
                    if progress is not None and line.startswith("{"):
                        progress(Progress(**json.loads(line)))
                    if stop is not None and stop.is_set() and not signalled:
                        proc.send_signal(signal.SIGTERM)
                        signalled = True
            finally:
                if proc.poll() is None and stop is not None and stop.is_set() and not signalled:
                    proc.send_signal(signal.SIGTERM)
                status = proc.wait()
                self._child = None
            if status != 0:
                errors.seek(0)
                tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-3:]
                raise RuntimeError(f"ingest process exited with status {status}: {' | '.join(tail)}")

    def attach_cleanup(self, store: Store) -> None:
        """Tie a temporary (no-cache) directory's life to the store object."""
        if self._tmp is not None:
            weakref.finalize(store, self._tmp.cleanup)


def needs_child_process(paths: Sequence[str], jobs: int | None = None) -> bool:
    """True when a threaded caller should ingest in a child process: some input is an EVTX
    log big enough for the decoder to use worker processes."""
    if jobs == 1:
        return False
    from parsers.evtx import INLINE_BYTES
    from parsers.evtx_reference import FILE_MAGIC

    for path in paths:
        try:
            if os.path.getsize(path) < INLINE_BYTES:
                continue
            with open(path, "rb") as fh:
                if fh.read(len(FILE_MAGIC)) == FILE_MAGIC:
                    return True
        except OSError:
            continue
    return False


def cache_limit() -> int:
    raw = os.environ.get("EVTX_EXPLORER_CACHE_LIMIT_MB")
    return int(raw) * 1024 * 1024 if raw and raw.isdigit() else DEFAULT_LIMIT_BYTES


def open_inputs(
    paths: Sequence[str],
    *,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
    jobs: int | None = None,
) -> Store:
    """A fully loaded store for `paths`: from the cache when it is complete, else parsed now."""
    entry = CacheEntry(paths, use_cache=use_cache)
    if entry.ready():
        os.utime(entry.db_path)  # least-recently-used pruning
        return Store(entry.db_path)
    store = entry.build(progress=progress, jobs=jobs)
    entry.attach_cleanup(store)
    return store


def clear_cache() -> None:
    """Remove every cache database (the `cache --clear` command)."""
    shutil.rmtree(cache_dir(), ignore_errors=True)
