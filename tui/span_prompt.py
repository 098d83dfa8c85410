"""The span of `~` (`w`, or the palette): how many minutes either side of the selected event
the "around" view shows. A small dialog with the common spans one key away (1, 5, 15, 60)
and a box for any other number of minutes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.typeahead import TypeAhead, TypeAheadScreen

#: The spans offered first (minutes).
SPANS = (1, 5, 15, 60)
#: The widest span (a week either side): beyond it the view is the whole log anyway.
MAX_MINUTES = 7 * 24 * 60


def parse_minutes(text: str) -> int | None:
    """A whole number of minutes in 1..MAX_MINUTES, else None."""
    text = text.strip().lower().removesuffix("min").removesuffix("m").strip()
    if not text.isdigit() or len(text) > 6:
        return None
    minutes = int(text)
    return minutes if 1 <= minutes <= MAX_MINUTES else None


class SpanPrompt(TypeAheadScreen, ModalScreen[str | None]):
    """Ask for the span of `~` in minutes (enter sets it, esc keeps the current one); the
    answer is the checked number of minutes as text (`parse_minutes` reads it)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", priority=True)]

    def __init__(self, minutes: int) -> None:
        super().__init__()
        self.minutes = minutes
        self.typeahead = TypeAhead(self, "#span-input")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("~ around the event: minutes either side", style="bold"))
            yield Input(str(self.minutes), id="span-input", restrict=r"[0-9]*", max_length=6)
            spans = ", ".join(str(m) for m in SPANS)
            yield Static(Text(f"e.g. {spans}; enter sets, esc cancels"), classes="hint")
            yield Static(Text(""), id="span-error")

    def on_mount(self) -> None:
        self.typeahead.focus_target()
        box = self.query_one(Input)
        box.select_all()  # typing replaces the current span

    def on_key(self, event: events.Key) -> None:
        self.typeahead.on_key(event)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        minutes = parse_minutes(event.value)
        if minutes is None:
            self.query_one("#span-error", Static).update(
                Text(f"a whole number of minutes from 1 to {MAX_MINUTES}", style="bold"))
            return
        self.dismiss(str(minutes))

    def action_cancel(self) -> None:
        self.dismiss(None)
