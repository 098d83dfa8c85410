"""A cache entry built before its key is known: hashed while it loads, then committed.

The cache key holds a SHA-256 of each input's whole content (`core.store.cache_identity`):
1 GB took 0.86 s to hash, and the first rows waited for it. Now a log whose digest is not
remembered starts loading at once into a provisional database (`build-<stamp key>.sqlite`,
named after the inputs' real paths and stat stamps: device, inode, size, mtime, ctime), while
a thread hashes it (hashlib and the reads release the GIL). When the load is complete the entry
is committed under the key of the digest (`commit`: the database, its WAL files and its lock
are renamed), unless an input changed meanwhile: its stat stamp differs, or (for a file that
changed within `RACY_SECONDS` of the start, whose ctime might not have ticked) a second hash
differs from the first. Such an entry is never committed: the app still shows what it read,
and the database is deleted when no longer in use. A provisional database is never served
from the cache (`CacheEntry.ready`), so a stale one cannot be.

Renaming under the app's open read connections is safe because every file of the database
(main, `-wal`, `-shm`) is renamed: SQLite finds its shared state by inode, and connections
opened later by the new name reach the same files. A reader told the provisional name that
opens it only after the rename (the app's table, a moment late) finds a symbolic link there to
the final database: SQLite resolves it before naming the WAL files, so it shares them too. The
link is leased as the entry is (`CacheEntry`: pruning skips it while the entry is open) and goes
with the entry's `close`, or with the first pruning after its process ended. The final entry's lock is held
exclusively meanwhile, so no other process opens it half-renamed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from core.store import cache_identity, cache_lock, file_names
from core.store.cache_lock import CacheLock

PROVISIONAL_PREFIX = "build-"


class _Input:
    """One input: its real path and stat (None for an unreadable or special input, whose
    identity is `fixed`), its digest once known, and when its hash started."""

    def __init__(self, path: str, memo_dir: Path | None) -> None:
        self.real, self.st, self.fixed = cache_identity.stat_input(path)
        self.digest: str | None = None
        self.started_ns = 0
        #: An unsettled remembered digest: worth verifying when its entry exists.
        self.candidate: str | None = None
        if self.st is not None:
            self.digest = cache_identity.remembered(self.real, self.st, memo_dir)
            if self.digest is None:
                self.candidate = cache_identity.remembered(self.real, self.st, memo_dir, unsettled=True)

    def identity(self) -> str:
        if self.fixed is not None:
            return self.fixed
        assert self.st is not None and self.digest is not None
        return cache_identity.identity(self.real, self.st, self.digest)


def key_of(version: str, identities: Sequence[str]) -> str:
    """The cache key of inputs with these identities (`core.store.cache.cache_key`)."""
    joined = "\n".join(identities)
    return hashlib.sha256(f"{version}\n{joined}".encode("utf-8", "surrogatepass")).hexdigest()[:40]


class InputsIdentity:
    """The identity of a list of inputs, known at once when every digest is remembered, else
    after `start` + `finish` (a thread hashes the inputs meanwhile)."""

    def __init__(self, paths: Sequence[str], version: str, memo_dir: Path | None) -> None:
        self.version = version
        self.memo_dir = memo_dir
        self.inputs = [_Input(p, memo_dir) for p in paths]
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    @property
    def pending(self) -> bool:
        return any(i.fixed is None and i.digest is None for i in self.inputs)

    def final_key(self) -> str | None:
        """The cache key, when no digest is pending."""
        if self.pending:
            return None
        return key_of(self.version, [i.identity() for i in self.inputs])

    def candidate_key(self) -> str | None:
        """The key the entry had when these inputs were last loaded, if each pending one was
        hashed then too soon after a change to be trusted (`cache_identity.remembered`)."""
        if any(i.fixed is None and i.digest is None and i.candidate is None for i in self.inputs):
            return None
        return key_of(self.version, [i.identity() if i.digest or i.fixed else self._candidate(i) for i in self.inputs])

    @staticmethod
    def _candidate(item: _Input) -> str:
        assert item.st is not None and item.candidate is not None
        return cache_identity.identity(item.real, item.st, item.candidate)

    def verify_now(self) -> str | None:
        """Hash the pending inputs here and now (a complete entry for `candidate_key` exists:
        reusing it is worth the wait); the final key, None if an input changed meanwhile."""
        self._hash_all()
        return self.finish(recheck=False)  # no load read the file: one hash, as `content_digest`

    def provisional_key(self) -> str:
        """A key from the stat stamps: two processes opening the same new log meet on one
        provisional entry (the second then builds privately, as for a final one)."""
        stamps = [str(i.fixed) if i.st is None else f"{i.real}|{cache_identity.stamp_text(i.st)}"
                  for i in self.inputs]
        return PROVISIONAL_PREFIX + key_of(self.version, stamps)

    def start(self) -> None:
        """Hash the inputs whose digest is not known, in a thread (once)."""
        if self._thread is None and self.pending:
            self._thread = threading.Thread(target=self._hash_all, name="evtx-cache-hash", daemon=True)
            self._thread.start()

    def _hash_all(self) -> None:
        try:
            for item in self.inputs:
                if item.fixed is None and item.digest is None:
                    item.started_ns = time.time_ns()
                    item.digest = cache_identity.hash_file(item.real)
        except OSError as exc:
            self._error = exc

    def finish(self, *, recheck: bool = True) -> str | None:
        """Wait for the hash; the final key, or None when an input changed since it was first
        seen (or could not be hashed): that entry must not be committed."""
        self.start()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None or self.pending:
            return None
        for item in self.inputs:
            if item.st is None or not item.started_ns:
                continue  # special, unreadable, or remembered: nothing hashed here
            if not self._unchanged(item, recheck):
                return None
            cache_identity.remember(item.real, item.st, item.digest or "", self.memo_dir, item.started_ns)
        return self.final_key()

    @staticmethod
    def _unchanged(item: _Input, recheck: bool) -> bool:
        assert item.st is not None
        try:
            now = os.stat(item.real)
        except OSError:
            return False
        if cache_identity.stamp_text(now) != cache_identity.stamp_text(item.st):
            return False
        if not recheck or cache_identity.settled(item.st, item.started_ns):
            return True
        # Changed just before it was opened: a later write may have kept its ctime. The bytes
        # the load read are only trusted when a second hash finds the same content.
        try:
            return cache_identity.hash_file(item.real) == item.digest
        except OSError:
            return False


def commit(db: Path, final: Path, lock: CacheLock) -> bool:
    """Rename the complete provisional database `db` (whose lock `lock` we hold) to `final`.
    False, leaving it provisional, when someone reads or builds `final` or a rename fails (the
    load itself succeeded: only its cache is lost)."""
    final_lock = Path(str(final) + ".lock")
    fd = cache_lock.open_locked(final_lock, fcntl.LOCK_EX)
    if fd is None:
        return False
    try:
        with file_names.renaming():  # no connection of ours half opened by either name meanwhile
            _rename(db, final, lock, final_lock)
    except OSError:
        return final.exists() and not db.exists()  # only the lock file stayed behind
    finally:
        cache_lock.close(fd)
    return True


def _rename(db: Path, final: Path, lock: CacheLock, final_lock: Path) -> None:
    for suffix in ("-wal", "-shm"):
        src, dst = Path(str(db) + suffix), Path(str(final) + suffix)
        if src.exists():
            os.replace(src, dst)
        else:
            dst.unlink(missing_ok=True)  # a side file of an older `final`
    # The main file last, and its old name never missing: a reader opening it at any moment
    # (the table's fetcher, told the old name a moment ago) finds the database, either the
    # file itself or the link to its new name that replaces it in one step.
    try:
        final.unlink(missing_ok=True)
        os.link(db, final)
        link = Path(str(db) + ".link")
        link.unlink(missing_ok=True)
        os.symlink(final.name, link)
        os.replace(link, db)
    except OSError:  # no hard links here: rename, then the link (a short window without the name)
        os.replace(db, final)
        with contextlib.suppress(OSError):
            os.symlink(final.name, db)
    os.replace(lock.path, final_lock)  # last, while locked (see `core.store.cache_lock`)
    lock.path = final_lock
