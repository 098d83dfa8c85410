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

#: Read size of the content hash (large reads: the hash, not the calls, should cost the time).
HASH_BUFFER = 1024 * 1024
#: A file changed this recently may change again within one tick of a coarse clock (FAT: 2 s).
RACY_SECONDS = 3.0


def _memo_path(memo_dir: Path, real: str) -> Path:
    return memo_dir / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def content_digest(real: str, st: os.stat_result, memo_dir: Path | None) -> str:
    """SHA-256 of the file `real` whose stat is `st`, remembered in `memo_dir` when given."""
    memo = _memo_path(memo_dir, real) if memo_dir is not None else None
    stamp = _stamp(st)
    if memo is not None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            saved = json.loads(memo.read_text(encoding="utf-8"))
            if saved["stamp"] == stamp and isinstance(saved["sha256"], str):
                return saved["sha256"]
    started = time.time_ns()
    with open(real, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256", _bufsize=HASH_BUFFER).hexdigest()
    settled = started - st.st_ctime_ns > RACY_SECONDS * 1e9 and _stamp(os.stat(real)) == stamp
    if memo is not None and settled:
        with contextlib.suppress(OSError):
            memo.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"stamp": stamp, "sha256": digest}), encoding="utf-8")
            os.replace(tmp, memo)
    return digest


def input_identity(path: str, memo_dir: Path | None = None) -> str:
    """Identity of one input (see the module doc). An unreadable input still gets an identity
    (its error is then cached with it); a non-regular file (a FIFO) is not read here."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        if not os.path.isfile(real):
            return f"{real}|special|{st.st_mode}"
        return f"{real}|{st.st_size}|{st.st_mtime_ns}|{content_digest(real, st, memo_dir)}"
    except OSError as exc:
        return f"{real}|error|{exc.errno}"
