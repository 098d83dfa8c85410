"""Reopened list views longer than a page (`tui.list_pages`): the first lines show at once and
the rest are read and added behind; every line still arrives, in order, as the store keeps it;
`/` in the Sessions list finds a line not added yet and the cursor lands on it once it is; the
status line counts the whole list. Pages and batches are shrunk so that the demo log's lists
(8 sessions, 2 handle duplications, 5 process access lines) span several of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

import tui.list_pages as lp
from core.store import correlation_tables as tables
from core.store.cache import open_inputs
from core.store.store import Store
from tests.app.story import Harness
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tests.correlate.test_correlation_tables import BUILDERS
from tui.handles import HandlesScreen
from tui.list_tree_view import ListTreeScreen
from tui.model_cache import ModelCache
from tui.process_access import ProcessAccessScreen
from tui.sessions import SessionsScreen, SessionsTable
from tui.stored_views import load_list


@pytest.fixture
def stored_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo log's store with every view stored (a reopen reads them), pages of 2 lines."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    assert ModelCache().stored_view(path, True, "sessions", BUILDERS, wait=True)
    for name, value in (("FIRST", 2), ("PAGE", 2), ("BATCH", 1), ("MAX_BATCH", 1)):
        monkeypatch.setattr(lp, name, value)
    return path


def _stored(db: Path, name: str) -> list[list[str]]:
    """Every line of a stored list, read at once (as the views did before pages)."""
    with Store(db, readonly=True) as store:
        return [[cell.plain for cell in row.cells] for row in load_list(store, name, 10**6)[2]]


def _rows(table: DataTable[object]) -> list[list[str]]:
    return [[getattr(cell, "plain", str(cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.parametrize(("screen", "name", "status"), [
    (HandlesScreen, "handles", "2 handle duplications (4690)"),
    (ProcessAccessScreen, "process_access", "process accesses"),
    (SessionsScreen, "sessions", "8 logon sessions on 2 computers"),
])
@sync
async def test_a_list_longer_than_a_page_shows_every_line_and_scrolls_to_its_end(
    stored_demo: Path, screen: type[ListTreeScreen] | type[SessionsScreen], name: str, status: str
) -> None:
    expected = _stored(stored_demo, name)
    assert len(expected) > lp.PAGE + lp.FIRST - 1 or name == "handles"  # more than one page
    app = Harness(stored_demo, lambda ws: screen(ws))  # type: ignore[arg-type]
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == len(expected))
        assert _rows(table) == expected
        assert status in str(app.screen.query_one("#view-status").render())
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == len(expected) - 1)
        assert [cell.plain for cell in table.get_row_at(table.cursor_row)] == expected[-1]
        await pilot.pause(0.1)
        shown = screen_text(app)  # rendered too: rows added in batches are drawn
        assert all(f" {row[0].strip()} " in shown and row[1].strip() in shown for row in expected[-2:])


@sync
async def test_slash_in_the_sessions_list_finds_a_line_not_added_yet(
    stored_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _stored(stored_demo, "sessions")
    with Store(stored_demo, readonly=True) as store:
        searches = tables.list_extra_field(store, "sessions", "search", limit=100)
    # a word of what `/` searches in the last line only (its logon id, an address...)
    needle = next(word for word in searches[-1].split() if not any(word in s for s in searches[:-1]))
    hold, held, real = [True], [], lp.ListFeeder._schedule

    def schedule(self: lp.ListFeeder) -> None:
        if hold[0]:
            held.append(self)  # no more batches for now
        else:
            real(self)

    monkeypatch.setattr(lp.ListFeeder, "_schedule", schedule)
    app = Harness(stored_demo, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        await wait_for(pilot, lambda: table.row_count == lp.FIRST and len(screen._searches) == len(expected))
        await pilot.press("slash", *needle, "enter")
        await pilot.pause(0.1)
        assert table.row_count == lp.FIRST and table.cursor_row == 0  # its line is not in yet
        hold[0] = False
        held[-1]._schedule()
        await wait_for(pilot, lambda: table.row_count == len(expected))
        await wait_for(pilot, lambda: table.cursor_row == len(expected) - 1)
        assert [cell.plain for cell in table.get_row_at(table.cursor_row)] == expected[-1]
