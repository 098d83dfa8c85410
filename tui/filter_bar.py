"""The filter bar: the query language, with errors shown under it, and recent queries.

The view follows the bar as you type (after a short pause) and on enter. A query that does
not compile never replaces the view: the bar shows the message with a caret under the culprit
and the table keeps the last good view. The same bar, in "find" mode, sets the term that
`n`/`N` jump to without filtering.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from core.model.text import printable
from core.query.compile import QueryError, compile_query
from core.store.filter import Filter
from tui.history import History

DEBOUNCE = 0.35
PROMPTS = {"filter": "/ ", "find": "find: "}


class FilterInput(Input):
    """An Input that walks the query history with up/down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(1)", "Older query", show=False),
        Binding("down", "history(-1)", "Newer query", show=False),
    ]

    def __init__(self, history: History, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history = history
        self._pos = -1

    def action_history(self, step: int) -> None:
        entries = self.history.entries
        if not entries:
            return
        self._pos = max(-1, min(len(entries) - 1, self._pos + step))
        self.value = "" if self._pos < 0 else entries[self._pos]
        self.cursor_position = len(self.value)

    def reset_history(self) -> None:
        self._pos = -1


class FilterBar(Vertical):
    """Prompt + input on one line, error (message and caret) below when there is one."""

    DEFAULT_CSS = """
    FilterBar { dock: top; height: auto; }
    FilterBar #filter-line { height: 1; }
    FilterBar #filter-prompt { width: auto; text-style: bold; }
    FilterBar #filter-input { border: none; height: 1; padding: 0; width: 1fr; }
    FilterBar #filter-input:focus { border: none; text-style: bold; }
    FilterBar #filter-error { height: auto; color: $error; }
    """

    class Applied(Message):
        """A query compiled: show its view. `final` is True on enter (history, focus)."""

        def __init__(self, query: str, compiled: Filter, final: bool) -> None:
            super().__init__()
            self.query = query
            self.compiled = compiled
            self.final = final

    class FindSet(Message):
        def __init__(self, query: str, compiled: Filter) -> None:
            super().__init__()
            self.query = query
            self.compiled = compiled

    class Cancelled(Message):
        """`esc` abandoned a filter edit: `query` is the filter in force when the bar was
        opened, `compiled` its filter when the live preview had replaced it (None: the view
        never changed, though the preview may have moved the selection)."""

        def __init__(self, query: str, compiled: Filter | None) -> None:
            super().__init__()
            self.query = query
            self.compiled = compiled

    def __init__(self, history: History | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history if history is not None else History()
        self.mode = "filter"
        self.applied_query = ""
        #: The filter in force when the bar was opened: `cancel` goes back to it (the live
        #: filter applies a half-typed query, which an abandoned edit must not leave behind).
        self.opened_query = ""
        self.find_query = ""
        self.error: QueryError | None = None
        self._timer: Timer | None = None
        #: The store's EventData field names (set once open): an unknown field is an error.
        self.fields: list[str] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-line"):
            yield Label(PROMPTS["filter"], id="filter-prompt")
            yield FilterInput(
                self.history,
                placeholder="filter: 4688 user:dadmin image:*rundll32* -host:DC01 after:2024-01-01 \"text\"",
                id="filter-input",
            )
        yield Static(Text(""), id="filter-error")

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    def open(self, mode: str = "filter") -> None:
        """Focus the bar in `mode` ("filter" or "find"), prefilled with that mode's query."""
        self.mode = mode
        self.query_one("#filter-prompt", Label).update(Text(PROMPTS[mode]))
        inp = self.input
        with inp.prevent(Input.Changed):
            inp.value = self.applied_query if mode == "filter" else self.find_query
        inp.cursor_position = len(inp.value)
        inp.reset_history()
        self.opened_query = self.applied_query
        self.show_error(None)
        # focus now, not after the next refresh (`focus()`): keys typed right after `/` (a
        # paste, a fast typist) must land here, not run as commands (`4` opened Sessions)
        self.screen.set_focus(inp)

    def close(self) -> None:
        """Back to showing the applied filter (find mode or an abandoned edit ends)."""
        if self._timer is not None:
            self._timer.stop()
        self.mode = "filter"
        self.query_one("#filter-prompt", Label).update(Text(PROMPTS["filter"]))
        with self.input.prevent(Input.Changed):
            self.input.value = self.applied_query
        self.show_error(None)

    def cancel(self) -> None:
        """`esc` in the bar: the edit is abandoned, and the filter it applied while being typed
        (`/46` on the way to `4688` showed "0 events") gives way to the one in force when the
        bar was opened; the app selects again the event selected then (`Cancelled`)."""
        if self.mode == "filter":
            compiled = None
            if self.applied_query != self.opened_query:
                compiled = self.compile(self.opened_query)
                if compiled is not None:
                    self.applied_query = self.opened_query
            self.post_message(self.Cancelled(self.opened_query, compiled))
        self.close()

    def set_query(self, query: str) -> None:
        """Set the applied filter from outside (clearing it for a jump, say)."""
        self.applied_query = query
        with self.input.prevent(Input.Changed):
            self.input.value = query
        self.show_error(None)

    def show_error(self, error: QueryError | None) -> None:
        self.error = error
        box = self.query_one("#filter-error", Static)
        if error is None:
            box.update(Text(""))
            box.display = False
            return
        box.display = True
        prompt = len(PROMPTS[self.mode])
        caret = prompt + max(0, error.position) - self.input.scroll_offset.x
        line = Text()
        message = printable(error.message)
        if 0 <= caret < max(10, self.size.width - 20):
            line.append(" " * caret + "^ ", style="bold")
        else:
            line.append(f"at {error.position}: ", style="bold")
        line.append(message, style="bold")
        box.update(line)

    def compile(self, text: str) -> Filter | None:
        try:
            compiled = compile_query(text, self.fields)
        except QueryError as exc:
            self.show_error(exc)
            return None
        self.show_error(None)
        return compiled

    def on_input_changed(self, message: Input.Changed) -> None:
        message.stop()
        if self.mode != "filter":
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, lambda: self._apply(final=False))

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        if self._timer is not None:
            self._timer.stop()
        if self.mode == "find":
            text = self.input.value
            compiled = self.compile(text)
            if compiled is not None and text.strip():
                self.find_query = text
                self.history.add(text)
                self.post_message(self.FindSet(text, compiled))
            return
        self._apply(final=True)

    def _apply(self, *, final: bool) -> None:
        text = self.input.value
        compiled = self.compile(text)
        if compiled is None:
            return
        if final:
            self.history.add(text)
            self.opened_query = text  # (enter keeps it: a later esc does not undo it)
        if text != self.applied_query or final:
            self.applied_query = text
            self.post_message(self.Applied(text, compiled, final))
