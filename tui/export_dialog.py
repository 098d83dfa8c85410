"""The export dialog: choose a format and a path; the export runs in a worker.

The dialog stays open until the file is written, so its errors are shown where the user can
act on them: an existing file says "exists; press f to overwrite" (nothing is replaced unless
asked), a missing directory or a permission error says so. On success it dismisses with the
message to show ("wrote N rows to PATH").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from core.model.text import printable
from core.report.export import EXTENSIONS
from tui.typeahead import TypeAhead, TypeAheadScreen

#: The work an export does: (format, path, overwrite) -> number of rows/nodes/marks written.
ExportJob = Callable[[str, Path, bool], int]


FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON lines", "md": "Markdown", "json": "JSON"}


class ExportDialog(TypeAheadScreen, ModalScreen[str | None]):
    """Ask for a format and a path, then run `job` in a thread (see the module docstring)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", priority=True),
        Binding("f", "overwrite", "Overwrite", show=False),
    ]

    def __init__(self, title: str, formats: Sequence[str], default_path: Path, job: ExportJob,
                 unit: str = "rows") -> None:
        super().__init__()
        self.title_text = title
        self.formats = list(formats)
        self.default_path = default_path
        self.job = job
        self.unit = unit
        self.pending_overwrite: Path | None = None
        self.running = False
        self.typeahead = TypeAhead(self, "#export-path")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            with RadioSet(id="export-format"):
                for i, fmt in enumerate(self.formats):
                    yield RadioButton(FORMAT_NAMES.get(fmt, fmt), value=i == 0, id=f"fmt-{fmt}")
            yield Input(str(self.default_path), id="export-path")
            yield Static(Text(""), id="export-error")
            with Horizontal():
                yield Button("Overwrite (f)", id="export-overwrite", variant="warning")
            yield Static(Text("tab: next field   enter: export   esc: cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#export-overwrite", Button).display = False
        path_input = self.query_one(Input)
        path_input.cursor_position = len(path_input.value)
        self.typeahead.focus_target()

    def on_key(self, event: events.Key) -> None:
        self.typeahead.on_key(event)

    # -- state -----------------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        index = self.query_one(RadioSet).pressed_index
        return self.formats[index if 0 <= index < len(self.formats) else 0]

    def select_format(self, fmt: str) -> None:
        self.query_one(f"#fmt-{fmt}", RadioButton).value = True

    @on(RadioSet.Changed)
    def _format_changed(self) -> None:
        """Follow the format with the file extension when the name still has one of ours."""
        path_input = self.query_one(Input)
        value = path_input.value
        root, ext = os.path.splitext(value)
        if ext.lower() in EXTENSIONS.values():
            path_input.value = root + EXTENSIONS.get(self.fmt, "." + self.fmt)
        self._clear_error()

    @on(Input.Changed)
    def _path_changed(self) -> None:
        self._clear_error()

    def _clear_error(self) -> None:
        if self.pending_overwrite is not None or not self.running:
            self.pending_overwrite = None
            self.query_one("#export-overwrite", Button).display = False
            self.query_one("#export-error", Static).update(Text(""))

    def show_error(self, message: str) -> None:
        self.query_one("#export-error", Static).update(Text(printable(message)))

    def target(self) -> Path:
        raw = self.query_one(Input).value.strip()
        return Path(os.path.expanduser(raw)).absolute() if raw else Path()

    # -- running ---------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.start(overwrite=False)

    @on(Button.Pressed, "#export-overwrite")
    def _overwrite_pressed(self) -> None:
        self.action_overwrite()

    def action_overwrite(self) -> None:
        if self.pending_overwrite is not None and self.pending_overwrite == self.target():
            self.start(overwrite=True)

    def start(self, overwrite: bool) -> None:
        if self.running:
            return
        if not self.query_one(Input).value.strip():
            self.show_error("type a path to write to")
            return
        path = self.target()
        self.running = True
        self.show_error(f"writing {path} ...")
        self._run(self.fmt, path, overwrite)

    @work(thread=True, exclusive=True, group="export")
    def _run(self, fmt: str, path: Path, overwrite: bool) -> None:
        try:
            n = self.job(fmt, path, overwrite)
        except FileExistsError:
            self.app.call_from_thread(self._exists, path)
        except (OSError, ValueError) as exc:
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            self.app.call_from_thread(self._failed, f"{path}: {reason}" if str(path) not in reason else reason)
        except Exception as exc:  # noqa: BLE001 - the dialog must not crash the app
            self.app.call_from_thread(self._failed, f"export failed: {type(exc).__name__}: {exc}")
        else:
            self.app.call_from_thread(self._finished, f"wrote {n} {self.unit} to {path}")

    def _exists(self, path: Path) -> None:
        self.running = False
        self.pending_overwrite = path
        self.show_error(f"{path} exists; press f to overwrite (or edit the path)")
        button = self.query_one("#export-overwrite", Button)
        button.display = True
        button.focus()

    def _failed(self, message: str) -> None:
        self.running = False
        self.show_error(message)

    def _finished(self, message: str) -> None:
        self.running = False
        self.dismiss(message)

    def action_cancel(self) -> None:
        self.dismiss(None)
