"""The correlation tables copied from a second writer's database (`tui.side_writer`): a forked
child writes some views (the lists, with their event trees) into a database of its own while the
store's writer writes the rest, and their rows are copied in here by SQL, so that the store holds the very rows
one writer would have written (the tables' schema and tags: `core.store.correlation_tables`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.store.correlation_tables import (
    CHUNK,
    CORRELATION_FORMAT,
    FORMAT_KEY,
    _info_key,
    _total_key,
    _view_key,
    ready,
    refused,
)
from core.store.store import Store

#: Rows copied per transaction from another writer's database (`copy_views`' `copy_rows`): SQL
#: alone, ~0.1 s of the write lock each.
COPY_CHUNK = 10 * CHUNK


def copy_views(store: Store, side: Path, names: Sequence[str]) -> list[str] | None:
    """Copy those of the views `names` a second writer stored whole in the database at `side`
    (over instance tables of the current format: `tui.side_writer`) into `store`, whose
    instance tables are written, with the event trees it stored (`core.store.event_trees`: the
    lists', none of which `store` holds): the same rows, COPY_CHUNK per transaction, each view
    tagged in the last one as `write_views` tags it. The views copied, or None when a
    database refuses (a view copied in part is not tagged: its writer then writes it)."""
    conn = store.conn
    try:
        if not ready(store):
            return None
        with attached(conn, side):
            said = dict(conn.execute("SELECT key, value FROM side.meta WHERE key LIKE 'correlation%'"))
            done = str(CORRELATION_FORMAT)
            if said.get(FORMAT_KEY) != done:
                return []
            whole = [name for name in names if said.get(_view_key(name)) == done]
            for name in whole:
                conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (_view_key(name), _info_key(name)))
                conn.execute("DELETE FROM corr_node WHERE tree = ?", (name,))
                conn.execute("DELETE FROM corr_row WHERE list = ?", (name,))
            conn.commit()
            # The event trees before the views that show them (an event's tree last: its nodes are in).
            copy_rows(conn, "corr_tnode", "id")
            copy_rows(conn, "corr_tedge", "parent")
            copy_rows(conn, "corr_etree", "store_id")
            for name in whole:
                copy_rows(conn, "corr_node", "tree = ? AND id", (name,))
                copy_rows(conn, "corr_row", "list = ? AND pos", (name,))
            for name in whole:  # each view's tag last, as `write_views` writes it
                for key in (_total_key(name), _info_key(name), _view_key(name)):
                    if key in said:
                        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, said[key]))
            conn.commit()
    except sqlite3.Error:
        refused(conn)
        return None
    return whole


@contextlib.contextmanager
def attached(conn: sqlite3.Connection, side: Path) -> Iterator[None]:
    """The database at `side` attached to `conn` as `side` for the block; a transaction the
    block left open rolled back, then detached."""
    conn.execute("ATTACH DATABASE ? AS side", (str(side),))
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.rollback()
        conn.execute("DETACH DATABASE side")


def copy_rows(conn: sqlite3.Connection, table: str, where: str, args: tuple[Any, ...] = ()) -> None:
    """Copy the rows of `side.table` that `where` (ending in the integer key they are ordered
    by, compared here: "list = ? AND pos", or "id") selects with `args` into `table`, by ranges
    of about COPY_CHUNK rows (a range ends with all the rows of its last key), each committed."""
    key = where.rsplit(" ", 1)[-1]
    last = -(1 << 63)
    while True:
        top = conn.execute(f"SELECT max({key}) FROM (SELECT {key} FROM side.{table} WHERE {where} > ?"
                           f" ORDER BY {key} LIMIT ?)", (*args, last, COPY_CHUNK)).fetchone()[0]
        if top is None:
            return
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM side.{table}"
                     f" WHERE {where} > ? AND {key} <= ?", (*args, last, top))
        conn.commit()
        last = top
