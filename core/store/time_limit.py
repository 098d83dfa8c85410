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
    SQLite stops it (the progress handler, checked every 1,000 steps). What `Store.abort_when`
    watches still stops it (the error raised), and is watched again after it."""
    deadline = time.monotonic() + seconds
    aborts = store.aborts
    stop: Callable[[], bool] = (lambda: False) if aborts is None else aborts[0]
    store.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline or stop() else 0, 1000)
    try:
        return read()
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc) and time.monotonic() > deadline and not stop():
            return None
        raise
    finally:
        if aborts is None:
            store.conn.set_progress_handler(None, 0)
        else:
            store.abort_when(*aborts)
