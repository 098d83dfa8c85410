"""Correlation results stored with the log (`core.store.correlation_tables`, `tui.stored_views`):
what a reopened log shows from the store is exactly what the model shows, on real logs (4688,
4690, 4656/4658, 4624, Sysmon) and on the hand-made ones the correlation tests use: every list
line, every tree node (read whole, and page by page as the views unfold it), and every link of
every correlated event; and a reopen shows the views without building the model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import tui.model_cache as mc
import tui.stored_views as sv
from core.correlate.model import CorrelationModel, model_from_store
from core.store import correlation_links, correlation_tables
from core.store.store import Store, StoredEvent
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.samples import COBALT, MIMIKATZ, NIGHTMARE, SHARPVIEW, load_evtx, load_json
from tests.correlate.stored_tables import BUILDERS, EVERYTHING, no_model, ready, shape, store_db, stored_links, text
from tests.shared import require_shared
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree, TreeItem, ViewNode
from tui.processes import ProcessesScreen
from tui.sessions import STORED, SessionsScreen, SessionsTable, _listed, line_tree
from tui.stored_views import StoredNode, fetch_children, load_info, load_list, load_subtree, load_tree
from tui.view_builders import all_view_builders


def _unfolded(db: Path, tree: str, items: Sequence[TreeItem]) -> list[TreeItem]:
    """A lazily read tree with every node unfolded as the view does: a page of children at a
    time, following the "more" lines."""
    out: list[TreeItem] = []
    for item in items:
        if isinstance(item, StoredNode) and item.more_after is not None:
            out.extend(_unfolded(db, tree, fetch_children(db, tree, item.parent_id, item.more_after)))
            continue
        kids = list(item.children)
        if isinstance(item, StoredNode) and item.kids and not kids:
            kids = fetch_children(db, tree, item.node_id)
        assert isinstance(item, ViewNode)  # read back from the store: no engine `Node`
        out.append(StoredNode(item.label, item.store_id, tuple(_unfolded(db, tree, kids)), item.confidence,
                              item.reason))
    return out


def _same_as_the_model(tmp_path: Path, events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch) -> int:
    db = store_db(tmp_path, events)
    monkeypatch.setattr(correlation_tables, "CHUNK", 7)  # written in many transactions
    cache = ModelCache()
    for name in BUILDERS:
        assert cache.stored_view(db, True, name, BUILDERS, wait=True)
    monkeypatch.setattr(sv, "PAGE", 2)  # small pages: the "more" lines are followed too
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        for name, build in BUILDERS.items():
            built = build(model)
            if built.tree is not None:  # (an iterable, made as it is read: built again for each look)
                whole, _nodes = load_tree(store, name, EVERYTHING)
                assert shape(whole) == shape(list(build(model).tree or ())), name
                tops, _count = load_tree(store, name, 0)
                assert shape(_unfolded(db, name, tops)) == shape(list(build(model).tree or ())), name
            if built.rows is not None or built.tree is None:
                total, lines, rows = load_list(store, name, EVERYTHING)
                assert total == built.total and lines == len(rows)
                assert [(r.store_id, [text(c) for c in r.cells], text(r.why), r.extra) for r in rows] == [
                    (r.store_id, [text(c) for c in r.cells], text(r.why), getattr(r, "extra", None))
                    for r in built.rows or ()
                ], name
                assert load_info(store, name) == built.info, name
        sessions = _sessions_as_the_model_shows_them(store, model)
        correlated = {sid for sid, _eid in model.event_roles()} | set(model._sysmon_facts)
        for se in store.iter_events():
            expected = stored_links(model, se) if se.id in correlated else []
            assert correlation_links.links_of(store, se.id) == expected, se.id
        assert correlation_tables.instance_count(store, "process") == len(model.processes)
        assert correlation_tables.instance_count(store, "handle") == len(model.handles)
        assert correlation_tables.instance_count(store, "session") == len(model.sessions)
        for session in model.sessions[:50]:
            srow = correlation_tables.instance(store, "session", session.index)
            assert srow is not None and (srow["logon_id"], srow["user"], srow["logon_type"], srow["privileged"]) == (
                session.logon_id, session.user, session.logon_type, int(session.privileged))
        for p in model.processes[:50]:
            row = correlation_tables.instance(store, "process", p.index)
            assert row is not None and (row["pid"], row["image"], row["confidence"], row["reason"]) == (
                p.pid, p.image, p.confidence, p.reason)
    return sessions


def _sessions_as_the_model_shows_them(store: Store, model: CorrelationModel) -> int:
    """Every line of the Sessions list as read back (cells, what `/` searches, its 4624) and
    the tree it shows when highlighted are the ones the model makes; how many lines."""
    lines, total, computers, unreadable = _listed(model)
    stored_total, _count, rows = load_list(store, STORED, EVERYTHING)
    assert (stored_total, load_info(store, STORED)) == (total, {"computers": computers, "unreadable": unreadable})
    assert [(r.store_id, [text(c) for c in r.cells], r.extra) for r in rows] == [
        (line.store_id, [text(c) for c in line.cells], {"search": line.search}) for line in lines]
    for number, line in enumerate(lines):
        assert shape(load_subtree(store, STORED, number)) == shape(line_tree(line)), number
    assert load_subtree(store, STORED, len(lines)) == []
    return len(lines)


def test_hand_made_logs_read_back_as_the_model_shows_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _same_as_the_model(tmp_path, load(*hand_made()), monkeypatch) > 0


def test_a_runas_logs_sessions_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real log with 4624s, 4672s and processes started in them (runas /netonly)."""
    from tests.correlate.samples import RUNAS

    require_shared()
    assert _same_as_the_model(tmp_path, load_evtx(RUNAS), monkeypatch) > 1


