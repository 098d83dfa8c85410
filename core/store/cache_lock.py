"""The lock file of a cache database (`<db>.lock`): who builds it, who reads it.

* Shared (a lease) while a process has the database open: pruning, which must lock an entry
  exclusively before it deletes it, skips it (one instance's pruning deleted the database a
  running app was reading), and so does a rebuild of an unfinished entry (it builds privately).
* Exclusive while a process builds it; the builder's pid is written into the file.

`flock` locks belong to the open file, and a forked process shares its parent's: decoder
workers forked during a build kept the lock held after a `kill -9` of their parent. The lock
fds are closed in every forked child (`os.register_at_fork`), so a lock dies with the process
that took it. A lock still held exclusively after its builder died (held by processes of an
older version) is stale: the lock file is moved aside and a new one taken.

Whoever deletes an entry holds its lock exclusively and unlinks the lock file last; a taker
checks after locking that the file it locked is still the one at the path (else it retries).

Beside it, `<db>.tables-lock` is held exclusively by the one process writing the database's
correlation tables (`tables_writer`), and deleted with the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

#: Attempts to lock a lock file that a pruner or a stale take-over keeps replacing.
ATTEMPTS = 5
#: Lock fds this process holds: closed in forked children.
_HELD: set[int] = set()
#: The correlation tables this process writes (`tables_writer`): path -> (lock fd, depth).
_WRITING: dict[str, tuple[int, int]] = {}
_WRITING_MUTEX = threading.Lock()


def _close_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)  # the parent's lock stays: only LOCK_UN or the last close ends it
    _HELD.clear()
    _WRITING.clear()


os.register_at_fork(after_in_child=_close_in_child)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _try(fd: int, op: int) -> bool:
    try:
        fcntl.flock(fd, op | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def open_locked(path: Path, op: int) -> int | None:
    """Open (creating) the lock file at `path` and lock it with `op` without waiting: the fd,
    or None when someone else holds a conflicting lock."""
    for _ in range(ATTEMPTS):
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        if not _try(fd, op):
            os.close(fd)
            return None
        if _same_file(fd, path):
            _HELD.add(fd)
            return fd
        os.close(fd)  # replaced meanwhile: lock the new one
    return None


def close(fd: int) -> None:
    _HELD.discard(fd)
    with contextlib.suppress(OSError):
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _builder(path: Path) -> int | None:
    try:
        raw = path.read_bytes()[:32].strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None


class CacheLock:
    """The lock of one cache database: `share` (lease), `build` (exclusive), `unbuild`, `close`."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(str(db_path) + ".lock")
        self.fd: int | None = None
        self.exclusive = False

    def share(self) -> bool:
        """Hold the lease (shared); False while someone builds the entry."""
        if self.fd is None:
            self.fd = open_locked(self.path, fcntl.LOCK_SH)
        return self.fd is not None

    def build(self) -> bool:
        """Hold the lock exclusively: False while another process reads or builds the entry."""
        if self.exclusive:
            return True
        if self.fd is not None:
            if not _try(self.fd, fcntl.LOCK_EX):
                _try(self.fd, fcntl.LOCK_SH)  # a failed conversion may have dropped the lease
                return False
        else:
            self.fd = open_locked(self.path, fcntl.LOCK_EX)
            if self.fd is None and self._take_over_stale():
                self.fd = open_locked(self.path, fcntl.LOCK_EX)
            if self.fd is None:
                return False
        self.exclusive = True
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def _take_over_stale(self) -> bool:
        """Move the lock file aside when it is held exclusively by no live builder."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if _try(fd, fcntl.LOCK_SH):
                return False  # held shared only: readers, not a builder
            pid = _builder(self.path)
            if pid is None or _alive(pid) or not _same_file(fd, self.path):
                return False
            aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}")
            os.rename(self.path, aside)
            aside.unlink(missing_ok=True)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def unbuild(self) -> None:
        """Back from exclusive to the lease."""
        if self.fd is not None and self.exclusive:
            self.exclusive = False
            if not _try(self.fd, fcntl.LOCK_SH):
                self.close()

    def close(self) -> None:
        if self.fd is not None:
            close(self.fd)
            self.fd = None
        self.exclusive = False


def tables_lock_path(db: Path) -> Path:
    """The lock of the correlation tables' writing of the database `db` (`tables_writer`)."""
    return Path(f"{db}.tables-lock")


@contextlib.contextmanager
def tables_writer(db: Path) -> Iterator[bool]:
    """Whether this process may write the correlation tables of `db` in the block: no other
    process is writing them (an app open on the same log, `prepare`). Two writers would
    interleave their deletes and chunks and one could tag a view it holds only part of. Taken
    without waiting; again by the process that holds it (its writer's steps nest)."""
    key = str(db)
    with _WRITING_MUTEX:
        held = _WRITING.get(key)
        if held is not None:
            _WRITING[key] = (held[0], held[1] + 1)
            fd: int | None = held[0]
        else:
            fd = open_locked(tables_lock_path(db), fcntl.LOCK_EX)
            if fd is not None:
                _WRITING[key] = (fd, 1)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        with _WRITING_MUTEX:
            fd, depth = _WRITING[key]
            if depth > 1:
                _WRITING[key] = (fd, depth - 1)
            else:
                del _WRITING[key]
                close(fd)

