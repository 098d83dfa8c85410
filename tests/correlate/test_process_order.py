"""The Processes forest's order and sizes at ten million events' speed (issue 18): sorted by
the positions processes start at, then checked against their keys, it is the stable sort of
the indexes by `(ts, order)` keys whatever the facts say, and falls back to sorting the keys
when they do not run with the positions; the subtrees' sizes summed in reverse start order
are those of a preorder walk, and an order where a child comes before its parent is caught."""

from __future__ import annotations

import random
from array import array
from pathlib import Path
from typing import Any

import pytest

from core.correlate import facts as facts_module
from core.correlate import process_order
from core.correlate.evidence import Ref
from core.correlate.facts import Facts, FactsTable
from core.correlate.forest import LazyForest, tail_size
from core.correlate.model import build_model, model_from_store
from core.correlate.process_table import ProcessTable
from core.store.store import Store
from tests.correlate.events import load
from tests.correlate.hand_made_logs import family_log
from tests.correlate.heap import given_back


def _table(tmp_path: Path, keys: list[tuple[int, int]], starts: list[tuple[Any, Any]]) -> ProcessTable:
    """A table of one instance per (created_at, first_seen_at) of `starts`, over a facts table
    whose event at position `pos` has the key `keys[pos]`."""
    facts = FactsTable(str(tmp_path))
    for pos, (ts, order) in enumerate(keys):
        facts.add(Facts(Ref(1 + pos, pos, 4688, ts, ts, order), "pc", "PC"))
    facts.finish()
    table = ProcessTable(facts, str(tmp_path))
    for created, first in starts:
        table.append("PC", 8, created, "x.exe", None, None, None, None, None, None, None, None, None, None, None,
                     None, first, False, "exact", "r", None, None, (), (), None)
    table.seal()
    return table


def _stable(table: ProcessTable) -> list[int]:
    keys = table.start_keys()
    return sorted(range(len(table)), key=keys.__getitem__)


