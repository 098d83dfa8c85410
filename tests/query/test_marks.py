"""Marks along a view's time order (`core.query.marks`): pages and positions read from them equal
the store's own order at every stage of their making, and they are dropped when they stop fitting.

The store holds 300 events with ties, EventRecordIDs out of time order and missing times
(`tests.stores.odd_events`); blocks of 7 events make about 43 marks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.query import marks, view
from core.query.compile import compile_query
from core.query.view import View
from core.store.filter import Filter, Order
from core.store.store import Store, StoredEvent
from tests.stores import indexed_store, odd_events

QUERIES = ["", "4689", "-4689", "Value:*", "NOT Value:*", "4688 Value:*", '"again"', "Index:1*"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    st = indexed_store(Path(tmp_path_factory.mktemp("marks")) / "events.db", odd_events())
    yield st
    st.close()


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(marks, "BLOCK", 7)
    monkeypatch.setattr(marks, "MIN_ROWS", 1)
    monkeypatch.setattr(marks, "MIN_BLOCKS", 1)
    monkeypatch.setattr(marks, "NEAR_END", 3)


def _expected(store: Store, query: str) -> list[int]:
    """The view's ids in the store's time order, by SQLite's own plan (no marks, no walk)."""
    return [r.id for r in store.select(compile_query(query), order=Order.TIME)]


def _check(store: Store, v: View, expected: list[int], every: int = 1) -> None:
    total = len(expected)
    for p in [*range(0, total, every), total - 1]:
        assert [r.id for r in view.fetch_page(store, v, p, total, page=5)] == expected[p : p + 5], p
        assert view.position_of(store, v, expected[p], total) == p, p


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("query", QUERIES)
def test_pages_and_positions_are_exact_while_the_marks_are_made(store: Store, query: str) -> None:
    v = View(compile_query(query), by_time=True)
    expected = _expected(store, query)
    total = view.count_view(store, v)
    assert total == len(expected) > 10
    steps = 0
    while True:
        _check(store, v, expected, every=11)
        steps += 1
        if not view.fill_marks(store, v, total):
            break
    made = marks.marks_of(store, v.filter, total)
    assert made is not None and made.complete and not made.broken
    assert steps >= 300 // 7 - 1  # a mark every 7 store events, from both ends
    assert len(made.front) + len(made.back) == steps - 1
    _check(store, v, expected)
    settled = view.settled(store, v).filter
    for p in range(total):  # every position is now read from the marks, not counted from an end
        rows = made.page(store, settled, p, 3)
        assert rows is not None and [r.id for r in rows] == expected[p : p + 3], p


@pytest.mark.usefixtures("small_blocks")
def test_half_made_marks_answer_near_the_ends_and_fall_back_between(store: Store) -> None:
    v = View(compile_query("Value:*"), by_time=True)
    expected = _expected(store, "Value:*")
    total = len(expected)
    for _ in range(6):  # three marks from each end
        assert view.fill_marks(store, v, total)
    made = marks.marks_of(store, v.filter, total)
    assert made is not None and len(made.front) == len(made.back) == 3 and not made.complete
    settled = view.settled(store, v).filter
    covered = [p for p in range(total) if made.page(store, settled, p, 1) is not None]
    assert covered[0] == 0 and covered[-1] == total - 1
    assert len(covered) < total  # the middle is not covered yet...
    assert made.page(store, settled, total // 2, 1) is None
    _check(store, v, expected)  # ...and read as before


@pytest.mark.usefixtures("small_blocks")
def test_marks_that_disagree_are_never_used(store: Store) -> None:
    v = View(compile_query("4689"), by_time=True)
    expected = _expected(store, "4689")
    total = len(expected)
    assert view.fill_marks(store, v, total)
    made = marks.marks_of(store, v.filter, total)
    assert made is not None
    wrong = made.front[0]
    made.front[0] = marks.Mark(wrong.key, wrong.before + 1, wrong.held)  # as counts made before a change
    while view.fill_marks(store, v, total):
        pass
    assert made.broken and not made.complete
    assert made.page(store, view.settled(store, v).filter, 0, 1) is None
    _check(store, v, expected)


@pytest.mark.usefixtures("small_blocks")
def test_marks_are_dropped_when_the_store_or_the_count_changes(tmp_path: Path) -> None:
    with indexed_store(tmp_path / "grows.db", odd_events()[:200]) as st:
        v = View(compile_query(""), by_time=True)
        while view.fill_marks(st, v, 200):
            pass
        assert marks.marks_of(st, v.filter, 200) is not None
        assert marks.marks_of(st, v.filter, 199) is None  # another count: made again
        while view.fill_marks(st, v, 200):
            pass
        st.add_events(odd_events()[200:])
        st.build_indexes()
        assert marks.marks_of(st, v.filter, None) is None
        expected = _expected(st, "")
        assert len(expected) == 300
        _check(st, v, expected, every=7)


def test_small_views_and_stores_get_no_marks(tmp_path: Path) -> None:
    with indexed_store(tmp_path / "e.db", odd_events()) as store:
        v = View(compile_query(""), by_time=True)
        assert not view.fill_marks(store, v, 300)  # 300 events: fewer than MIN_BLOCKS blocks
        assert marks.marks_of(store, v.filter, 300) is None
        assert not view.fill_marks(store, View(compile_query(""), by_time=False), 300)


@pytest.mark.usefixtures("small_blocks")
def test_pages_near_an_end_are_counted_from_that_end(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    v = View(compile_query("4689"), by_time=True)
    expected = _expected(store, "4689")
    total = len(expected)
    while view.fill_marks(store, v, total):
        pass
    asked: list[int] = []
    original = marks.Marks.page

    def spy(self: marks.Marks, st: Store, which: Filter, start: int, limit: int) -> list[StoredEvent] | None:
        asked.append(start)
        return original(self, st, which, start, limit)

    monkeypatch.setattr(marks.Marks, "page", spy)
    for p in range(total):
        assert [r.id for r in view.fetch_page(store, v, p, total, page=4)] == expected[p : p + 4]
    assert asked == [p for p in range(total) if min(p, total - p) >= marks.NEAR_END]


@pytest.mark.usefixtures("small_blocks")
def test_the_whole_stores_marks_outlive_other_views(tmp_path: Path) -> None:
    """A cleared filter returns to the view of every event: its marks stay while the last KEPT
    other views' come and go (at 10M events, a jump to the middle then took 0.45 s, not 20 ms,
    until they were made again); the others' go oldest first."""
    with indexed_store(tmp_path / "e.db", odd_events()) as st:
        whole = View(compile_query(""), by_time=True)
        while view.fill_marks(st, whole, 300):
            pass
        others = [f"Index:{n}* OR 4689" for n in range(1, 8)]
        for query in others:
            v = View(compile_query(query), by_time=True)
            view.fill_marks(st, v, view.count_view(st, v))
        kept = marks.marks_of(st, whole.filter, 300)
        assert kept is not None and kept.complete
        alive = [q for q in others if marks.marks_of(st, compile_query(q), None) is not None]
        assert alive == others[-marks.KEPT:]
        _check(st, whole, _expected(st, ""), every=7)
