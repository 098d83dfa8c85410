"""The correlation model's memory at scale (issue 18): instances keep their events as positions
in the facts table (not `Ref`s, nor `(ts, order)` bounds), during the scan too, and the writers of
the correlation tables remember a bounded window of reasons and subtrees, while what they write
reads back as before."""

from __future__ import annotations

import gc
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.churn import build_churn_store
from core.correlate.model import CorrelationModel, Ref, model_from_store
from core.correlate.persist import links, tables_of
from core.correlate.roles import scanned_event_ids
from core.correlate.scan import Scan, scan_events, timed
from core.store import correlation_links, correlation_tables, event_trees
from core.store.store import Store
from tests.correlate.heap import deep_size

EVENTS = 20_000


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CorrelationModel]:
    """A churn store (pids and handle values reused, no Sysmon) and its model."""
    db = tmp_path_factory.mktemp("churn") / "churn.sqlite"
    build_churn_store(db, EVENTS, seed=7)
    with Store(db, readonly=True) as store:
        return db, model_from_store(store)


def _bounds(held: list[Any]) -> list[Any]:
    return [x for x in held if type(x) is tuple and len(x) == 2 and all(type(v) is int for v in x)]


def test_instances_hold_their_events_as_positions_not_refs(churn: tuple[Path, CorrelationModel]) -> None:
    _, model = churn
    assert model.handles and model.processes
    for h in model.handles:
        held = gc.get_referents(h)
        assert not [x for x in held if isinstance(x, Ref)], h.index
        assert not _bounds(held)
    for p in model.processes:
        held = [x for x in gc.get_referents(p) if x is not p.children and x is not p.handles]
        assert not [x for x in held if isinstance(x, Ref)] and not _bounds(held), p.index
    # ...and they read as the events themselves.
    h = next(h for h in model.handles if h.opened is not None and h.closed is not None and h.accesses)
    assert h.opened is not None and h.closed is not None
    assert h.first_seen == h.opened and h.opened.event_id == 4656 and h.closed.event_id == 4658
    assert h.reason == f"opened by 4656 record {h.opened.record_id}"
    assert h.close_reason == f"closed by 4658 record {h.closed.record_id}"
    p = next(p for p in model.processes if p.created is not None and p.exited is not None)
    assert p.created is not None and p.exited is not None
    assert (p.start, p.end) == (p.created.key, p.exited.key)
    assert p.names == ((p.image, p.created),)


def test_handles_and_processes_cost_a_few_hundred_bytes_each(churn: tuple[Path, CorrelationModel]) -> None:
    """Measured at 20,000 churn events: 376 bytes a handle and 612 a process (846 and 859 when
    they held `Ref`s, bounds and reasons), besides the facts table they share."""
    _, model = churn
    shared: set[int] = set()
    deep_size(model._facts, shared)[0]
    per_handle = deep_size(model.handles, set(shared))[0] / len(model.handles)
    per_process = deep_size(model.processes, set(shared))[0] / len(model.processes)
    assert per_handle < 550, per_handle
    assert per_process < 730, per_process


def test_the_scans_handles_keep_no_refs(churn: tuple[Path, CorrelationModel]) -> None:
    """While the scan runs each handle keeps positions: a `Ref` per open and close kept alive
    until the end of the scan was a sixth of the build's peak memory."""
    db, _ = churn
    scan = Scan()
    with Store(db, readonly=True) as store:
        scan.run(scan_events(timed(store.iter_keys_of(scanned_event_ids()))))
    assert scan.handles.handles
    for h in scan.handles.handles.values():
        assert not [x for x in gc.get_referents(h) if isinstance(x, Ref) and x is not h.owner_exit]


def _links(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT l.store_id, l.role, l.kind, l.instance, l.confidence, r.text FROM corr_link l"
                            " JOIN corr_reason r ON r.id = l.reason ORDER BY l.rowid").fetchall()
    finally:
        conn.close()


def test_links_read_back_the_same_with_a_small_window_of_reasons(
    churn: tuple[Path, CorrelationModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, model = churn
    whole, windowed = tmp_path / "whole.sqlite", tmp_path / "windowed.sqlite"
    for copy in (whole, windowed):
        shutil.copy(db, copy)
    with Store(whole) as store:
        assert correlation_tables.write_instances(store, tables_of(model))
        assert correlation_links.write_links(store, links(model))
    monkeypatch.setattr(correlation_links, "REASONS_KEPT", 16)
    with Store(windowed) as store:
        assert correlation_tables.write_instances(store, tables_of(model))
        assert correlation_links.write_links(store, links(model))
    expected = _links(whole)
    assert len(expected) > EVENTS // 2 and _links(windowed) == expected
    conn = sqlite3.connect(windowed)
    rows, distinct = conn.execute("SELECT count(*), count(DISTINCT text) FROM corr_reason").fetchone()
    conn.close()
    assert rows > distinct  # the window was passed: reasons seen again were stored again


def test_line_trees_read_back_the_same_with_a_small_window_of_subtrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app.story import story
    from tests.correlate.events import load
    from tests.correlate.stored_tables import line_trees_as_the_model_shows_them

    monkeypatch.setattr(event_trees, "SUBTREES_KEPT", 8)
    lines, _, stored = line_trees_as_the_model_shows_them(tmp_path, load(*story()), monkeypatch)
    assert lines >= 4 and stored > 0
