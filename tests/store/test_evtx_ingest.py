"""EVTX straight into the store from worker processes (`core.store.evtx_ingest`): the same store as
an ingest that inserts everything in one process, a field index that covers every value, and
nothing more or less than what was reported when loading stops or the workers break."""

from __future__ import annotations

import itertools
import json
import threading
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from core.query.compile import compile_query
from core.store import evtx_ingest
from core.store.filter import Order
from core.store.ingest import Progress, load_paths
from core.store.store import Store
from parsers import evtx
from tests.shared import sample

BIG = "evtx/parsers/omerbenamram__samples__security.evtx"  # 2.1 MB: large enough for workers


def _events(store: Store) -> list[tuple[object, ...]]:
    return [(se.id, se.event) for se in store.iter_events(order=Order.FILE)]


def _indexed(store: Store) -> set[tuple[str, str, int]]:
    """(field name, value, event id) for every id in every posting list."""
    found: set[tuple[str, str, int]] = set()
    for name, value, ids in store.conn.execute("SELECT name, value, ids FROM postings"):
        found.update((name, value, i) for i in json.loads(ids))
    return found


def _expected_index(store: Store) -> set[tuple[str, str, int]]:
    return {(n.lower(), v, se.id) for se in store.iter_events() for n, v in se.event.data}


@pytest.fixture(scope="module")
def inline_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("inline") / "s.db")
    load_paths([str(sample(BIG))], store, jobs=1)
    return store


def test_workers_write_the_same_store_as_one_process(tmp_path: Path, inline_store: Store) -> None:
    path = str(sample(BIG))
    assert evtx.uses_workers(path, 2) and not evtx.uses_workers(path, 1)
    with Store(tmp_path / "w.db") as store:
        infos = load_paths([path], store, jobs=2)
        assert infos[0].records == store.count() == inline_store.count() > 2000
        assert _events(store) == _events(inline_store)
        assert _indexed(store) == _indexed(inline_store) == _expected_index(store)


def test_field_queries_find_worker_written_events(tmp_path: Path, inline_store: Store) -> None:
    with Store(tmp_path / "w.db") as store:
        load_paths([str(sample(BIG))], store, jobs=2)
        for query in ("4624 TargetUserName:*admin*", "LogonType:3", '"svchost"', "pid:0x1f4"):
            which = compile_query(query)
            assert store.count(which) == inline_store.count(which), query
        assert store.count(compile_query("LogonType:3")) > 0
        strings = "SELECT value FROM strings ORDER BY value"
        assert store.conn.execute(strings).fetchall() == inline_store.conn.execute(strings).fetchall()
        for computer in store.computers():  # free text finds System values (with their EventData twins)
            which = compile_query(f'"{computer[1:-1]}"')
            direct = sum(computer[1:-1].lower() in se.event.computer.lower() for se in store.iter_events())
            assert store.count(which) == inline_store.count(which) >= direct > 0


def test_stop_keeps_exactly_what_was_reported(tmp_path: Path) -> None:
    """Workers still busy when loading stops finish their batch; what the parent had not
    counted is deleted, so the store, its index and the count agree."""
    stop = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 2:
            stop.set()  # esc after the first worker's batch, with the next one in flight

    with Store(tmp_path / "w.db") as store:
        infos = load_paths([str(sample(BIG))], store, jobs=2, progress=progress, stop=stop)
        assert 0 < infos[0].records < 2000 and seen[1].records == infos[0].records
        assert store.count() == infos[0].records
        assert _indexed(store) == _expected_index(store)
        assert not store.sources()[0].complete


