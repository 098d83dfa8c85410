"""Jumps to an event from a view (a correlation tree, Processes, Handles, Sessions, Process
access, Marks, `u`/`U`) that never drop the Events filter silently.

The table looks the event up in the current view first (`EventTable.goto_event`). In view: the
app goes back to the Events screen on it, as before. Hidden by the filter: a prompt
(`JumpPrompt`) names the event and the filter and offers to clear the filter and jump, or to
cancel (the view the jump came from stays open, the filter stays). After a clearing jump the
status line says which filter was cleared, and `b` puts that filter and the event selected
before back (`JumpBack`); the offer holds while the view is unfiltered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.model.text import printable
from core.store.store import Store, StoredEvent

if TYPE_CHECKING:
    from tui.app import EvtxApp

#: A filter longer than this is cut in the prompt and the status line (the bar shows it whole).
SHOWN_QUERY = 60


@dataclass(frozen=True)
class JumpBack:
    """What `b` restores after a jump cleared the filter: the filter, the event selected then."""

    query: str
    selected: StoredEvent | None
    target: str  # the event jumped to, as the prompt named it


def short_query(query: str) -> str:
    """The filter as the prompt and the status line quote it (literal, bounded)."""
    text = printable(query)
    return text if len(text) <= SHOWN_QUERY else text[:SHOWN_QUERY - 1] + "…"


def event_name(stored: StoredEvent | None, store_id: int) -> str:
    """`#48222 (4688 on WS01)`: the record number the table shows, the id, the computer."""
    if stored is None:
        return f"#{store_id}"
    event = stored.event
    record = event.record_id if event.record_id is not None else event.record_number
    return f"#{record} ({event.event_id} on {printable(event.computer or '?')})"


class JumpPrompt(ModalScreen[bool]):
    """"Event #N is hidden by the filter `...`": clear the filter and jump, or cancel."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,c", "answer(True)", "Clear the filter and jump", priority=True),
        Binding("escape,n", "answer(False)", "Cancel", priority=True),
    ]

    def __init__(self, target: str, query: str) -> None:
        super().__init__()
        self.target, self.filter_text = target, query

    def compose(self) -> ComposeResult:
        with Vertical():
            message = Text("Event ")
            message.append(self.target, style="bold")
            message.append(" is hidden by the filter ")
            message.append(f"`{short_query(self.filter_text)}`", style="bold")
            yield Static(message, id="jump-message")
            yield Static(Text("Clear the filter to show it? b brings the filter back afterwards."),
                         classes="hint")
            with Horizontal():
                yield Button("Clear the filter and jump (enter)", id="jump-clear", variant="primary")
                yield Button("Cancel (esc)", id="jump-cancel")

    def on_mount(self) -> None:
        self.query_one("#jump-clear", Button).focus()

    def action_answer(self, clear: bool) -> None:
        self.dismiss(clear)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "jump-clear")


def _back_to_events(app: EvtxApp) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.table.focus()


def jump_to_event(app: EvtxApp, store_id: int) -> None:
    """Show the event `store_id` in the Events table (see the module docstring)."""
    ws = app.workspace

    def missing() -> None:
        stored = None
        if ws.store_path is not None:
            with Store(ws.store_path, readonly=True) as store:
                stored = store.get(store_id)  # one row by its key
        if stored is None or not ws.filtered:
            _back_to_events(app)
            app.notify(f"event {store_id} is not in the store", severity="warning")
            return
        target, query = event_name(stored, store_id), ws.query

        def answered(clear: bool | None) -> None:
            if clear:
                clear_and_jump(app, store_id, target, query)
            else:
                app.notify(f"jump cancelled: the filter `{short_query(query)}` is kept", markup=False)

        app.push_screen(JumpPrompt(target, query), answered)

    app.table.goto_event(store_id, on_missing=missing, on_found=lambda: _back_to_events(app), analyst=True)


def clear_and_jump(app: EvtxApp, store_id: int, target: str, query: str) -> None:
    """Clear the filter, select the event, and remember the way back (`b`)."""
    _back_to_events(app)
    row = app.table.selected_row()
    app.jump_back = JumpBack(query, row.stored if row is not None else None, target)
    app.set_filter("")
    app.table.goto_event(store_id, on_missing=lambda: app.notify(f"event {store_id} is not in the store"),
                         analyst=True)


def jump_back(app: EvtxApp) -> None:
    """`b`: the filter before the last clearing jump, and the event selected then (else the
    nearest in time, as any filter change keeps the place)."""
    back = app.jump_back
    if back is None or app.workspace.query:
        app.notify("no jump to come back from (b works after a jump cleared the filter)", severity="warning")
        return
    app.jump_back = None
    if not app.set_filter(back.query):
        return
    if back.selected is not None:
        app.table.goto_event(back.selected.id, nearest=back.selected, analyst=True)
    app.notify(f"filter `{short_query(back.query)}` restored", markup=False)


def jump_note(app: EvtxApp) -> str:
    """The status line's word on a clearing jump, while `b` can still undo it."""
    back = app.jump_back
    if back is None or app.workspace.query:
        return ""
    return f"filter `{short_query(back.query)}` cleared to show {back.target} · b restores it"
