"""A dialog over the app: `esc` on an export still running closes the dialog and leaves the
screen below alone once the export ends (the worker's late result must not pop another
screen), and the app's keys do not fire behind a modal dialog."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.export_dialog import ExportDialog


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@sync
async def test_esc_on_a_running_export_does_not_close_another_screen_later(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    release = threading.Event()

    def slow_job(fmt: str, target: Path, overwrite: bool) -> int:
        release.wait(10)
        target.write_text("x\n")
        return 1

    async with opened(app, (100, 30)) as pilot:
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


@sync
async def test_app_keys_do_not_fire_behind_a_modal_dialog(tmp_path: Path) -> None:
    """With focus on an export dialog's format choice, `q` must not quit the app and `3` must
    not open a view over the dialog; `esc` still closes the dialog. (Textual's ModalScreen
    already keeps app bindings out; this guards against a priority binding breaking that.)"""
    app = EvtxApp([str(DEMO)])

    def job(fmt: str, target: Path, overwrite: bool) -> int:
        target.write_text("x\n")
        return 1

    async with opened(app, (100, 30)) as pilot:
        dialog = ExportDialog("Export", ("csv", "jsonl"), tmp_path / "out.csv", job)
        app.push_screen(dialog)
        await wait_for(pilot, lambda: app.screen is dialog and bool(dialog.query("#export-format")))
        dialog.query_one("#export-format").focus()
        await pilot.pause(0.1)
        await pilot.press("q", "3", "m")
        await pilot.pause(0.3)
        assert app.is_running and app.screen is dialog
        assert not app.workspace.case or not len(app.workspace.case)  # `m` did not mark the row behind the dialog
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not dialog)
        await pilot.press("3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HandlesScreen")
