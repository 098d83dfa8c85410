"""Pilot tests of the case workflow: marks and notes through the real app (and back after a
restart), the Marks view, the export dialog, copying an event and a tree."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, TextArea, Tree

from core.query.compile import compile_query
from core.report.case import Case
from core.store.store import Store, StoredEvent
from tests.apputil import opened, sync, wait_for
from tests.report.case_logs import build_store, write_input, xml_log
from tui import case_actions
from tui.export_dialog import ExportDialog
from tui.marks import MarksScreen, NoteDialog
from tui.messages import JumpToEvent
from tui.workspace import Workspace


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


# -- through the real app -----------------------------------------------------------------------


@sync
async def test_mark_annotate_restart_marks_and_notes_are_back(tmp_path: Path) -> None:
    from tui.app import EvtxApp

    log = xml_log(tmp_path / "log.xml")
    app = EvtxApp([str(log)])
    async with opened(app, (100, 30)) as pilot:
        assert app.workspace.store_path is not None
        with Store(app.workspace.store_path, readonly=True) as store:
            events = store.select()
        app.jump_to_event(events[1].id)
        await wait_for(pilot, lambda: (app.selected_event() or events[0]).id == events[1].id)
        await pilot.press("m")
        await pilot.pause()
        assert app.table.marked == {events[1].id}
        app.jump_to_event(events[2].id)
        await wait_for(pilot, lambda: (app.selected_event() or events[0]).id == events[2].id)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"beacon [red]x[/red]")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, NoteDialog))
        assert app.table.marked == {events[1].id, events[2].id}

    again = EvtxApp([str(log)])  # a fresh app on the same inputs
    async with opened(again, (100, 30)) as pilot:
        await pilot.pause()
        assert again.table.marked == {events[1].id, events[2].id}
        await pilot.press("6")
        await wait_for(pilot, lambda: isinstance(again.screen, MarksScreen))
        table = again.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(2)]
        assert rows[0][2:4] == [str(events[1].event.event_id), str(events[1].event.record_id)]
        assert rows[1][4] == "beacon [red]x[/red]"  # shown literally, not as markup
        # enter jumps to the marked event in the events view; u/U go from mark to mark.
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(again.screen, MarksScreen))
        await wait_for(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)
        again.jump_to_event(events[0].id)
        await wait_for(pilot, lambda: (again.selected_event() or events[2]).id == events[0].id)
        await pilot.press("u")
        await wait_for(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)
        await pilot.press("u")
        await wait_for(pilot, lambda: (again.selected_event() or events[0]).id == events[2].id)
        await pilot.press("U")
        await wait_for(pilot, lambda: (again.selected_event() or events[0]).id == events[1].id)


# -- a tiny app with the contract's attributes --------------------------------------------------


class CaseApp(App[None]):
    """A host for the case keys: a workspace on the store and the case, the keys bound to
    `tui.case_actions`, and what they asked of the app (jumps, copies) recorded."""

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
        self.workspace = Workspace(store_path=store_path, loaded=True, case=case, query=query,
                                   compiled=compile_query(query))
        self.workspace.selection = lambda: self.selected
        self.selected: StoredEvent | None = None
        self.jumps: list[int] = []
        self.copied: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("events"))

    def on_jump_to_event(self, message: JumpToEvent) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.jumps.append(message.store_id)
        with Store(self.workspace.require_store(), readonly=True) as store:
            self.selected = store.get(message.store_id)

    def copy_to_clipboard(self, text: str) -> None:
        self.copied.append(text)

    def action_act(self, name: str) -> None:
        actions: dict[str, Callable[[App[Any], Workspace], None]] = {
            "toggle_mark": case_actions.toggle_mark, "edit_note": case_actions.edit_note,
            "export_view": case_actions.export_view, "copy_event": case_actions.copy_event,
            "copy_tree": case_actions.copy_tree,
        }
        actions[name](self, self.workspace)

    def action_next(self, forward: bool) -> None:
        case_actions.next_mark(self, self.workspace, forward)

    def action_marks(self) -> None:
        self.push_screen(MarksScreen(self.workspace))


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Case, list[StoredEvent]]:
    log = write_input(tmp_path)
    store = build_store(tmp_path / "s.sqlite", log)
    events = store.select()
    store.close()
    return tmp_path / "s.sqlite", Case.for_inputs([str(log)]), events


@sync
async def test_marks_view_jump_unmark_and_edit_note(setup: tuple[Path, Case, list[StoredEvent]]) -> None:
    db, case, events = setup
    case.bind(Store(db, readonly=True))
    case.mark(events[4])
    case.set_note(events[1], "first\nsecond line")
    app = CaseApp(db, case)
    async with opened(app, (80, 24)) as pilot:
        await pilot.press("6")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        note = app.screen.query_one("#marks-note", Static).render()
        assert isinstance(note, Content)  # a Static shows a Text as Content
        assert "first" in note.plain
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: app.jumps == [events[4].id])
        assert not isinstance(app.screen, MarksScreen)

        await pilot.press("6", "M")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        assert app.screen.query_one(TextArea).text == "first\nsecond line"
        await pilot.press("escape")
        await pilot.press("j", "M")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"exit", "f2")
        await pilot.pause()
        assert [m.note for m in Case.for_inputs(case.inputs).marks()] == ["first\nsecond line", "exit"]

        await pilot.press("k", "d")
        await pilot.pause()
        assert app.screen.query_one(DataTable).row_count == 1
        assert [m.record_id for m in Case.for_inputs(case.inputs).marks()] == [events[4].event.record_id]


@sync
async def test_mark_toggle_and_next_mark_wraps(setup: tuple[Path, Case, list[StoredEvent]]) -> None:
    db, case, events = setup
    app = CaseApp(db, case)
    async with opened(app, (80, 24)) as pilot:
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


@sync
async def test_export_dialog_writes_the_view_and_refuses_to_overwrite(
    setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path
) -> None:
    db, case, _events = setup
    app = CaseApp(db, case, query="4688")
    async with opened(app, (80, 24)) as pilot:
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.select_format("jsonl")
        path_input = dialog.query_one(Input)
        path_input.value = str(tmp_path / "view.jsonl")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
        lines = (tmp_path / "view.jsonl").read_text().splitlines()
        assert [json.loads(line)["event_id"] for line in lines] == [4688, 4688, 4688]
        with Store(db, readonly=True) as store:
            assert [json.loads(line)["record_id"] for line in lines] == [
                se.event.record_id for se in store.select(app.workspace.compiled)]

        (tmp_path / "final.csv").write_text("keep me\n")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one(Input).value = str(tmp_path) + "/"
        await pilot.press(*"final.csv")  # typing an f in the path does not mean "overwrite"
        await pilot.press("enter")
        error = dialog.query_one("#export-error", Static)
        await wait_for(pilot, lambda: "exists; press f to overwrite" in str(error.render()))
        assert (tmp_path / "final.csv").read_text() == "keep me\n"
        await pilot.press("f")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
        assert (tmp_path / "final.csv").read_text().startswith("file,record_id")
        assert len((tmp_path / "final.csv").read_text().splitlines()) == 4


@sync
async def test_copy_event_and_marks_report_export(setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path) -> None:
    db, case, events = setup
    app = CaseApp(db, case)
    async with opened(app, (80, 24)) as pilot:
        app.selected = events[2]
        await pilot.press("y")
        assert app.copied and app.copied[0].startswith("Event 4688 (record 1003) on DC01\nSystem:\n")
        assert "\x1b" not in app.copied[0] and "  CommandLine: [red]x[/red] \\x1b[31m" in app.copied[0]

        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"odd binary", "ctrl+s")
        await pilot.press("6", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one(Input).value = str(tmp_path / "report.md")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "report.md").exists())
        report = (tmp_path / "report.md").read_text()
        assert "> odd binary" in report and "| 1 | 2015-11-13T14:53:23.0000000Z | DC01 | 4688 | 1003 |" in report


class TreeScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Tree[Any]("root", id="t")


@sync
async def test_copy_tree_and_export_tree(setup: tuple[Path, Case, list[StoredEvent]], tmp_path: Path) -> None:
    from core.correlate.model import Node

    db, case, events = setup
    app = CaseApp(db, case)
    tree_root = Node("handle 0x11ac", "exact", events[3].id, [
        Node("source cmd.exe", "exact", events[1].id), Node("target System", "inferred", None)])
    async with opened(app, (80, 24)) as pilot:
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
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one(Input).value = str(tmp_path / "tree.md")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "tree.md").exists())
        assert (tmp_path / "tree.md").read_text().startswith("- handle 0x11ac *exact* (record 1004")



@sync
async def test_marks_header_shows_the_case_file_at_80_and_100_columns(
    setup: tuple[Path, Case, list[StoredEvent]],
) -> None:
    """The one-line header wrapped the path onto a second line it never showed: "2 marks, saved
    in" and nothing after. Now the path's middle gives way and its file name stays."""
    from rich.cells import cell_len

    from tests.apputil import screen_text
    from tui.marks import middle_cut

    db, case, events = setup
    case.bind(Store(db, readonly=True))
    case.mark(events[1])
    case.mark(events[4])
    assert case.path is not None
    name = case.path.name
    async def header(size: tuple[int, int]) -> None:
        app = CaseApp(db, case)
        async with opened(app, size) as pilot:
            await pilot.press("6")
            await wait_for(pilot, lambda: "saved in" in screen_text(app))
            line = next(line for line in screen_text(app).splitlines() if "saved in" in line)
            assert line.startswith("2 marks, saved in /") and line.rstrip().endswith(name), line
            if len(f"2 marks, saved in {case.path}") > size[0]:
                assert "…" in line
            await pilot.press("d")  # one left: in the singular
            await wait_for(pilot, lambda: "1 mark, saved in /" in screen_text(app))

    for size in ((80, 24), (100, 30)):
        await header(size)
        case.mark(events[1])
    assert middle_cut("/a/b/c.json", 20) == "/a/b/c.json"
    assert middle_cut("/home/analyst/data/cases/0123456789.json", 24) == "/home…/0123456789.json"
    assert cell_len(middle_cut("/漢字/" * 20, 11)) <= 11
