"""A reading connection keeps its temporary tables and sorts in files (`core.store.store`): a sort
of the table by a column then holds SQLite's page cache, not every sorted record (10M events
sorted by computer: 657 MB in memory, 51 MB in files). Without a writable temp dir they stay in
memory, and a sort, a filter and a stack give the same answers either way."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import view
from core.query.compile import compile_query
from core.query.sort import Sort, page_sorted, sorted_table
from core.query.stack import stack
from core.query.view import View
from core.store.store import Store
from tests.stores import indexed_store

_FILE, _MEMORY = 1, 2


def _events() -> list[Event]:
    return [Event(source=0, record_number=i + 1, record_id=i + 1,
                  filetime=133_500_000_000_000_000 + (i % 40) * 10_000_000,
                  event_id=4624 + i % 3, channel="Security", provider="p", computer=("WS02", "ws01", "DC1")[i % 3],
                  data=(("TargetUserName", ("alice", "bob", "SYSTEM")[i % 7 % 3]), ("SubjectUserName", "bob")))
            for i in range(120)]


def _answers(store: Store) -> tuple[list[int], list[int], list[tuple[str, int]]]:
    v = View(compile_query("TargetUserName:bob OR 4625"), by_time=True)
    total = view.count_view(store, v)
    by_computer = [se.id for se in page_sorted(store, v, Sort("computer"), 0, total)]
    by_field = [se.id for se in page_sorted(store, v, Sort("field", "targetusername", True), 0, total)]
    users = [(r.value, r.count) for r in stack(store, v.filter, "user", limit=None).rows]
    return by_computer, by_field, users


def _temp_store(store: Store) -> int:
    return int(store.conn.execute("PRAGMA temp_store").fetchone()[0])


def test_readers_sort_in_files_writers_and_readers_without_a_temp_dir_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with indexed_store(tmp_path / "s.db", _events()) as writer:
        assert _temp_store(writer) == _MEMORY
    with Store(tmp_path / "s.db", readonly=True) as reader:
        assert _temp_store(reader) == _FILE
        in_files = _answers(reader)
        assert sorted_table(reader, View(compile_query("")), Sort("computer")).total == 120
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such dir"))
    with Store(tmp_path / "s.db", readonly=True) as reader:
        assert _temp_store(reader) == _MEMORY
        in_memory = _answers(reader)
    assert in_files == in_memory
    with Store(tmp_path / "s.db", readonly=True) as reader:  # the store's own order, sorted here
        rows = reader.select(compile_query("TargetUserName:bob OR 4625"))
    want = sorted(rows, key=lambda se: (se.event.computer.lower(), se.event.filetime, se.event.record_id, se.id))
    assert in_files[0] == [se.id for se in want]
    targets = [dict(se.event.data)["TargetUserName"] for se in rows]
    assert dict(in_files[2]) == {"bob": len(rows), "alice": targets.count("alice"), "SYSTEM": targets.count("SYSTEM")}