def test_the_views_story_reads_back_as_the_model_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.app.story import story

    _same_as_the_model(tmp_path, load(*story()), monkeypatch)


@pytest.mark.parametrize("rel", [NIGHTMARE, MIMIKATZ], ids=["nightmare", "mimikatz"])
def test_real_evtx_logs_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    require_shared()
    _same_as_the_model(tmp_path, load_evtx(rel), monkeypatch)


@pytest.mark.parametrize("rel", [SHARPVIEW, COBALT], ids=["sharpview", "cobaltstrike-sysmon"])
def test_real_json_logs_read_back_as_the_model_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    require_shared()
    _same_as_the_model(tmp_path, load_json(rel), monkeypatch)


def test_a_reopen_reads_the_stored_views_without_building_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    monkeypatch.setattr(mc, "build_model", no_model)
    reopened = ModelCache()
    assert all(reopened.stored_view(db, True, name, BUILDERS, wait=True) for name in BUILDERS)
    assert reopened.peek_model() is None


def test_tables_of_another_format_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    with Store(db) as store:
        store.set_meta(correlation_tables.FORMAT_KEY, "0")  # a cache written by an older version
    calls: list[int] = []
    real = mc.build_model

    def counting(store: Store, progress: Any = None) -> Any:
        calls.append(1)
        return real(store, progress)

    monkeypatch.setattr(mc, "build_model", counting)
    assert ModelCache().stored_view(db, True, "handles", BUILDERS, wait=True)
    assert calls == [1]
    with Store(db, readonly=True) as store:
        assert correlation_tables.ready(store) and correlation_tables.view_ready(store, "processes")


def test_a_store_still_loading_or_incomplete_is_not_stored(tmp_path: Path) -> None:
    db = store_db(tmp_path, load(*hand_made()))
    assert not ModelCache().stored_view(db, False, "processes", BUILDERS)  # loading: partial results
    with Store(db) as store:
        store.set_meta("complete", "0")
    assert not ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    with Store(db, readonly=True) as store:
        assert not correlation_tables.ready(store)


@sync
async def test_a_reopened_processes_view_shows_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app.story import Harness

    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    with Store(db, readonly=True) as store:
        expected = load_tree(store, "processes", EVERYTHING)[0]
    monkeypatch.setattr(mc, "build_model", no_model)
    app = Harness(db, ProcessesScreen)
    app.workspace.view_builders = all_view_builders
    async with opened(app, (120, 40)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children) and not tree.filling)
        shown = [n.data for n in tree.walk() if n.data is not None]
        assert len(shown) == len(list(_walk(expected))) > 5
        await app.push_screen(SessionsScreen(app.workspace))
        table = app.screen.query_one(SessionsTable)
        sessions = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count > 0 and bool(sessions.root.children)
                       and "logon session" in str(app.screen.query_one("#view-status").render()))
    assert app.workspace.models.peek_model() is None


def _session_screen(app: Any) -> tuple[list[list[str]], str]:
    """What the Sessions view shows: its rows and its status line."""
    table = app.screen.query_one(SessionsTable)
    rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
    return rows, str(app.screen.query_one("#view-status").render())


