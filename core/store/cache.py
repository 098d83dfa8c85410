"""The store as a cache: reopening the same logs skips parsing.

A cache database is keyed by the identity of its inputs, not their names: each input's real
path, size, mtime and a hash of its whole content, so a log that changed (or a different log at
the same path) is re-read, even when its size and mtime were kept. The cache lives under the
user's cache directory (`platformdirs`), is built under an exclusive lock and read under a
shared one (`core.store.cache_lock`: two processes opening the same new log do not write the same
database, and pruning, oldest-first beyond a size limit, never deletes a database in use).
A full cache disk costs only the cache: the partial database is deleted and the inputs are
loaded into a store elsewhere (`NOTICE`). A log whose digest is not remembered is loaded at
once into a provisional entry and hashed meanwhile (`core.store.cache_commit`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import platformdirs

from core.store import cache_commit, cache_damage, cache_identity, cache_lock, schema, tempfiles
from core.store.cache_lock import CacheLock
from core.store.child_process import module_command, stop_when_asked
from core.store.disk_full import DISK_FULL_STATUS, NOTICE, is_disk_full
from core.store.ingest import Progress, ProgressFn, load_paths
from core.store.store import Store

APP_NAME = "evtx-explorer"
#: Part of every cache key: bump it whenever parsing produces different events for the same
#: bytes (a decoder that recovers more records, a loader fix), so stale caches are not reused.
PARSE_REVISION = 7  # 6: JSON repeated keys, number and time texts kept; 7: JSON holding no event: no log
DEFAULT_LIMIT_BYTES = 4 * 1024**3


def cache_dir() -> Path:
    """Where cache databases live (`EVTX_EXPLORER_CACHE_DIR` overrides, for tests)."""
    override = os.environ.get("EVTX_EXPLORER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def input_identity(path: str) -> str:
    """Identity of one input: real path, size, mtime and a hash of its whole content
    (`core.store.cache_identity`; the hash is remembered in the cache directory)."""
    return cache_identity.input_identity(path, cache_dir() / "identities")


def _version() -> str:
    return f"v{schema.SCHEMA_VERSION}.{PARSE_REVISION}"


def cache_key(paths: Sequence[str]) -> str:
    return cache_commit.key_of(_version(), [input_identity(p) for p in paths])


def is_complete(store: Store) -> bool:
    return store.get_meta("complete") == "1"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _atime(path: Path) -> float:
    try:
        return path.stat().st_atime
    except OSError:
        return 0.0


def _unlink_link(link: Path) -> None:
    """Remove the old name a committed entry leaves behind, unless it is being rebuilt."""
    lock_path = Path(str(link) + ".lock")
    fd = cache_lock.open_locked(lock_path, fcntl.LOCK_EX)
    if fd is None:
        return
    try:
        if link.is_symlink():
            link.unlink()
        lock_path.unlink(missing_ok=True)  # last, while locked
    finally:
        cache_lock.close(fd)


def remove_database(db: Path) -> None:
    """Delete a database, its SQLite side files and its tables' lock (not its own lock file:
    nobody writes the tables of a database that is not open, and opening it takes its lock)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    cache_damage.marker(db).unlink(missing_ok=True)
    cache_lock.tables_lock_path(db).unlink(missing_ok=True)


def prune(directory: Path, limit_bytes: int, keep: Path | None = None) -> None:
    """Delete the least recently used cache databases until the total fits `limit_bytes`,
    skipping every one that is open or being built (its lock cannot be taken exclusively)."""
    dbs = sorted(directory.glob("*.sqlite"), key=_atime)
    total = sum(_size(p) for p in dbs if not p.is_symlink())
    for db in dbs:
        provisional = db.name.startswith(cache_commit.PROVISIONAL_PREFIX)  # never served: garbage
        if total <= limit_bytes and not provisional:
            continue
        if db.is_symlink():  # a committed entry's old name (`core.store.cache_commit`)
            _unlink_link(db)
            continue
        if keep is not None and db == keep:
            continue
        lock_path = Path(str(db) + ".lock")
        fd = cache_lock.open_locked(lock_path, fcntl.LOCK_EX)
        if fd is None:
            continue  # in use by a running app or command
        try:
            size = _size(db)
            remove_database(db)
            lock_path.unlink(missing_ok=True)  # last, while locked (see `core.store.cache_lock`)
        finally:
            cache_lock.close(fd)
        total -= size


