"""A reader opened while a cache entry is renamed from its provisional name shares the
write-ahead log of the connections opened by the final name (`core.store.file_names`).

The app's table is told the provisional name with the first rows; with a small log its reader
could open just as the load was committed. It then made its own empty `-wal` under the old name
while sharing the index with the final name's connections, and after the first write (the
findings kept right after the load) every page it fetched failed with "disk I/O error": the
table stayed stuck."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.store import cache_commit, findings_tables
from core.store.cache_lock import CacheLock
from core.store.ingest import load_paths
from core.store.store import Store
from tests.apputil import DEMO


def _provisional(tmp_path: Path) -> tuple[Path, Path, CacheLock]:
    """The demo log loaded into a provisional database (every connection closed, so its
    `-wal` is gone), its build lock held, and the final name it is committed to."""
    db, final = tmp_path / "build-1.sqlite", tmp_path / "final.sqlite"
    with Store(db) as store:
        load_paths([str(DEMO)], store, jobs=1)
    assert not Path(f"{db}-wal").exists()
    lock = CacheLock(db)
    assert lock.build()
    return db, final, lock


def test_a_reader_opened_during_the_commit_reads_what_is_written_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, final, lock = _provisional(tmp_path)
    with Store(db, readonly=True) as before:
        events = before.count()
        first_page = before.select(limit=50)
    readers: list[Store] = []
    opened = threading.Event()
    real_link = os.link

    def link_then_open(src: str | Path, dst: str | Path) -> None:
        """The table's reader opens the old name in the middle of the rename (as it did
        when the load thread lost the interpreter between two renames)."""
        real_link(src, dst)

        def open_reader() -> None:
            readers.append(Store(db, readonly=True))
            opened.set()

        threading.Thread(target=open_reader, daemon=True).start()
        opened.wait(0.5)  # fixed: it waits for the rename instead of opening half way

    monkeypatch.setattr(os, "link", link_then_open)
    assert cache_commit.commit(db, final, lock)
    monkeypatch.undo()
    assert opened.wait(10)
    [reader] = readers
    try:
        with Store(final) as writer:  # the findings kept right after the load
            assert findings_tables.save(writer, "key", b"x" * 300_000)
        assert reader.count() == events  # was: sqlite3.OperationalError: disk I/O error
        assert [e.id for e in reader.select(limit=50)] == [e.id for e in first_page]
        kept = findings_tables.load(reader, "key")
        assert kept is not None and kept[1] == b"x" * 300_000
    finally:
        reader.close()
        lock.close()


def test_a_reader_outlives_a_writer_that_closes_as_the_last_connection(tmp_path: Path) -> None:
    """The other suspect, kept as a guard: a writer closing as the database's last connection
    deletes `-wal` and `-shm`; a read-only connection opened after that makes them again (its
    directory is writable) and reads what later writers add."""
    db, _, lock = _provisional(tmp_path)
    lock.close()
    with Store(db, readonly=True) as reader:
        events = reader.count()
        with Store(db) as writer:
            assert findings_tables.save(writer, "a", b"1")
        assert (findings_tables.load(reader, "a") or (0, b""))[1] == b"1"
    with Store(db) as writer:
        assert findings_tables.save(writer, "b", b"2")
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    with Store(db, readonly=True) as reader:
        with Store(db) as writer:
            assert findings_tables.save(writer, "c", b"3")
        assert reader.count() == events
        assert [(findings_tables.load(reader, k) or (0, b""))[1] for k in "abc"] == [b"1", b"2", b"3"]
