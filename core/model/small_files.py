"""Reading a small file the user names (a rules file, a rule package, a case file): a regular
file (or, where asked, a pipe), and at most a bound of bytes read, whatever it claims to be.

A named pipe's read never ended and `/dev/zero`'s filled memory: `--rules`, a `.yml` in a Sigma
folder and a case file are all paths a user (or a collected folder) can point anywhere.
"""

from __future__ import annotations

import errno
import os
import stat


def read_small(path: str | os.PathLike[str], limit: int, *, pipes: bool = False) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them: an
    OSError naming it when it is no regular file or holds more (checked on the bytes read too:
    it may grow meanwhile), as for one that cannot be opened. With `pipes` a pipe is read too
    (`--rules <(sed ... rules.toml)`): opened without waiting for a writer, so that a named
    pipe nobody writes reads as empty instead of hanging."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode))):
            raise OSError(errno.EINVAL, "not a regular file" + (" or a pipe" if pipes else ""), str(path))
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with fh:
        data = _read_upto(fh.fileno(), limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def _read_upto(fd: int, size: int) -> bytes:
    """Up to `size` bytes of `fd`, in as many reads as a pipe needs (a read may return less)."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
