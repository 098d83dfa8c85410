"""The correlation trees the tables' writer stores, their instances' nodes shared (issue 18:
the writer at ten million events): `core.correlate.tree.shared_subtrees` makes a process, handle
or session node once for the lines that show it the same way, and `TreeWriter` knows such a node
by the object. The trees are equal to those made one by one, and the tables written the same."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from core.correlate.links import Node
from core.correlate.model import model_from_store
from core.correlate.tree import shared_subtrees
from core.store import correlation_tables, event_trees
from core.store.store import Store
from tui.stored_views import _shown

#: The events whose trees are made: duplications and handle events of the churn log.
EVENT_IDS = (4690, 4656, 4663, 4658, 4688)


def _walk(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out


def _tables(db: Path, trees: list[tuple[int, list[Any]]]) -> list[list[tuple[Any, ...]]]:
    with Store(db) as store:
        assert correlation_tables.write_instances(store, correlation_tables.CorrelationTables())
        assert event_trees.write_trees(store.conn, _shown, iter(trees))
        return [sorted(store.conn.execute(f"SELECT * FROM {t}").fetchall())
                for t in ("corr_tnode", "corr_tedge", "corr_etree")]


def test_shared_subtrees_are_the_trees_made_one_by_one_and_written_alike(churn_db: Path, tmp_path: Path,
                                                                         monkeypatch: Any) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
        events = list(itertools.islice(store.iter_events_of(EVENT_IDS), 3000))
    assert len({e.event.event_id for e in events}) >= 3
    alone = [(e.id, [model.correlate(e).tree()]) for e in events]
    with shared_subtrees():
        shared = [(e.id, [model.correlate(e).tree()]) for e in events]
    assert shared == alone
    # Shared: many of a tree's nodes with children are the very objects of an earlier tree's.
    seen: set[int] = set()
    again = 0
    for _, roots in shared:
        for child in roots[0].children:
            again += id(child) in seen
            seen.update(id(n) for n in _walk(child))
    assert again > len(shared) // 2
    # Outside the block each tree's nodes are its own again.
    one, two = (model.correlate(events[0]).tree() for _ in range(2))
    assert one == two and not {id(n) for n in _walk(one)} & {id(n) for n in _walk(two)}
    # Written, the same rows (each distinct subtree once, whether known by its object or not),
    # also when the writer forgets what it wrote part way (SUBTREES_KEPT).
    monkeypatch.setattr(event_trees, "SUBTREES_KEPT", 500)
    assert _tables(tmp_path / "a.sqlite", alone) == _tables(tmp_path / "b.sqlite", shared)
