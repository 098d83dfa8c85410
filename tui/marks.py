"""The Marks view and the note editor.

`MarksScreen` lists the case's marks with their notes in time order: `enter` jumps to the
event (`JumpToEvent`), `d` unmarks, `M` edits the note, `e` exports the marks report.
Marks are found again in the store in a worker (a rebuilt cache may have renumbered ids); a
mark whose event is not in these inputs is still listed, as "not found".

Notes and event fields are shown as `rich.text.Text` built from `core.model.text.printable`: an
event's computer name or a pasted note cannot style or drive the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static, TextArea

from core.model.event import iso_from_filetime
from core.model.text import one_line, printable
from core.report.case import Case, Mark
from core.report.export import default_name
from core.report.export import export_marks as write_marks_report
from core.store.store import Store
from tui.export_dialog import ExportDialog
from tui.messages import JumpToEvent
from tui.typeahead import TypeAhead, TypeAheadScreen
from tui.words import plural
from tui.workspace import PicksEvent, Workspace

#: A mark as the case keys it (`Mark.key`): source path, record id, EventID, computer, time.
MarkKey = tuple[str, int | None, int, str, int | None]


class NoteDialog(TypeAheadScreen, ModalScreen[str | None]):
    """Edit a note: `ctrl+s` (or `f2`) saves, `esc` cancels. Dismisses with the text, or None."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("f2", "save", "Save", show=False, priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, heading: Text, note: str) -> None:
        super().__init__()
        self.heading = heading
        self.note = note
        self.typeahead = TypeAhead(self, "#note-text")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading, id="note-heading")
            yield TextArea(self.note, id="note-text", soft_wrap=True, tab_behavior="focus")
            yield Static(Text("ctrl+s (or F2): save   esc: cancel   an empty note keeps the mark"),
                         classes="hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.move_cursor(area.document.end)
        self.typeahead.focus_target()

    def on_key(self, event: events.Key) -> None:
        self.typeahead.on_key(event)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


def middle_cut(text: str, width: int) -> str:
    """`text` in `width` cells at most: its start, `…`, and its end (three quarters of the room,
    from a separator when one is near: a case file's name tells one case from another)."""
    if cell_len(text) <= width:
        return text
    room = max(0, width - 1)
    head_room = room // 4
    head, used = "", 0
    for char in text:
        used += get_character_cell_size(char)
        if used > head_room:
            break
        head += char
    tail_room, tail, used = room - cell_len(head), "", 0
    for char in reversed(text):
        used += get_character_cell_size(char)
        if used > tail_room:
            break
        tail = char + tail
    cut = min((at for at in (tail.find("/"), tail.find("\\")) if at > 0), default=-1)
    if cut > 0 and len(tail) - cut >= tail_room // 2:
        tail = tail[cut:]  # from a folder's start: `…/cases/x.json`, not `…s/x.json`
    return head + "…" + tail


class CaseLine(Widget):
    """`2 marks, saved in /home/…/cases/9f3….json` on one line at any width: the path's middle
    gives way. As a wrapped `Static` at 80 or 100 columns the path went to a second line, which
    the one-line header never showed."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.head = ""
        self.path = ""

    def say(self, head: str, path: str = "") -> None:
        """Show `head` (printable text), then `path` cut to the width left (`middle_cut`)."""
        self.head, self.path = head, printable(path)
        self.refresh()

    def render(self) -> Text:
        return Text(self.head + middle_cut(self.path, self.size.width - cell_len(self.head)))


def mark_heading(mark: Mark) -> Text:
    """`EventID 4688 on WS01, record 1002, 2015-...Z` (printable pieces only)."""
    return Text(
        f"EventID {mark.event_id} on {printable(mark.computer)}, record {mark.record_id}, "
        f"{iso_from_filetime(mark.filetime) or 'no time'}"
    )


class MarksScreen(PicksEvent, Screen[None]):
    """Every mark of the case, with its note (see the module docstring for the keys)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "jump", "Jump"),
        Binding("d", "unmark", "Unmark"),
        Binding("M", "edit_note", "Note"),
        Binding("e", "export", "Export report"),
        Binding("escape", "back", "Back"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    @dataclass
    class Resolved(Message):
        """The worker found the marks' events: store id per mark key (absent: not in the inputs)."""

        ids: dict[MarkKey, int]
        error: str | None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self._rows: list[Mark] = []
        self._ids: dict[MarkKey, int] = {}

    @property
    def case(self) -> Case | None:
        return self.workspace.case

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Marks"), id="marks-title", classes="view-title")
            yield CaseLine(id="marks-status", classes="hint")
            table: DataTable[Text] = DataTable(id="marks-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(Text(""), id="marks-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("time (UTC)", "host", "EventID", "record", "note")
        table.focus()
        self.refresh_marks()

    def on_screen_resume(self) -> None:
        self.refresh_marks()

    # -- data ------------------------------------------------------------------------------

    def refresh_marks(self) -> None:
        """Show the marks now (from the case) and find their events in the background."""
        self._fill()
        if self.case is not None and len(self.case):
            self._resolve()

    @work(thread=True, exclusive=True, group="marks")
    def _resolve(self) -> None:
        case = self.case
        path = self.workspace.store_path
        if case is None or path is None:
            return
        try:
            store = Store(path, readonly=True)
            try:
                found = case.resolve(store)
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - shown to the user, the list stays usable
            self.post_message(self.Resolved({}, f"could not look the marks up: {type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Resolved({m.key: sid for sid, m in found.items()}, None))

    def on_marks_screen_resolved(self, message: MarksScreen.Resolved) -> None:
        self._ids = message.ids
        self._fill(error=message.error)

    def _fill(self, error: str | None = None) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        case = self.case
        self._rows = case.marks() if case is not None else []
        for m in self._rows:
            note = m.note.splitlines()[0] if m.note else ""
            missing = self._ids and m.key not in self._ids
            table.add_row(
                Text(iso_from_filetime(m.filetime) or "-"),
                Text(one_line(m.computer, 24)),
                Text(str(m.event_id)),
                Text(str(m.record_id) if m.record_id is not None else "-"),
                Text(("(not found) " if missing else "") + one_line(note, 60)),
            )
        if self._rows:
            table.move_cursor(row=min(max(keep, 0), len(self._rows) - 1))
        status = self.query_one("#marks-status", CaseLine)
        if case is None:
            status.say("marks are off for this session (no case file)")
        elif error:
            status.say(printable(error))
        else:
            status.say(f"{plural(len(self._rows), 'mark')}, saved in ", str(case.path))
        self._show_note()

    def _current(self) -> Mark | None:
        table = self.query_one(DataTable)
        if not self._rows or table.cursor_row < 0 or table.cursor_row >= len(self._rows):
            return None
        return self._rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _show_note(self) -> None:
        m = self._current()
        text = "\n".join(printable(line) for line in m.note.splitlines()) if m else ""
        self.query_one("#marks-note", Static).update(Text(text))

    # -- actions ---------------------------------------------------------------------------

    def selected_store_id(self) -> int | None:
        """The highlighted mark's event (what `c`, `m`, `y` act on here)."""
        m = self._current()
        return self._ids.get(m.key) if m is not None else None

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_jump()

    def action_jump(self) -> None:
        m = self._current()
        if m is None:
            return
        sid = self._ids.get(m.key)
        if sid is None:
            self.notify("this mark's event is not in the loaded inputs (yet)", severity="warning")
            return
        self.app.post_message(JumpToEvent(sid))

    def action_unmark(self) -> None:
        m, case = self._current(), self.case
        if m is None or case is None:
            return
        try:
            case.unmark(m)
        except Exception as exc:  # noqa: BLE001 - any failure said, never into the UI (`tui.case_actions`)
            self.notify(printable(f"could not save the case: {exc}"), severity="error", markup=False)
        self._fill()

    def action_edit_note(self) -> None:
        m, case = self._current(), self.case
        if m is None or case is None:
            return

        def done(text: str | None) -> None:
            if text is None or case is None:
                return
            try:
                case.set_note(m, text)
            except Exception as exc:  # noqa: BLE001 - any failure said, never into the UI
                self.notify(printable(f"could not save the case: {exc}"), severity="error", markup=False)
            self._fill()

        self.app.push_screen(NoteDialog(mark_heading(m), m.note), done)

    def action_export(self) -> None:
        """The marked events with their notes as a Markdown report."""
        case, path = self.case, self.workspace.store_path
        if case is None:
            self.notify("marks are not available yet (the case opens once the log is indexed)", severity="warning")
            return
        if path is None:
            self.notify("the log is not open yet", severity="warning")
            return
        store_path = path

        def job(fmt: str, target: Path, overwrite: bool) -> int:
            with Store(store_path, readonly=True) as store:
                return write_marks_report(case, store, target, overwrite=overwrite)

        def done(message: str | None) -> None:
            if message:
                self.notify(printable(message), markup=False)

        dialog = ExportDialog(f"Export the {plural(len(case), 'mark')} as a report", ("md",),
                              Path.cwd() / default_name("marks", "md"), job, unit="marks")
        self.app.push_screen(dialog, done)

    def action_back(self) -> None:
        self.app.pop_screen()
