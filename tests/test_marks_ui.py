"""Pilot tests of the case workflow: marks and notes through the real app (and back after a
restart), the Marks view, the export dialog, copying an event and a tree."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, TextArea, Tree

from core.query.compile import Compiled, compile_query
from core.report.case import Case
from core.store.store import Store, StoredEvent
from tests.test_case import build_store, write_input
from tests.test_export import _xml_log
from tui import case_actions
from tui.export_dialog import ExportDialog
from tui.marks import MarksScreen, NoteDialog


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body with asyncio (no async pytest plugin is installed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


async def _until(pilot: Any, cond: Any, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


# -- through the real app -----------------------------------------------------------------------


@run_async
async def test_mark_annotate_restart_marks_and_notes_are_back(tmp_path: Path) -> None:
    from tui.app import EvtxApp

    log = _xml_log(tmp_path / "log.xml")
    app = EvtxApp([str(log)])
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: app.loaded and app.case is not None)
        assert app.store_path is not None
        with Store(app.store_path, readonly=True) as store:
            events = store.select()
        app.jump_to_event(events[1].id)
        await _until(pilot, lambda: (app.selected_event() or events[0]).id == events[1].id)
        await pilot.press("m")
        await pilot.pause()
        assert app.table.marked == {events[1].id}
        app.jump_to_event(events[2].id)
        await _until(pilot, lambda: (app.selected_event() or events[0]).id == events[2].id)
        await pilot.press("M")
        await _until(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"beacon [red]x[/red]")
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: not isinstance(app.screen, NoteDialog))
        assert app.table.marked == {events[1].id, events[2].id}

    again = EvtxApp([str(log)])  # a fresh app on the same inputs
    async with again.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: again.loaded and again.case is not None)
        await pilot.pause()
        assert again.table.marked == {events[1].id, events[2].id}
        await pilot.press("6")
        await _until(pilot, lambda: isinstance(again.screen, MarksScreen))
        table = again.screen.query_one(DataTable)
        await _until(pilot, lambda: table.row_count == 2)
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(2)]
        assert rows[0][2:4] == [str(events[1].event.event_id), str(events[1].event.record_id)]
        assert rows[1][4] == "beacon [red]x[/red]"  # shown literally, not as markup
        # enter jumps to the marked event in the events view; u/U go from mark to mark.
        await pilot.press("enter")
        await _until(pilot, lambda: not isinstance(again.screen, MarksScreen))
        await _until(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)
        again.jump_to_event(events[0].id)
        await _until(pilot, lambda: (again.selected_event() or events[2]).id == events[0].id)
        await pilot.press("u")
        await _until(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)
        await pilot.press("u")
        await _until(pilot, lambda: (again.selected_event() or events[0]).id == events[2].id)
        await pilot.press("U")
        await _until(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)


# -- a tiny app with the contract's attributes --------------------------------------------------


class CaseApp(App[None]):
    """The integration contract's attributes, and the case keys bound to `tui.case_actions`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        ("m", "act('toggle_mark')", "Mark"),
        ("M", "act('edit_note')", "Note"),
        ("u", "next(True)", "Next"),
        ("U", "next(False)", "Prev"),
        ("e", "act('export_view')", "Export"),
        ("y", "act('copy_event')", "Copy"),
        ("Y", "act('copy_tree')", "Copy tree"),
        ("6", "marks", "Marks"),
    ]

    def __init__(self, store_path: Path, case: Case, query: str = "") -> None:
        super().__init__()
        self.store_path = store_path
        self.case = case
        self.loaded = True
        self.current_query = query
        self.compiled: Compiled = compile_query(query)
        self.selected: StoredEvent | None = None
        self.jumps: list[int] = []
        self.copied: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("events"))

    def selected_event(self) -> StoredEvent | None:
        return self.selected

    def current_view_where(self) -> Compiled:
        return self.compiled

    def jump_to_event(self, store_id: int) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.jumps.append(store_id)
        with Store(self.store_path, readonly=True) as store:
            self.selected = store.get(store_id)

    def copy_text(self, text: str) -> None:
        self.copied.append(text)

    def action_act(self, name: str) -> None:
        getattr(case_actions, name)(self)

    def action_next(self, forward: bool) -> None:
        case_actions.next_mark(self, forward)

    def action_marks(self) -> None:
        self.push_screen(MarksScreen())


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Case, list[StoredEvent]]:
    log = write_input(tmp_path)
    store = build_store(tmp_path / "s.sqlite", log)
    events = store.select()
    store.close()
    return tmp_path / "s.sqlite", Case.for_inputs([str(log)]), events


@run_async
async def test_marks_view_jump_unmark_and_edit_note(setup: tuple[Path, Case, list[StoredEvent]]) -> None:
    db, case, events = setup
    case.bind(Store(db, readonly=True))
    case.mark(events[4])
    case.set_note(events[1], "first\nsecond line")
    app = CaseApp(db, case)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert "first" in app.screen.query_one("#marks-note", Static).render().plain  # type: ignore[union-attr]
        await pilot.press("j", "enter")
        await _until(pilot, lambda: app.jumps == [events[4].id])
        assert not isinstance(app.screen, MarksScreen)

        await pilot.press("6", "M")
        await _until(pilot, lambda: isinstance(app.screen, NoteDialog))
        assert app.screen.query_one(TextArea).text == "first\nsecond line"
        await pilot.press("escape")
        await pilot.press("j", "M")
        await _until(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"exit", "f2")
        await pilot.pause()
        assert [m.note for m in Case.for_inputs(case.inputs).marks()] == ["first\nsecond line", "exit"]

        await pilot.press("k", "d")
        await pilot.pause()
        assert app.screen.query_one(DataTable).row_count == 1
        assert [m.record_id for m in Case.for_inputs(case.inputs).marks()] == [events[4].event.record_id]