def test_broken_workers_cost_speed_never_events(
    tmp_path: Path, inline_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def submit(self, *args: object) -> Future[object]:
            raise BrokenProcessPool("simulated")

        def shutdown(self, **kwargs: object) -> None:
            pass

    monkeypatch.setattr(evtx, "_pool", lambda jobs: Broken())
    with Store(tmp_path / "w.db") as store:
        infos = load_paths([str(sample(BIG))], store, jobs=2)
        assert infos[0].records == store.count() == inline_store.count()
        assert _events(store) == _events(inline_store)


def test_a_batch_inserted_twice_replaces_itself(tmp_path: Path) -> None:
    """A worker that dies after committing has its batch decoded again by the parent."""
    path = str(sample(BIG))
    with Store(tmp_path / "w.db") as store:
        listed = "SELECT sum(json_array_length(ids)) FROM postings"
        first = evtx_ingest.store_range_here(str(store.path), path, 0, 0, 4)
        once = store.conn.execute(listed).fetchone()[0]
        again = evtx_ingest.store_range_here(str(store.path), path, 0, 0, 4)
        assert first.events == again.events == store.count() > 0
        assert first.last_id == again.last_id
        # Its posting lists too: a field filter or a stack counts each event once.
        assert store.conn.execute(listed).fetchone()[0] == once > 0
        assert _indexed(store) == _expected_index(store)


def test_memory_store_is_written_by_the_parent(inline_store: Store) -> None:
    store = Store(":memory:")
    try:
        assert not store.shareable
        load_paths([str(sample(BIG))], store, jobs=2)
        assert _events(store) == _events(inline_store)
    finally:
        store.close()


def test_second_input_gets_its_own_ids(tmp_path: Path, inline_store: Store) -> None:
    """Ids are (input << 40) + record offset: the same log twice makes two sets of events."""
    copy = tmp_path / "copy.evtx"
    copy.write_bytes(sample(BIG).read_bytes())
    with Store(tmp_path / "w.db") as store:
        infos = load_paths([str(sample(BIG)), str(copy)], store, jobs=2)
        n = inline_store.count()
        assert [i.records for i in infos] == [n, n] and store.count() == 2 * n
        assert sum(se.event.source == 1 and se.id >= 1 << 40 for se in store.iter_events()) == n
        assert _indexed(store) == _expected_index(store)
        which = compile_query("LogonType:3")
        assert store.count(which) == 2 * inline_store.count(which)


def test_large_logs_are_stored_in_growing_tasks() -> None:
    """Worker tasks start small (rows and progress come back soon) and double up to 16 MiB
    (fewer transactions and posting rows), covering every chunk once, in order."""
    groups = evtx._groups(2000, 1, evtx_ingest.GROUP_CHUNKS, evtx_ingest.MIN_GROUP_CHUNKS)
    assert [c for _, c in groups[:6]] == [16, 32, 64, 128, 256, 256]
    assert [f for f, _ in groups] == list(itertools.accumulate([1] + [c for _, c in groups[:-1]]))
    assert sum(c for _, c in groups) == 1999
    assert evtx._groups(10, 0) == [(0, 4), (4, 4), (8, 2)]  # without `smallest`: fixed size


@pytest.mark.parametrize("n_chunks", [300, 777, 1600, 2000, 5003, 16000])
def test_the_workers_finish_their_last_tasks_together(n_chunks: int) -> None:
    """The tasks shrink towards the end of a log, so that no core decodes a large last task
    alone while the other waits (on the 100 MB log a whole 200-chunk task did: a third of a
    second). Each task goes to the worker free first, a chunk costing the same everywhere."""
    size, smallest = evtx_ingest.GROUP_CHUNKS, evtx_ingest.MIN_GROUP_CHUNKS
    groups = evtx._groups(n_chunks, 1, size, smallest, jobs=2)
    assert [f for f, _ in groups] == list(itertools.accumulate([1] + [c for _, c in groups[:-1]]))
    assert sum(c for _, c in groups) == n_chunks - 1
    ends = [0, 0]
    for _, count in groups:
        ends[ends.index(min(ends))] += count
    assert max(ends) - min(ends) <= size // 4
    assert len(groups) <= len(evtx._groups(n_chunks, 1, size, smallest)) + 12  # few more posting rows


def test_each_worker_gets_several_tasks(tmp_path: Path) -> None:
    log = tmp_path / "x.evtx"
    log.write_bytes(b"\0" * (4096 + 400 * 65536))
    assert evtx_ingest.group_chunks(str(log), 2) == 50  # 400 chunks: 4 tasks or more per worker
    assert evtx_ingest.group_chunks(str(log), 8) == evtx_ingest.MIN_GROUP_CHUNKS
