"""The views' tree (`NavTree`) with big results: it fills a slice at a time so keys and redraws
get their turn, in the engine's order, cut at MAX_TREE_NODES shared by the top-level branches;
a clear or a new fill stops the
old one; labels are literal text. And what a view shows of the model is prepared in its worker
(`request_model(prepare=...)`), not on the UI thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

import tui.nav_tree as nav_tree
from core.correlate.model import Node
from tests.app.story import label_text
from tests.apputil import opened, sync, wait_for
from tui.nav_tree import NavTree, TreeItem


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield NavTree(id="tree")


def _forest(roots: int, kids: int) -> list[Node]:
    return [Node(f"root {r}", "exact", r, [Node(f"leaf {r}.{k}", "inferred", None) for k in range(kids)])
            for r in range(roots)]


def _preorder(nodes: list[Node]) -> Iterator[str]:
    for node in nodes:
        yield node.label
        yield from _preorder(node.children)


def _node(item: TreeItem | None) -> Node:
    """A node's data: these trees are filled with engine `Node`s only."""
    assert isinstance(item, Node)
    return item


def _shown(tree: NavTree) -> list[str]:
    return [_node(n.data).label if n.data is not None else str(n.label) for n in tree.walk()]


@sync
async def test_a_big_tree_fills_a_slice_at_a_time_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nav_tree, "FILL_SLICE", 100)
    forest = _forest(30, 20)  # 630 nodes
    app = TreeApp()
    async with opened(app, (80, 24), ready=False) as pilot:
        tree = app.query_one(NavTree)
        assert tree.fill(forest, expand_depth=1) == 100
        assert tree.filling and len(list(tree.walk())) == 100
        await wait_for(pilot, lambda: not tree.filling)
        assert _shown(tree) == list(_preorder(forest))
        assert all(n.is_expanded for n in tree.root.children)


@sync
async def test_a_clear_or_a_new_fill_stops_the_old_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nav_tree, "FILL_SLICE", 50)
    app = TreeApp()
    async with opened(app, (80, 24), ready=False) as pilot:
        tree = app.query_one(NavTree)
        tree.fill(_forest(30, 20))
        tree.clear()
        assert not tree.filling
        await pilot.pause(0.2)
        assert list(tree.walk()) == []
        tree.fill(_forest(30, 20))
        second = _forest(2, 3)
        tree.clear()
        tree.fill(second)  # small: done at once
        await pilot.pause(0.2)
        assert _shown(tree) == list(_preorder(second))


@sync
async def test_a_huge_tree_is_cut_at_the_limit_and_every_branch_keeps_its_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nav_tree, "FILL_SLICE", 100)
    monkeypatch.setattr(nav_tree, "MAX_TREE_NODES", 250)
    app = TreeApp()
    async with opened(app, (80, 24), ready=False) as pilot:
        tree = app.query_one(NavTree)
        # One huge branch: cut at the limit, said under it.
        forest = [Node("host", "exact", None, _forest(30, 20))]
        tree.fill(forest)
        await wait_for(pilot, lambda: not tree.filling)
        shown = _shown(tree)
        assert shown[:250] == list(_preorder(forest))[:250]
        assert shown[250:] == ["... cut: 250 nodes of this branch shown (a view shows 250 at most)"]
        # Many branches (computers): a big first one cannot push the others out.
        tree.clear()
        big = Node("big host", "exact", None, _forest(40, 20))
        small = [Node(f"host {i}", "exact", None, _forest(2, 2)) for i in range(5)]
        tree.fill([big, *small])
        await wait_for(pilot, lambda: not tree.filling)
        tops = list(tree.root.children)
        assert [_node(t.data).label for t in tops] == ["big host", *(f"host {i}" for i in range(5))]
        for node, top in zip(tops[1:], small, strict=True):  # the small ones whole
            assert [n.data.label for n in _subtree(node)] == list(_preorder(top.children))
        big_shown = [n for n in _subtree(tops[0]) if n.data is not None]
        assert 250 // 6 - 1 <= len(big_shown) <= 250 // 6
        assert str(list(tops[0].children)[-1].label).startswith("... cut: ")
        assert len([n for n in tree.walk() if n.data is not None]) <= 250
        # exactly the limit: nothing is cut
        tree.clear()
        tree.fill(_forest(10, 24))
        await wait_for(pilot, lambda: not tree.filling)
        assert len(_shown(tree)) == 250 and "cut" not in _shown(tree)[-1]


def _subtree(node: Any) -> list[Any]:
    out = []
    for child in node.children:
        out.append(child)
        out.extend(_subtree(child))
    return out


@sync
async def test_labels_are_literal_and_one_line() -> None:
    app = TreeApp()
    async with opened(app, (80, 24), ready=False):
        tree = app.query_one(NavTree)
        node = tree.root.add_leaf("[red]not markup[/red]")
        assert label_text(node).plain == "[red]not markup[/red]" and not label_text(node).spans
        node = tree.root.add_leaf(Text("first\nsecond"))
        assert label_text(node).plain == "first"


def test_views_prepare_what_they_show_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """`request_model` runs the view's `prepare` where it is called (the view's thread worker),
    with the collector paused, and posts the result with the model."""
    import gc

    from tui.workspace import Workspace

    class Model:
        size = 10

    posted: list[Any] = []
    seen: list[tuple[str, bool]] = []

    class Target:
        def post_message(self, message: Any) -> None:
            posted.append(message)

    def prepare(model: Any) -> str:
        seen.append((threading.current_thread().name, gc.isenabled()))
        return "prepared"

    monkeypatch.setattr(Workspace, "model", lambda self: (Model(), False))
    worker = threading.Thread(target=Workspace().request_model, args=(Target(), prepare), name="view-worker")
    worker.start()
    worker.join(5)
    assert seen == [("view-worker", False)] and gc.isenabled()
    assert posted[0].prepared == "prepared" and posted[0].model is not None
