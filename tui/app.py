"""The terminal app: filter bar, virtualised event table, detail pane, status line, views.

(About 620 lines: the handlers of every worker message (load, findings, Sigma) and the input
events the model built ahead yields to must sit on the App, where Textual delivers them; the
keys are in `tui.app_actions`, the build ahead in `tui.prebuild`.)

The app owns the `Workspace` (`tui.workspace`: the inputs, the open store, the case, the query,
the model cache) and hands it to every screen it opens; loading runs in a thread worker
(`tui.loading`), which tells the app through the data messages of `tui.messages`. The views
(processes, handles, sessions, findings, marks, correlation) and the case keys (`tui.case_actions`)
read the workspace and ask the app to jump with `JumpToEvent`. The key tables (view switcher,
help, palette) are in `tui.commands`.

Findings: once loading has finished the findings rules run once in a thread worker, through
the workspace's model cache the Findings view uses too, and the result feeds the table's marker
column and the detail pane's Findings node (`tui.table_findings`); the same worker then builds
the correlation model ahead (`tui.prebuild`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.widgets import Footer, Tree
from textual.worker import get_current_worker

from core.model.text import printable
from core.query.view import View
from core.store.cache_damage import is_damage_text, mark_opened
from core.store.filter import Filter
from core.store.heap import tune_allocator
from core.store.store import Store, StoredEvent
from tui.app_actions import TRIAGE_BINDINGS, AppActions
from tui.columns import saved_sort_note, spell_field_columns, table_sort
from tui.detail import DetailPane
from tui.event_table import EventTable
from tui.filter_bar import FilterBar, FilterInput
from tui.history import History
from tui.loading import Loader
from tui.messages import (
    FindingsComputed,
    JumpToEvent,
    LoadFinished,
    LoadProgress,
    LoadStarted,
    MarksChanged,
    ModelAhead,
    SigmaProgressed,
)
from tui.status import StatusBar, status_text
from tui.table_rows import local_offset_label
from tui.timeline_strip import TimelineStrip
from tui.typeahead import route_typeahead
from tui.view_builders import all_view_builders
from tui.workspace import PicksEvent, Workspace

WIDE = 140
#: The GIL switch interval while the app runs (see EvtxApp.on_mount).
SWITCH_INTERVAL = 0.001


class EvtxApp(AppActions):
    """See the module docstring."""

    TITLE = "evtx-explorer"
    # The views' stylesheet too (2 ms here): loaded by the first view pushed, it made Textual
    # parse every rule again and restyle every widget (80-200 ms of a reopened view's 0.3 s).
    CSS_PATH = ["app.tcss", "views.tcss"]  # noqa: RUF012 - (as Textual declares it)
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
        Binding("7", "view('7')", "Access", show=False),
        *TRIAGE_BINDINGS,
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
        prebuild: bool = True,
    ) -> None:
        tune_allocator()  # before the app's threads allocate: freed memory given back (`core.store.heap`)
        super().__init__()
        self.workspace = Workspace(inputs=[str(f) for f in files], store_path=store_path)
        self.workspace.selection = self.selected_event
        self.workspace.table_sort = lambda: table_sort(self.table)
        self.workspace.view_builders = all_view_builders
        self.case_file = case_file
        self.history = history if history is not None else History()
        self.loader = Loader(self.workspace.inputs, use_cache=use_cache, jobs=jobs)
        self.all_count = 0
        self.issue_count = 0
        self.error_count = 0
        self.find_compiled: Filter | None = None
        #: The event selected when `/` opened the bar: `esc` selects it again (the live
        #: preview's keep-place moved the cursor to its own nearest event).
        self._bar_anchor: StoredEvent | None = None
        self._switch_interval = sys.getswitchinterval()
        self._note = ""
        self._ahead = ""  # the model built ahead's progress (`on_model_ahead`)
        self._damage_told = False  # the damaged cache said (`_damage_said`)
        #: Whether the model is built once the findings are in (`tui.prebuild`).
        self.prebuild = prebuild
        #: `time.monotonic()` of the last key press or mouse event (the prebuild yields to them).
        self.input_at = 0.0

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FilterBar(self.history, id="filter")
        yield TimelineStrip(id="timeline")
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
    def _showing(self) -> bool:
        """Whether the main screen is still up to show a worker's message: once the app begins
        to close (`is_running` false) its widgets go one by one while late messages still arrive."""
        return self.is_running and bool(self.screen_stack)

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
        """Before the screen is up: find the cache and start a big log's ingest child
        (`Loader.prepare`)."""
        if self.workspace.store_path is None:
            self.loader.prepare()

    def on_mount(self) -> None:
        # The table's fetcher threads wait in SQLite with the GIL released and need it back
        # after every call; while this thread renders, each hand-back took up to the default
        # 5 ms switch interval, a dozen times per page (a filter's rows: ~110 ms -> ~55 ms at
        # a million events with 1 ms, bench/table.py).
        self._switch_interval = sys.getswitchinterval()  # put back when the app ends
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.query_one("#filter-error").display = False
        self._apply_width(self.size.width)
        self.load_columns()
        self.table.focus()
        entry = self.loader.entry
        if self.workspace.store_path is not None:
            self._open_ready(self.workspace.store_path)
        elif entry is not None and self.loader.cache_ready:
            os.utime(entry.db_path)
            self._open_ready(entry.db_path)
        else:
            self.loader.begin()
            self._refresh_status()
            self._load()

    def on_resize(self) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.screen_stack[0].set_class(width >= WIDE, "-wide")

    # -- loading ---------------------------------------------------------------------------------

    def _open_ready(self, db_path: Path) -> None:
        ws = self.workspace
        ws.store_path = db_path
        ws.loaded = True
        self._read_sources()
        self.table.set_view(View(ws.compiled, by_time=True))
        self.table.attach(db_path)
        self._open_case()
        self._refresh_status()
        self._start_findings()

    @work(thread=True, exclusive=True, group="load", description="loading the inputs")
    def _load(self) -> None:
        self.loader.run(self.post_message)

    def on_load_started(self, message: LoadStarted) -> None:
        if not self._showing:
            return
        ws = self.workspace
        if message.notice:
            self._note = message.notice
            self._refresh_status()
        if message.renamed and self.table.fetcher is not None:  # same data, final name: keep the place
            ws.store_path = self.table.fetcher.db_path = message.db_path
            return
        moved = ws.store_path is not None and ws.store_path != message.db_path
        if ws.store_path is None or self.table.fetcher is None or moved:
            ws.store_path = message.db_path
            self.table.set_view(View(ws.compiled, by_time=False))
            self.table.attach(message.db_path)

    def on_load_progress(self, message: LoadProgress) -> None:
        if not self._showing:
            return
        self.issue_count = self.loader.advance(message.progress)
        if self.table.fetcher is not None:
            self.table.soft_reload(committed=self.loader.state.records)
        self._refresh_status()

    def on_load_finished(self, message: LoadFinished) -> None:
        if not self._showing:
            return
        ws = self.workspace
        ws.loaded = True
        state = self.loader.state
        state.active = False
        state.stopped = message.stopped
        if self._note.startswith("stopping"):
            self._note = ""  # the status now says "loading stopped" with the count
        if message.error:
            ws.load_errors.append(message.error)
            self.notify(printable(message.error), severity="error", markup=False)
        if ws.store_path is not None and ws.store_path.exists():
            self._read_sources()
            state.records = self.all_count
            # The event the analyst chose stays selected; else the earliest (row 0 of time order),
            # not the first loaded: a second file's earlier events sort above that one.
            selected = self.table.selected_row() if self.table.placed else None
            self.table.set_view(View(ws.compiled, by_time=True))
            if self.table.fetcher is None:
                self.table.attach(ws.store_path)
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
        ws = self.workspace
        if ws.store_path is None:
            return
        ws.findings_ready = False
        self._compute_findings(ws.store_path, ws.loaded)

    @work(thread=True, exclusive=True, group="table-findings",
          description="the findings of the table's marker column, then the model ahead")
    def _compute_findings(self, path: Path, loaded: bool) -> None:
        from tui.table_findings import compute_findings  # the engines load here, not at start

        computed = compute_findings(self.workspace.models, path, loaded)
        self.post_message(computed)
        if loaded and computed.by_event is not None:  # then with the Sigma matches (computed once)
            self._sigma_findings(path, computed)
        if loaded and self.prebuild and not get_current_worker().is_cancelled:
            from tui.prebuild import prebuild_model

            prebuild_model(self.workspace, path, lambda: self.input_at, self.post_message)

    def _sigma_findings(self, path: Path, computed: FindingsComputed) -> None:
        assert computed.by_event is not None
        self.workspace.wait_quiet()  # (its imports: not while a view opens)
        from tui.findings_view import sigma_findings, to_app

        try:
            extra, titles = sigma_findings(self.workspace, to_app(self))
        except Exception:  # noqa: BLE001 - the Findings view shows the reason
            return
        finally:
            self.workspace.sigma_ended = True  # (a flag for benchmarks and tests to wait on)
        if extra:
            self.post_message(FindingsComputed(path, computed.by_event.with_extra(extra),
                                               {**computed.titles, **titles}))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.input_at = time.monotonic()
        await super().on_event(event)

    @property
    def correlating_ahead(self) -> bool:
        """Whether the status line shows the model built ahead's progress."""
        return bool(self._ahead)

    def on_model_ahead(self, message: ModelAhead) -> None:
        """The model built ahead's progress in the status line (cleared when it ends)."""
        from tui.prebuild import ahead_note

        if self._showing:  # (beside the notes: a load's notice stays)
            self._ahead = ahead_note(message.progress) if message.progress is not None else ""
            self._refresh_status()

    def on_sigma_progressed(self, message: SigmaProgressed) -> None:
        """The Sigma run's progress in the status line (cleared when it ends), and to the views."""
        text = message.progress.text() if message.progress is not None else ""
        if not self._showing:
            return
        if text or self._note.startswith("Sigma:"):
            self._note = text
            self._refresh_status()
        for screen in self.screen_stack[1:]:
            screen.post_message(SigmaProgressed(message.progress))

    def on_findings_computed(self, message: FindingsComputed) -> None:
        ws = self.workspace
        if not self._showing or message.store_path != ws.store_path or not self.screen_stack[0].query(EventTable):
            return  # (another store's, or the app closing: its widgets gone)
        ws.findings_ready = True
        by_event = message.by_event
        if by_event is None:
            self.table.set_findings({})
            self.detail.set_findings(None, message.error)
            if not self._damage_said(message.error):
                self.notify(printable(f"findings: {message.error}"), severity="warning", markup=False)
            return
        self.table.set_findings(by_event.highest)
        self.detail.set_findings(by_event, None, message.titles)

    def _read_sources(self) -> None:
        """Sources and issue counts (small tables: read on the main thread)."""
        ws = self.workspace
        if ws.store_path is None:
            return
        with Store(ws.store_path, readonly=True) as store:
            rows = store.sources()
            self.issue_count = store.issue_count()
            self.filter_bar.fields = store.field_names()
            spelled = spell_field_columns(self.table.settings, store)
        if spelled:
            self.table.set_settings(self.table.settings)  # (saved with the next change of columns)
        ws.sources = {r.id: r for r in rows}
        self.all_count = sum(r.records for r in rows)
        self.error_count = sum(1 for r in rows if r.error) + len(ws.load_errors)
        self.detail.sources = ws.sources
        self.table.set_sources({r.id: r.path for r in rows})

    def _open_case(self) -> None:
        ws = self.workspace
        if ws.case is not None or ws.store_path is None:
            return
        from core.report.case import Case

        try:
            case = Case.for_inputs(ws.inputs, self.case_file)
            with Store(ws.store_path, readonly=True) as store:
                case.bind(store)
        except Exception as exc:  # noqa: BLE001 - marks are optional; the log must still open
            self.notify(printable(f"case not opened: {exc}"), severity="warning", markup=False)
            return
        ws.case = case
        for warning in case.warnings:
            self.notify(printable(warning), severity="warning", markup=False)
        self.refresh_marks()

    def refresh_marks(self) -> None:
        """Reload the set of marked store ids (the table's marker column)."""
        ws = self.workspace
        if ws.case is None or ws.store_path is None:
            return
        try:
            with Store(ws.store_path, readonly=True) as store:
                self.table.marked = set(ws.case.resolve(store))
        except Exception:  # noqa: BLE001
            return
        self.table.refresh()

    def on_marks_changed(self, message: MarksChanged) -> None:
        self.refresh_marks()

    def _stop_loading(self) -> bool:
        if self.loader.stop():
            self._note = "stopping…"
            self._refresh_status()
            return True
        return False

    # -- status ----------------------------------------------------------------------------------

    def _refresh_status(self) -> None:
        try:
            self._show_status()
        except NoMatches:  # (the app closing: some of its widgets gone before a late message)
            pass

    def _show_status(self) -> None:
        table = self.table
        ws = self.workspace
        load = self.loader.state
        filtered = ws.filtered
        total = load.records if load.active else self.all_count
        shown = table.total if table.fetcher is not None else (0 if not load.active else None)
        if not filtered and shown is not None:
            total = max(total, shown)
        zone = local_offset_label() if table.local_time else "UTC"
        note = " · ".join(n for n in (self._note, self._ahead, self.triage_note(), saved_sort_note(self)) if n)
        text = status_text(shown, total, filtered, zone, load, self.issue_count, self.error_count, note)
        self.query_one(StatusBar).update_status(text, load)
        table.border_title = "Events" if not filtered else "Events (filtered)"

    def on_event_table_counted(self, message: EventTable.Counted) -> None:
        if self._showing:
            self._refresh_status()

    def on_event_table_failed(self, message: EventTable.Failed) -> None:
        if not self._damage_said(message.error):
            self.notify(printable(f"query failed: {message.error}"), severity="error", markup=False)

    def _damage_said(self, error: object) -> bool:
        """Whether `error` says the cached store does not read back (`core.store.cache_damage`): its
        entry is then marked, parsed again on the next open, and the user told so (once)."""
        if not is_damage_text(str(error)) or not mark_opened():
            return False
        if not self._damage_told:
            self._damage_told = True
            self.notify(printable(f"the cached copy of the log is damaged ({error}): open it again to parse it "
                                  "again"), severity="error", markup=False)
        return True

    def on_event_table_selected(self, message: EventTable.Selected) -> None:
        if not self._showing:
            return
        row = message.row
        self.detail.show(row.id if row else None, row.event if row else None)
        self._strip().follow(row.event.filetime if row else None)

    # -- filter ----------------------------------------------------------------------------------

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.show_view(message.query, message.compiled)
        if message.final:
            self._bar_anchor = None
            self.table.focus()

    def on_filter_bar_cancelled(self, message: FilterBar.Cancelled) -> None:
        anchor, self._bar_anchor = self._bar_anchor, None
        if message.compiled is not None:
            self.show_view(message.query, message.compiled, anchor=anchor)
        elif anchor is not None:
            self.table.goto_event(anchor.id, nearest=anchor)

    def on_filter_bar_find_set(self, message: FilterBar.FindSet) -> None:
        self.find_compiled = message.compiled
        self.filter_bar.close()
        self.table.focus()
        self.action_find_next(True)

    def set_filter(self, query: str) -> bool:
        """Apply `query` as if typed in the bar (False, with the error shown, if it is bad)."""
        bar = self.filter_bar
        bar.set_query(query)
        compiled = bar.compile(query)
        if compiled is None:
            return False
        self.show_view(query, compiled)
        return True

    # -- the selected event, jumps ---------------------------------------------------------------

    def selected_event(self) -> StoredEvent | None:
        """The event the analyst has selected on the screen in front: a view (Handles, Marks, a
        tree) names it (`PicksEvent`), so `c`, `m`, `M`, `y` act on what that view highlights,
        never on the event table's row hidden behind it."""
        screen = self.screen
        if screen is not self.screen_stack[0] and isinstance(screen, PicksEvent):
            store_id = screen.selected_store_id()
            path = self.workspace.store_path
            if store_id is None or path is None:
                return None
            with Store(path, readonly=True) as store:
                return store.get(store_id)
        row = self.table.selected_row()
        return row.stored if row is not None else None

    def jump_to_event(self, store_id: int) -> None:
        """Back to the events view with `store_id` selected; when the filter hides it, a prompt
        offers to clear the filter (and `b` to restore it), never a silent change (`tui.jump`)."""
        from tui.jump import jump_to_event

        jump_to_event(self, store_id)

    def on_jump_to_event(self, message: JumpToEvent) -> None:
        self.jump_to_event(message.store_id)

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
            row = self.table.selected_row()
            self._bar_anchor = row.stored if row is not None else None
            self.filter_bar.open("filter")

    def action_find(self) -> None:
        if self._on_main():
            self.filter_bar.open("find")

    def action_find_next(self, forward: bool) -> None:
        if self.find_compiled is None:
            self.action_find()
            return
        term = self.find_compiled

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
        """`esc`: back from where the keys go: out of a view, else the filter bar (its edit
        abandoned: `FilterBar.cancel`), else the detail pane; on the table itself, stop loading.
        (Stopping first, an `esc` meant to leave the pane or the bar ended the load.)"""
        if not self._on_main():
            self.pop_screen()
            return
        focused = self.focused
        if isinstance(focused, FilterInput):
            self.filter_bar.cancel()
        elif focused is self.table or focused is None:
            self._stop_loading()
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

    def on_unmount(self) -> None:
        self.loader.close()
        self.workspace.models.stop.set()  # a findings child still running ends with the app
        sys.setswitchinterval(self._switch_interval)


def run_app(
    files: Sequence[str], use_cache: bool = True, jobs: int | None = None, case_file: str | None = None
) -> int:
    """Run the app on `files` (the `open` command); the exit status."""
    app = EvtxApp(files, use_cache=use_cache, jobs=jobs, case_file=case_file)
    result = app.run()
    return int(result or 0)


__all__ = ["EvtxApp", "run_app"]
