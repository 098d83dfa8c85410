"""Telling a full disk from every other failure of a load.

A full cache disk is not the input's fault: the ingest must not record it as "this input cannot
be read" (a cache marked complete with that error would be reused as if true), and the cache
falls back to a store elsewhere (`core.store.cache`). SQLite reports it as SQLITE_FULL ("database or
disk is full"); the OS as ENOSPC or EDQUOT. An exception raised in a worker process arrives
pickled, with its message and its `sqlite_errorcode`.
"""

from __future__ import annotations

import errno
import sqlite3

SQLITE_FULL = 13
#: What the user is told, once, when the cache could not be written.
NOTICE = "cache disk full: loaded without cache"
#: Exit status of `core.store.ingest_child` when the disk of its database is full.
DISK_FULL_STATUS = 75


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says the disk is full."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:  # a short chain of causes, never a cycle
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if (isinstance(code, int) and code & 0xFF == SQLITE_FULL) or "disk is full" in str(current):
                return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False
