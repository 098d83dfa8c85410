"""The Processes forest made as it is read (`core.correlate.forest`): node for node the forest
`process_forest` makes at once, and walked depth first by the tables' writer with only the
children lists on its way down alive (the whole forest was 5.25 M objects at 10 M events)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from rich.text import Text

from core.correlate.links import Node
from core.correlate.model import CorrelationModel, build_model
from core.model.text import printable
from tests.correlate.events import load
from tests.correlate.hand_made_logs import family_log, hand_made
from tui.nav_tree import TreeItem, ViewNode
from tui.processes import stored_forest
from tui.stored_views import tree_rows
from tui.words import plural


def old_branches(model: CorrelationModel) -> list[TreeItem]:
    """The computer branches as the Processes view made them before: every node at once."""
    out: list[TreeItem] = []
    for computer in model.computers():
        forest = list(model.process_forest(computer))
        label = Text(printable(str(computer)), style="bold")
        label.append(f"  ({plural(len(forest), 'root process', 'root processes')})" if forest
                     else "  (no process seen)")
        out.append(ViewNode(label, children=tuple(forest)))
    return out


def test_the_forest_made_as_read_is_the_forest_made_at_once() -> None:
    for docs in (family_log(), hand_made()):
        model = build_model(load(*docs))
        old = list(tree_rows(old_branches(model)))
        new = list(tree_rows(stored_forest(model).tree or ()))
        assert len(new) > 20 and new == old


def _live_nodes() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Node))


def test_the_writer_streams_the_forest_without_holding_it() -> None:
    model = build_model(load(*family_log()))
    gc.collect()
    before = _live_nodes()
    rows = tree_rows(stored_forest(model).tree or ())
    written, most = 0, 0
    for written, _row in enumerate(rows, 1):
        if written % 25 == 0:
            most = max(most, _live_nodes() - before)
    assert written > 1500
    # The children lists on the way down (System's 22 children, then big.exe's 104: two
    # processes, its handles cut to 51 lines with a close line each, its exit), not the forest.
    assert most < 200, (most, written)


def _walk(nodes: list[Node]) -> Iterator[Node]:
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def test_each_read_makes_the_children_again_and_keeps_none() -> None:
    from core.correlate.forest import LazyForest

    model = build_model(load(*family_log(parents=2, children=2)))
    forest = LazyForest(model)
    (system,) = forest.roots("host1")
    first, again = system.children, system.children
    assert first == again and first[0] is not again[0]
    eager = {node.label for node in _walk(model.process_forest("HOST1"))}
    assert {node.label for node in _walk(forest.roots("HOST1"))} == eager
    assert forest.root_count("HOST2") == 1 and forest.roots("nowhere") == []
