"""Id sets: the distinct ids of a filter's events in a table of the connection's own, made once.

A view of a value held by many events is counted, paged and walked many times; expanding its
posting lists again for each statement cost more than the statement (`Store.id_set`). The sets
live in a scratch database attached to the connection (`SCHEMA`): a file in the temp dir, named
as `core.store.tempfiles` names its files so that those of a killed process are swept, and
removed when the store closes. As temporary tables in memory, a set of the 8M ids of a value
held by most of a 10M-event log took 95 MB of the process's memory; in the file it takes disk
pages the OS caches, and the process holds at most the scratch database's page cache
(`CACHE_KIB`), whatever the sets' sizes. About as fast to make and to walk (two runs each, file
against memory): 1.15M ids made in 0.27-0.29 against 0.25-0.35 s, the 1 GB log's time index
walked testing each of its 1.39M events against them in 0.47-0.48 against 0.46-0.52 s; 8M ids
made in 1.71-1.95 against 1.60-1.71 s (with a 2 MB cache the walk of the 1 GB log took 1.3 s:
its events' ids are not in time order, and the set's pages were read again and again).

When the file cannot be made or attached (no writable temp dir, a transaction open on the
connection: ATTACH is refused inside one), sets are temporary tables in memory, as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Final

from core.store import tempfiles

#: Id sets a connection keeps: a view's (a compound view's: one per term, up to this many,
#: `core.query.term_sets`) and the one before.
ID_SETS: Final = 3
#: The attached scratch database's name in SQL, and its page cache.
SCHEMA: Final = "idsets"
CACHE_KIB: Final = 16_384
_TABLE = rf"(?:{SCHEMA}|temp)\.id_set_\d+"
#: How a filter reads an id set (`Store.id_set`), and a filter keeping every event but those of
#: one (`NOT term`).
ID_SET_TEST: Final = re.compile(rf"e\.id IN {_TABLE}")
NOT_ID_SET: Final = re.compile(rf"\(NOT (\()?e\.id IN ({_TABLE})(?(1)\))\)")


class IdSets:
    """The id sets of one connection: made on demand, the last ID_SETS kept."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._sets: OrderedDict[tuple[str, tuple[object, ...]], str] = OrderedDict()
        self._serial = 0
        self._sizes: dict[str, int] = {}
        self._finalizer: weakref.finalize[[Path], IdSets] | None = None
        self._attached = False

    def table(self, ids: str, params: tuple[object, ...]) -> str:
        """The name of a table holding the distinct ids `ids` (SQL, with `params`) lists, made
        now unless one of the last ID_SETS is it."""
        key = (ids, params)
        name = self._sets.get(key)
        if name is not None:
            self._sets.move_to_end(key)
            return name
        self._serial += 1
        name = f"{SCHEMA if self._attach() else 'temp'}.id_set_{self._serial}"
        with self.conn:  # commits: no read transaction left pinning this connection's snapshot
            # WITHOUT ROWID: the ids are the b-tree's keys (1.15M ids: 0.27 s, against 0.35 as rowids).
            self.conn.execute(f"CREATE TABLE {name}(id INTEGER PRIMARY KEY) WITHOUT ROWID")
            # (the rows inserted, repeats ignored: its size without reading its pages again)
            inserted = self.conn.execute(f"INSERT OR IGNORE INTO {name} SELECT id FROM ({ids})", params).rowcount
        self._sets[key] = name
        self._sizes[name] = inserted
        while len(self._sets) > ID_SETS:
            _, old = self._sets.popitem(last=False)
            del self._sizes[old]
            with self.conn:
                self.conn.execute(f"DROP TABLE {old}")
        return name

    def size(self, name: str) -> int | None:
        """How many ids the table `name` holds, if it is one of this connection's sets (as its
        INSERT said: a count of a set of 8M ids reads its pages, 24-30 ms)."""
        return self._sizes.get(name)

    def _attach(self) -> bool:
        """Whether the scratch database is attached (attaching it on the first call that can)."""
        if self._attached:
            return True
        if self.conn.in_transaction:
            return False
        try:
            fd, path = tempfiles.temp_file(Path(tempfile.gettempdir()), "id-sets", ".tmp")
            os.close(fd)
        except OSError:
            return False
        try:
            self.conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (str(path),))
        except sqlite3.Error:
            _remove(path)
            return False
        self._attached = True
        # Removed by `close`, else when this object goes or the process ends (a store never closed).
        self._finalizer = weakref.finalize(self, _remove, path)
        # Nothing in it outlives the connection: no journal on disk, no sync, no zeros written
        # over a dropped set's pages.
        for pragma in ("journal_mode=MEMORY", "synchronous=OFF", "secure_delete=OFF", f"cache_size=-{CACHE_KIB}"):
            self.conn.execute(f"PRAGMA {SCHEMA}.{pragma}")
        return True

    def close(self) -> None:
        """After the connection is closed: remove the scratch file."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
