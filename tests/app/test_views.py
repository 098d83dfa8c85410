"""Pilot tests of the correlation, processes, handles, sessions and findings views, each pushed
onto `tests.app.story.Harness` over the story log (`story_store`); through the real app on the
demo log in test_views_demo.py."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.screen import Screen

from core.store.store import Store
from tests.app.story import (
    DC,
    LSASS,
    MIMI,
    WS,
    Harness,
    cursor_to,
    label_text,
    store_ids,
    tree_lines,
    under,
)
from tests.apputil import opened, sync, wait_for
from tui.correlation import CorrelationScreen
from tui.handles import HandlesScreen, HandlesTable
from tui.nav_tree import NavTree, ViewNode, node_label
from tui.processes import ProcessesScreen
from tui.sessions import SessionsScreen, SessionsTable

# -- Handles ----------------------------------------------------------------------------------


@sync
async def test_handles_lists_4690_with_resolved_processes_and_jumps_to_source_4688(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, HandlesScreen)
    async with opened(app, (100, 30)) as pilot:
        screen = app.screen
        table = screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        assert table.row_count == 1
        row = [cell.plain for cell in table.get_row_at(0)]
        assert row[6] == "5"
        assert row[1] == "mimikatz.exe 0x1234" and row[2] == "0x44"
        assert row[3] == "System 0x4" and row[4] == "0x88"
        # The weakest link of the row, as a word: the source handle's 4656 came after the 4690;
        # the line above the list names that link and says why.
        assert row[0].strip() == "inferred" and row[7] == WS
        why = str(screen.query_one("#handles-why").render())
        assert why.startswith("weakest link: inferred: source handle handle 0x44 - ")
        tree = screen.query_one("#handles-tree", NavTree)
        await wait_for(pilot, lambda: any("source process" in t for t in tree_lines(tree)))
        lines = tree_lines(tree)
        # The source process's image, with its parent, the handle's object, accesses, close.
        assert any(MIMI in t for t in lines)
        assert any(t.startswith("exact") and "parent: cmd.exe 0x1000" in t for t in lines)
        assert any("source handle: handle 0x44: Process " + LSASS in t for t in lines)
        assert any("accessed: 4663 record 7" in t for t in lines)
        assert any("closed: 4658 record 8" in t for t in lines)
        # The target handle's 4658 carries the source pid: still found.
        assert any("closed: 4658 record 9" in t for t in lines)
        assert any("logon session 0x1a2b3: CONTOSO\\alice" in t for t in lines)
        # The 4656 was logged after the 4690: the link says so, as a word.
        assert any(t.startswith("inferred") and "source handle" in t for t in lines)
        await pilot.press("enter")  # from the list into the tree
        assert tree.has_focus
        await cursor_to(pilot, tree, "source process: mimikatz.exe")
        await pilot.press("enter")
        assert app.jumps == [ids[(WS, 4)]]


@sync
async def test_handles_tree_shows_hostile_text_literally(story_store: Path) -> None:
    app = Harness(story_store, HandlesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one("#handles-tree", NavTree)
        await wait_for(pilot, lambda: any("command line" in t for t in tree_lines(tree)))
        line = next(n for n in tree.walk() if "command line" in label_text(n).plain)
        assert "[red]x[/red]" in label_text(line).plain
        assert "\x1b" not in label_text(line).plain
        assert all(not span.style or "red" not in str(span.style) for span in label_text(line).spans[1:])


@sync
async def test_handles_view_at_80x24_stacks_list_and_tree(story_store: Path) -> None:
    app = Harness(story_store, HandlesScreen)
    async with opened(app, (80, 24)) as pilot:
        screen = app.screen
        table = screen.query_one(HandlesTable)
        tree = screen.query_one("#handles-tree", NavTree)
        await wait_for(pilot, lambda: table.row_count > 0 and len(tree.root.children) > 0)
        assert not screen.query_one("#handles-body").has_class("-wide")
        assert table.region.height >= 4 and tree.region.height >= 6
        assert tree.region.y > table.region.y
        await pilot.press("tab")
        assert tree.has_focus
        await pilot.press("escape")
        assert not isinstance(app.screen, HandlesScreen)


# -- Correlation ------------------------------------------------------------------------------


@sync
async def test_correlation_screen_labels_every_node_with_a_confidence_word(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, lambda ws: CorrelationScreen(ws, ids[(WS, 9)]))
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        lines = tree_lines(tree)
        words = ("exact", "inferred", "ambiguous", "missing")
        assert lines and all(t.split(" ")[0] in words for t in lines), lines
        # The 4658 under the source pid closes the handle the 4690 put into System.
        assert any("created by duplication: 4690 record 5" in t for t in lines)
        title = app.screen.query_one("#view-title").render()
        assert "record 9" in str(title) and "EventID 4658" in str(title)
        await cursor_to(pilot, tree, "created by duplication")
        await pilot.press("enter")
        assert app.jumps == [ids[(WS, 5)]]


@sync
async def test_correlation_node_without_event_says_why(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, lambda ws: CorrelationScreen(ws, ids[(WS, 3)]))
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        lines = tree_lines(tree)
        # cmd.exe's parent explorer.exe has no 4688: pre-existing, inferred, with the reason.
        parent = next(t for t in lines if t.split()[1:3] == ["parent", "process:"])
        assert parent.startswith("inferred") and "explorer.exe 0x200" in parent and "pre-existing" in parent
        assert any("started before the log begins" in t for t in lines)
        await cursor_to(pilot, tree, "why: no 4688 for 0x200")
        await pilot.press("enter")
        assert app.jumps == []


@sync
async def test_correlation_search_finds_and_reveals_a_node(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, lambda ws: CorrelationScreen(ws, ids[(WS, 5)]))
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        await pilot.press("slash")
        await pilot.press(*"logoff")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert tree.has_focus
        assert tree.cursor_node is not None and "logoff: 4634 record 13" in label_text(tree.cursor_node).plain


@sync
async def test_unknown_store_id_shows_an_error_not_a_crash(story_store: Path) -> None:
    app = Harness(story_store, lambda ws: CorrelationScreen(ws, 99999))
    async with opened(app, (80, 24)) as pilot:
        status = app.screen.query_one("#view-status")
        await wait_for(pilot, lambda: "no event" in str(status.render()))


# -- Processes --------------------------------------------------------------------------------


@sync
async def test_processes_shows_reused_pid_as_two_instances_and_pre_existing_inferred(
    story_store: Path,
) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, ProcessesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        computers = [label_text(n).plain for n in tree.root.children]
        assert computers[0].startswith(DC) and computers[1].startswith(WS)
        ws = tree.root.children[1]
        ws_lines = [label_text(n).plain for n in tree.walk() if under(n, ws)]
        instances = [t for t in ws_lines if "0x1234 (4660)" in t and "created" in t]
        assert len(instances) == 2, ws_lines
        assert any("mimikatz.exe" in t for t in instances) and any("notepad.exe" in t for t in instances)
        explorer = next(t for t in ws_lines if "explorer.exe 0x200" in t)
        assert explorer.startswith("inferred") and "pre-existing" in explorer
        # Same pid on DC01 is a third, separate process under its own computer.
        dc = tree.root.children[0]
        assert any("svchost.exe 0x1234" in label_text(n).plain for n in tree.walk() if under(n, dc))
        # The pid-reused instance ended by its 4689, then notepad: enter jumps to notepad's 4688.
        await cursor_to(pilot, tree, "notepad.exe 0x1234")
        await pilot.press("enter")
        assert app.jumps == [ids[(WS, 11)]]


@sync
async def test_processes_enter_on_computer_folds_and_space_unfolds(story_store: Path) -> None:
    app = Harness(story_store, ProcessesScreen)
    async with opened(app, (80, 24)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        first = tree.root.children[0]
        assert tree.cursor_node is first and first.is_expanded
        await pilot.press("enter")
        assert not first.is_expanded and app.jumps == []
        await pilot.press("space")
        assert first.is_expanded


# -- Sessions ---------------------------------------------------------------------------------


@sync
async def test_sessions_lists_logon_with_type_user_privileged_and_processes(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, SessionsScreen)
    async with opened(app, (100, 30)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
        # Logon ids are scoped by computer: DC01's process with that id is not in WS01's session.
        dc = next(r for r in rows if r[1] == DC)
        assert dc[0] == "before the log" and dc[7] == "1"
        ws = next(r for r in rows if r[1] == WS)
        assert ws[:4] == ["2024-03-01 10:00:01", WS, "CONTOSO\\alice", "2 Interactive"]
        assert (ws[6], ws[7], ws[8]) == ("yes", "3", "2024-03-01 10:00:10")
        await pilot.press("j")  # the DC01 row is first (it began before the log)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: any("0x1a2b3" in t for t in tree_lines(tree)))
        lines = tree_lines(tree)
        assert any("special privileges assigned: 4672 record 2" in t for t in lines)
        assert any("end (logoff): 4634 record 13" in t for t in lines)
        assert any("mimikatz.exe 0x1234" in t and MIMI in t for t in lines)
        await pilot.press("enter")  # to the tree, on the session's 4624
        assert tree.has_focus
        await pilot.press("enter")
        assert app.jumps == [ids[(WS, 1)]]


# -- Model cache ------------------------------------------------------------------------------


@sync
async def test_model_is_built_once_and_shared_by_the_views(
    story_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.model_cache as mc

    calls: list[str] = []
    real = mc.build_model

    def counting(store: Store, progress: Any = None) -> Any:
        calls.append(str(store.path))
        return real(store, progress)

    monkeypatch.setattr(mc, "build_model", counting)
    app = Harness(story_store, ProcessesScreen)
    async with opened(app, (100, 30)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children))
        await app.push_screen(HandlesScreen(app.workspace))
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        await app.push_screen(SessionsScreen(app.workspace))
        sessions = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(sessions.root.children))
    assert calls == [str(story_store)]


@sync
async def test_partial_model_is_rebuilt_when_loading_finishes(
    story_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.model_cache as mc

    calls: list[int] = []
    real = mc.build_model

    def counting(store: Store, progress: Any = None) -> Any:
        calls.append(1)
        return real(store, progress)

    monkeypatch.setattr(mc, "build_model", counting)
    app = Harness(story_store, ProcessesScreen, loaded=False)
    async with opened(app, (100, 30)) as pilot:
        status = app.screen.query_one("#view-status")
        await wait_for(pilot, lambda: "still loading" in str(status.render()))
        assert calls == [1]
        app.workspace.loaded = True
        await wait_for(pilot, lambda: "still loading" not in str(status.render()), timeout=3)
        assert calls == [1, 1]


# -- rendering --------------------------------------------------------------------------------


def test_node_label_is_literal_and_carries_the_confidence_word() -> None:
    text = node_label(ViewNode("cmd [bold]x[/bold] \x1b]52;c;AAAA\x07", confidence="missing"))
    assert isinstance(text, Text)
    assert text.plain == "missing   cmd [bold]x[/bold] \\x1b]52;c;AAAA\\x07"
    assert "\x1b" not in text.plain


def test_views_never_build_markup_strings() -> None:
    root = Path(__file__).resolve().parents[2] / "tui"
    for name in ("correlation.py", "handles.py", "processes.py", "sessions.py", "findings_view.py"):
        source = (root / name).read_text(encoding="utf-8")
        assert "from_markup" not in source and "Text.from_ansi" not in source, name


def _screen_types() -> list[type[Screen[Any]]]:
    return [HandlesScreen, ProcessesScreen, SessionsScreen]


@sync
async def test_views_say_how_far_the_model_build_is(story_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model takes 10 s and more at a million events: the view's status line says how many
    events have been read, then that the view is being prepared, then shows the result."""
    import threading

    import tui.model_cache as mc

    real = mc.build_model
    steps = [threading.Event(), threading.Event()]

    def slow(store: Store, progress: Any = None) -> Any:
        assert progress is not None
        progress(20_000, 1_000_000)
        steps[0].wait(10)
        progress(1_000_000, 1_000_000)
        steps[1].wait(10)
        return real(store, None)

    monkeypatch.setattr(mc, "build_model", slow)
    for screen in (ProcessesScreen, HandlesScreen):
        for step in steps:
            step.clear()
        await _progress_shown(Harness(story_store, screen), steps)


async def _progress_shown(app: Harness, steps: list[Any]) -> None:
    async with opened(app, ready=False) as pilot:  # the model build waits for the test
        shown = functools.partial(_status_text, app.screen.query_one("#view-status"))
        await wait_for(pilot, lambda: "20,000 of 1,000,000 events read" in shown())
        steps[0].set()
        await wait_for(pilot, lambda: "1,000,000 events read, preparing the view" in shown())
        steps[1].set()
        await wait_for(pilot, lambda: "events read" not in shown() and "building" not in shown())
        await pilot.pause(0.4)  # the progress timer has stopped: the result stays
        assert "events read" not in shown()


def _status_text(status: Any) -> str:
    return str(status.render())
