"""The terminal app: filter bar, virtualised event table, detail pane, status line, views.

Start-up never waits for parsing: a complete cache database opens at once; otherwise the
inputs are parsed into the cache database by a thread worker (`CacheEntry.build`) while the
table reads the rows already committed through its own read-only connection, so rows appear
while the log is still being read. `esc` stops loading and keeps what was read.

The other views (processes, handles, sessions, findings, marks, correlation, export) live in
their own modules and are imported when first opened; a missing module is a notification,
not a crash. The attributes and methods other screens rely on are listed in
`tui_contract` terms on `EvtxApp`: `store_path`, `loaded`, `jump_to_event`,
`selected_event`, `current_query`, `current_view_where`, `copy_text`, `case`.

Findings: once loading has finished the findings rules run once in a thread worker, through
the same per-app cache the Findings view uses (`tui.model_cache`), and the result feeds the
table's marker column and the detail pane's Findings node.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Tree

from core.model.text import printable
from core.query.compile import Compiled
from core.query.view import View
from core.store.ingest import Progress
from core.store.store import SourceRow, Store, StoredEvent
from tui.detail import DetailPane, event_as_text
from tui.event_table import EventTable, local_offset_label, severity_rank
from tui.filter_bar import FilterBar, FilterInput
from tui.help import HelpScreen
from tui.history import History
from tui.issues_panel import IssuesScreen
from tui.status import LoadState, StatusBar, status_text
from tui.typeahead import route_typeahead

#: Progress reaches the UI at most this often (the parser calls back per batch).
PROGRESS_INTERVAL = 0.1
WIDE = 140
#: The GIL switch interval while the app runs (see EvtxApp.on_mount).
SWITCH_INTERVAL = 0.001

#: View switcher: key -> (title, module, screen class); "events" is the main screen.
VIEWS: dict[str, tuple[str, str | None, str | None]] = {
    "1": ("Events", None, None),
    "2": ("Processes", "tui.processes", "ProcessesScreen"),
    "3": ("Handles", "tui.handles", "HandlesScreen"),
    "4": ("Sessions", "tui.sessions", "SessionsScreen"),
    "5": ("Findings", "tui.findings_view", "FindingsScreen"),
    "6": ("Marks", "tui.marks", "MarksScreen"),
}


#: The help screen's legend of the table's marker columns (shown like bindings: glyph, meaning).
MARKER_LEGEND: list[BindingType] = [
    Binding("asterisk", "mark", "marked event (m marks, u/U next/previous mark)", key_display="*"),
    Binding("exclamation_mark", "findings", "finding of high (or critical) severity", key_display="!"),
    Binding("plus", "findings", "finding of medium severity (5: Findings view)", key_display="+"),
    Binding("full_stop", "findings", "finding of low or info severity", key_display="."),
]


class LoadProgress(Message):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class LoadStarted(Message):
    """The database exists (the first batch is committed): the table can start reading."""

    def __init__(self, db_path: Path, notice: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        #: Why the database is not where the cache would keep it (a full cache disk), if so.
        self.notice = notice


class LoadFinished(Message):
    """Loading ended (complete, stopped, or failed with `error`). Posted to the app and to
    every screen on the stack, so views built from partial data can rebuild."""

    def __init__(self, error: str | None = None, stopped: bool = False) -> None:
        super().__init__()
        self.error = error
        self.stopped = stopped


class FindingsComputed(Message):
    """The findings of the store at `store_path`, by event (most severe first), or why not."""

    def __init__(
        self,
        store_path: Path,
        by_event: dict[int, list[Any]] | None,
        titles: dict[str, str],
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.store_path = store_path
        self.by_event = by_event
        self.titles = titles
        self.error = error


def findings_by_event(findings: Iterable[Any]) -> dict[int, list[Any]]:
    """Findings grouped by store id, each group most severe first (then by rule id)."""
    by_event: dict[int, list[Any]] = defaultdict(list)
    for finding in findings:
        by_event[int(finding.store_id)].append(finding)
    for items in by_event.values():
        items.sort(key=lambda f: (severity_rank(str(f.severity)), str(f.rule)))
    return dict(by_event)


def import_optional(module: str) -> ModuleType | None:
    """The module, or None when that exact module does not exist (yet)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


