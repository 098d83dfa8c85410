"""The stored Processes tree is written with each process's children made as they are read
(`LazyForest.iter_children`, `ProcessNode.child_count`): one process of a 10M-event log has
hundreds of thousands of children, and making them all at once was the tables' writer's peak
(+0.6 GB). The rows must be those of the children made whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.correlate.forest import LazyForest, ProcessNode
from core.correlate.model import model_from_store
from core.store.store import Store
from tui.processes import computer_branches
from tui.stored_views import tree_rows


def test_the_forests_rows_are_the_same_made_as_read_or_whole(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    lazy = list(tree_rows(computer_branches(model)))
    made: list[int] = []
    real = LazyForest.iter_children

    def counted(forest: LazyForest, index: int) -> Iterator[object]:
        for node in real(forest, index):
            made.append(index)
            yield node

    monkeypatch.setattr(LazyForest, "iter_children", counted)
    assert list(tree_rows(computer_branches(model))) == lazy
    assert made  # the lazy path was taken
    monkeypatch.undo()
    monkeypatch.delattr(ProcessNode, "iter_children")  # the children made whole, as before
    whole = list(tree_rows(computer_branches(model)))
    assert whole == lazy
    assert len(lazy) > 1000 and any(row.kids > 5 for row in lazy)


def test_a_process_with_many_children_is_written_holding_one_at_a_time(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    forest = LazyForest(model)
    counts = forest.measure()[1]
    busiest = max(range(len(counts)), key=counts.__getitem__)
    node = ProcessNode(forest, busiest)
    kids = node.iter_children()
    first = next(kids)
    assert node.child_count == len(node.children) == counts[busiest] > 5
    assert isinstance(first, ProcessNode) and first == node.children[0]
