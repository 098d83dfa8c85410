"""The long lists made from the model (`tui.list_pages.MadeLines`): a first open shows a
20,000-line Handles list having made the lines on screen only (making all of them was most of
the view's 3 s at a million events), and its end is one key away; and a list view says it is
reading its list, not building the model, while it looks it up in the store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import tui.handles as handles
from core.correlate.model import CorrelationModel
from tests.app.story import Harness
from tests.apputil import opened, screen_text, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.handles import HandlesScreen, HandlesTable
from tui.model_cache import ModelCache
from tui.sessions import SessionsScreen
from tui.workspace import Workspace

LONG = 20_000


@sync
async def test_a_first_open_makes_only_the_lines_on_screen(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = CorrelationModel.handle_duplications
    monkeypatch.setattr(CorrelationModel, "handle_duplications", lambda self: real(self) * (LONG // 2))
    made: list[object] = []
    real_row = handles.handle_row

    def counted(dup: Any) -> Any:
        made.append(dup)
        return real_row(dup)

    monkeypatch.setattr(handles, "handle_row", counted)
    monkeypatch.setattr(Workspace, "store_views_later", lambda *args: None)  # (it makes every line)
    app = Harness(demo_store, HandlesScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: "enter: to the tree" in screen_text(app))
        assert len(made) <= 100  # the lines on screen, not 20,000
        assert "20,000 handle duplications (4690)" in screen_text(app) and table.row_count == LONG
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == LONG - 1)
        await pilot.pause(0.1)
        assert len(made) <= 200
        last = real_row(real(app.workspace.model()[0])[1])
        assert [cell.plain for cell in table.get_row_at(LONG - 1)] == [cell.plain for cell in last.cells]
        assert last.why.plain[:100] in screen_text(app)  # the line above the list explains the last line


@pytest.mark.parametrize("screen", [HandlesScreen, SessionsScreen])
@sync
async def test_a_stored_list_says_it_is_read_not_built(
    demo_store: Path, monkeypatch: pytest.MonkeyPatch, screen: Any
) -> None:
    assert ModelCache().stored_view(demo_store, True, "sessions", BUILDERS, wait=True)
    go = threading.Event()
    real = ModelCache.stored_view

    def held(self: ModelCache, *args: Any, **kwargs: Any) -> bool:
        go.wait(10)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ModelCache, "stored_view", held)
    app = Harness(demo_store, screen)
    async with opened(app, (160, 48), ready=False) as pilot:
        await wait_for(pilot, lambda: app.screen.is_mounted and bool(app.screen.query("#view-status")))
        await pilot.pause(0.3)
        status = str(app.screen.query_one("#view-status").render())
        assert status.startswith("reading the list") and "building" not in screen_text(app)
        go.set()
        await wait_for(pilot, lambda: "enter: to the tree" in screen_text(app))
