"""Cache databases found damaged while a command reads them, and their rebuild on the next use.

A cache entry that does not open, or is incomplete, is rebuilt when it is opened (`CacheEntry.ready`
checks that much). A page overwritten inside an otherwise sound file (a bad disk, a crash of the
machine under a write-back cache, a hand edit) is only seen when a query reads that page: SQLite
then says "database disk image is malformed" or cannot decode a text, or a stored row does not
unmarshal. SQLite pages carry no checksum and a full `PRAGMA integrity_check` reads the whole
file (seconds for a 1 GB log), so checking on every open is not affordable. Instead the command
that meets such an error marks every cache database it opened (`mark_opened`: which one holds the
bad page is not known, and a rebuild only costs a parse), says so in one line, and the next
`ready` sees the mark and rebuilds. A mark is an empty file beside the database, removed with it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

#: What SQLite and the row decoders say of content that does not read back (lower case).
_DAMAGE_TEXTS = (
    "malformed",
    "not a database",
    "could not decode",
    "bad marshal data",
    "damaged event data",
    "unmarshallable object",
    "eof read where object expected",
)

#: Cache databases this process opened as they were (`open_inputs`), at most a few per command.
_opened: list[Path] = []
_lock = threading.Lock()
#: Bound on the list: an app reopening logs all day keeps only its latest entries.
_KEPT = 64


def marker(db: Path) -> Path:
    return Path(str(db) + ".damaged")


def is_damage(exc: BaseException) -> bool:
    """Whether `exc` says a store's content does not read back (not a lock, a full disk, a bug)."""
    if not isinstance(exc, (sqlite3.DatabaseError, ValueError, EOFError)):
        return False
    if isinstance(exc, sqlite3.OperationalError) and "decode" not in str(exc).lower():
        return False  # locked, busy, no such table...: not the file's content
    return is_damage_text(str(exc))


def is_damage_text(text: str) -> bool:
    """`is_damage` of an error passed on as its text (the app's worker messages)."""
    text = text.lower()
    return any(part in text for part in _DAMAGE_TEXTS)


def opened(db: Path) -> None:
    """Remember that this process reads the cache database `db` as it found it."""
    with _lock:
        if db not in _opened:
            _opened.append(db)
            del _opened[:-_KEPT]


def opened_any() -> bool:
    with _lock:
        return bool(_opened)


def mark_opened() -> list[Path]:
    """Mark every cache database this process opened as damaged (rebuilt on its next use)."""
    with _lock:
        dbs = list(_opened)
    marked = []
    for db in dbs:
        try:
            marker(db).touch()
        except OSError:  # a read-only cache: the entry stays; the line says to use --no-cache
            continue
        marked.append(db)
    return marked


def is_marked(db: Path) -> bool:
    return marker(db).exists()
