"""Every line of the Handles, Sessions and Process access lists is reachable (issue 18): they
listed their first 20,000 lines ("the first 20,000 shown"), and a ten-million-event log has
hundreds of thousands. On a first open (lines made from the model) and on a reopen (lines read
from the store) the last line is one key away and says what the model says; the status line
counts what the list holds. A reopened line whose correlation tree is not stored (beyond a
list's first `TREE_LINES`) shows its links as stored, without building the model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable

import tui.handles as handles
import tui.process_access as process_access
import tui.sessions as sessions
import tui.stored_views as stored_views
from core.correlate.access_list import AccessList
from core.correlate.model import CorrelationModel, model_from_store
from core.store import correlation_links, correlation_tables
from core.store.store import Store
from tests.app.story import Harness, tree_lines
from tests.apputil import opened, screen_text, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.handles import HandlesScreen, HandlesTable
from tui.list_tree_view import ListTreeScreen
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree
from tui.process_access import AccessItems, AccessTable, ProcessAccessScreen
from tui.sessions import SessionsScreen, SessionsTable
from tui.workspace import Workspace

#: Lines of the long Handles list made here: more than the 20,000 the lists were cut at.
LONG = 30_000


def _plain(table: DataTable[Text], row: int) -> list[str]:
    return [getattr(cell, "plain", str(cell)) for cell in table.get_row_at(row)]


def _status(app: Harness) -> str:
    return str(app.screen.query_one("#view-status").render())


async def _last_line(pilot: Pilot[Any], app: Harness, table: DataTable[Text], count: int) -> list[str]:
    """Go to the list's last line (`ctrl+end`) and give its cells once they are drawn."""
    await pilot.press("ctrl+end")
    await wait_for(pilot, lambda: table.cursor_row == count - 1)
    await wait_for(pilot, lambda: _plain(table, count - 1)[0] != "…")
    return _plain(table, count - 1)


