"""The app's keys that open screens or act on the case, and its command palette.

`AppActions` is the base of `EvtxApp` (`tui.app`): the help and issues screens, the views
(keys 1-6, `c`) and the case keys (`m`, `M`, `u`/`U`, `e`, `y`, `Y`), which all act on the
app's `Workspace` and the selected event. The case keys and the views import their modules
when first used (`tui.commands`), so that the engines behind them do not slow the app's start.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from core.model.event import Event
from core.query import pivot
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.view import View
from core.store.filter import Filter
from core.store.store import StoredEvent
from tui.commands import VIEWS, help_sections, palette_entries
from tui.event_table import EventTable
from tui.help import HelpScreen
from tui.issues_panel import IssuesScreen
from tui.pivots import AROUND_MINUTES
from tui.timeline_strip import TimelineStrip
from tui.workspace import Workspace

if TYPE_CHECKING:
    from tui.app import EvtxApp
    from tui.jump import JumpBack

#: The triage keys of the Events screen (`tui.pivots`, `tui.stack_panel`, `tui.timeline_strip`).
TRIAGE_BINDINGS: list[BindingType] = [
    Binding("equals_sign", "pivot('to')", "Filter to value", show=False),
    Binding("plus", "pivot('add')", "Add value to filter", show=False),
    Binding("minus", "pivot('exclude')", "Exclude value", show=False),
    Binding("tilde", "around", "Around event (again: back)", show=False),
    Binding("w", "around_span", "Span of ~ (minutes)", show=False),
    Binding("b", "jump_back", "Filter before the jump", show=False),
    Binding("s", "stack", "Stack the field", show=False),
    Binding("h", "timeline", "Timeline strip", show=False),
    Binding("left_square_bracket", "bucket(-1)", "Earlier bucket", show=False),
    Binding("right_square_bracket", "bucket(1)", "Later bucket", show=False),
    Binding("C", "columns", "Columns", show=False),
    Binding("o", "sort", "Sort by column (again: flip)", show=False),
    Binding("O", "unsort", "Time order", show=False),
]


class AppActions(App[int]):
    """What the keys do (see the module docstring); `EvtxApp` provides the rest."""

    workspace: Workspace
    #: The query before `~` (pressing it again restores it), the one `~` set, its event, and
    #: its span in minutes either side (`w`, `tui.pivots`).
    around_back: str | None = None
    around_query = ""
    around_anchor: Event | None = None
    around_minutes = AROUND_MINUTES
    #: What `b` restores after a jump cleared the filter (`tui.jump`).
    jump_back: JumpBack | None = None
    #: The sort columns.json gave at start (column key, descending), while it is the one in
    #: force: the status line says so (`tui.columns.saved_sort_note`), since a header arrow
    #: alone did not tell the analyst why the table was not in time order.
    saved_sort: tuple[str, bool] | None = None

    @property
    def table(self) -> EventTable:
        """The event table (the main screen's)."""
        raise NotImplementedError

    def selected_event(self) -> StoredEvent | None:
        """The event `c`, `m`, `M`, `y` act on."""
        raise NotImplementedError

    def action_help(self) -> None:
        """The keys: in a view, first the ones it adds (its own and its focused widgets', as
        Textual resolves them there: `r` of the Correlation view, a tree's `space`...)."""
        screen = self.screen
        here = None
        if screen is not self.screen_stack[0]:
            own = [active.binding for active in screen.active_bindings.values() if active.node is not self]
            name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(screen).__name__.removesuffix("Screen")).capitalize()
            here = (f"This view ({name})", own)
        self.push_screen(HelpScreen(help_sections(type(self).BINDINGS, here)))

    def action_issues(self) -> None:
        self.push_screen(IssuesScreen(self.workspace.store_path, self.workspace.load_errors))

    # The case keys and the views import their modules when first used (`tui.commands`).

    def action_copy_event(self) -> None:
        from tui.case_actions import copy_event

        copy_event(self, self.workspace)

    def action_copy_tree(self) -> None:
        from tui.case_actions import copy_tree

        copy_tree(self, self.workspace)

    def action_mark(self) -> None:
        from tui.case_actions import toggle_mark

        toggle_mark(self, self.workspace)

    def action_note(self) -> None:
        from tui.case_actions import edit_note

        edit_note(self, self.workspace)

    def action_next_mark(self, forward: bool) -> None:
        from tui.case_actions import next_mark

        next_mark(self, self.workspace, forward)

    def action_export(self) -> None:
        from tui.case_actions import export_view

        export_view(self, self.workspace)

    def action_correlate(self) -> None:
        se = self.selected_event()
        if se is None:
            self.notify("no event selected", severity="warning")
            return
        from tui.correlation import CorrelationScreen

        self.push_screen(CorrelationScreen(self.workspace, se.id))

    def action_view(self, key: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        _title, make_screen = VIEWS[key]
        if make_screen is None:
            self.table.focus()
            return
        self.push_screen(make_screen(self.workspace))

    def _app(self) -> EvtxApp:
        """This app as the `EvtxApp` it is (the triage modules use its panes)."""
        return cast("EvtxApp", self)

    def _main_only(self) -> bool:
        return self.screen is self.screen_stack[0]

    def action_pivot(self, how: str) -> None:
        if self._main_only():
            from tui.pivots import pivot_query

            pivot_query(self._app(), how)

    def action_around(self) -> None:
        if self._main_only():
            from tui.pivots import toggle_around

            toggle_around(self._app())

    def action_around_span(self, minutes: int = 0) -> None:
        """`w`: ask for the span of `~` (the palette's entries pass the minutes)."""
        if not self._main_only():
            return
        from tui.pivots import set_around_span

        if minutes > 0:
            set_around_span(self._app(), minutes)
            return
        from tui.span_prompt import SpanPrompt, parse_minutes

        def chosen(value: str | None) -> None:
            minutes = parse_minutes(value or "")
            if minutes is not None:
                set_around_span(self._app(), minutes)

        self.push_screen(SpanPrompt(self.around_minutes), chosen)

    def action_jump_back(self) -> None:
        if self._main_only():
            from tui.jump import jump_back

            jump_back(self._app())

    def triage_note(self) -> str:
        """The status line's word on the `~` view (its span) or on a jump that cleared the
        filter (how to get it back)."""
        from tui.jump import jump_note
        from tui.pivots import around_note

        app = self._app()
        return around_note(app) or jump_note(app)

    def action_stack(self) -> None:
        if not self._main_only() or self.workspace.store_path is None:
            return
        from tui.pivots import apply_pivot, stack_field
        from tui.stack_panel import Choice, StackScreen

        app = self._app()
        field = stack_field(app)
        if field is None:
            return

        def chosen(choice: Choice) -> None:
            if choice is not None:
                apply_pivot(app, *choice)

        self.push_screen(StackScreen(self.workspace.store_path, self.workspace.compiled, field), chosen)

    def load_columns(self) -> None:
        """The user's saved columns (`tui.column_settings`); a damaged file: one line, defaults."""
        from tui.column_settings import load

        settings, notice = load()
        self.table.set_settings(settings)
        if settings.sort is not None and settings.sort_key is not None:  # (time ascending: no sort)
            self.saved_sort = (settings.sort_key, settings.descending)
        if notice is not None:
            self.notify(notice, severity="warning")

    def action_columns(self) -> None:
        if self._main_only():
            from tui.columns import open_dialog

            open_dialog(self._app())

    def action_sort(self) -> None:
        if self._main_only():
            from tui.columns import sort_selected

            sort_selected(self._app())

    def action_unsort(self) -> None:
        if self._main_only():
            from tui.columns import unsort

            unsort(self._app())

    def show_view(self, query: str, compiled: Filter, anchor: StoredEvent | None = None) -> None:
        """Show the view of a new filter: the selected event (or `anchor`) stays selected
        (else the nearest in time), the status and the timeline strip follow."""
        ws, app = self.workspace, self._app()
        ws.query, ws.compiled = query, compiled
        if query:
            self.jump_back = None  # a new filter: `b` has nothing to restore any more
        if anchor is None:
            row = self.table.selected_row()
            anchor = row.stored if row is not None else None
        self.table.set_view(View(compiled, by_time=ws.loaded))
        if anchor is not None:
            self.table.goto_event(anchor.id, nearest=anchor)
        app._refresh_status()
        self.timeline_follow()

    def _strip(self) -> TimelineStrip:
        return self.screen_stack[0].query_one(TimelineStrip)

    def timeline_follow(self) -> None:
        """The view changed: recompute the timeline strip when it is shown."""
        strip = self._strip()
        if strip.display:
            row = self.table.selected_row()
            strip.show_view(self.workspace.store_path, self.workspace.compiled,
                            row.event.filetime if row is not None else None)

    def action_timeline(self) -> None:
        if not self._main_only():
            return
        strip = self._strip()
        strip.display = not strip.display
        if strip.display:
            self.timeline_follow()
            strip.focus()
        else:
            self.table.focus()

    def action_bucket(self, delta: int) -> None:
        if not self._main_only():
            return
        strip = self._strip()
        if not strip.display:
            self.notify("the timeline strip is hidden: h shows it", severity="warning")
            return
        strip.action_move(delta)
        strip.focus()

    def on_timeline_strip_moved(self, message: TimelineStrip.Moved) -> None:
        """A bucket was selected: the table selects its first event in the view's order."""
        term = compile_query(pivot.time_range(message.start, message.end))

        def done(found: bool, _wrapped: bool) -> None:
            if not found:
                self._strip().move_missed()
                self.notify("no event of this bucket in the view", severity="warning")

        self.table.find(term, True, done, from_start=True)

    def on_timeline_strip_zoom(self, message: TimelineStrip.Zoom) -> None:
        try:
            text = pivot.within(self.workspace.query, message.start, message.end)
        except QueryError:
            text = pivot.time_range(message.start, message.end)
        self._app().set_filter(text)
        self.table.focus()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_entries():
            yield SystemCommand(title, help_text, functools.partial(self.run_action, action))