class EvtxApp(App[int]):
    """See the module docstring."""

    TITLE = "evtx-explorer"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("f", "find", "Find", show=False),
        Binding("n", "find_next(True)", "Next match", show=False),
        Binding("N", "find_next(False)", "Prev match", show=False),
        Binding("enter", "focus_detail", "Detail", show=False),
        Binding("escape", "back", "Back/stop", show=False),
        Binding("t", "toggle_time", "UTC/local", show=False),
        Binding("d", "toggle_detail", "Detail pane", show=False),
        Binding("x", "xml", "XML", show=False),
        Binding("y", "copy_event", "Copy"),
        Binding("Y", "copy_tree", "Copy tree", show=False),
        Binding("c", "correlate", "Correlate"),
        Binding("p", "view('2')", "Processes", show=False),
        Binding("m", "mark", "Mark"),
        Binding("M", "note", "Note", show=False),
        Binding("u", "next_mark(True)", "Next mark", show=False),
        Binding("U", "next_mark(False)", "Prev mark", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("exclamation_mark", "issues", "Issues", show=False),
        Binding("1", "view('1')", "Events", show=False),
        Binding("2", "view('2')", "Procs", show=False),
        Binding("3", "view('3')", "Handles", show=False),
        Binding("4", "view('4')", "Sessions", show=False),
        Binding("5", "view('5')", "Findings", show=False),
        Binding("6", "view('6')", "Marks", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        files: Sequence[str],
        *,
        use_cache: bool = True,
        jobs: int | None = None,
        store_path: Path | None = None,
        history: History | None = None,
        case_file: str | None = None,
    ) -> None:
        super().__init__()
        self.files = [str(f) for f in files]
        self.use_cache = use_cache
        self.jobs = jobs
        self.store_path: Path | None = store_path
        self.loaded = False
        #: True once the findings of the loaded store reached the table and detail (or failed).
        self.findings_ready = False
        self.current_query = ""
        self.current_compiled = Compiled("1", ())
        self.case: Any = None
        self.case_file = case_file
        self.history = history if history is not None else History()
        self.load_state = LoadState()
        self.load_errors: list[str] = []
        self.sources: dict[int, SourceRow] = {}
        self.all_count = 0
        self.issue_count = 0
        self.error_count = 0
        self.find_compiled: Compiled | None = None
        self._stop = threading.Event()
        self._entry: Any = None
        self._cache_ready = False
        self._switch_interval = sys.getswitchinterval()
        self._last_progress = 0.0
        self._records_by_source: dict[int, int] = {}
        self._bytes_by_source: dict[int, int] = {}
        self._issues_by_source: dict[int, int] = {}
        self._load_started = 0.0
        self._note = ""

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FilterBar(self.history, id="filter")
        with Container(id="main"):
            table = EventTable(id="events")
            table.border_title = "Events"
            yield table
            detail = DetailPane(id="detail")
            detail.border_title = "Detail"
            yield detail
        yield StatusBar(id="status")
        yield Footer()

    @property
    def table(self) -> EventTable:
        return self.screen_stack[0].query_one(EventTable)

    @property
    def detail(self) -> DetailPane:
        return self.screen_stack[0].query_one(DetailPane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.screen_stack[0].query_one(FilterBar)

    def on_load(self) -> None:
        """Before the screen is up: find the cache, and when a big log must be parsed, start
        the ingest child now, so that its start-up overlaps the app's own (first rows of a
        cold 105 MB log after 0.19-0.30 s instead of 0.35-0.48 s)."""
        if self.store_path is not None:
            return
        from core.store.cache import CacheEntry, needs_child_process

        self._entry = CacheEntry(self.files, use_cache=self.use_cache)
        self._cache_ready = self._entry.ready()
        if not self._cache_ready and needs_child_process(self.files, self.jobs):
            try:
                self._entry.start_child(self.jobs)
            except OSError:
                pass  # the load worker tries again, and reports what stops it

    def on_mount(self) -> None:
        # The table's fetcher threads wait in SQLite with the GIL released and need it back
        # after every call; while this thread renders, each hand-back took up to the default
        # 5 ms switch interval, a dozen times per page (a filter's rows: ~110 ms -> ~55 ms at
        # a million events with 1 ms, bench/table.py).
        self._switch_interval = sys.getswitchinterval()  # put back when the app ends
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.query_one("#filter-error").display = False
        self._apply_width(self.size.width)
        self.table.focus()
        if self.store_path is not None:
            self._open_ready(self.store_path)
            return
        if self._cache_ready:
            os.utime(self._entry.db_path)
            self._open_ready(self._entry.db_path)
        else:
            self.load_state = LoadState(active=True, bytes_total=sum(_size(f) for f in self.files))
            self._load_started = time.perf_counter()
            self._refresh_status()
            self._load()

    def on_resize(self) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.screen_stack[0].set_class(width >= WIDE, "-wide")

    # -- loading ---------------------------------------------------------------------------------

    def _open_ready(self, db_path: Path) -> None:
        self.store_path = db_path
        self.loaded = True
        self._read_sources()
        self.table.set_view(View.of(self.current_compiled, by_time=True))
        self.table.attach(db_path)
        self._open_case()
        self._refresh_status()
        self._start_findings()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        entry = self._entry
        posted: Path | None = None  # the database the table was last told to read

        def started() -> None:
            nonlocal posted
            if entry.db_path != posted and str(entry.db_path) != ":memory:":
                # the first batch, or a build that moved (the cache disk is full)
                posted = entry.db_path
                self.post_message(LoadStarted(entry.db_path, entry.notice))

        def progress(p: Progress) -> None:
            started()
            now = time.perf_counter()
            if p.done or now - self._last_progress >= PROGRESS_INTERVAL:
                self._last_progress = now
                self.post_message(LoadProgress(p))

        error: str | None = None
        try:
            from core.store.cache import needs_child_process

            child = needs_child_process(self.files, self.jobs)
            store = entry.build(progress=progress, stop=self._stop, jobs=self.jobs, child=child)
            store.close()
        except Exception as exc:  # noqa: BLE001 - shown on screen; whatever was read stays
            error = f"loading failed: {type(exc).__name__}: {exc}"
        if str(entry.db_path) == ":memory:":  # this thread's store: the table cannot read it
            error = "loading failed: no disk space left for the events (cache and temp directory full)"
        if entry.db_path.exists():
            started()
        self.post_message(LoadFinished(error=error, stopped=self._stop.is_set()))

    def on_load_started(self, message: LoadStarted) -> None:
        if message.notice:
            self._note = message.notice
            self._refresh_status()
        moved = self.store_path is not None and self.store_path != message.db_path
        if self.store_path is None or self.table.fetcher is None or moved:
            self.store_path = message.db_path
            self.table.set_view(View.of(self.current_compiled, by_time=False))
            self.table.attach(message.db_path)

    def on_load_progress(self, message: LoadProgress) -> None:
        p = message.progress
        st = self.load_state
        self._records_by_source[p.source] = p.records
        self._bytes_by_source[p.source] = p.bytes_total if p.done else p.bytes_done
        self._issues_by_source[p.source] = p.issues
        st.records = sum(self._records_by_source.values())
        st.bytes_done = sum(self._bytes_by_source.values())
        st.elapsed = time.perf_counter() - self._load_started
        self.issue_count = sum(self._issues_by_source.values())
        if self.table.fetcher is not None:
            self.table.soft_reload(committed=st.records)
        self._refresh_status()

    def on_load_finished(self, message: LoadFinished) -> None:
        self.loaded = True
        self.load_state.active = False
        self.load_state.stopped = message.stopped
        if self._note.startswith("stopping"):
            self._note = ""  # the status now says "loading stopped" with the count
        if message.error:
            self.load_errors.append(message.error)
            self.notify(printable(message.error), severity="error", markup=False)
        if self.store_path is not None and self.store_path.exists():
            self._read_sources()
            self.load_state.records = self.all_count
            selected = self.table.selected_row()
            self.table.set_view(View.of(self.current_compiled, by_time=True))
            if self.table.fetcher is None:
                self.table.attach(self.store_path)
            if selected is not None:
                self.table.goto_event(selected.id)
            self._open_case()
            self._start_findings()
        for screen in self.screen_stack[1:]:
            screen.post_message(LoadFinished(message.error, message.stopped))
        self._refresh_status()

    # -- findings --------------------------------------------------------------------------------

    def _start_findings(self) -> None:
        """Run the findings rules over the whole store (after loading) for the table and detail."""
        if self.store_path is None:
            return
        self.findings_ready = False
        self._compute_findings(self.store_path, self.loaded)

    @work(thread=True, exclusive=True, group="table-findings")
    def _compute_findings(self, path: Path, loaded: bool) -> None:
        from tui.model_cache import ViewDataError, cache_for

        try:
            data = cache_for(self).findings(path, loaded)
        except ViewDataError as exc:
            self.post_message(FindingsComputed(path, None, {}, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - shown in the detail pane, the app goes on
            self.post_message(FindingsComputed(path, None, {}, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(FindingsComputed(path, findings_by_event(data.findings), dict(data.titles)))

    def on_findings_computed(self, message: FindingsComputed) -> None:
        if not self.screen_stack or message.store_path != self.store_path:
            return
        self.findings_ready = True
        by_event = message.by_event
        if by_event is None:
            self.table.set_findings({})
            self.detail.set_findings(None, message.error)
            self.notify(printable(f"findings: {message.error}"), severity="warning", markup=False)
            return
        self.table.set_findings({sid: str(items[0].severity) for sid, items in by_event.items() if items})
        self.detail.set_findings(by_event, None, message.titles)

    def _read_sources(self) -> None:
        """Sources and issue counts (small tables: read on the main thread)."""
        if self.store_path is None:
            return
        with Store(self.store_path, readonly=True) as store:
            rows = store.sources()
            self.issue_count = store.issue_count()
        self.sources = {r.id: r for r in rows}
        self.all_count = sum(r.records for r in rows)
        self.error_count = sum(1 for r in rows if r.error) + len(self.load_errors)
        self.detail.sources = self.sources
        self.table.set_sources({r.id: r.path for r in rows})

    def _open_case(self) -> None:
        if self.case is not None or self.store_path is None:
            return
        mod = import_optional("core.report.case")
        if mod is None:
            return
        try:
            self.case = mod.Case.for_inputs(self.files, self.case_file)
            with Store(self.store_path, readonly=True) as store:
                self.case.bind(store)
            for warning in getattr(self.case, "warnings", []):
                self.notify(printable(warning), severity="warning", markup=False)
        except Exception as exc:  # noqa: BLE001 - marks are optional; the log must still open
            self.notify(printable(f"case not opened: {exc}"), severity="warning", markup=False)
            self.case = None
            return
        self.refresh_marks()

    def refresh_marks(self) -> None:
        """Reload the set of marked store ids (the table's marker column)."""
        if self.case is None or self.store_path is None:
            return
        try:
            with Store(self.store_path, readonly=True) as store:
                self.table.marked = set(self.case.resolve(store))
        except Exception:  # noqa: BLE001
            return
        self.table.refresh()

    def _stop_loading(self) -> bool:
        if self.load_state.active and not self._stop.is_set():
            self._stop.set()
            self._note = "stopping…"
            self._refresh_status()
            return True
        return False

    # -- status ----------------------------------------------------------------------------------

    def _refresh_status(self) -> None:
        table = self.table
        filtered = self.current_compiled.where != "1"
        total = self.load_state.records if self.load_state.active else self.all_count
        shown = table.total if table.fetcher is not None else (0 if not self.load_state.active else None)
        if not filtered and shown is not None:
            total = max(total, shown)
        zone = local_offset_label() if table.local_time else "UTC"
        text = status_text(shown, total, filtered, zone, self.load_state, self.issue_count, self.error_count,
                           self._note)
        self.query_one(StatusBar).update_status(text, self.load_state)
        title = "Events" if not filtered else "Events (filtered)"
        table.border_title = title

    def on_event_table_counted(self, message: EventTable.Counted) -> None:
        if self.screen_stack:
            self._refresh_status()

    def on_event_table_failed(self, message: EventTable.Failed) -> None:
        self.notify(printable(f"query failed: {message.error}"), severity="error", markup=False)

    def on_event_table_selected(self, message: EventTable.Selected) -> None:
        if not self.screen_stack:  # a late message while the app shuts down
            return
        row = message.row
        self.detail.show(row.id if row else None, row.event if row else None)

    # -- filter ----------------------------------------------------------------------------------

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.current_query = message.query
        self.current_compiled = message.compiled
        self.table.set_view(View.of(message.compiled, by_time=self.loaded))
        self._refresh_status()
        if message.final:
            self.table.focus()

    def on_filter_bar_find_set(self, message: FilterBar.FindSet) -> None:
        self.find_compiled = message.compiled
        self.filter_bar.close()
        self.table.focus()
        self.action_find_next(True)

    def current_view_where(self) -> Compiled:
        return self.current_compiled

    def set_filter(self, query: str) -> bool:
        """Apply `query` as if typed in the bar (False, with the error shown, if it is bad)."""
        bar = self.filter_bar
        bar.set_query(query)
        compiled = bar.compile(query)
        if compiled is None:
            return False
        self.current_query, self.current_compiled = query, compiled
        self.table.set_view(View.of(compiled, by_time=self.loaded))
        self._refresh_status()
        return True

    # -- contract for other screens --------------------------------------------------------------

    def selected_event(self) -> StoredEvent | None:
        """The event the analyst has selected on the screen in front: a view (Handles, Marks, a
        tree) names it through `selected_store_id()`, so `c`, `m`, `M`, `y` act on what that view
        highlights, never on the event table's row hidden behind it."""
        screen = self.screen
        picker = getattr(screen, "selected_store_id", None)
        if screen is not self.screen_stack[0] and callable(picker):
            store_id = picker()
            if store_id is None or self.store_path is None:
                return None
            with Store(self.store_path, readonly=True) as store:
                return store.get(int(store_id))
        row = self.table.selected_row()
        return row.stored if row is not None else None

    def jump_to_event(self, store_id: int) -> None:
        """Back to the events view with `store_id` selected (clearing the filter if it hides it)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        table = self.table

        def missing() -> None:
            self.set_filter("")
            table.goto_event(store_id, on_missing=lambda: self.notify(f"event {store_id} is not in the store"))

        table.goto_event(store_id, on_missing=missing)
        table.focus()

    def copy_text(self, text: str) -> None:
        self.copy_to_clipboard(text)
        lines = text.count("\n") + 1
        self.notify(f"copied {lines} line{'s' if lines != 1 else ''} (OSC 52)")

    def on_key(self, event: events.Key) -> None:
        """Before the bindings: keys typed for a text box that opened after they were read
        (a paste, a fast typist) go into it, not to commands (see `tui.typeahead`)."""
        if route_typeahead(self.screen, event):
            event.stop()
            event.prevent_default()

    # -- actions ---------------------------------------------------------------------------------

    def _on_main(self) -> bool:
        return self.screen is self.screen_stack[0]

    def action_filter(self) -> None:
        if self._on_main():
            self.filter_bar.open("filter")

    def action_find(self) -> None:
        if self._on_main():
            self.filter_bar.open("find")

    def action_find_next(self, forward: bool) -> None:
        if self.find_compiled is None:
            self.action_find()
            return
        term = (self.find_compiled.where, self.find_compiled.params)

        def done(found: bool, wrapped: bool) -> None:
            if not found:
                self.notify("no match in this view", severity="warning")
            elif wrapped:
                self.notify("search wrapped around")

        self.table.find(term, forward, done)

    def action_focus_detail(self) -> None:
        if self._on_main():
            detail = self.detail
            detail.display = True
            detail.query_one(Tree).focus()

    async def action_back(self) -> None:
        """`esc`: stop loading, else leave a view, else close the filter bar."""
        if self._stop_loading():
            return
        if not self._on_main():
            self.pop_screen()
            return
        focused = self.focused
        if isinstance(focused, FilterInput):
            self.filter_bar.close()
        self.table.focus()

    def action_toggle_time(self) -> None:
        self.table.local_time = not self.table.local_time
        self._refresh_status()

    def action_toggle_detail(self) -> None:
        detail = self.detail
        detail.display = not detail.display
        if not detail.display:
            self.table.focus()

    def action_xml(self) -> None:
        self.detail.display = True
        self.detail.action_toggle_tab()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, Sequence[BindingType]]]:
        return [
            ("Everywhere", type(self).BINDINGS),
            ("Event table", EventTable.BINDINGS),
            ("Filter bar", [*FilterInput.BINDINGS, Binding("enter", "submit", "Apply the query"),
                            Binding("escape", "back", "Back to the table")]),
            ("Detail pane", DetailPane.BINDINGS),
            ("Event table markers (left columns)", MARKER_LEGEND),
            ("Screens", [Binding("ctrl+p", "command_palette", "Command palette"),
                         Binding("tab", "focus_next", "Next pane"),
                         Binding("shift+tab", "focus_previous", "Previous pane")]),
        ]

    def action_issues(self) -> None:
        self.push_screen(IssuesScreen(self.store_path if self.store_path else None, self.load_errors))

    def _need_event(self) -> StoredEvent | None:
        se = self.selected_event()
        if se is None:
            self.notify("no event selected", severity="warning")
        return se

    def action_copy_event(self) -> None:
        actions = import_optional("tui.case_actions")
        if actions is not None and hasattr(actions, "copy_event"):
            actions.copy_event(self)
            return
        se = self._need_event()
        if se is not None:
            self.copy_text(event_as_text(se.event, self.sources.get(se.event.source)))

    def _case_action(self, name: str, *args: object) -> None:
        actions = import_optional("tui.case_actions")
        if actions is None or not hasattr(actions, name):
            self.notify(f"{name.replace('_', ' ')}: tui.case_actions is not available", severity="warning")
            return
        result = actions.__dict__[name](self, *args)
        if hasattr(result, "__await__"):
            self.run_worker(result, exclusive=False)
        self.refresh_marks()

    def action_copy_tree(self) -> None:
        self._case_action("copy_tree")

    def action_mark(self) -> None:
        self._case_action("toggle_mark")

    def action_note(self) -> None:
        self._case_action("edit_note")

    def action_next_mark(self, forward: bool) -> None:
        self._case_action("next_mark", forward)

    def action_export(self) -> None:
        self._case_action("export_view")

    def action_correlate(self) -> None:
        se = self._need_event()
        if se is None:
            return
        mod = import_optional("tui.correlation")
        if mod is None:
            self.notify("correlation view: tui.correlation is not available", severity="warning")
            return
        self.push_screen(mod.CorrelationScreen(se.id))

    def action_view(self, key: str) -> None:
        title, module, cls = VIEWS[key]
        if module is None or cls is None:
            while len(self.screen_stack) > 1:
                self.pop_screen()
            self.table.focus()
            return
        mod = import_optional(module)
        if mod is None or not hasattr(mod, cls):
            self.notify(f"{title} view: {module} is not available", severity="warning")
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        screen: Screen[Any] = getattr(mod, cls)()
        self.push_screen(screen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        entries: list[tuple[str, str, Callable[[], object]]] = [
            ("Filter", "Focus the filter bar (/)", self.action_filter),
            ("Find", "Set the n/N search term (f)", self.action_find),
            ("Toggle UTC/local time", "t", self.action_toggle_time),
            ("Toggle detail pane", "d", self.action_toggle_detail),
            ("Show raw XML", "x", self.action_xml),
            ("Copy event", "y: copy the selected event (OSC 52)", self.action_copy_event),
            ("Correlate", "c: the correlation tree of the selected event", self.action_correlate),
            ("Mark", "m: mark or unmark the selected event", self.action_mark),
            ("Note", "M: edit the note of the selected event", self.action_note),
            ("Export view", "e: export the filtered view", self.action_export),
            ("Issues", "!: unreadable inputs and parse issues", self.action_issues),
            ("Help", "?: every key binding", self.action_help),
        ]
        for key, (title, _m, _c) in VIEWS.items():
            entries.append((f"View: {title}", f"{key}: open the {title} view",
                            lambda key=key: self.action_view(key)))  # type: ignore[misc]
        for title, help_text, callback in entries:
            yield SystemCommand(title, help_text, callback)

    def on_unmount(self) -> None:
        self._stop.set()
        if self._entry is not None:
            self._entry.abandon()  # an ingest child the load worker never took over
        from tui.model_cache import cache_for

        cache_for(self).stop.set()  # a findings child still running ends with the app
        sys.setswitchinterval(self._switch_interval)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def run_app(
    files: Sequence[str], use_cache: bool = True, jobs: int | None = None, case_file: str | None = None
) -> int:
    """Run the app on `files` (the `open` command); the exit status."""
    app = EvtxApp(files, use_cache=use_cache, jobs=jobs, case_file=case_file)
    result = app.run()
    return int(result or 0)


__all__ = ["EvtxApp", "LoadFinished", "run_app"]
