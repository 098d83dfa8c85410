"""The issues panel (`!`): unreadable inputs and parse issues: file, chunk/offset, the damaged
record's time when its header still gives one (it places the loss on the timeline), reason.

Read in a worker through its own read-only connection, bounded (a badly damaged log can hold
millions of issues; the panel says how many it does not show).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from core.model.event import iso_from_filetime
from core.model.text import one_line
from core.store.store import Store
from tui.words import plural

MAX_SHOWN = 10_000


def _time(ticks: int | None) -> str:
    """An issue's record time as the event table shows times (UTC, to the second)."""
    iso = iso_from_filetime(ticks)
    return "" if iso is None else iso[:19].replace("T", " ")


class IssuesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,exclamation_mark", "close", "Close")]

    CSS_PATH = "dialogs.tcss"

    def __init__(self, db_path: Path | None, load_errors: list[str] | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.load_errors = load_errors or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Unreadable inputs and parse issues (esc closes)", style="bold"), id="issues-title")
            table: DataTable[Text] = DataTable(id="issues-table", cursor_type="row", zebra_stripes=True)
            yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("File", "Chunk", "Offset", "Time (UTC)", "Reason")
        table.focus()
        for err in self.load_errors:
            table.add_row(Text("(app)"), Text(""), Text(""), Text(""), Text(one_line(err)))
        if self.db_path is not None:
            self._read(self.db_path)

    @work(thread=True, exclusive=True)
    def _read(self, db_path: Path) -> None:
        rows: list[tuple[Text, ...]] = []
        more = 0
        with Store(db_path, readonly=True) as store:
            for src in store.sources():
                if src.error:
                    name = Text(one_line(Path(src.path).name, 40))
                    rows.append((name, Text(""), Text(""), Text(""), Text(one_line(src.error))))
            issues = store.issues(limit=MAX_SHOWN)
            more = max(0, store.issue_count() - len(issues))  # (the count is exact, the list the first ones)
            for issue in issues:
                rows.append(
                    (
                        Text(one_line(Path(issue.path).name, 40)),
                        Text("" if issue.chunk is None else str(issue.chunk)),
                        Text("" if issue.offset is None else f"0x{issue.offset:x}"),
                        Text(_time(issue.filetime)),
                        Text(one_line(issue.reason, 300)),
                    )
                )
        self.app.call_from_thread(self._show, rows, more)

    def _show(self, rows: list[tuple[Text, ...]], more: int) -> None:
        table = self.query_one(DataTable)
        table.add_rows(rows)
        title = plural(table.row_count, "unreadable input or parse issue", "unreadable inputs and parse issues")
        if more:
            title += f" ({more:,} more not shown)"
        if table.row_count == 0:
            title = "No unreadable inputs and no parse issues"
        self.query_one("#issues-title", Static).update(Text(title + " (esc closes)", style="bold"))

    def action_close(self) -> None:
        self.dismiss(None)