@sync
async def test_a_reopened_sessions_view_shows_what_the_model_showed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First open: the list and each row's tree from the model, the tables written behind it;
    reopen with no model: the same rows, the same tree under each row, the same status, and
    `/` finds a session by a value the list does not show (its logon id)."""
    import time

    from core.store.cache import open_inputs
    from tests.app.story import Harness, tree_lines
    from tests.apputil import DEMO

    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    opened_store = open_inputs([str(DEMO)])
    db = opened_store.path
    opened_store.close()

    async def everything(app: Harness, model_shown: list[list[str]] | None) -> tuple[
            list[list[str]], list[list[str]], str]:
        async with opened(app, (160, 48)) as pilot:
            table = app.screen.query_one(SessionsTable)
            tree = app.screen.query_one(NavTree)
            await wait_for(pilot, lambda: table.row_count > 0 and bool(tree_lines(tree)))
            rows, status = _session_screen(app)
            trees: list[list[str]] = []
            for number in range(table.row_count):
                table.move_cursor(row=number)
                await pilot.pause()
                if model_shown is not None:  # read in a worker: until it shows what the model showed

                    def shows(n: int = number) -> bool:
                        return tree_lines(tree) == model_shown[n]

                    await wait_for(pilot, shows)

                def drawn(n: int = number) -> bool:
                    return bool(getattr(app.screen, "_shown", None) == n)

                await wait_for(pilot, drawn)
                trees.append(tree_lines(tree))
            table.move_cursor(row=0)
            await pilot.press("slash", *"0x9f1b2c", "enter")
            await wait_for(pilot, lambda: table.cursor_row != 0)
            trees.append([str(table.cursor_row)])
            deadline = time.monotonic() + 10
            while not ready(db, STORED):
                assert time.monotonic() < deadline
                await pilot.pause(0.05)
        return rows, trees, status

    first = await everything(Harness(db, SessionsScreen), None)
    monkeypatch.setattr(mc, "build_model", no_model)
    again = Harness(db, SessionsScreen)
    assert await everything(again, first[1]) == first
    assert len(first[0]) > 5 and again.workspace.models.peek_model() is None


def _walk(items: Sequence[TreeItem]) -> list[TreeItem]:
    out: list[TreeItem] = []
    stack = list(items)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


@sync
async def test_a_big_stored_tree_unfolds_a_page_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the whole-tree size, the view shows the computers and a first page of their
    roots; unfolding a node fetches its children, a "more" line the next page."""
    import tui.tree_views as tv
    from tests.app.story import Harness

    db = store_db(tmp_path, load(*hand_made()))
    assert ModelCache().stored_view(db, True, "processes", BUILDERS, wait=True)
    monkeypatch.setattr(tv, "MAX_TREE_NODES", 0)
    monkeypatch.setattr(sv, "PAGE", 1)
    app = Harness(db, ProcessesScreen)
    async with opened(app, (120, 40)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        host = tree.root.children[0]
        first, more = host.children
        assert isinstance(more.data, StoredNode) and more.data.more_after is not None
        assert isinstance(first.data, StoredNode) and first.data.kids and not first.children
        first.expand()
        await wait_for(pilot, lambda: bool(first.children))
        assert len(first.children) == 2  # one child and the "more" line
        tree.move_cursor(more)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(host.children) == 2 and host.children[1] is not more)


@sync
async def test_the_first_open_shows_the_model_and_stores_every_view_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first view does not wait for the tables (as long to write as the model to build):
    it shows the model, the tables are written in the background, and the next open reads
    every view from them."""
    import time

    from tests.app.story import Harness

    db = store_db(tmp_path, load(*hand_made()))
    app = Harness(db, ProcessesScreen)
    app.workspace.view_builders = all_view_builders
    async with opened(app, (120, 40)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        assert not isinstance(next(tree.walk()).data, StoredNode)  # from the model
        deadline = time.monotonic() + 10
        while not all(ready(db, name) for name in BUILDERS):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
    monkeypatch.setattr(mc, "build_model", no_model)
    again = Harness(db, ProcessesScreen)
    async with opened(again, (120, 40)) as pilot:
        tree = again.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        assert isinstance(next(tree.walk()).data, StoredNode)


def test_a_write_cut_short_is_not_taken_as_done(tmp_path: Path) -> None:
    """The tables are written a chunk per transaction (other writers get their turn): a write
    that fails part way leaves the store untagged, so the views use the model and the next
    open writes them again. The links are tagged apart (written after the views): cut short,
    the instances stay, and the links are written again; new instances drop the old links."""
    import sqlite3

    from core.correlate.persist import links as links_of_model
    from core.correlate.persist import tables_of

    db = store_db(tmp_path, load(*hand_made()))
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
    tables = tables_of(model)
    processes, links = list(tables.processes), list(links_of_model(model))

    def failing(rows: list[Any]) -> Any:
        yield from rows[:3]
        raise sqlite3.OperationalError("disk I/O error")

    tables.processes = failing(processes)
    with Store(db) as store:
        assert not correlation_tables.write_instances(store, tables)
        assert not correlation_tables.ready(store) and not correlation_links.links_ready(store)
        assert not correlation_links.write_links(store, iter(links))  # no instances to link to
        assert correlation_tables.write_instances(store, tables_of(model))
        assert not correlation_links.write_links(store, failing(links))
        assert correlation_tables.ready(store) and not correlation_links.links_ready(store)
        assert correlation_links.write_links(store, iter(links))
        assert correlation_links.links_ready(store)
        stored = store.conn.execute("SELECT count(*), count(DISTINCT store_id) FROM corr_link").fetchone()
        assert stored == (len(links), len({link[0] for link in links}))
        assert correlation_tables.write_instances(store, tables_of(model))
        assert correlation_tables.ready(store) and not correlation_links.links_ready(store)
        assert store.conn.execute("SELECT count(*) FROM corr_link").fetchone()[0] == 0
