"""The benchmark's synthetic log with process, handle and logon churn (`bench/churn.py`): the model
built from it finds every process, handle and session the generator made, and each 4690 names the
very instances (pid and handle value reused many times over) that the generator duplicated."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.churn import Truth, build_churn_store
from core.correlate.model import EXACT, CorrelationModel, model_from_store
from core.store.store import Store

EVENTS = 20_000


def _built(tmp_path: Path) -> tuple[Store, Truth, CorrelationModel]:
    truth = build_churn_store(tmp_path / "churn.sqlite", EVENTS, seed=7)
    store = Store(tmp_path / "churn.sqlite", readonly=True)
    return store, truth, model_from_store(store)


def test_the_model_finds_every_process_handle_and_session_the_generator_made(tmp_path: Path) -> None:
    store, truth, model = _built(tmp_path)
    try:
        assert store.count() == truth.events >= EVENTS
        assert (len(model.processes), len(model.handles), len(model.sessions)) == (
            truth.processes, truth.handles, truth.sessions)
        # Churn: hundreds of sessions' worth of events per 20k, pids and handle values reused.
        assert truth.processes > 800 and truth.handles > 2500 and truth.sessions > 50
        pids = Counter((p.computer, p.pid) for p in model.processes)
        assert max(pids.values()) > 1 and len(pids) < len(model.processes)
        values = Counter((h.process, h.handle_id) for h in model.handles)
        assert max(values.values()) > 1
        assert all(h.confidence == EXACT for h in model.handles)
        assert model.process_accesses()
        assert sum(1 for s in model.sessions if s.logon is not None and s.processes) > 5
    finally:
        store.close()


def test_each_4690_resolves_the_processes_and_handles_it_duplicated(tmp_path: Path) -> None:
    store, truth, model = _built(tmp_path)
    try:
        assert len(truth.duplications) > 200
        wrong: list[int] = []
        for sid, source_created, target_created, began in truth.duplications:
            event = store.get(sid)
            assert event is not None and event.event.event_id == 4690
            c = model.correlate(event)
            for link, created in ((c.source_process, source_created), (c.target_process, target_created)):
                assert link is not None and link.process is not None, sid
                assert (link.process.created.store_id if link.process.created else 0) == created, sid
            assert c.source_handle is not None and c.source_handle.handle is not None
            h = c.source_handle.handle
            start = h.opened or h.duplicated_by
            assert start is not None
            if start.store_id != began:
                wrong.append(sid)
            else:
                assert c.source_handle.confidence == EXACT, c.source_handle.reason
            assert c.target_handle is not None and c.target_handle.handle is not None
            assert c.target_handle.confidence == EXACT
            assert c.target_handle.handle.duplicated_by is not None
            assert c.target_handle.handle.duplicated_by.store_id == sid
        assert wrong == []
    finally:
        store.close()


def test_the_same_seed_builds_the_same_store(tmp_path: Path) -> None:
    a = build_churn_store(tmp_path / "a.sqlite", 3_000, seed=5)
    b = build_churn_store(tmp_path / "b.sqlite", 3_000, seed=5)
    assert a == b
    with Store(tmp_path / "a.sqlite", readonly=True) as sa, Store(tmp_path / "b.sqlite", readonly=True) as sb:
        assert [e.event for e in sa.iter_events()] == [e.event for e in sb.iter_events()]
