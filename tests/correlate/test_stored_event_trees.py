"""The Handles and Process access views' line trees stored with the log
(`core.store.event_trees`, `tui.stored_views.load_event_tree`): the tree a reopened log shows
beside each line is exactly the model's `correlate(event).tree()`, read whole or a page at a
time, on real logs and hand-made ones; it is stored once per distinct subtree; and a reopened
view shows it without building the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tui.model_cache as mc
import tui.stored_views as sv
from core.correlate.model import model_from_store
from core.store.store import Store
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.samples import COBALT, MIMIKATZ, NIGHTMARE, SHARPVIEW, load_evtx, load_json
from tests.correlate.stored_tables import BUILDERS, line_trees_as_the_model_shows_them, no_model, ready, shape, store_db
from tests.shared import require_shared
from tui.list_tree_view import ListTable, ListTreeScreen
from tui.model_cache import ModelCache
from tui.nav_tree import ItemNode, NavTree, TreeItem
from tui.stored_views import StoredNode
from tui.view_builders import all_view_builders


def test_hand_made_and_story_line_trees_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app.story import story

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    assert line_trees_as_the_model_shows_them(tmp_path / "a", load(*hand_made()), monkeypatch)[0] >= 2
    assert line_trees_as_the_model_shows_them(tmp_path / "b", load(*story()), monkeypatch)[0] >= 4


@pytest.mark.parametrize("rel", [NIGHTMARE, MIMIKATZ], ids=["nightmare", "mimikatz"])
def test_real_evtx_line_trees_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    require_shared()
    assert line_trees_as_the_model_shows_them(tmp_path, load_evtx(rel), monkeypatch)[0] > 0


def test_real_json_line_trees_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_shared()
    assert line_trees_as_the_model_shows_them(tmp_path, load_json(SHARPVIEW), monkeypatch)[0] > 50


def test_line_trees_are_stored_once_per_distinct_subtree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cobalt Strike's Sysmon log: 1,295 lines whose trees have about 116,000 nodes; their
    repeated subtrees (the same processes, handles, sessions) are stored once."""
    require_shared()
    lines, shown, stored = line_trees_as_the_model_shows_them(tmp_path, load_json(COBALT), monkeypatch, paged=False)
    assert lines > 1000 and shown > 100_000
    assert stored * 10 < shown


def _tree_screen(app: Any) -> tuple[ListTable, NavTree]:
    return app.screen.query_one(ListTable), app.screen.query_one(NavTree)


@pytest.mark.parametrize("view", ["handles", "process_access"])
@sync
async def test_a_reopened_list_view_shows_each_lines_tree_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, view: str
) -> None:
    """First open: each line's tree from the model, the tables written behind it; reopen with
    the model made to fail: the same tree beside every line."""
    import time

    from tests.app.story import Harness, story, tree_lines
    from tui.handles import HandlesScreen
    from tui.process_access import ProcessAccessScreen

    screen: type[ListTreeScreen] = HandlesScreen if view == "handles" else ProcessAccessScreen
    db = store_db(tmp_path, load(*story()))

    async def trees(app: Harness, expected: list[list[str]] | None) -> list[list[str]]:
        app.workspace.view_builders = all_view_builders
        out: list[list[str]] = []
        async with opened(app, (160, 48)) as pilot:
            table, tree = _tree_screen(app)
            await wait_for(pilot, lambda: table.row_count > 0 and bool(tree_lines(tree)))
            for number in range(table.row_count):
                table.move_cursor(row=number)
                await pilot.pause()
                want = expected[number] if expected is not None else None

                def shows(w: list[str] | None = want) -> bool:
                    return (bool(tree_lines(tree)) and (w is None or tree_lines(tree) == w)
                            and not tree.filling and "failed" not in " ".join(tree_lines(tree)))

                await wait_for(pilot, shows)
                out.append(tree_lines(tree))
            deadline = time.monotonic() + 10
            while not all(ready(db, name) for name in BUILDERS):
                assert time.monotonic() < deadline
                await pilot.pause(0.05)
        return out

    first = await trees(Harness(db, screen), None)
    monkeypatch.setattr(mc, "build_model", no_model)
    again = Harness(db, screen)
    assert await trees(again, first) == first
    assert len(first) >= 1 and all(len(lines) > 5 for lines in first)
    assert again.workspace.models.peek_model() is None


@sync
async def test_a_big_line_tree_unfolds_a_page_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the whole-tree size a line's tree comes as its top level and a first page under
    each top node; unfolding a node fetches its children, a "more" line the next page, until
    the tree is the model's."""
    import tui.list_tree_view as ltv
    from tests.app.story import Harness, story, tree_lines
    from tui.handles import HandlesScreen

    db = store_db(tmp_path, load(*story()))
    assert ModelCache().stored_view(db, True, "handles", BUILDERS, wait=True)
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        row = (BUILDERS["handles"](model).rows or [])[0]
        event = store.get(row.store_id or 0)
        assert event is not None
        expected = shape([model.correlate(event).tree()])
    monkeypatch.setattr(mc, "build_model", no_model)
    monkeypatch.setattr(ltv, "MAX_TREE_NODES", 0)
    monkeypatch.setattr(sv, "PAGE", 1)
    app = Harness(db, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table, tree = _tree_screen(app)
        await wait_for(pilot, lambda: table.row_count > 0 and bool(tree_lines(tree)))
        assert any(line.startswith("... more") for line in tree_lines(tree))
        for _step in range(400):
            pending = [n for n in tree.walk() if isinstance(n.data, StoredNode)
                       and (n.data.more_after is not None or (n.data.kids and not n.children))]
            if not pending:
                break
            node = pending[0]
            before = len(list(tree.walk()))
            assert isinstance(node.data, StoredNode)
            if node.data.more_after is not None:  # gives way to the page it stands for
                tree.move_cursor(node)
                tree.focus()
                await pilot.press("enter")

                def paged(b: int = before, n: ItemNode = node) -> bool:
                    return n not in list(tree.walk()) and len(list(tree.walk())) >= b

                await wait_for(pilot, paged)
            else:
                node.expand()

                def grown(b: int = before) -> bool:
                    return len(list(tree.walk())) > b

                await wait_for(pilot, grown)
        shown = [n.data for n in tree.root.children if n.data is not None]
        assert shape(_rebuilt(tree.root)) == expected and len(shown) == 1


def _rebuilt(root: Any) -> list[TreeItem]:
    """The tree the widget holds, as nodes (what each line shows, its children)."""
    out: list[TreeItem] = []
    for child in root.children:
        data = child.data
        assert isinstance(data, StoredNode)
        out.append(StoredNode(data.label, data.store_id, tuple(_rebuilt(child)), data.confidence, data.reason))
    return out
