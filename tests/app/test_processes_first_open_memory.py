"""The Processes view on a first open (the model built, the tables not yet written) holds the
nodes its tree shows, not the whole forest: a node makes its children when they are read
(`core.correlate.forest`), and the tree adds at most MAX_TREE_NODES. It held every node of the
forest before (5.25 M objects at 10 M events, +250-280 MB)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import tui.nav_tree as nav
from core.correlate.links import Node
from tests.app.story import Harness, tree_lines
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.test_correlation_tables import _store
from tests.correlate.test_lazy_forest import family_log
from tui.nav_tree import NavTree
from tui.processes import ProcessesScreen


def _live_nodes() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Node))


@sync
async def test_the_first_open_holds_the_shown_nodes_not_the_forest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _store(tmp_path, load(*family_log()))
    monkeypatch.setattr(nav, "MAX_TREE_NODES", 300)  # the forest: 2,222 nodes
    app = Harness(db, ProcessesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        models = app.workspace.models
        await wait_for(pilot, lambda: bool(tree.root.children) and not tree.filling)
        await wait_for(pilot, lambda: not models.writing, timeout=30)  # its transient nodes gone
        lines = tree_lines(tree)
        # What the user sees: the cut tree as before, the status line's counts.
        assert lines[0].startswith("HOST1  (1 root processes)") and any("... cut:" in t for t in lines)
        status = str(app.screen.query_one("#view-status").render())
        assert status.startswith("2 computers, 2 root processes")
        shown = sum(1 for node in tree.walk() if isinstance(node.data, Node))
        assert 200 < shown <= 300
        assert _live_nodes() <= shown + 50