class CacheEntry:
    """A cache database for a set of inputs, with its build lock.

    The TUI uses this directly (build in a worker thread, read on the main thread); the CLI
    uses `open_inputs`.
    """

    def __init__(self, paths: Sequence[str], *, use_cache: bool = True, directory: Path | None = None) -> None:
        self.paths = list(paths)
        self.use_cache = use_cache
        #: One line for the user when the cache could not be used (a full disk), else None.
        self.notice: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._attached = False  # `_tmp` lives as long as a store (`attach_cleanup`)
        tempfiles.sweep_temp_dirs()  # private stores of runs that were killed
        #: The inputs' identity; while `provisional`, their digests are being computed and
        #: `db_path` is a provisional entry, renamed to the final key once complete.
        self.identity: cache_commit.InputsIdentity | None = None
        self.provisional = False
        self._link_lock: CacheLock | None = None  # of the link a commit left at the old name
        if use_cache:
            try:
                self._shared(directory)
            except OSError as exc:  # a cache dir that is a file, read-only, not creatable: as disk full
                self.notice = f"cache unusable ({exc.strerror or exc}): loaded without cache"
                self.identity, self.provisional = None, False
                self._go_private()
        else:
            self._go_private()
        self.lock = CacheLock(self.db_path)
        #: A child started by `start_child` (process, its stderr file), until `build` ends.
        self._child: tuple[subprocess.Popen[str], IO[bytes]] | None = None
        self._following = False  # `build` has taken the child over
        self._hand_over = threading.Lock()

    def _shared(self, directory: Path | None) -> None:
        """Use the shared cache: its directory made, this entry's lock file writable."""
        self.directory = directory or cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.identity = cache_commit.InputsIdentity(self.paths, _version(), cache_dir() / "identities")
        key = self.identity.final_key()
        candidate = self.identity.candidate_key() if key is None else None
        if candidate is not None and (self.directory / f"{candidate}.sqlite").exists():
            key = self.identity.verify_now()  # a log reopened soon after it was written
        self.provisional = key is None
        self.db_path = self.directory / f"{key or self.identity.provisional_key()}.sqlite"
        os.close(os.open(str(self.db_path) + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))

    def _go_private(self) -> None:
        """Build in a private temp directory from now on (not the shared cache)."""
        self.use_cache = False
        self._tmp = tempfiles.temp_dir()
        self.directory = Path(self._tmp.name)
        self.db_path = self.directory / "events.sqlite"

    def ready(self) -> bool:
        """True when a complete database for these inputs already exists. It is then held
        open (the lease: no pruning deletes it) until `close`, or the store `open_inputs`
        returns is gone."""
        if (not self.use_cache or self.provisional or not self.db_path.exists() or not self.lock.share()
                or cache_damage.is_marked(self.db_path)):  # (marked: a command read a damaged page of it)
            return False
        try:
            with Store(self.db_path, readonly=True) as store:
                return is_complete(store)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            return False

    def acquire(self) -> bool:
        """Take the build lock; False if another process reads or builds this entry (then
        build without cache)."""
        return not self.use_cache or self.lock.build()

    def release(self) -> None:
        """Let go of the build lock, keeping the lease (the built database stays in use)."""
        self.lock.unbuild()

    def close(self) -> None:
        """Let go of the lease, and remove a private directory no store was tied to, and a
        provisional entry that was never committed (no one else can use it)."""
        if self.use_cache and self.provisional and self.lock.build():
            remove_database(self.db_path)
            self.lock.path.unlink(missing_ok=True)  # last, while locked
        self.lock.close()
        if self._link_lock is not None:
            self._link_lock.close()
            _unlink_link(Path(str(self._link_lock.path).removesuffix(".lock")))
        if self._tmp is not None and not self._attached:
            self._tmp.cleanup()

    def reset(self) -> None:
        """Remove a stale or partial database before rebuilding it."""
        remove_database(self.db_path)

    def build(
        self,
        *,
        progress: ProgressFn | None = None,
        stop: threading.Event | None = None,
        jobs: int | None = None,
        child: bool = False,
    ) -> Store:
        """Parse the inputs into a fresh database (under the lock) and return a Store on it.

        `child=True` parses in a child process (`core.store.ingest_child`): what a threaded caller
        such as the app wants for large EVTX logs (see `needs_child_process`).

        When the cache's disk fills up, the partial database is deleted (it would keep the disk
        full), `notice` says so, and the inputs are loaded again into a private temp directory,
        or, when that disk is full too and no child is needed, into memory (`db_path` then
        names the store the caller must read)."""
        try:
            return self._build_once(progress, stop, jobs, child)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
        self.notice = NOTICE
        with self._hand_over:
            self.lock.close()
            self._go_private()
        try:
            return self._build_once(progress, stop, jobs, child)
        except Exception as exc:
            if child or not is_disk_full(exc):
                raise
        return self._build_in_memory(progress, stop, jobs)

    def _build_once(
        self, progress: ProgressFn | None, stop: threading.Event | None, jobs: int | None, child: bool
    ) -> Store:
        with self._hand_over:
            started = self._child is not None
            if not started:
                self._prepare()
        store: Store | None = None
        try:
            if child or started:
                self._build_in_child(self._hashing(progress), stop, jobs)
                store = Store(self.db_path)
            else:
                store = Store(self.db_path)
                _load_into(store, self.paths, progress, stop, jobs)
            store.checkpoint()
            if self.provisional and self.use_cache and is_complete(store):
                store.close()
                store = None
                self._commit()
                store = Store(self.db_path)
            return store
        except BaseException as exc:
            if store is not None:
                _close_quietly(store)
            if is_disk_full(exc):
                remove_database(self.db_path)  # it would keep the disk full
            raise
        finally:
            self.release()
            if self.use_cache:
                prune(self.directory, cache_limit(), keep=self.db_path)

    def _build_in_memory(self, progress: ProgressFn | None, stop: threading.Event | None, jobs: int | None) -> Store:
        store = Store(":memory:")
        self.db_path = Path(":memory:")
        _load_into(store, self.paths, progress, stop, jobs)
        return store

    def _prepare(self) -> None:
        """Take the build lock (else switch to a private build) and clear the database."""
        if not self.acquire():
            # Someone else is reading or building this cache: do our own private build instead.
            self.lock.close()
            self._go_private()
        self.reset()

    def _hashing(self, progress: ProgressFn | None) -> ProgressFn | None:
        """`progress`, starting the hash of a provisional entry's inputs once the first rows are
        stored: started with the load, it took a core from the first rows (2 cores, 1 GB). Only
        while a child process loads: a thread in a process that forks the decoder's workers would
        make them start through the fork server (`parsers.evtx._pool`, ~3x slower), so a load
        in this process is hashed after it (`_commit`: the CLI shows nothing before the end)."""
        identity = self.identity
        if not (self.use_cache and self.provisional) or identity is None:
            return progress

        def relay(p: Progress) -> None:
            if p.records or p.done:
                identity.start()
            if progress is not None:
                progress(p)

        return relay

    def _commit(self) -> None:
        """Give the complete provisional entry its final key (waiting for the hash), unless an
        input changed meanwhile (it then stays provisional: `close` deletes it)."""
        assert self.identity is not None
        key = self.identity.finish()
        if key is None:
            return
        with self._hand_over:
            final = self.directory / f"{key}.sqlite"
            if cache_commit.commit(self.db_path, final, self.lock):
                # The link left at the old name is leased as the entry is: pruning keeps it.
                self._link_lock = CacheLock(self.db_path)
                self._link_lock.share()
                self.db_path = final
                self.provisional = False

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
        cmd, env = module_command("core.store.ingest_child", *args)
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
        with proc:  # closes its pipe
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait()
        errors.close()
        self.close()  # the app is closing: neither the build lock nor the lease is needed

    def _build_in_child(self, progress: ProgressFn | None, stop: threading.Event | None, jobs: int | None) -> None:
        """Run `core.store.ingest_child` (or follow the one `start_child` started), relaying its
        progress lines and our stop request."""
        with self._hand_over:
            self._following = True
            if self._child is None:
                self._spawn(jobs)
            assert self._child is not None
            proc, errors = self._child
        ended = threading.Event()
        if stop is not None:
            threading.Thread(target=stop_when_asked, args=(proc, stop, ended), name="ingest-stop", daemon=True).start()
        with errors, proc:  # `with proc` closes its pipe
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
                ended.set()
                self._child = None
            if status == DISK_FULL_STATUS:
                raise OSError(errno.ENOSPC, "disk full while building the cache")
            if status != 0:
                errors.seek(0)
                tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-3:]
                raise RuntimeError(f"ingest process exited with status {status}: {' | '.join(tail)}")

    def attach_cleanup(self, store: Store) -> None:
        """Tie a temporary (no-cache) directory's life to the store object."""
        if self._tmp is not None:
            self._attached = True
            weakref.finalize(store, self._tmp.cleanup)


