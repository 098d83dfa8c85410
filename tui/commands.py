"""The app's menus as data: the view switcher (keys 1-6), the help screen's sections and the
command palette's entries. The app turns them into screens and commands; keeping them here
keeps what a user can reach in one place.

A view's module is imported when the view first opens (plain imports inside the factories: a
broken module fails loudly there), so that the engines behind the views do not slow the
app's start (`tests/app/test_app_imports.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from textual.binding import Binding, BindingType
from textual.screen import Screen

from tui.detail import DetailPane
from tui.event_table import EventTable
from tui.filter_bar import FilterInput
from tui.words import plural
from tui.workspace import Workspace

#: A view: its screen, made for the app's workspace.
ViewFactory = Callable[[Workspace], Screen[None]]


def _processes(ws: Workspace) -> Screen[None]:
    from tui.processes import ProcessesScreen

    return ProcessesScreen(ws)


def _handles(ws: Workspace) -> Screen[None]:
    from tui.handles import HandlesScreen

    return HandlesScreen(ws)


def _sessions(ws: Workspace) -> Screen[None]:
    from tui.sessions import SessionsScreen

    return SessionsScreen(ws)


def _findings(ws: Workspace) -> Screen[None]:
    from tui.findings_view import FindingsScreen

    return FindingsScreen(ws)


def _marks(ws: Workspace) -> Screen[None]:
    from tui.marks import MarksScreen

    return MarksScreen(ws)


def _process_access(ws: Workspace) -> Screen[None]:
    from tui.process_access import ProcessAccessScreen

    return ProcessAccessScreen(ws)


#: View switcher: key -> (title, screen); "1" (no screen) is the events table itself.
VIEWS: dict[str, tuple[str, ViewFactory | None]] = {
    "1": ("Events", None),
    "2": ("Processes", _processes),
    "3": ("Handles", _handles),
    "4": ("Sessions", _sessions),
    "5": ("Findings", _findings),
    "6": ("Marks", _marks),
    "7": ("Process access", _process_access),
}

#: The help screen's legend of the table's marker columns (shown like bindings: glyph, meaning).
MARKER_LEGEND: list[BindingType] = [
    Binding("asterisk", "mark", "marked event (m marks, u/U next/previous mark)", key_display="*"),
    Binding("exclamation_mark", "findings", "finding of high (or critical) severity", key_display="!"),
    Binding("plus", "findings", "finding of medium severity (5: Findings view)", key_display="+"),
    Binding("full_stop", "findings", "finding of low or info severity", key_display="."),
]

#: The command palette's entries besides the views: (title, help, the app action it runs).
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Filter", "Focus the filter bar (/)", "filter"),
    ("Find", "Set the n/N search term (f)", "find"),
    ("Toggle UTC/local time", "t", "toggle_time"),
    ("Toggle detail pane", "d", "toggle_detail"),
    ("Show raw XML", "x", "xml"),
    ("Copy event", "y: copy the selected event (OSC 52)", "copy_event"),
    ("Correlate", "c: the correlation tree of the selected event", "correlate"),
    ("Mark", "m: mark or unmark the selected event", "mark"),
    ("Note", "M: edit the note of the selected event", "note"),
    ("Export view", "e: export the filtered view", "export"),
    ("Issues", "!: unreadable inputs and parse issues", "issues"),
    ("Filter to value", "=: only the events with the selected field's value", "pivot('to')"),
    ("Add value to filter", "+: AND the selected field's value to the filter", "pivot('add')"),
    ("Exclude value", "-: drop the events with the selected field's value", "pivot('exclude')"),
    ("Around this event", "~: its computer within N minutes, 5 at first (again: back)", "around"),
    ("Around: set the span", "w: minutes either side of the event that ~ shows", "around_span"),
    *((f"Around: ±{plural(m, 'minute')}", f"~ shows {plural(m, 'minute')} either side of the event",
       f"around_span({m})")
      for m in (1, 5, 15, 60)),
    ("Back to the filter before the jump", "b: after a jump cleared the filter", "jump_back"),
    ("Stack field", "s: the selected field's values over the view, rarest first", "stack"),
    ("Timeline strip", "h: a histogram of the view over time", "timeline"),
    ("Columns", "C: show, hide, order, size, add EventData fields, sort", "columns"),
    ("Sort by column", "o: sort the table by the selected column (again: flip)", "sort"),
    ("Time order", "O: undo the sort", "unsort"),
    ("Help", "?: every key binding", "help"),
)


def palette_entries() -> Iterator[tuple[str, str, str]]:
    """(title, help, action) of every palette command, the views last."""
    yield from PALETTE
    for key, (title, _screen) in VIEWS.items():
        yield f"View: {title}", f"{key}: open the {title} view", f"view('{key}')"


def help_sections(app_bindings: Sequence[BindingType],
                  here: tuple[str, Sequence[BindingType]] | None = None) -> list[tuple[str, Sequence[BindingType]]]:
    """The help screen: every binding, by where it works; `here` first, (the view's name, the
    keys it and its widgets add) when help is asked for in a view."""
    return [
        *([here] if here is not None and here[1] else []),
        ("Everywhere", app_bindings),
        ("Event table", EventTable.BINDINGS),
        ("Filter bar", [*FilterInput.BINDINGS, Binding("enter", "submit", "Apply the query"),
                        Binding("escape", "back", "Back to the table")]),
        ("Detail pane", DetailPane.BINDINGS),
        ("Event table markers (left columns)", MARKER_LEGEND),
        ("Screens", [Binding("ctrl+p", "command_palette", "Command palette"),
                     Binding("tab", "focus_next", "Next pane"),
                     Binding("shift+tab", "focus_previous", "Previous pane")]),
    ]
