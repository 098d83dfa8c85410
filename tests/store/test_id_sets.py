"""Id sets (`core.store.id_sets`) live in a scratch file of the connection's, in the temp dir,
removed when the store closes (swept when its process was killed); without one they are tables
in memory, with the same answers."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import view
from core.query.compile import compile_query
from core.query.view import View
from core.store import id_sets, tempfiles
from core.store.store import Store
from tests.stores import indexed_store


def _store(path: Path) -> Path:
    events = [Event(
        source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + i * 10_000_000,
        event_id=4624, channel="Security", provider="p", computer="WS01",
        data=(("TargetUserName", ("alice", "bob", "SYSTEM")[i % 3]),),
    ) for i in range(90)]
    indexed_store(path, events).close()
    return path


def _answers(store: Store, query: str) -> tuple[int, list[int]]:
    v = View(compile_query(query), by_time=True)
    total = view.count_view(store, v)
    return total, [se.id for se in view.fetch_page(store, v, 0, total)]


def _scratch(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f".id-sets.{tempfiles.MARK}-*.tmp"))


def test_sets_live_in_a_scratch_file_removed_at_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    path = _store(tmp_path / "events.db")
    with Store(path, readonly=True) as store:
        for query, count in (("TargetUserName:bob", 30), ("NOT TargetUserName:bob", 60)):
            rows = store.select(compile_query(query), limit=64)
            assert _answers(store, query) == (count, [se.id for se in rows])
        names = [row[1] for row in store.conn.execute("PRAGMA database_list")]
        assert id_sets.SCHEMA in names
        tables = store.conn.execute(f"SELECT count(*) FROM {id_sets.SCHEMA}.sqlite_master").fetchone()[0]
        assert tables == 1
        assert store.conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0] == 0
        files = _scratch(temp)
        assert len(files) == 1 and files[0].stat().st_size > 0
    assert _scratch(temp) == []
    forgotten = Store(path, readonly=True)  # never closed: its file goes with it
    _answers(forgotten, "TargetUserName:bob")
    assert len(_scratch(temp)) == 1
    del forgotten
    gc.collect()
    assert _scratch(temp) == []


def test_without_a_scratch_file_sets_are_tables_in_memory_with_the_same_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _store(tmp_path / "events.db")
    queries = ["TargetUserName:bob", "NOT TargetUserName:SYSTEM", "TargetUserName:alice 4624"]
    with Store(path, readonly=True) as store:
        on_disk = [_answers(store, q) for q in queries]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such dir"))
    with Store(path, readonly=True) as store:
        assert [_answers(store, q) for q in queries] == on_disk
        assert store.conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0] >= 1
        assert id_sets.SCHEMA not in [row[1] for row in store.conn.execute("PRAGMA database_list")]
    monkeypatch.undo()
    with Store(path, readonly=True) as store:  # a transaction open: ATTACH is refused in one
        store.conn.execute("BEGIN")
        store.conn.execute("SELECT count(*) FROM events").fetchone()
        sets = id_sets.IdSets(store.conn)
        name = sets.table("SELECT id FROM events", ())
        assert name.startswith("temp.")
        assert store.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == 90


def test_a_killed_processs_scratch_file_is_swept(tmp_path: Path) -> None:
    dead = tmp_path / f".id-sets.{tempfiles.MARK}-999999999-abc123.tmp"
    dead.write_bytes(b"")
    assert tempfiles.sweep(tmp_path) == [dead]


def test_a_set_counts_each_event_once_however_often_its_lists_name_it(tmp_path: Path) -> None:
    """A list names an event twice when it holds the pair twice, and two lists name it when it
    holds two spellings of the value: its set's size (as the INSERT made it) counts it once."""
    held = [(("User", "a"), ("User", "a")), (("User", "a"), ("user", "A")), (("User", "b"),), (("Other", "a"),)]
    events = [Event(source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + i,
                    event_id=4624, data=data) for i, data in enumerate(held)]
    with indexed_store(tmp_path / "s.db", events) as store:
        term = compile_query("User:a")
        assert store.count_ids(store.id_set(term)) == 2 == len(store.select(term))
        assert view.count_view(store, View(term, by_time=True)) == 2
