"""What identifies an input for the cache: its real path, size, mtime and whole content.

Every byte counts: a log rewritten in the middle with its size and mtime kept (`os.utime`)
served the old events. Hashing only the EVTX chunk headers (which carry CRC32s of their
records) would miss a damaged record whose chunk checksum was not updated, which is what
corruption looks like, so the whole file is hashed: SHA-256 over 1 MiB reads, 71-94 ms on the
100 MB bench log with a warm page cache (150-280 ms while the machine was busy; SHA-1 76 ms,
BLAKE2b 200 ms, the chunk headers alone 3 ms), against 4.0-4.2 s to build its cache.

Reopening would pay that hash every time (the app showed cached rows after 0.12-0.20 s), so the
digest is remembered per input (`<cache dir>/identities/`), keyed by device, inode, size, mtime
and ctime. The ctime cannot be set back (`os.utime` moves it to now), so a file changed in place
misses the memo and is hashed again. A file whose ctime is within `RACY_SECONDS` of the hash
could change again within the clock's granularity unseen: its digest is not remembered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from core.model.small_files import read_small

#: Read size of the content hash (large reads: the hash, not the calls, should cost the time).
HASH_BUFFER = 1024 * 1024
#: A file changed this recently may change again within one tick of a coarse clock (FAT: 2 s).
RACY_SECONDS = 3.0
#: A memo read at most (ours hold five integers and a digest: about 200 bytes).
MAX_MEMO_BYTES = 4096


def _memo_path(memo_dir: Path, real: str) -> Path:
    return memo_dir / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def hash_file(real: str) -> str:
    """SHA-256 of the whole file (tests replace it to slow it down: the load must not wait)."""
    with open(real, "rb") as fh:
        return hashlib.file_digest(fh, "sha256", _bufsize=HASH_BUFFER).hexdigest()


def remembered(real: str, st: os.stat_result, memo_dir: Path | None, *, unsettled: bool = False) -> str | None:
    """The digest remembered for the file `real` in the state `st`, else None. `unsettled`:
    the one of a file hashed too soon after a change to be trusted (it may have changed again
    with the same ctime), which only says which cache entry to verify by hashing again."""
    if memo_dir is None:
        return None
    # A damaged memo (torn, overwritten, crafted: a FIFO, a huge file, nesting past the decoder's
    # recursion, an integer past Python's digit limit) is no memo: the file is hashed again and
    # `remember` replaces it.
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, RecursionError):
        saved = json.loads(read_small(_memo_path(memo_dir, real), MAX_MEMO_BYTES))
        if saved["stamp"] == _stamp(st) and isinstance(saved["sha256"], str):
            if saved.get("settled", True) is not unsettled:
                return str(saved["sha256"])
    return None


def settled(st: os.stat_result, started_ns: int) -> bool:
    """True when the file last changed long enough before `started_ns` (when its hash began)
    that a later change must show in its ctime."""
    return started_ns - st.st_ctime_ns > RACY_SECONDS * 1e9


def remember(real: str, st: os.stat_result, digest: str, memo_dir: Path | None, started_ns: int) -> None:
    """Remember `digest` for the file in the state `st` if it is still in that state (marked
    unsettled when it changed too soon before the hash began: see `remembered`)."""
    if memo_dir is None:
        return
    with contextlib.suppress(OSError):
        if _stamp(os.stat(real)) != _stamp(st):
            return
        memo = _memo_path(memo_dir, real)
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        saved = {"stamp": _stamp(st), "sha256": digest, "settled": settled(st, started_ns)}
        tmp.write_text(json.dumps(saved), encoding="utf-8")
        os.replace(tmp, memo)


def content_digest(real: str, st: os.stat_result, memo_dir: Path | None) -> str:
    """SHA-256 of the file `real` whose stat is `st`, remembered in `memo_dir` when given."""
    known = remembered(real, st, memo_dir)
    if known is not None:
        return known
    started = time.time_ns()
    digest = hash_file(real)
    remember(real, st, digest, memo_dir, started)
    return digest


def identity(real: str, st: os.stat_result, digest: str) -> str:
    """The identity of a regular file from its stat and content digest."""
    return f"{real}|{st.st_size}|{st.st_mtime_ns}|{digest}"


def input_identity(path: str, memo_dir: Path | None = None) -> str:
    """Identity of one input (see the module doc). An unreadable input still gets an identity
    (its error is then cached with it); a non-regular file (a FIFO) is not read here."""
    real, st, fixed = stat_input(path)
    if fixed is not None:
        return fixed
    assert st is not None
    try:
        return identity(real, st, content_digest(real, st, memo_dir))
    except OSError as exc:
        return f"{real}|error|{exc.errno}"


def stat_input(path: str) -> tuple[str, os.stat_result | None, str | None]:
    """(real path, stat, None) for a regular file, whose identity needs its digest; else
    (real path, None, the identity), for an unreadable or special input."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        if not os.path.isfile(real):
            return real, None, f"{real}|special|{st.st_mode}"
        return real, st, None
    except OSError as exc:
        return real, None, f"{real}|error|{exc.errno}"


def stamp_text(st: os.stat_result) -> str:
    """The stat fields a change in place cannot keep (ctime included), as text."""
    return "|".join(map(str, _stamp(st)))
