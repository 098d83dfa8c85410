"""Reopened list views (`tui.list_pages`): the table draws only the lines on screen, reading
them from the store a page at a time by position. Every line still shows, in order, as the
store keeps it; a 20,000-line list shows after reading one page, its end is one key away, and
`/` in the Sessions list finds a line never read, by SQL; the status line counts the whole list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

import tui.list_pages as lp
from core.store import correlation_tables as tables
from core.store.cache import open_inputs
from core.store.store import Store
from tests.app.story import Harness
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.handles import HandlesScreen, HandlesTable
from tui.list_tree_view import ListTreeScreen
from tui.model_cache import ModelCache
from tui.process_access import ProcessAccessScreen
from tui.sessions import SessionsScreen, SessionsTable
from tui.stored_views import load_list

#: Lines of the long lists made here (the most a view lists).
LONG = 20_000


@pytest.fixture
def stored_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo log's store with every view stored (a reopen reads them)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    assert ModelCache().stored_view(path, True, "sessions", BUILDERS, wait=True)
    return path


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many stored list lines each read from SQL returned (`tables.list_rows`)."""
    read: list[int] = []
    real = tables.list_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(tables, "list_rows", spy)
    return read


def _stored(db: Path, name: str) -> list[list[str]]:
    """Every line of a stored list, read at once."""
    with Store(db, readonly=True) as store:
        return [[cell.plain for cell in row.cells] for row in load_list(store, name, 10**6)[2]]


def _rows(table: DataTable[object]) -> list[list[str]]:
    return [[getattr(cell, "plain", str(cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _lengthen(db: Path, name: str, column: int) -> None:
    """Make the stored list `name` LONG lines long: its lines over and over, line i's cell
    `column` saying `#i#` and what `/` searches holding it too."""
    with Store(db) as store:
        total, _count = tables.list_size(store, name)
        info = tables.view_info(store, name)
        base = tables.list_rows(store, name, limit=100)
        lines = []
        for i in range(LONG):
            row = base[i % len(base)]
            cells = json.loads(row.cells)
            cells[column][0] = f"#{i}#"
            extra = json.loads(row.extra) if row.extra else {}
            extra["search"] = f"{extra.get('search', '')} #{i}#"
            lines.append((row.store_id, json.dumps(cells), row.why, json.dumps(extra)))
        assert tables.write_views(store, {}, {name: (lines, total)}, {name: info} if info else None)


@pytest.mark.parametrize(("screen", "name", "status"), [
    (HandlesScreen, "handles", "2 handle duplications (4690)"),
    (ProcessAccessScreen, "process_access", "process accesses"),
    (SessionsScreen, "sessions", "8 logon sessions on 2 computers"),
])
@sync
async def test_a_list_longer_than_a_page_shows_every_line_and_scrolls_to_its_end(
    stored_demo: Path, monkeypatch: pytest.MonkeyPatch,
    screen: type[ListTreeScreen] | type[SessionsScreen], name: str, status: str
) -> None:
    monkeypatch.setattr(lp, "PAGE", 2)
    expected = _stored(stored_demo, name)
    assert len(expected) > lp.PAGE or name == "handles"  # more than one page
    app = Harness(stored_demo, lambda ws: screen(ws))
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == len(expected))
        await wait_for(pilot, lambda: _rows(table) == expected)  # (reading a line fetches its page)
        assert status in str(app.screen.query_one("#view-status").render())
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == len(expected) - 1)
        assert [cell.plain for cell in table.get_row_at(table.cursor_row)] == expected[-1]
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert all(f" {row[0].strip()} " in shown and row[1].strip() in shown for row in expected[-2:])


@sync
async def test_a_reopened_list_of_20000_lines_reads_a_page_and_reaches_its_end(
    stored_demo: Path, rows_read: list[int]
) -> None:
    _lengthen(stored_demo, "handles", 1)  # the Source process column
    rows_read.clear()
    app = Harness(stored_demo, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: table.row_count == LONG and "enter: to the tree" in screen_text(app))
        assert "2 handle duplications (4690)" in screen_text(app)
        assert " #0# " in screen_text(app) and " #30# " in screen_text(app)
        assert sum(rows_read) <= lp.PAGE  # the lines on screen, not 20,000
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == LONG - 1 and f" #{LONG - 1}# " in screen_text(app))
        assert table.get_row_at(LONG - 1)[1].plain == f"#{LONG - 1}#"
        await pilot.press("k", "k")
        await wait_for(pilot, lambda: table.cursor_row == LONG - 3)
        assert sum(rows_read) <= 2 * lp.PAGE
        screen = app.screen
        assert isinstance(screen, HandlesScreen)
        selected = screen.selected_row()
        assert selected is not None and selected.cells[1].plain == f"#{LONG - 3}#"


@sync
async def test_slash_in_a_long_sessions_list_finds_a_line_never_read(
    stored_demo: Path, rows_read: list[int]
) -> None:
    _lengthen(stored_demo, "sessions", 2)  # the User column
    rows_read.clear()
    app = Harness(stored_demo, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count == LONG and "enter: to the tree" in screen_text(app))
        assert "8 logon sessions on 2 computers" in screen_text(app)
        await pilot.press("slash", *"#15000#", "enter")
        await wait_for(pilot, lambda: table.cursor_row == 15_000 and " #15000# " in screen_text(app))
        assert sum(rows_read) <= 3 * lp.PAGE  # the first page and those on screen: searched by SQL
        await pilot.press("n")  # the next match wraps around to itself
        await pilot.pause(0.2)
        assert table.cursor_row == 15_000
        await pilot.press("slash", *"#0#", "enter")  # wraps to the first line
        await wait_for(pilot, lambda: table.cursor_row == 0)
        await pilot.press("slash", *"no such session", "enter")
        await pilot.pause(0.2)
        assert table.cursor_row == 0
