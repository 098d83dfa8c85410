"""The Process access view ranks its list as far as the lines drawn need (issue 18): opening it
names the targets of the 4656s of the riskiest buckets (lsass), makes the accesses of the lines
drawn, and nothing more; at ten million events naming every 4656's target first took 6 s.
The lines are those of the whole list ranked at once, in the same order."""

from __future__ import annotations

from typing import Any

import pytest

from bench.churn import build_churn_store
from core.correlate.access import ImageIndex, ProcessAccess
from core.correlate.model import CorrelationModel, model_from_store
from core.store.store import Store
from tui.process_access import ProcessAccessScreen

#: Lines the screen lists before the rest is laid out in these tests (1,000 in the app): fewer
#: than the log's accesses.
LINES = 40


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> CorrelationModel:
    db = tmp_path_factory.mktemp("churn") / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    with Store(db, readonly=True) as store:
        return model_from_store(store)


def _screen() -> ProcessAccessScreen:
    screen = object.__new__(ProcessAccessScreen)
    screen.FIRST_LINES = LINES
    return screen


def _shown(lines: Any, count: int) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for n in range(count):
        row = lines.line(n)
        out.append((row.store_id, tuple(cell.plain for cell in row.cells), row.why.plain))
    return out


def test_opening_the_list_makes_only_the_accesses_drawn(model: CorrelationModel,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    lone = len(model.access_tracker.opens)
    assert lone > 5 * LINES  # the log has many more accesses than the screen lists
    made: list[int] = []
    real_init = ProcessAccess.__init__

    def counted(self: ProcessAccess, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        real_init(self, *args, **kwargs)

    asked: list[int] = []
    real_first_alive = ImageIndex.first_alive

    def sweeping(self: ImageIndex, computer: str, image: str, ats: list[tuple[int, int]], limit: int,
                 **kwargs: Any) -> Any:
        asked.append(len(ats))
        return real_first_alive(self, computer, image, ats, limit, **kwargs)

    monkeypatch.setattr(ProcessAccess, "__init__", counted)
    monkeypatch.setattr(ImageIndex, "first_alive", sweeping)
    model._accesses = None  # noqa: SLF001 - a fresh list
    _total, lines = _screen().model_lines(model)
    _shown(lines, 25)  # the first screen drawn
    assert len(made) <= 25
    assert sum(asked) < lone / 4  # the lsass 4656s named, not every one
    assert lines.count == LINES


def test_the_first_lines_are_those_of_the_whole_list_ranked_at_once(model: CorrelationModel) -> None:
    from core.correlate.access_list import AccessList
    from tui.process_access import access_items, access_line

    _, everything = access_items(AccessList(model), 10**9)
    whole = list(everything)
    assert len(whole) > LINES
    screen_model = model
    screen_model._accesses = None  # noqa: SLF001 - a fresh list, read lazily
    total, lines = _screen().model_lines(screen_model)
    assert _shown(lines, LINES) == [(r.store_id, tuple(c.plain for c in r.cells), r.why.plain)
                                    for r in map(access_line, whole[:LINES])]
    # What the status line counts, once counted, is what the whole list holds.
    counted = _screen().count_later(screen_model) if total is None else total
    assert counted == AccessList(model).total() == sum(1 for kind, _ in whole if kind == "access")
    assert [g.target for g in AccessList(model)] == [g.target for g in screen_model.process_accesses()]


def test_a_line_drawn_while_the_count_sweeps_a_bucket_does_not_wait_for_its_look_up(
        model: CorrelationModel, monkeypatch: pytest.MonkeyPatch) -> None:
    # At ten million events one bucket's look-up took seconds, and the screen drawing a line
    # waited for it: a 4.8 s frozen UI while the status line was being counted.
    import threading

    from core.correlate.access_list import AccessList

    listing = AccessList(model)
    first = listing.item(0)  # the first screen laid out, as the view does before it counts
    entered, release = threading.Event(), threading.Event()
    real_first_alive = ImageIndex.first_alive

    def slow(self: ImageIndex, computer: str, image: str, ats: list[tuple[int, int]], limit: int,
             **kwargs: Any) -> Any:
        if threading.current_thread() is counter:
            entered.set()
            release.wait(10)
        return real_first_alive(self, computer, image, ats, limit, **kwargs)

    monkeypatch.setattr(ImageIndex, "first_alive", slow)
    totals: list[int] = []
    counter = threading.Thread(target=lambda: totals.append(listing.total()))
    counter.start()
    try:
        assert entered.wait(10)  # the count is in a bucket's look-up
        drawn: list[object] = []
        drawer = threading.Thread(target=lambda: drawn.append(listing.item(0)))
        drawer.start()
        drawer.join(2)
        assert drawn == [first]  # drawn at once, not after the look-up
    finally:
        release.set()
        counter.join(30)
    assert totals == [AccessList(model).total()]
