"""Pilot tests of the real app (`tui.app.EvtxApp` on the demo log) for the app bugs of issue 13:
export of the filtered view, the state after `esc` stops a load, markup in searches, the
Handles list's target columns and weakest link, the Sessions counts, and keys typed while a
bar or dialog opens."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from textual import events
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, Static, TextArea

from tests.app.applogs import big_log
from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.export_dialog import ExportDialog
from tui.marks import NoteDialog
from tui.nav_tree import NavTree, SearchInput


async def burst(pilot: Any, *keys: str) -> None:
    """Deliver `keys` the way a paste or a fast typist does: all queued before the app handles
    the first one (`pilot.press` waits for the app to settle after every key, which hides the
    bug), then let the app run."""
    app = pilot.app
    for key in keys:
        char = key if len(key) == 1 else {"slash": "/", "space": " "}.get(key)
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause(0.3)


def tree_filled(app: EvtxApp) -> bool:
    trees = app.screen.query(NavTree)
    return bool(trees) and bool(trees.first().root.children)


def status_line(app: EvtxApp) -> str:
    return str(app.query_one("#status-text", Static).render())


# -- 1. `e` and "Export view" export the filtered view ---------------------------------------


async def _export_through_dialog(pilot: Any, app: EvtxApp, fmt: str, target: Path) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    assert dialog.title_text.startswith("Export the view")
    assert dialog.formats == ["csv", "jsonl", "md"]
    dialog.select_format(fmt)
    dialog.query_one(Input).value = str(target)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
    assert target.exists()


@sync
async def test_e_on_the_events_screen_exports_the_filtered_view(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app.set_filter("4688")
        await wait_for(pilot, lambda: app.table.total is not None and app.table.total < 71)
        shown = app.table.total
        assert shown is not None and shown > 1
        await pilot.press("enter")  # the detail pane (a tree) has focus: still the view
        await pilot.press("e")
        await _export_through_dialog(pilot, app, "jsonl", tmp_path / "view.jsonl")
        rows = [json.loads(line) for line in (tmp_path / "view.jsonl").read_text().splitlines()]
        assert len(rows) == shown
        assert {row["event_id"] for row in rows} == {4688}

        await pilot.press("e")
        await _export_through_dialog(pilot, app, "csv", tmp_path / "view.csv")
        with (tmp_path / "view.csv").open(newline="") as fh:
            assert len(list(csv.DictReader(fh))) == shown


@sync
async def test_export_view_in_the_command_palette_exports_the_filtered_view(tmp_path: Path) -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app.set_filter("4624")
        await wait_for(pilot, lambda: app.table.total is not None and app.table.total < 71)
        shown = app.table.total
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Export view")

        def offered() -> bool:
            options = app.screen.query_one(CommandList)
            return options.highlighted is not None and "Export view" in str(
                options.get_option_at_index(options.highlighted).prompt)

        await wait_for(pilot, offered)
        await pilot.press("enter")
        await _export_through_dialog(pilot, app, "md", tmp_path / "view.md")
        table_rows = [line for line in (tmp_path / "view.md").read_text().splitlines() if line.startswith("|")]
        assert len(table_rows) - 2 == shown  # heading and separator lines


# -- 2. the status after `esc` stopped a load -------------------------------------------------


@sync
async def test_stopped_load_shows_the_stopped_state_with_the_count(tmp_path: Path) -> None:
    log = big_log(tmp_path / "big.xml", 60_000)
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (160, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(0) is not None, timeout=30)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.workspace.loaded, timeout=30)
        await wait_for(pilot, lambda: app.table.total is not None)
        await pilot.pause(0.2)
        line = status_line(app)
        assert "stopping" not in line
        loaded = app.table.total
        assert loaded is not None and 0 < loaded < 60_000
        assert f"loading stopped: {loaded:,} events loaded" in line


# -- 3. searching a tree for markup ----------------------------------------------------------


@sync
async def test_tree_search_for_markup_that_is_not_found_says_so_literally() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30), notifications=True) as pilot:  # toasts drawn
        await pilot.press("4")
        await wait_for(pilot, lambda: tree_filled(app))
        await pilot.press("slash")
        await pilot.press(*"x[/]y[bold]", "enter")
        await wait_for(pilot, lambda: "not found: x[/]y[bold]" in screen_text(app))
        assert app.is_running


# -- 4. the Handles list: target columns and the weakest link ---------------------------------


async def _handles(pilot: Any, app: EvtxApp) -> DataTable[Any]:
    await pilot.press("3")
    await wait_for(pilot, lambda: bool(app.screen.query("#handles-table")))
    table = app.screen.query_one("#handles-table", DataTable)
    await wait_for(pilot, lambda: table.row_count > 0)
    await pilot.pause(0.3)
    return table


def _table_lines(app: EvtxApp) -> list[str]:
    table = app.screen.query_one("#handles-table", DataTable)
    region = table.region
    lines = screen_text(app).splitlines()
    return lines[region.y:region.y + region.height]


@sync
async def test_handles_list_shows_the_target_and_why_the_link_is_weak_at_80x24() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (80, 24)) as pilot:
        await _handles(pilot, app)
        lines = "\n".join(_table_lines(app))
        assert "Target process" in lines and "System 0x4" in lines and "0x1a8c" in lines
        text = screen_text(app)
        assert "inferred: target process System 0x4" in text  # the weakest link, named


@sync
async def test_handles_list_shows_the_target_and_why_the_link_is_weak_at_160x48() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 48)) as pilot:
        await _handles(pilot, app)
        lines = "\n".join(_table_lines(app))
        assert "Target process" in lines and "System 0x4" in lines and "0x1a8c" in lines
        why = str(app.screen.query_one("#handles-why", Static).render())
        assert "weakest link" in why and "inferred: target process System 0x4" in why
        assert "pid 4 is System" in why  # the engine's reason, not just the word


# -- 5. the Sessions counts --------------------------------------------------------------------


@sync
async def test_sessions_header_counts_what_is_listed_with_plurals() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 30)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: tree_filled(app))
        from tui.sessions import SessionsTable

        table = app.screen.query_one(SessionsTable)
        hosts = Counter(table.get_row_at(i)[1].plain for i in range(table.row_count))
        assert hosts == {"DC01.contoso.local": 2, "WS01.contoso.local": 6}
        assert "8 logon sessions on 2 computers" in screen_text(app)


def test_session_counts_use_singular_for_one() -> None:
    from tui.words import plural

    assert plural(1, "logon session") == "1 logon session"
    assert plural(0, "computer") == "0 computers"
    assert plural(1, "computer") == "1 computer"
    assert plural(1234, "computer") == "1,234 computers"


# -- 6. keys typed while the bar or a dialog opens ---------------------------------------------


@sync
async def test_keys_typed_right_after_slash_go_to_the_filter_bar() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await burst(pilot, "slash", "4", "6", "8", "8")
        await wait_for(pilot, lambda: app.filter_bar.input.value == "4688", timeout=5)
        await wait_for(pilot, lambda: app.workspace.query == "4688")
        assert app.screen is app.screen_stack[0]  # `4` did not open Sessions, `6` not Marks


@sync
async def test_keys_typed_while_the_note_dialog_opens_go_into_the_note() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        assert app.workspace.case is not None and len(app.workspace.case) == 0
        await burst(pilot, "M", *"mm 4 note")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog), timeout=5)
        area = app.screen.query_one(TextArea)
        await wait_for(pilot, lambda: area.text == "mm 4 note", timeout=5)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, NoteDialog))
        assert [m.note for m in app.workspace.case.marks()] == ["mm 4 note"]  # one mark, no stray ones


@sync
async def test_keys_typed_right_after_slash_in_a_view_go_to_its_search_box() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 30)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: tree_filled(app))
        screen = app.screen
        await burst(pilot, "slash", *"adm-bob")
        box = screen.query_one(SearchInput)
        await wait_for(pilot, lambda: box.value == "adm-bob", timeout=5)
        assert app.screen is screen


def test_a_key_routed_to_a_text_box_is_never_routed_again() -> None:
    """A box that lets a routed key through (read-only) leaves it to the bindings: no loop."""
    from tui.typeahead import _routed, route_typeahead

    routed = _routed(events.Key("a", "a"))
    assert route_typeahead(None, routed) is False  # type: ignore[arg-type]  # no screen on purpose: never read


def test_worker_messages_that_arrive_after_the_screens_are_gone_do_nothing(tmp_path: Path) -> None:
    """A load or Sigma worker may still post after the user quit (the screens are already
    removed): its late messages must not raise (they did: IndexError from `screen_stack[0]`)."""
    from core.findings.sigma.progress import SigmaProgress
    from core.store.ingest import Progress
    from tui.messages import LoadFinished, LoadProgress, LoadStarted, SigmaProgressed

    app = EvtxApp([str(DEMO)], use_cache=False)
    assert not app.screen_stack
    app.on_load_started(LoadStarted(tmp_path / "store.sqlite"))
    app.on_load_progress(LoadProgress(Progress(0, str(DEMO), 10, 0, 100, 1000, 0.1)))
    app.on_load_finished(LoadFinished())
    app.on_sigma_progressed(SigmaProgressed(SigmaProgress("loading", 1, 10)))
    assert app.workspace.store_path is None and not app.workspace.loaded


def _lock_fds() -> list[str]:
    import os

    out: list[str] = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith(".lock"):
            out.append(target)
    return out


def test_an_app_that_ended_holds_no_cache_lock(tmp_path: Path, monkeypatch: Any) -> None:
    """The cache entry's lease (lock file descriptors) is let go when the app ends: before,
    every app opened in one process kept one or two lock files open until the process ended."""
    import pytest

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    before = _lock_fds()

    @sync
    async def run() -> None:
        for _ in range(2):  # a build, then a reopen from the cache
            app = EvtxApp([str(DEMO)])
            async with opened(app):
                assert app.workspace.store_path is not None

    run()
    assert [f for f in _lock_fds() if f not in before] == []
