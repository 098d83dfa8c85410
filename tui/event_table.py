"""The virtualised event table: only the visible window is rendered, rows come from the store.

(About 570 lines: paging, cursor, field column and sort move together; the columns are in
`columns`, the reader thread is in
`page_fetcher`, the row drawing in `table_rows`.)

Textual's `DataTable` wants every row up front (a minute for 500k rows); this widget instead
knows only the row count and asks for pages of rows by position. All SQL runs in one
background thread with its own read-only connection (`PageFetcher`), so a slow query (a
free-text filter over a million events, a deep OFFSET) never freezes the screen: the table
shows `…` for rows not fetched yet and redraws when the page arrives. Every request carries
the view's generation, so answers for a filter the user has already replaced are dropped.

Paging: page k is `LIMIT P OFFSET kP` in view order; pages in the second half are read in
reverse order from the end (so "jump to end" of a million rows costs as much as the first
page). While the inputs are still loading the secondary indexes do not exist yet, so the view
is in file order (`e.id`, the rowid) and switches to time order when loading finishes.

Rendering uses the Line API: `render_line` builds a `Strip` from `rich.text`-free segments of
`core.model.text.printable` text, so event data can never act as markup or escape sequences.

The two 1-cell marker columns at the left: `*` for an event the analyst marked, then the most
severe finding of the event (`!` high/critical, `+` medium, `.` low/info; a glyph first so it
reads without colour, a colour too when there is one). The findings arrive as a
`{store_id: severity}` map once the app has computed them: one dict lookup per drawn row.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from rich.style import Style
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.model.summary import basename
from core.model.text import printable
from core.query.sort import Sort
from core.query.view import View, fetch_beside, fill_marks
from core.store.filter import Filter
from core.store.store import Store, StoredEvent
from tui import columns
from tui.column_settings import ColumnSettings
from tui.columns import TableColumns
from tui.page_fetcher import PageFetcher
from tui.table_rows import (
    PAGE,
    SEVERITY_CLASSES,
    Column,
    Row,
    first_rows,
    layout_columns,
    line_strip,
    local_offset_label,
    make_row,
    next_field_column,
    row_cells,
)

T = TypeVar("T")

MAX_PAGES = 24


# -- the widget -------------------------------------------------------------------------------


class EventTable(TableColumns, ScrollView, can_focus=True):
    """The event list (see the module docstring)."""

    DEFAULT_CSS = (Path(__file__).parent / "event_table.tcss").read_text(encoding="utf-8")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor(1)", "Down", show=False),
        Binding("k,up", "cursor(-1)", "Up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("g,home", "top", "First", show=False),
        Binding("G,end", "bottom", "Last", show=False),
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-table--header",
        "event-table--cursor",
        "event-table--cursor-blurred",
        "event-table--marked",
        "event-table--pending",
        "event-table--finding-high",
        "event-table--finding-medium",
        "event-table--finding-low",
    }

    cursor: reactive[int] = reactive(0, repaint=False)
    local_time: reactive[bool] = reactive(False)

    class Selected(Message):
        """The cursor row changed (`row` is None while that row is not fetched yet)."""

        def __init__(self, row: Row | None) -> None:
            super().__init__()
            self.row = row

    class Counted(Message):
        """The view's row count is known (or changed)."""

        def __init__(self, total: int) -> None:
            super().__init__()
            self.total = total

    class Failed(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = View()
        self._counted: list[int] = []  # the current view's count, filled in the fetcher thread
        self._base_style: Style | None = None  # during render_lines
        self.total: int | None = 0
        self.fetcher: PageFetcher | None = None
        self.marked: set[int] = set()
        #: store id -> the most severe finding's severity (set by the app once computed).
        self.findings: dict[int, str] = {}
        self.several_sources = False
        self.source_names: dict[int, str] = {}
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._columns: list[Column] = layout_columns(80, False, False)
        #: The user's columns and sort (`tui.columns`); the app loads them from their file.
        self.settings = ColumnSettings()
        self._sort: Sort | None = None  # the settings' sort as last applied
        #: The column the pivot and stack keys act on (None: EvID; once moved by the user,
        #: its header is highlighted).
        self.field_column: str | None = None
        self._layout_width = -1  # the row width `_columns` were laid out for
        self._last_selected: int | None = -1
        self._pending_goto: int | None = None
        #: The analyst's own moves (keys, clicks): a jump answered after one is dropped.
        self._user_moves = 0
        #: The analyst put the cursor somewhere (a key, a click, `n`/`N`, a jump): the end of
        #: loading keeps that event selected, else it selects the earliest (the first loaded
        #: was no choice, and a second file's earlier events sort above it).
        self.placed = False
        self._count_inflight = False

    # -- data plumbing -------------------------------------------------------------------------

    def attach(self, db_path: Path) -> None:
        """Start reading from the database at `db_path` (once it exists)."""
        if self.fetcher is not None:
            self.fetcher.close()
        self.fetcher = PageFetcher(db_path, self)
        self.reload(reset_cursor=True)

    def on_unmount(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    @property
    def generation(self) -> int:
        return self.fetcher.generation if self.fetcher is not None else 0

    def _submit(self, fn: Callable[[Store], T], done: Callable[[T], None]) -> None:
        if self.fetcher is not None:
            self.fetcher.submit(self.fetcher.generation, fn, done)

    def set_view(self, view: View) -> None:
        """Show another view (a new filter, or time order after loading): cursor to the top."""
        self.view = view
        self.reload(reset_cursor=True)

    def reload(self, *, reset_cursor: bool = False) -> None:
        """Forget fetched pages and the count (new data or a new view) and fetch again."""
        if self.fetcher is not None:
            self.fetcher.generation += 1
        self._pages.clear()
        self._pending.clear()
        self._count_inflight = False
        view = self.view
        # The fetcher runs jobs in order: the count goes first (before scrolling to the top
        # requests a page), so the first pages find it here before its answer reaches this
        # thread, and pick their query plan by it (but see `first` below).
        counted: list[int] = []
        self._counted = counted
        sort = self.sort

        def count(store: Store) -> int:
            counted.append(columns.count_rows(store, view, sort))
            return counted[0]

        # Every event from the top: the first page needs no count to pick its plan, and counting
        # 10M events takes 0.2 s (clearing a filter): that page goes first.
        top = sort is None and (reset_cursor or int(self.scroll_y) == 0)
        first = view.matches_all and top
        if top and not first:
            # A filter of System fields: its first page if SQLite finds it at once (10M events:
            # ~1 ms, where counting an EventID takes 0.1 s and a channel 1.2 s); else as below.
            self._submit(lambda store: first_rows(store, view), self._on_first_rows)
        if not first:
            self._submit(count, self._on_count)
        if reset_cursor:
            self.total = None
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True)
            self._last_selected = -1
        self._request_visible()
        if first:
            self._submit(count, self._on_count)
        self.refresh()

    def soft_reload(self, committed: int | None = None) -> None:
        """New rows were committed (loading): count again and refetch the visible pages, keeping
        the old ones on screen meanwhile. Same generation, so a stream of these never starves
        the answers (a new generation would drop every answer still in flight).

        `committed` is the number of rows the loader has committed: for an unfiltered view that
        is the count, and a `count(*)` over the growing table (every page of it) is skipped."""
        view = self.view
        if committed is not None and view.matches_all:
            self._on_count(committed)
        elif not self._count_inflight:
            self._count_inflight = True

            def counted(total: int) -> None:
                self._count_inflight = False
                self._on_count(total)

            self._submit(lambda s: columns.count_rows(s, view, None), counted)
        top = int(self.scroll_y)
        visible = set(range(top // PAGE, (top + self.visible_rows) // PAGE + 1))
        for page in list(self._pages):
            if page not in visible:
                del self._pages[page]
        for page in visible:
            self._force_page(page)

    def _force_page(self, page: int) -> None:
        if page in self._pending:
            return
        had = self._pages.pop(page, None)
        self._request_page(page)
        if had is not None and page not in self._pages:
            self._pages[page] = had  # keep showing the old rows until the new ones arrive

    def on_page_fetcher_fetched(self, message: PageFetcher.Fetched) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        if message.error is not None:
            self.post_message(self.Failed(message.error))
            return
        if message.deliver is not None:
            message.deliver()

    def _on_first_rows(self, rows: list[Row] | None) -> None:
        if rows is None or self.total is not None or 0 in self._pages:
            return
        self._pages[0] = rows
        self._update_virtual_size(len(rows))
        self.refresh()
        self._check_selected()

    def _on_count(self, total: int) -> None:
        self.total = total
        if self.sort is None and self.view.by_time and self.fetcher is not None:
            view = self.view  # its marks, made while the fetcher has nothing else to do
            self.fetcher.when_idle(self.generation, lambda store: fill_marks(store, view, total))
        self._update_virtual_size()
        if self.cursor >= total:
            self.cursor = max(0, total - 1)
        self._request_visible()
        self.refresh()
        self.post_message(self.Counted(total))
        if self._pending_goto is not None:
            pos, self._pending_goto = self._pending_goto, None
            self.move_to(pos)

    def _request_page(self, page: int) -> None:
        if page < 0 or page in self._pages or page in self._pending or self.fetcher is None:
            return
        if self.total is not None and page * PAGE >= self.total and page > 0:
            return
        self._pending.add(page)
        view, total, counted, sort = self.view, self.total, self._counted, self.sort

        def done(rows: list[Row]) -> None:
            self._pending.discard(page)
            self._pages[page] = rows
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
            if self.total is None and page == 0:
                # The count is still running: show what the first page holds meanwhile.
                self._update_virtual_size(len(rows))
            self.refresh()
            self._check_selected()

        # Beside a full page already fetched (scrolling), start from its edge row: no OFFSET
        # walk. Only in time order, once loaded: while loading, rows land between others.
        before, after = self._pages.get(page - 1), self._pages.get(page + 1)
        if sort is not None:
            self._submit(lambda s: columns.page_rows(s, view, sort, page * PAGE, total, counted), done)
            return
        if view.by_time and before is not None and len(before) == PAGE:
            anchor, forward = before[-1].stored, True
        elif view.by_time and after is not None:
            anchor, forward = after[0].stored, False
        else:
            self._submit(lambda s: columns.page_rows(s, view, None, page * PAGE, total, counted), done)
            return
        known = total if total is not None else (counted[0] if counted else None)
        self._submit(lambda s: [make_row(r) for r in fetch_beside(s, view, anchor, forward, PAGE, known)], done)

    def _request_visible(self) -> None:
        top = int(self.scroll_y)
        rows = max(1, self.size.height - 1)
        first, last = top // PAGE, (top + rows) // PAGE
        for page in range(first, last + 1):
            self._request_page(page)
        self._request_page(self.cursor // PAGE)

    def row_at(self, index: int) -> Row | None:
        page = self._pages.get(index // PAGE)
        if page is None:
            return None
        self._pages.move_to_end(index // PAGE)
        offset = index % PAGE
        return page[offset] if offset < len(page) else None

    @property
    def row_count(self) -> int:
        if self.total is not None:
            return self.total
        first = self._pages.get(0)
        return len(first) if first is not None else 0

    def selected_row(self) -> Row | None:
        return self.row_at(self.cursor) if self.row_count else None

    def _check_selected(self) -> None:
        row = self.selected_row()
        key = row.id if row is not None else None
        if key != self._last_selected:
            self._last_selected = key
            self.post_message(self.Selected(row))

    # -- geometry ------------------------------------------------------------------------------

    @property
    def line_width(self) -> int:
        """Width available to rows (the vertical scrollbar takes a column)."""
        return self.scrollable_content_region.width

    def _update_virtual_size(self, rows: int | None = None) -> None:
        n = self.row_count if rows is None else rows
        self.virtual_size = Size(self.line_width, n + 1)

    def on_resize(self, event: Resize) -> None:
        self._relayout()
        self._update_virtual_size()
        self._request_visible()

    def _relayout(self) -> None:
        self._layout_width = self.line_width
        self._columns = columns.layout(self.settings, self._layout_width, self.several_sources, self.local_time)
        self.refresh()

    def set_findings(self, highest: dict[int, str]) -> None:
        """Show the finding markers: `highest` maps a store id to its most severe finding."""
        self.findings = highest
        self.refresh()

    def set_sources(self, names: dict[int, str]) -> None:
        self.source_names = {k: printable(basename(v) or v) for k, v in names.items()}
        self.several_sources = len(names) > 1
        self._relayout()

    def watch_local_time(self) -> None:
        self._relayout()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_visible()

    @property
    def visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    # -- movement ------------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        n = self.row_count
        if n == 0:
            self.cursor = 0
            return
        self.cursor = max(0, min(index, n - 1))
        top = int(self.scroll_y)
        # `force`: a view that just grew (a filter widened, a jump that cleared it) has its
        # new virtual size but not yet the scrollbar the next layout gives it, and Textual
        # refuses to scroll a widget without one: the selected row stayed off-screen.
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + self.visible_rows:
            self.scroll_to(y=self.cursor - self.visible_rows + 1, animate=False, immediate=True, force=True)
        self._request_visible()
        self.refresh()
        self._check_selected()

    def user_move(self, index: int) -> None:
        """A move the analyst made: it overrides any jump still on its way (`goto_event`)."""
        self._user_moves += 1
        self.placed = True
        self._pending_goto = None
        self.move_to(index)

    def action_cursor(self, delta: int) -> None:
        self.user_move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.user_move(self.cursor + direction * max(1, self.visible_rows - 1))

    def action_top(self) -> None:
        self.user_move(0)

    def action_bottom(self) -> None:
        self.user_move(self.row_count - 1)

    def action_column(self, delta: int) -> None:
        """Move the field cursor among the shown columns that name a field."""
        self.field_column = next_field_column(self._columns, self.field_column, delta)
        self.refresh()

    def goto_event(self, store_id: int, on_missing: Callable[[], None] | None = None,
                   nearest: StoredEvent | None = None, on_found: Callable[[], None] | None = None,
                   *, analyst: bool = False) -> None:
        """Move the cursor to event `store_id` (found in SQL), else to the view's event nearest
        in time to `nearest` when given (`tui.keep_place`); `on_missing` when not in view,
        `on_found` once the cursor is on it (`tui.jump`). A key or click the analyst pressed
        before the answer came wins: the cursor stays where they moved it (`G` just after a
        log finished loading was pulled back to the row kept from loading). `analyst`: a jump
        the analyst asked for, which marks the cursor `placed` once it lands."""
        view, sort, counted, moves = self.view, self.sort, self._counted, self._user_moves

        def find(store: Store) -> tuple[int, list[Row]] | None:  # (the count comes first: `reload`)
            return columns.locate_row(store, view, sort, store_id, nearest, counted[0] if counted else None)

        def done(found: tuple[int, list[Row]] | None) -> None:
            if self._user_moves != moves:
                return
            if found is None:
                if on_missing is not None:
                    on_missing()
                return
            self._arrive(*found)
            self.placed = self.placed or analyst
            if on_found is not None:
                on_found()

        self._submit(find, done)

    def _arrive(self, pos: int, rows: list[Row]) -> None:
        """Move to row `pos`, whose page `rows` (when given) was read around it: a jump far into
        a big view then needs no OFFSET fetch."""
        if rows:
            self._pages[pos // PAGE] = rows
            self._pending.discard(pos // PAGE)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        if self.total is None:
            self._pending_goto = pos
        else:
            self.move_to(pos)

    def find(
        self, term: Filter, forward: bool, done: Callable[[bool, bool], None], *, from_start: bool = False
    ) -> None:
        """Move to the next/previous row matching `term` without filtering; `done(found, wrapped)`.
        `from_start`: the view's first (`forward`) or last row matching, wherever the cursor is."""
        view = self.view
        row = None if from_start else self.selected_row()
        anchor = row.stored if row is not None else None
        sort, counted = self.sort, self._counted

        def search(store: Store) -> tuple[int, bool, list[Row]] | None:
            return columns.find_row(store, view, sort, term, anchor, forward, counted[0] if counted else None)

        def moved(result: tuple[int, bool, list[Row]] | None) -> None:
            if result is None:
                done(False, False)
                return
            self._arrive(result[0], result[2])
            self.placed = True
            done(True, result[1])

        self._submit(search, moved)

    def on_click(self, event: Click) -> None:
        if event.y >= 1:
            self.user_move(int(self.scroll_y) + event.y - 1)

    # -- rendering -----------------------------------------------------------------------------

    def _cells(self, row: Row) -> dict[str, str]:
        millis = any(c.key == "time" and c.width >= 23 for c in self._columns)
        cells = row_cells(row, self.findings.get(row.id), row.id in self.marked, self.source_names,
                          self.local_time, millis)
        cells.update(columns.extra_cells(row, self._columns))
        return cells

    def _line(self, cells: dict[str, str], style: Style, cell_styles: dict[str, Style] | None = None) -> Strip:
        return line_strip(self._columns, cells, style, cell_styles, self.line_width)

    def header_text(self) -> dict[str, str]:
        cells = {c.key: c.title for c in self._columns}
        if self.local_time:
            cells["time"] = f"Time ({local_offset_label()})"
        return self.with_sort_arrow(cells)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's own style walks every ancestor to blend backgrounds (a quarter of a ms):
        # once per pass over the visible lines, not once per line.
        self._base_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base_style = None

    def render_line(self, y: int) -> Strip:
        if self.line_width != self._layout_width:
            # The vertical scrollbar came or went after the last resize (the row count grew
            # past the height): lay out again, or the summary column overflows by a cell.
            self._layout_width = self.line_width
            self._columns = columns.layout(self.settings, self._layout_width, self.several_sources,
                                           self.local_time)
        base = self._base_style or self.rich_style
        if y == 0:
            header = base + self.get_component_rich_style("event-table--header")
            chosen = {self.field_column: Style(reverse=True)} if self.field_column else None
            return self._line(self.header_text(), header, chosen)
        index = int(self.scroll_y) + y - 1
        if index >= self.row_count:
            return Strip.blank(self.line_width, base)
        row = self.row_at(index)
        style = base
        if index == self.cursor:
            name = "event-table--cursor" if self.has_focus else "event-table--cursor-blurred"
            style = base + self.get_component_rich_style(name)
            if self.app.no_color:
                style += Style(reverse=True, bold=self.has_focus)
        if row is None:
            return self._line({"summary": "…"}, style + self.get_component_rich_style("event-table--pending"))
        extra = {"mark": self.get_component_rich_style("event-table--marked")}
        severity = self.findings.get(row.id)
        if severity is not None:
            name = SEVERITY_CLASSES.get(severity.lower(), "event-table--finding-medium")
            extra["finding"] = self.get_component_rich_style(name)
        return self._line(self._cells(row), style, extra)

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
