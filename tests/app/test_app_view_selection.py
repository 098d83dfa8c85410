"""Keys pressed in a view act on what that view highlights: `c` in the Handles view opens the
highlighted 4690's correlation, `m` in the Marks view toggles the highlighted mark, `y` in the
Processes view copies the highlighted node's event; never the event table's row hidden behind
the view."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store.store import Store
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.handles import HandlesScreen
from tui.marks import MarksScreen
from tui.nav_tree import NavTree


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@sync
async def test_correlate_in_handles_view_opens_the_highlighted_4690() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        main_row = app.selected_event()
        assert main_row is not None and main_row.event.event_id != 4690
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, HandlesScreen)
                       and app.screen.selected_row() is not None)
        handles = app.screen
        assert isinstance(handles, HandlesScreen)
        await pilot.press("down")  # the second 4690
        await pilot.pause(0.1)
        wanted = handles.selected_row()
        assert wanted is not None
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        assert isinstance(app.screen, CorrelationScreen) and app.screen.store_id == wanted.store_id


@sync
async def test_mark_in_marks_view_toggles_the_highlighted_mark_not_the_hidden_row() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("j", "j", "m")  # mark the third event
        await wait_for(pilot, lambda: app.workspace.case is not None and len(app.workspace.case) == 1)
        third = app.selected_event()
        assert third is not None
        await pilot.press("g")  # the table's cursor moves away from the marked event
        await wait_for(pilot, lambda: app.selected_event() is not None and app.selected_event() != third)
        await pilot.press("6")
        await wait_for(pilot, lambda: isinstance(app.screen, MarksScreen)
                       and app.screen.selected_store_id() is not None)
        await pilot.press("m")  # on the Marks view: the highlighted mark's event
        await pilot.pause(0.2)
        # Before the fix this marked the first event (hidden behind the view): two marks.
        assert app.workspace.case is not None and len(app.workspace.case) == 0


@sync
async def test_copy_in_processes_view_copies_the_node_event(monkeypatch: pytest.MonkeyPatch) -> None:
    app = EvtxApp([str(DEMO)])
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with opened(app, (100, 30)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ProcessesScreen")
        tree = app.screen.query_one("#processes-tree", NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        # Walk down to the first process node (it carries its 4688's store id).
        for _ in range(10):
            node = tree.cursor_node
            if node is not None and node.data is not None and node.data.store_id is not None:
                break
            await pilot.press("j")
            await pilot.pause(0.05)
        node = tree.cursor_node
        assert node is not None and node.data is not None and node.data.store_id is not None
        sid = node.data.store_id
        await pilot.press("y")
        await pilot.pause(0.1)
        assert copied, "y copied nothing"
        with Store(app.workspace.require_store(), readonly=True) as store:
            se = store.get(sid)
        assert se is not None
        assert se.event.event_id == 4688
        assert copied[-1].startswith(f"Event 4688 (record {se.event.record_id})")
