"""The stack panel (`s`): the distinct values of one field over the current view, with counts
and share, rarest first (least frequency of occurrence is the hunting default; `o` flips).

The counting (`core.query.stack.stack`) runs in a thread worker over its own read-only store
connection and posts its result as a message, so a million-event view never stalls the UI.
`enter` narrows the view to the highlighted value (the view's filter AND the value, so the
table shows as many events as the row counts), `-` excludes it from the view: the panel closes
with that choice and the app builds the query through `core.query.pivot`
(`tui.pivots.apply_pivot`: `add_filter`, `exclude`).
Values are attacker-controlled: shown literally (rich Text of `printable`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from core.model.text import printable
from core.query.stack import Stack, stack
from core.store.filter import Filter
from core.store.store import Store
from tui.words import plural

#: Query field names (what a pivot gives) -> the name `core.query.stack` stacks them under. Not
#: `processid` (the detail pane's System ProcessID): it stacks itself, what `processid:` matches,
#: so `enter` narrows to the row's count; `pid` is the process-id alias, another set of events.
STACK_NAMES = {"threadid": "tid"}
#: What the panel closes with: ("add" | "exclude", field, value), or None.
Choice = tuple[str, str, str] | None


class StackComputed(Message):
    """A stack finished (or failed: `error`)."""

    def __init__(self, result: Stack | None, error: str | None, descending: bool) -> None:
        super().__init__()
        self.result, self.error, self.descending = result, error, descending


class StackScreen(ModalScreen[Choice]):
    """See the module docstring."""

    DEFAULT_CSS = """
    StackScreen { align: center middle; }
    StackScreen > #stack-box {
        width: 90%; height: 80%; border: round $accent; background: $surface; padding: 0 1;
    }
    StackScreen #stack-title { height: auto; text-style: bold; }
    StackScreen #stack-note { height: auto; color: $text-muted; }
    StackScreen DataTable { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("o", "flip", "Order"),
        Binding("enter", "choose('add')", "Narrow to", priority=True),
        Binding("minus", "choose('exclude')", "Exclude"),
    ]

    def __init__(self, store_path: Path, compiled: Filter, field: str) -> None:
        super().__init__()
        self.store_path, self.compiled = store_path, compiled
        self.field = STACK_NAMES.get(field, field)
        self.descending = False
        self.result: Stack | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="stack-box"):
            yield Static(Text(f"Stack of {printable(self.field)}: computing…"), id="stack-title")
            table: DataTable[Text] = DataTable(id="stack-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(Text("enter: narrow to · -: exclude · o: rarest/commonest first · esc: close"),
                         id="stack-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Count", "Share", "Value")
        table.focus()
        self._compute(self.descending)

    @work(thread=True, exclusive=True, group="stack", description="stacking a field")
    def _compute(self, descending: bool) -> None:
        try:
            with Store(self.store_path, readonly=True) as store:
                result = stack(store, self.compiled, self.field, descending=descending)
        except Exception as exc:  # noqa: BLE001 - an unknown field, a failed query: shown
            self.post_message(StackComputed(None, str(exc), descending))
            return
        self.post_message(StackComputed(result, None, descending))

    def on_stack_computed(self, message: StackComputed) -> None:
        title = self.query_one("#stack-title", Static)
        table: DataTable[Text] = self.query_one(DataTable)
        table.clear()
        if message.result is None:
            title.update(Text(printable(f"Stack of {self.field}: {message.error}"), style="bold red"))
            return
        result = self.result = message.result
        order = "commonest first" if message.descending else "rarest first"
        extra = f", {result.more:,} more not shown" if result.more else ""
        missing = f", {plural(result.missing, 'event')} without it" if result.missing else ""
        title.update(Text(printable(
            f"Stack of {result.field}: {plural(result.distinct, 'value')} in {plural(result.total, 'event')} "
            f"({order}{extra}{missing})")))
        for row in result.rows:
            table.add_row(Text(f"{row.count:,}", justify="right"), Text(f"{row.share:6.1%}", justify="right"),
                          Text(printable(row.value)))

    def action_flip(self) -> None:
        self.descending = not self.descending
        self._compute(self.descending)

    def action_choose(self, how: str) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        if self.result is None or not self.result.rows:
            return
        row = self.result.rows[min(table.cursor_row, len(self.result.rows) - 1)]
        self.dismiss((how, self.result.field, row.value))

    def action_close(self) -> None:
        self.dismiss(None)