@sync
async def test_every_4690_is_a_line_on_a_first_open_and_on_a_reopen(demo_store: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = CorrelationModel.handle_duplications
    monkeypatch.setattr(CorrelationModel, "handle_duplications", lambda self: real(self) * (LONG // 2))
    monkeypatch.setattr(Workspace, "store_views_later", lambda *args: None)  # written below, once
    app = Harness(demo_store, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: "enter: to the tree" in _status(app))
        assert table.row_count == LONG
        assert _status(app).startswith(f"{LONG:,} handle duplications (4690)   enter")  # no "first 20,000"
        last = handles.handle_row(real(app.workspace.model()[0])[1])
        assert await _last_line(pilot, app, table, LONG) == [cell.plain for cell in last.cells]
    # The tables as the background writer stores them, then a reopen reads the list from there.
    assert ModelCache().stored_view(demo_store, True, "handles", {"handles": BUILDERS["handles"]}, wait=True)
    app = Harness(demo_store, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: "enter: to the tree" in _status(app))
        assert table.row_count == LONG and app.workspace.models.peek_model() is None
        assert _status(app).startswith(f"{LONG:,} handle duplications (4690)   enter")
        assert await _last_line(pilot, app, table, LONG) == [cell.plain for cell in last.cells]
        await wait_for(pilot, lambda: last.why.plain[:60] in screen_text(app))


@sync
async def test_a_reopened_line_without_a_stored_tree_shows_its_stored_links(demo_store: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_views, "TREE_LINES", 1, raising=False)  # the second 4690's tree is not stored
    assert ModelCache().stored_view(demo_store, True, "handles", {"handles": BUILDERS["handles"]}, wait=True)
    with Store(demo_store, readonly=True) as store:
        dups = real_dups = model_from_store(store).handle_duplications()
        second = handles.handle_row(real_dups[1])
    assert len(dups) == 2
    app = Harness(demo_store, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count == 2 and bool(tree_lines(tree)))
        await pilot.press("j")
        await wait_for(pilot, lambda: any(line.startswith("links as stored") for line in tree_lines(tree)))
        lines = tree_lines(tree)
        assert any("source process: " in line for line in lines)
        assert any("target handle: handle " in line for line in lines)
        assert _plain(table, 1) == [cell.plain for cell in second.cells]
        assert app.workspace.models.peek_model() is None  # the model was not built for it


def _links_ready(db: Path) -> bool:
    with Store(db, readonly=True) as store:
        return correlation_links.links_ready(store)


@sync
async def test_a_reopen_before_the_links_are_stored_says_so_and_the_next_model_build_stores_them(
        demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer stores the links last (after every view): a reopen while they are not stored
    (the first open closed meanwhile) shows every view from the store; a line without a stored
    tree says its links are not stored yet instead of showing none, and the first model build
    of that open (`c`, ...) stores them, so that the next reopen shows them."""
    monkeypatch.setattr(stored_views, "TREE_LINES", 1, raising=False)  # the second 4690's tree is not stored
    real_write_links = correlation_links.write_links
    monkeypatch.setattr(correlation_links, "write_links", lambda *args: False)  # the writer cut before them
    ModelCache()._write_tables(demo_store, dict(BUILDERS))  # noqa: SLF001 - as the app's background writer
    monkeypatch.setattr(correlation_links, "write_links", real_write_links)
    with Store(demo_store, readonly=True) as store:
        assert all(correlation_tables.view_ready(store, name) for name in BUILDERS)
    assert not _links_ready(demo_store)
    app = Harness(demo_store, HandlesScreen)
    app.workspace.view_builders = lambda: dict(BUILDERS)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count == 2 and bool(tree_lines(tree)))
        await pilot.press("j")
        await wait_for(pilot, lambda: any(line.startswith("not stored: ") for line in tree_lines(tree)))
        assert app.workspace.models.peek_model() is None
        await asyncio.to_thread(app.workspace.model)  # what `c` on an event does first
        await wait_for(pilot, lambda: _links_ready(demo_store))
        await wait_for(pilot, lambda: not app.workspace.models.writing)
    app = Harness(demo_store, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: app.screen.query_one(HandlesTable).row_count == 2 and bool(tree_lines(tree)))
        await pilot.press("j")
        await wait_for(pilot, lambda: any(line.startswith("links as stored") for line in tree_lines(tree)))
        assert any("target handle: handle " in line for line in tree_lines(tree))


@sync
async def test_every_session_is_a_line_on_a_first_open_and_on_a_reopen(demo_store: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap the list had (20,000 lines), made small: the demo log has 8 sessions.
    monkeypatch.setattr(sessions, "MAX_ROWS", 3, raising=False)
    monkeypatch.setattr(Workspace, "store_views_later", lambda *args: None)
    with Store(demo_store, readonly=True) as store:
        every = sessions.session_rows(model_from_store(store))
    last = [cell.plain for cell in sessions.row_cells(every[-1])]
    await _sessions_listed(demo_store, f"0x{every[-1].logon_id:x}", last)  # made from the model
    assert ModelCache().stored_view(demo_store, True, "sessions", {"sessions": BUILDERS["sessions"]}, wait=True)
    await _sessions_listed(demo_store, f"0x{every[-1].logon_id:x}", last)  # read from the store


async def _sessions_listed(db: Path, search: str, last: list[str]) -> None:
    app = Harness(db, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: "enter: to the tree" in _status(app))
        assert table.row_count == 8
        assert _status(app).startswith("8 logon sessions on 2 computers   enter")
        assert await _last_line(pilot, app, table, 8) == last
        await pilot.press("home", "slash", *search, "enter")  # `/` reaches it too
        await wait_for(pilot, lambda: table.cursor_row == 7)


@sync
async def test_every_process_access_line_is_reachable_on_a_first_open_and_on_a_reopen(
        churn_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lines shown before the rest is laid out (20,000 in the app; the list's cap before).
    monkeypatch.setattr(ProcessAccessScreen, "FIRST_LINES", 40, raising=False)
    monkeypatch.setattr(ProcessAccessScreen, "MAX_ROWS", 40, raising=False)
    monkeypatch.setattr(Workspace, "store_views_later", lambda *args: None)
    with Store(churn_store, readonly=True) as store:
        listing = AccessList(model_from_store(store))
        items = AccessItems(listing)
        total, count = listing.total(), len(items)
        last = [cell.plain for cell in process_access.access_line(items[count - 1]).cells]
    assert count > 40
    await _accesses_listed(churn_store, total, count, last)  # made from the model
    assert ModelCache().stored_view(churn_store, True, "process_access",
                                    {"process_access": BUILDERS["process_access"]}, wait=True)
    await _accesses_listed(churn_store, total, count, last)  # read from the store


async def _accesses_listed(db: Path, total: int, count: int, last: list[str]) -> None:
    app = Harness(db, ProcessAccessScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(AccessTable)
        await wait_for(pilot, lambda: table.row_count == count, timeout=30)
        await wait_for(pilot, lambda: _status(app).startswith(f"{total:,} process accesses"), timeout=30)
        assert f"in {count:,} lines   enter" in _status(app)
        assert await _last_line(pilot, app, table, count) == last


def test_the_lists_have_no_cap_left() -> None:
    """The real path: no list view keeps a cap on its lines (a constant a test could shrink)."""
    assert not hasattr(ListTreeScreen, "MAX_ROWS")
    assert not any(hasattr(module, "MAX_ROWS") for module in (handles, sessions, process_access))


@sync
async def test_sessions_store_the_trees_of_their_first_lines_and_a_line_beyond_shows_its_logon_links(
        demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tree per line of a log with 359,000 sessions made its store 1.67x the log: the first
    # TREE_LINES lines' trees are stored (made small here: the demo log lists 8 sessions).
    monkeypatch.setattr(sessions, "TREE_LINES", 6)
    assert ModelCache().stored_view(demo_store, True, "sessions", {"sessions": BUILDERS["sessions"]}, wait=True)
    with Store(demo_store, readonly=True) as store:
        tops = store.conn.execute("SELECT count(*) FROM corr_node WHERE tree = 'sessions' AND parent = 0").fetchone()
        every = sessions.session_rows(model_from_store(store))
    assert tops == (6,)
    last = every[-1]
    assert last.session is not None and last.session.logon is not None
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count == 8 and bool(tree_lines(tree)))
        assert any("well-known session" in line for line in tree_lines(tree)), tree_lines(tree)  # line 1: stored
        await _last_line(pilot, app, table, 8)
        await wait_for(pilot, lambda: any(line.startswith("links as stored") for line in tree_lines(tree)))
        lines = tree_lines(tree)
        assert any(f"logon 0x{last.logon_id:x}: " in line for line in lines), lines
        assert app.workspace.models.peek_model() is None  # the model was not built for it