def _packs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of `_packed` (the sort of the keys themselves)."""
    calls: list[int] = []
    packed = process_order._packed  # noqa: SLF001 - the path under test

    def counted(table: ProcessTable) -> array[int]:
        calls.append(1)
        return packed(table)

    monkeypatch.setattr(process_order, "_packed", counted)
    return calls


@pytest.mark.parametrize("seed", range(6))
def test_the_order_by_positions_is_the_stable_sort_by_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           seed: int) -> None:
    """Facts in time order (as the scan writes them): instances created out of index order,
    several at one event (a parent first seen at its child's 4688), chunks smaller than the
    table. Sorted by position, checked, never sorted by key."""
    rng = random.Random(seed)
    monkeypatch.setattr(process_order, "ORDER_CHUNK", 16)
    monkeypatch.setattr(facts_module, "ORDER_CHUNK", 8)  # a chunk's keys checked against the last's
    events = 300
    ts = sorted(rng.randrange(1000) for _ in range(events))  # ties in time: ordered by `order`
    keys = [(t, pos * 3 + 1) for pos, t in enumerate(ts)]
    starts: list[tuple[Any, Any]] = []
    for _ in range(200):
        pos = rng.randrange(events)
        starts.append((pos, rng.randrange(events)) if rng.random() < 0.6 else (None, pos))
    table = _table(tmp_path / str(seed), keys, starts)
    packs = _packs(monkeypatch)
    order = list(process_order.start_order(table))
    assert order == _stable(table) and not packs
    assert len({s for s in table.start_keys()}) < len(table)  # ties between instances: index order kept
    # Already in position order: the same, without a sort.
    by_position = sorted(range(len(table)), key=lambda i: (starts[i][0] if starts[i][0] is not None
                                                           else starts[i][1], i))
    ordered = _table(tmp_path / f"{seed}-ordered", keys, [starts[i] for i in by_position])
    assert list(process_order.start_order(ordered)) == _stable(ordered) == list(range(len(ordered)))
    assert not packs


@pytest.mark.parametrize("seed", range(6))
def test_keys_that_do_not_run_with_the_positions_are_sorted_as_keys(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   seed: int) -> None:
    """A clock stepping back between two events (or only two keys swapped), two positions of
    one key, a time kept aside, a Sysmon event's `Ref` as a start: the keys' own order, as the
    stable sort."""
    rng = random.Random(seed)
    monkeypatch.setattr(process_order, "ORDER_CHUNK", 16)
    monkeypatch.setattr(facts_module, "ORDER_CHUNK", 8)  # a chunk's keys checked against the last's
    events = 120
    forward = [(1000 + pos, pos) for pos in range(events)]
    step_back = [(1000 + pos - (500 if pos >= 70 else 0), pos) for pos in range(events)]
    swapped = list(forward)
    a = rng.randrange(events - 1)
    swapped[a], swapped[a + 1] = swapped[a + 1], swapped[a]
    twice = list(forward)
    b = rng.randrange(events - 1)
    twice[b + 1] = twice[b]
    starts: list[tuple[Any, Any]] = [(None, pos) for pos in range(events)] + [
        (rng.randrange(events), rng.randrange(events)) for _ in range(60)]
    rng.shuffle(starts)
    aside = list(forward)
    aside[rng.randrange(events)] = (1 << 64, 0)  # a time no slot holds: kept aside, its own key
    for name, keys in (("back", step_back), ("swapped", swapped), ("twice", twice), ("aside", aside)):
        packs = _packs(monkeypatch)
        table = _table(tmp_path / f"{seed}-{name}", keys, starts)
        assert list(process_order.start_order(table)) == _stable(table), name
        assert packs == [1], name
    ref = Ref(7, 70, 1, 1050, 1050, 5)  # a Sysmon event's: its own key
    packs = _packs(monkeypatch)
    table = _table(tmp_path / f"{seed}-ref", forward, [*starts, (ref, 3)])
    assert list(process_order.start_order(table)) == _stable(table) and packs == [1]


def test_a_clock_stepping_back_between_any_two_events_is_seen(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Between whichever two starts the time falls (at the edge of a chunk of either reader or
    inside one), the order is the keys'."""
    monkeypatch.setattr(process_order, "ORDER_CHUNK", 16)
    monkeypatch.setattr(facts_module, "ORDER_CHUNK", 8)
    events = 40
    starts: list[tuple[Any, Any]] = [(None, pos) for pos in range(events)]
    for back in range(1, events):
        keys = [(1000 + pos - (100 if pos >= back else 0), pos) for pos in range(events)]
        packs = _packs(monkeypatch)
        table = _table(tmp_path / str(back), keys, starts)
        assert list(process_order.start_order(table)) == _stable(table) != list(range(events)), back
        assert packs == [1], back


def test_the_forests_sizes_summed_in_start_order_are_the_walks(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        churn = model_from_store(store)
    for model in (churn, build_model(load(*family_log()))):
        forest = LazyForest(model)
        order = list(forest._order)  # noqa: SLF001 - given up once measured
        sizes = forest.measure()
        procs = model.processes
        handles = procs.counts("handles") if isinstance(procs, ProcessTable) else [len(p.handles) for p in procs]
        tails = {h: tail_size(h) for h in set(handles)}
        walked = forest._walked(handles, tails)  # noqa: SLF001 - the other way
        assert sizes == walked and sum(sizes[1]) > 0
        forest._order = order  # noqa: SLF001
        assert forest._summed(handles, tails) == walked  # noqa: SLF001
        # Every parent's last child before it in the order (a parent started after it): caught, walked.
        for parent in [i for i in range(len(procs)) if forest.first_child(i) >= 0][::7]:
            child = forest.first_child(parent)
            for _ in range(len(procs)):
                if forest.next_sibling(child) < 0:
                    break
                child = forest.next_sibling(child)
            bad = [i for i in order if i != parent]
            bad.insert(bad.index(child) + 1, parent)
            forest._order = bad  # noqa: SLF001
            assert forest._summed(handles, tails) is None, parent  # noqa: SLF001
        forest._sizes = None  # noqa: SLF001
        assert forest.measure() == walked


def test_the_facts_swept_in_order_give_their_pages_back_by_what_they_cross(churn_db: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`runs_forward` sweeps the facts columns once, mapping their pages as it reads: they are
    given back as it goes (at ten million events the sweep crosses the whole 0.8 GB of columns),
    by the pages it crosses, a sparse sweep (a process's start every 16 events) as a dense one."""
    with Store(churn_db, readonly=True) as store:
        facts = model_from_store(store)._facts  # noqa: SLF001 - its table
    monkeypatch.setattr(facts_module, "ORDER_CHUNK", 256)
    row_bytes = facts._wide.stride * 8 + facts._narrow.stride * 4  # noqa: SLF001
    assert len(facts) * row_bytes >= 15 << 16  # 15 pages of 64 KB at least
    counts = []
    for step in (1, 16):
        released = given_back(monkeypatch, 4)
        assert facts.runs_forward(range(0, len(facts), step))
        counts.append(released.count)
    dense, sparse = counts
    # Dense: 62 chunks of 20 KB (2 reads each); sparse: 4 chunks of 320 KB (5 pages of 64 KB each).
    assert dense >= 4 and sparse >= 3, counts