def _close_quietly(store: Store) -> None:
    """Close a store whose build failed: what it still holds to write may fail again (a full
    disk); its connection is closed whatever happens."""
    try:
        store.close()
    except Exception:  # noqa: BLE001 - the build's own error is the one reported
        with contextlib.suppress(Exception):
            store.conn.close()


def _load_into(
    store: Store, paths: Sequence[str], progress: ProgressFn | None, stop: threading.Event | None, jobs: int | None
) -> None:
    load_paths(paths, store, progress=progress, stop=stop, jobs=jobs)
    if all(s.complete for s in store.sources()) and not (stop is not None and stop.is_set()):
        store.set_meta("complete", "1")


def needs_child_process(paths: Sequence[str], jobs: int | None = None) -> bool:
    """True when a threaded caller should ingest in a child process: some input is an EVTX
    log big enough for the decoder to use worker processes."""
    if jobs == 1:
        return False
    from parsers.evtx import INLINE_BYTES
    from parsers.evtx.reference import FILE_MAGIC

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
    notice: Callable[[str], None] | None = None,
) -> Store:
    """A fully loaded store for `paths`: from the cache when it is complete, else parsed now.
    `notice` gets the one line for the user when the cache could not be used (default: stderr).
    The cache entry stays leased (not pruned) while the returned store lives."""
    entry = CacheEntry(paths, use_cache=use_cache)
    if entry.ready():
        os.utime(entry.db_path)  # least-recently-used pruning
        store = Store(entry.db_path)
        cache_damage.opened(entry.db_path)
    else:
        store = entry.build(progress=progress, jobs=jobs)
        entry.attach_cleanup(store)
    weakref.finalize(store, entry.close)
    if entry.notice is not None:
        (notice or _to_stderr)(entry.notice)
    return store


def _to_stderr(line: str) -> None:
    print(f"evtx-explorer: {line}", file=sys.stderr)


def clear_cache() -> None:
    """Remove every cache database not in use, and the remembered digests (the `cache --clear`
    command): a database a running app or command has open stays until it is pruned later."""
    directory = cache_dir()
    if directory.is_dir():
        prune(directory, -1)
    shutil.rmtree(directory / "identities", ignore_errors=True)
