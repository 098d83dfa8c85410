"""The Processes view on a first open (the model built, the tables not yet written) holds the
nodes it shows, not the whole forest: a forest too big to show whole is shown as a reopen
shows it (the top level, a page of children made from the model when a node is unfolded,
`tui.forest_pages`), a smaller one made as the tree is filled (`core.correlate.forest`). It
held every node of the forest before (5.25 M objects at 10 M events, +250-280 MB)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import tui.nav_tree as nav
from core.correlate.links import Node
from tests.app.story import Harness, label_text, tree_lines
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.hand_made_logs import family_log
from tests.correlate.stored_tables import store_db
from tui.nav_tree import NavTree
from tui.processes import ProcessesScreen
from tui.stored_views import StoredNode


def _host_above_cursor(tree: NavTree) -> str:
    """The label of the node three levels above the tree's cursor (its host)."""
    node = tree.cursor_node
    for _ in range(3):
        assert node is not None
        node = node.parent
    assert node is not None
    return label_text(node).plain


def _live_nodes() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, (Node, StoredNode)))


@sync
async def test_the_first_open_holds_the_shown_nodes_not_the_forest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store_db(tmp_path, load(*family_log()))
    monkeypatch.setattr(nav, "MAX_TREE_NODES", 300)  # the forest: 2,222 nodes
    app = Harness(db, ProcessesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        models = app.workspace.models
        await wait_for(pilot, lambda: bool(tree.root.children) and not tree.filling)
        await wait_for(pilot, lambda: not models.writing, timeout=30)  # its transient nodes gone
        status = str(app.screen.query_one("#view-status").render())
        assert status.startswith("2 computers, 2 root processes")
        assert tree_lines(tree) == [
            "HOST1  (1 root process)", "inferred  System 0x4 (4) (pre-existing)",
            "HOST2  (1 root process)", "inferred  System 0x4 (4) (pre-existing)",
        ]
        assert _live_nodes() <= 10
        # System unfolded: its children made then (21 cmd.exe and big.exe, its exit line).
        system = tree.root.children[0].children[0]
        system.expand()
        await wait_for(pilot, lambda: len(system.children) == 22)
        assert "cmd.exe" in label_text(system.children[0]).plain and "big.exe" in label_text(system.children[-2]).plain
        assert _live_nodes() <= 40
        # `/` finds a node never made yet (under big.exe), and enter jumps to its event.
        await pilot.press("slash", *"late.exe", "enter")
        await wait_for(pilot, lambda: tree.cursor_node is not None and "late.exe" in label_text(tree.cursor_node).plain)
        await pilot.press("enter")
        assert len(app.jumps) == 1 and tree.cursor_node is not None and tree.cursor_node.data is not None
        assert app.jumps == [tree.cursor_node.data.store_id]


@sync
async def test_slash_before_the_tables_are_written_walks_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.model_cache as mc

    db = store_db(tmp_path, load(*family_log()))
    monkeypatch.setattr(nav, "MAX_TREE_NODES", 300)
    monkeypatch.setattr(mc.ModelCache, "write_later", lambda *args, **kwargs: None)  # never written
    app = Harness(db, ProcessesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children) and not tree.filling)
        await pilot.press("slash", *"B59", "enter")
        await wait_for(pilot, lambda: tree.cursor_node is not None and "B59" in label_text(tree.cursor_node).plain)
        assert "HOST1" in _host_above_cursor(tree)
        await pilot.press("n")  # the next: HOST2's
        await wait_for(pilot, lambda: "HOST2" in _host_above_cursor(tree))
