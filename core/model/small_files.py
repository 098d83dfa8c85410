"""Reading a small file the user names (a rules file, a case file): a regular file only, and at
most a bound of bytes read, whatever it claims to be.

A named pipe's read never ends and `/dev/zero`'s fills memory: `--rules`, a `.yml` in a Sigma
folder and a case file are all paths a user (or a collected folder) can point anywhere.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_small(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them: an
    OSError naming it when it is no regular file or holds more (checked on the bytes read too:
    it may grow meanwhile), as for one that cannot be opened."""
    # Without waiting: a pipe's plain open waits for a writer. Checked on what was opened.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def regular(path: str | os.PathLike[str]) -> bool:
    """Whether `path` names a regular file (links followed): what `read_small` may read."""
    try:
        return stat.S_ISREG(Path(path).stat().st_mode)
    except (OSError, ValueError):
        return False
