"""Opening a database and renaming its files never overlap within the process.

SQLite names a connection's write-ahead log and shared-memory index after the name the
database was opened by (`X-wal`, `X-shm`), on the connection's first read, and keeps that log
open from then on. A cache entry built under a provisional name is renamed once complete
(`core.store.cache_commit`: its `-wal` and `-shm` first, then the main file, whose old name
becomes a link to the new one). A connection opened by the old name in the middle of that
(the app's table, told the provisional name with the first rows, opening its reader just as
a small log finished loading) found no `-wal` under the old name and made a new, empty one,
while sharing the process's index with the connections opened by the new name. The first
write after that (the findings kept with the store, the correlation tables) put frames in the
new name's log that the index then sent this connection to read from its own empty one:
`disk I/O error` (SQLITE_IOERR_SHORT_READ) on every page it fetched, and the table stuck.

So a `Store` holds `opening()` from its connection until its first read (the log is open),
and a rename of a database's files holds `renaming()`: a connection is opened entirely
before the rename (its log follows the renamed file) or entirely after (the old name is then
a link, resolved before the log is named). Openings share the lock with each other (one that
waits for SQLite's busy timeout never holds up the others); a rename waits for the openings
under way, and new ones wait for it (it takes microseconds). Only this process's connections
need it: no other process opens a provisional entry (`core.store.cache`).

Readers stay `mode=ro` (they cannot write, and a store in a read-only place still opens): the
first suspect, a writer closing as the last connection and deleting `-wal` and `-shm`, is
harmless to them, since a reader holds the database's shared lock from its first read (no writer
is then the last) and one opened after makes both files again in the cache directory, the app's
own (tests/store/test_wal_names.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_changed = threading.Condition()
_opening = 0
_renaming = False
_pending = 0  # renames waiting: new openings wait behind them


@contextmanager
def opening() -> Iterator[None]:
    """Held while a connection is opened and reads once (its log named and opened)."""
    global _opening
    with _changed:
        while _renaming or _pending:  # bounded: a rename is a few system calls
            _changed.wait()
        _opening += 1
    try:
        yield
    finally:
        with _changed:
            _opening -= 1
            _changed.notify_all()


@contextmanager
def renaming() -> Iterator[None]:
    """Held while a database's files are renamed: no connection is half opened meanwhile."""
    global _renaming, _pending
    with _changed:
        _pending += 1
        try:
            while _renaming or _opening:  # bounded: openings take milliseconds
                _changed.wait()
        finally:
            _pending -= 1
        _renaming = True
    try:
        yield
    finally:
        with _changed:
            _renaming = False
            _changed.notify_all()
