"""Review findings on the terminal app, each pinned by a Pilot test of what the analyst sees.

- `c`, `m`, `y` pressed in a view (Handles, Marks, a tree) act on what that view highlights, not
  on the event table's row hidden behind the view.
- `esc` on an export still running closes the dialog and leaves the screen below alone once the
  export ends (a regression guard: the worker's late result must not pop another screen).
- At 80 columns the status line keeps the parse-issue count visible while loading.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.apputil import DEMO, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.export_dialog import ExportDialog
from tui.status import LoadState


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


async def ready(pilot: Any, app: EvtxApp) -> None:
    await wait_for(pilot, lambda: app.loaded and app.table.total is not None and app.table.row_at(0) is not None)
    await wait_for(pilot, lambda: app.case is not None)
    await pilot.pause(0.05)


# -- keys in the views act on the view's selection ------------------------------------------------


@sync
async def test_correlate_in_handles_view_opens_the_highlighted_4690() -> None:
    app = EvtxApp([str(DEMO)])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        main_row = app.selected_event()
        assert main_row is not None and main_row.event.event_id != 4690
        await pilot.press("3")
        await wait_for(pilot, lambda: bool(getattr(app.screen, "_dups", None)))
        handles = app.screen
        await pilot.press("down")  # the second 4690
        await pilot.pause(0.1)
        wanted = handles.selected_duplication()  # type: ignore[attr-defined]
        assert wanted is not None
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        assert app.screen.store_id == int(wanted.event.store_id)  # type: ignore[attr-defined]


@sync
async def test_mark_in_marks_view_toggles_the_highlighted_mark_not_the_hidden_row() -> None:
    app = EvtxApp([str(DEMO)])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("j", "j", "m")  # mark the third event
        await wait_for(pilot, lambda: len(app.case) == 1)
        third = app.selected_event()
        assert third is not None
        await pilot.press("g")  # the table's cursor moves away from the marked event
        await wait_for(pilot, lambda: app.selected_event() is not None and app.selected_event() != third)
        await pilot.press("6")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MarksScreen")
        await wait_for(pilot, lambda: bool(app.screen._ids))  # type: ignore[attr-defined]
        await pilot.press("m")  # on the Marks view: the highlighted mark's event
        await pilot.pause(0.2)
        # Before the fix this marked the first event (hidden behind the view): two marks.
        assert len(app.case) == 0


@sync
async def test_copy_in_processes_view_copies_the_node_event(monkeypatch: pytest.MonkeyPatch) -> None:
    app = EvtxApp([str(DEMO)])
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("2")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ProcessesScreen")
        tree = app.screen.query_one("#processes-tree")
        await wait_for(pilot, lambda: bool(tree.root.children))  # type: ignore[attr-defined]
        # Walk down to the first process node (it carries its 4688's store id).
        for _ in range(10):
            node = tree.cursor_node  # type: ignore[attr-defined]
            if node is not None and getattr(node.data, "store_id", None) is not None:
                break
            await pilot.press("j")
            await pilot.pause(0.05)
        node = tree.cursor_node  # type: ignore[attr-defined]
        sid = int(node.data.store_id)
        await pilot.press("y")
        await pilot.pause(0.1)
        assert copied, "y copied nothing"
        from core.store.store import Store

        with Store(app.store_path, readonly=True) as store:  # type: ignore[arg-type]
            se = store.get(sid)
        assert se is not None
        assert se.event.event_id == 4688
        assert copied[-1].startswith(f"Event 4688 (record {se.event.record_id})")


# -- the export dialog ------------------------------------------------------------------------------


@sync
async def test_esc_on_a_running_export_does_not_close_another_screen_later(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    release = threading.Event()

    def slow_job(fmt: str, target: Path, overwrite: bool) -> int:
        release.wait(10)
        target.write_text("x\n")
        return 1

    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("3")  # a view under the dialog
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HandlesScreen")
        handles = app.screen
        dialog = ExportDialog("Export", ("csv",), tmp_path / "out.csv", slow_job)
        app.push_screen(dialog)
        await wait_for(pilot, lambda: app.screen is dialog)
        await pilot.press("enter")  # start the export
        await wait_for(pilot, lambda: dialog.running)
        await pilot.press("escape")  # changed my mind
        await wait_for(pilot, lambda: app.screen is handles)
        release.set()
        await pilot.pause(0.5)
        # Before the fix the finished worker dismissed the dialog again: the Handles view went.
        assert app.screen is handles
        assert (tmp_path / "out.csv").exists()


# -- the status line at 80x24 -----------------------------------------------------------------------


@sync
async def test_status_line_shows_parse_issues_while_loading_at_80_columns() -> None:
    app = EvtxApp([str(DEMO)])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        # As the app is while a big log with damaged chunks is still being read.
        app.load_state = LoadState(records=1_234_567, bytes_done=50_000_000, bytes_total=105_000_000,
                                   elapsed=20.0, active=True)
        app.issue_count = 1_234
        app.error_count = 1
        app._refresh_status()
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "1,234 parse issues" in text
        assert "esc stops" in text


@sync
async def test_app_keys_do_not_fire_behind_a_modal_dialog(tmp_path: Path) -> None:
    """With focus on an export dialog's format choice, `q` must not quit the app and `3` must
    not open a view over the dialog; `esc` still closes the dialog. (Textual's ModalScreen
    already keeps app bindings out; this guards against a priority binding breaking that.)"""
    app = EvtxApp([str(DEMO)])

    def job(fmt: str, target: Path, overwrite: bool) -> int:
        target.write_text("x\n")
        return 1

    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        dialog = ExportDialog("Export", ("csv", "jsonl"), tmp_path / "out.csv", job)
        app.push_screen(dialog)
        await wait_for(pilot, lambda: app.screen is dialog and bool(dialog.query("#export-format")))
        dialog.query_one("#export-format").focus()
        await pilot.pause(0.1)
        await pilot.press("q", "3", "m")
        await pilot.pause(0.3)
        assert app.is_running and app.screen is dialog
        assert not app.case or not len(app.case)  # `m` did not mark the row behind the dialog
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not dialog)
        await pilot.press("3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HandlesScreen")
