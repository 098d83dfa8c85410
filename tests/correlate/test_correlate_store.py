"""`model_from_store`: the model built from the store's time-ordered stream is the model built
from the same events sorted in memory (every correlation, duplication and process tree), on
real logs and on hand-made ones with ties, several hosts and events without a time."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from core.correlate import model as correlate
from core.correlate.model import CorrelationModel, build_model, model_from_store
from core.correlate.scan import Rows, Scan, timed
from core.model.event import EventKeys
from core.store.store import Store, StoredEvent
from tests.correlate.events import load, xml_no_time
from tests.correlate.hand_made_logs import hand_made, scenario
from tests.correlate.samples import MIMIKATZ, NIGHTMARE, load_evtx


def _answers(model: CorrelationModel, events: list[StoredEvent]) -> list[object]:
    """Everything a user can ask the model, as comparable values."""
    out: list[object] = [model.correlate(se).tree() for se in events]
    out.append(model.handle_duplications())
    out.extend(model.process_forest(c) for c in model.computers())
    out.append(list(model.event_roles()))
    out.append((model.processes, model.handles, model.sessions))
    return out


def _stored(tmp_path: Path, events: list[StoredEvent]) -> tuple[Store, list[StoredEvent]]:
    store = Store(tmp_path / "store.db")
    store.add_events(se.event for se in events)
    store.build_indexes()
    return store, list(store.iter_events())


def _same_as_in_memory(tmp_path: Path, events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch, *,
                       streamed: bool) -> None:
    store, stored = _stored(tmp_path, events)
    try:
        expected = _answers(build_model(stored), stored)
        if streamed:  # the in-memory sort must not be needed at all
            def no_sort(_events: object) -> object:
                raise AssertionError("sorted in memory")

            monkeypatch.setattr(correlate, "time_order", no_sort)
        assert _answers(model_from_store(store), stored) == expected
    finally:
        store.close()


@pytest.mark.parametrize("rel", [NIGHTMARE, MIMIKATZ], ids=["nightmare", "mimikatz"])
def test_a_real_log_streams_to_the_same_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str) -> None:
    _same_as_in_memory(tmp_path, load_evtx(rel), monkeypatch, streamed=True)


def test_hand_made_logs_stream_to_the_same_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _same_as_in_memory(tmp_path, load(*hand_made()), monkeypatch, streamed=True)


def test_events_without_a_time_are_sorted_in_memory_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = hand_made()
    docs[2] = xml_no_time(docs[2])  # one event without a time takes its predecessor's place
    events = load(*docs)
    assert sum(se.event.filetime is None for se in events) == 1
    _same_as_in_memory(tmp_path, events, monkeypatch, streamed=False)


def test_the_stream_refuses_an_event_without_a_time() -> None:
    se = load(xml_no_time(scenario()[0]))[0]
    ev = se.event
    keys = EventKeys(se.id, ev.source, ev.filetime, ev.record_id or ev.record_number, ev.event_id, ev.computer,
                     ev.data)
    with pytest.raises(ValueError, match="without a time"):
        list(timed([keys]))


def test_the_stream_reads_what_the_events_hold(tmp_path: Path) -> None:
    """`Store.iter_keys` gives the keys and pairs of `iter_events`, in the same order."""
    store, stored = _stored(tmp_path, load(*hand_made()))
    try:
        keys = list(store.iter_keys())
        assert [(k.id, k.source, k.filetime, k.record_id, k.event_id, k.computer, k.data) for k in keys] == [
            (se.id, se.event.source, se.event.filetime, se.event.record_id, se.event.event_id, se.event.computer,
             se.event.data)
            for se in stored
        ]
        with store.conn:
            store.conn.execute("UPDATE events SET data = ? WHERE id = ?", (marshal.dumps([("a", "b")]), keys[0].id))
        with pytest.raises(ValueError, match="damaged"):
            list(store.iter_keys())
    finally:
        store.close()


def test_the_store_reads_events_by_their_event_ids(tmp_path: Path) -> None:
    """`Store.count_of` / `iter_keys_of` / `iter_events_of`: the typed reads the model is built
    from give the events of those EventIDs only, in time order, and count those without time."""
    docs = hand_made()
    docs[2] = xml_no_time(docs[2])
    store, _ = _stored(tmp_path, load(*docs))
    try:
        wanted = [se for se in store.iter_events() if se.event.event_id in (4688, 4690)]
        assert store.count_of([4690, 4688, 4688]) == len(wanted) > 0
        assert store.count_of([4690, 4688], without_time=True) == sum(se.event.filetime is None for se in wanted) == 1
        assert [se.id for se in store.iter_events_of((4688, 4690))] == [se.id for se in wanted]
        assert [k.id for k in store.iter_keys_of({4688, 4690})] == [se.id for se in wanted]
        assert store.count_of([]) == 0 and list(store.iter_keys_of([])) == [] == list(store.iter_events_of([]))
        with store.snapshot():
            assert store.conn.in_transaction
        assert not store.conn.in_transaction
    finally:
        store.close()


def test_the_collector_is_paused_for_the_build_and_back_after(tmp_path: Path) -> None:
    """A model holds millions of objects without cycles: the collector pauses while it is
    built (40% of the time went to it at 300,000 events), shared by threads, and resumes."""
    import gc
    import threading

    from core.store.gc_pause import gc_paused

    seen: list[bool] = []
    original = Scan.run

    def run(self: Scan, events: Rows) -> None:
        seen.append(gc.isenabled())
        original(self, events)

    store, stored = _stored(tmp_path, load(*hand_made()))
    try:
        Scan.run = run  # type: ignore[method-assign]  # patched on purpose, put back below
        model_from_store(store)
        build_model(stored)
    finally:
        Scan.run = original  # type: ignore[method-assign]  # the real method put back
        store.close()
    assert seen == [False, False] and gc.isenabled()
    # Nested and overlapping pauses in two threads: on again only after the last one ends.
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    with gc_paused():
        worker.start()
        inside.wait(5)
    assert not gc.isenabled()
    release.set()
    worker.join(5)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()


@pytest.mark.parametrize("untimed", [False, True])
def test_the_build_reports_how_far_it_has_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, untimed: bool
) -> None:
    docs = hand_made()
    if untimed:
        docs[2] = xml_no_time(docs[2])
    store, _stored_events = _stored(tmp_path, load(*docs))
    try:
        monkeypatch.setattr(correlate, "PROGRESS_EVERY", 4)
        calls: list[tuple[int, int]] = []
        model_from_store(store, lambda read, total: calls.append((read, total)))
        total = len(docs)
        reading = [(0, total), *((n, total) for n in range(4, total + 1, 4)), (total, total)]
        assert calls[:len(reading)] == reading
        # Then the steps after the reading, told as every event read (a caller may stop there).
        assert len(calls) > len(reading) and set(calls[len(reading):]) == {(total, total)}
    finally:
        store.close()
