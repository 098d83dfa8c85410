"""`/` in a view whose stored tree is read a page at a time (the Processes view of a big log):
it searches the stored tree, not only the nodes fetched so far, and unfolds the way to the hit,
fetching the pages on it; the children it skipped stay one "more" line away."""

from __future__ import annotations

from pathlib import Path

import pytest

import tui.stored_views as sv
import tui.tree_views as tv
from core.store import correlation_tables
from core.store.store import Store
from tests.app.story import label_text
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.stored_tables import BUILDERS, store_db
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree
from tui.processes import ProcessesScreen
from tui.stored_views import StoredNode


def _cursor_text(tree: NavTree) -> str:
    node = tree.cursor_node
    return label_text(node).plain if node is not None else ""


def _children(tree: NavTree, prefix: str) -> list[str]:
    parent = next(node for node in tree.walk() if label_text(node).plain.startswith(prefix))
    return [label_text(child).plain for child in parent.children]


@sync
async def test_slash_finds_a_node_not_fetched_yet_and_unfolds_the_way_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app.story import Harness, tree_lines

    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    monkeypatch.setattr(tv, "MAX_TREE_NODES", 0)  # read a page at a time
    monkeypatch.setattr(sv, "PAGE", 1)
    app = Harness(db, ProcessesScreen)
    async with opened(app, (120, 40)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children) and not tree.filling)
        assert not any("still open" in line or "HOST2" in line for line in tree_lines(tree))
        # HOST2 (behind the top level's "more" line), its second root, that root's handle
        await pilot.press("slash", *"STILL OPEN", "enter")
        await wait_for(pilot, lambda: "still open at the end of the log" in _cursor_text(tree))
        assert tree.cursor_node is not None and tree.cursor_node.parent is not None
        handle = tree.cursor_node.parent
        assert handle.is_expanded and "handle 0x1644" in label_text(handle).plain
        # HOST2's first root was skipped: a "more" line stands for it, before the one shown
        host2 = _children(tree, "HOST2")
        assert host2[0].startswith("... more") and "System 0x4" in host2[1]
        more = next(node for node in tree.walk() if label_text(node).plain.startswith("HOST2")).children[0]
        assert isinstance(more.data, StoredNode) and more.data.more_before is not None
        tree.move_cursor(more)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "? 0x280" in _children(tree, "HOST2")[0])
        assert len(_children(tree, "HOST2")) == 2 and "System 0x4" in _children(tree, "HOST2")[1]
        # a node two levels below a node whose children were never fetched; `n` goes on
        await pilot.press("slash", *"record 13 at", "enter")
        await wait_for(pilot, lambda: "closed: 4658 record 13" in _cursor_text(tree))
        await pilot.press("slash", *"no such text", "enter")
        await pilot.pause(0.3)
        assert "closed: 4658 record 13" in _cursor_text(tree)


def test_the_stored_search_escapes_like_wildcards_and_wraps(tmp_path: Path) -> None:
    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    with Store(db, readonly=True) as store:
        labels = {row.id: row.label for row in correlation_tables.whole_tree(store, "processes")}
        first = correlation_tables.search(store, "processes", "still running", after=0)
        assert first is not None and "still running" in labels[first]
        again = correlation_tables.search(store, "processes", "still running", after=max(labels))
        assert again == first  # wrapped
        last = correlation_tables.search(store, "processes", "still running", after=first, forward=False)
        assert last is not None and last > first and "still running" in labels[last]
        assert correlation_tables.search(store, "processes", "0x_dac", after=0) is None  # `_` is no wildcard
        assert correlation_tables.search(store, "processes", "%", after=0) is None
        assert correlation_tables.path_to(store, "processes", last)[-1] == last


def test_a_page_of_children_reads_only_that_page(tmp_path: Path) -> None:
    """The top level of a big stored tree (one computer above 20,000 processes) is read
    through the parent index: SQLite had walked every node in id order for the ORDER BY
    (80 ms for a reopened 577,000-node forest)."""
    from core.store.correlation_tables import NodeRow

    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    nodes = [NodeRow(1, 0, "HOST", None, None, None, None, 20_000),
             *(NodeRow(i, 1, f"p{i}.exe", None, "exact", i, None, 0) for i in range(2, 20_002))]
    with Store(db) as store:
        assert correlation_tables.write_views(store, {"big": nodes}, {})
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        store.conn.set_progress_handler(count, 100)
        assert [row.id for row in correlation_tables.children(store, "big", 0, limit=201)] == [1]
        assert len(correlation_tables.children(store, "big", 1, limit=201)) == 201
        store.conn.set_progress_handler(None, 0)
        assert steps[0] < 100  # (walking the 20,001 nodes in id order: 828)