@run_async
async def test_mark_toggle_and_next_mark_wraps(setup: tuple[Path, Case, list[StoredEvent]]) -> None:
    db, case, events = setup
    app = CaseApp(db, case)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")  # nothing selected: says so, marks nothing
        assert len(case) == 0
        for i in (4, 1):
            app.selected = events[i]
            await pilot.press("m")
        assert {m.record_id for m in case.marks()} == {events[1].event.record_id, events[4].event.record_id}
        app.selected = events[2]
        await pilot.press("u")
        assert app.jumps[-1] == events[4].id
        await pilot.press("u")  # past the last: wraps to the first
        assert app.jumps[-1] == events[1].id
        await pilot.press("U")
        assert app.jumps[-1] == events[4].id
        await pilot.press("m")  # the selected event is marked: m unmarks it
        assert [m.record_id for m in case.marks()] == [events[1].event.record_id]


@run_async
async def test_export_dialog_writes_the_view_and_refuses_to_overwrite(
    setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path
) -> None:
    db, case, _events = setup
    app = CaseApp(db, case, query="4688")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.select_format("jsonl")
        path_input = dialog.query_one(Input)
        path_input.value = str(tmp_path / "view.jsonl")
        await pilot.press("enter")
        await _until(pilot, lambda: not isinstance(app.screen, ExportDialog))
        lines = (tmp_path / "view.jsonl").read_text().splitlines()
        assert [json.loads(line)["event_id"] for line in lines] == [4688, 4688, 4688]
        with Store(db, readonly=True) as store:
            assert [json.loads(line)["record_id"] for line in lines] == [
                se.event.record_id for se in store.select(app.compiled.where, app.compiled.params)]

        (tmp_path / "final.csv").write_text("keep me\n")
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one(Input).value = str(tmp_path) + "/"
        await pilot.press(*"final.csv")  # typing an f in the path does not mean "overwrite"
        await pilot.press("enter")
        error = dialog.query_one("#export-error", Static)
        await _until(pilot, lambda: "exists; press f to overwrite" in str(error.render()))
        assert (tmp_path / "final.csv").read_text() == "keep me\n"
        await pilot.press("f")
        await _until(pilot, lambda: not isinstance(app.screen, ExportDialog))
        assert (tmp_path / "final.csv").read_text().startswith("file,record_id")
        assert len((tmp_path / "final.csv").read_text().splitlines()) == 4


@run_async
async def test_copy_event_and_marks_report_export(setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path) -> None:
    db, case, events = setup
    app = CaseApp(db, case)
    async with app.run_test(size=(80, 24)) as pilot:
        app.selected = events[2]
        await pilot.press("y")
        assert app.copied and app.copied[0].startswith("Event 4688 (record 1003) on DC01\nSystem:\n")
        assert "\x1b" not in app.copied[0] and "  CommandLine: [red]x[/red] \\x1b[31m" in app.copied[0]

        await pilot.press("M")
        await _until(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"odd binary", "ctrl+s")
        await pilot.press("6", "e")
        await _until(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one(Input).value = str(tmp_path / "report.md")
        await pilot.press("enter")
        await _until(pilot, lambda: (tmp_path / "report.md").exists())
        report = (tmp_path / "report.md").read_text()
        assert "> odd binary" in report and "| 1 | 2015-11-13T14:53:23.0000000Z | DC01 | 4688 | 1003 |" in report


class TreeScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Tree[Any]("root", id="t")


@run_async
async def test_copy_tree_and_export_tree(setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path) -> None:
    from core.correlate.model import Node

    db, case, events = setup
    app = CaseApp(db, case)
    tree_root = Node("handle 0x11ac", "exact", events[3].id, [
        Node("source cmd.exe", "exact", events[1].id), Node("target System", "inferred", None)])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("Y")
        assert app.copied == []  # no tree on screen: says so
        screen = TreeScreen()
        await app.push_screen(screen)
        tree = screen.query_one(Tree)
        top = tree.root.add(Text(tree_root.label), data=tree_root)
        for child in tree_root.children:
            top.add_leaf(Text(child.label), data=child)
        await pilot.press("Y")
        assert app.copied[-1].splitlines() == [
            "handle 0x11ac [exact] (record 1004, EventID 4690, 2015-11-13T14:53:24.0000000Z)",
            "  source cmd.exe [exact] (record 1002, EventID 4688, 2015-11-13T14:53:22.0000000Z)",
            "  target System [inferred]",
        ]
        await pilot.press("e")  # on a tree view, e exports the tree
        await _until(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one(Input).value = str(tmp_path / "tree.md")
        await pilot.press("enter")
        await _until(pilot, lambda: (tmp_path / "tree.md").exists())
        assert (tmp_path / "tree.md").read_text().startswith("- handle 0x11ac *exact* (record 1004")

