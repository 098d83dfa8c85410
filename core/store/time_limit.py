"""Reads under a time limit: SQLite stops a statement that runs past it (the connection's
progress handler), and the caller takes another way (`core.query.view.first_page_within`)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from core.store.store import Store

_T = TypeVar("_T")


def within(store: Store, seconds: float, read: Callable[[], _T]) -> _T | None:
    """`read()` (statements on `store`'s connection) if it is done within `seconds`, else None:
    SQLite stops it (the progress handler, checked every 1,000 steps). Not for a connection
    that `Store.abort_when` watches."""
    deadline = time.monotonic() + seconds
    store.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
    try:
        return read()
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc) and time.monotonic() > deadline:
            return None
        raise
    finally:
        store.conn.set_progress_handler(None, 0)
