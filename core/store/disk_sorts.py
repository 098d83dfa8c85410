"""Big sorts of a write spilled to temporary files, not held in memory.

A writing connection of the store keeps its temporary tables and sorts in memory
(`PRAGMA temp_store=MEMORY`, `core.store.store`; reading ones keep them in files).
Building an index over millions of rows is one big sort, though: in memory it took 110 MB more
at a million correlation events (the links' index, 2.4 million rows), about ten times that at
ten million, and the C library kept that memory for the process once the index was built
(`bench/first_peak.py`). Spilled to files, the sort's own memory is SQLite's page cache
(`cache_size`), whatever the size of the table, and the files live in the OS's page cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sorts_on_disk(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside the block, `conn` spills its sorts and temporary tables to files
    (`PRAGMA temp_store=FILE`); its own setting comes back after it."""
    before = int(conn.execute("PRAGMA temp_store").fetchone()[0])
    conn.execute("PRAGMA temp_store=FILE")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA temp_store={before}")
