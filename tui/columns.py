"""The event table's user columns: their layout, the cells of EventData field columns, the
table's reads when a sort is on, and the keys (`C` the columns dialog, `o`/`O` sort).

The choices themselves (and their file) are `tui.column_settings`; the dialog is
`tui.columns_dialog`. With the default choices the table is laid out exactly as it always was
(`table_rows.layout_columns`, which drops the less useful columns as the terminal narrows);
once the user changed them, their columns are shown in their order and widths, and the Summary
takes what is left: when that would be under SUMMARY_MIN cells, User, Computer, Image and Record, then
the rightmost other columns, are left out until it reads (at 80 columns too); the dialog says
which.

A sort is done by the store (`core.query.sort`: the view's ids sorted once into a table of
positions), so pages, jumps and searches stay index lookups at a million events. The table
sorts only once loading has finished (rows still arriving would land between sorted ones);
until then it shows file order, as it does without a sort.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.model.text import printable
from core.query.sort import Sort, count_sorted, find_sorted, page_sorted, position_sorted
from core.query.view import View, count_view, find_match, locate
from core.store.field_spellings import field_spellings
from core.store.filter import Filter
from core.store.store import Store, StoredEvent
from tui import column_settings as cs
from tui.keep_place import locate_nearest
from tui.table_rows import PAGE, Column, Row, cell_text, fetch_rows, layout_columns, local_offset_label, make_row

if TYPE_CHECKING:
    from tui.app import EvtxApp

#: The Summary's least width once the user has chosen columns (what still reads as a phrase).
SUMMARY_MIN = 24
#: Never left out to make room for the Summary.
KEPT = ("time", "summary", "mark", "finding")
#: Left out first (as the default layout does on a narrow terminal), before the rightmost
#: others: a column the user just added or showed is what they want to see.
DROP_FIRST = ("user", "computer", "image", "record")


def layout(settings: cs.ColumnSettings, width: int, several_sources: bool, local: bool) -> list[Column]:
    """The columns to draw in `width` cells (see the module docstring)."""
    if settings.layout_default:
        return layout_columns(width, several_sources, local)
    wide = width >= 120
    cols: list[Column] = []
    for key in settings.visible():
        if key == "source" and not several_sources:
            continue  # one input: the column would repeat its name on every row
        spec = cs.SYSTEM_COLUMNS.get(key)
        title = printable(settings.label(key)) if spec is None else spec.title  # a field name: log text
        if key == "time" and local:
            title = f"Time ({local_offset_label()})"
        cols.append(Column(key, title, settings.widths.get(key, cs.default_width(key, wide)),
                           spec.right if spec else False, spec.gap if spec else 1))

    def left() -> int:
        return width - sum(c.width + c.gap for c in cols if c.key != "summary")

    if any(c.key == "summary" for c in cols):
        while left() < SUMMARY_MIN:
            keys = [c.key for c in cols]
            first = [k for k in DROP_FIRST if k in keys]
            droppable = [k for k in keys if k not in KEPT]
            if not droppable:
                break
            del cols[keys.index(first[0] if first else droppable[-1])]
        cols = [Column(c.key, c.title, max(8, left()), c.right, c.gap) if c.key == "summary" else c for c in cols]
    return cols


def extra_cells(row: Row, columns: list[Column]) -> dict[str, str]:
    """The text of the columns only the user adds (Channel, Provider, Level, EventData fields)
    of one row, printable: it is attacker text."""
    ev = row.event
    cells: dict[str, str] = {}
    wanted: dict[str | None, str] = {}
    for c in columns:
        if c.key == "channel":
            cells["channel"] = cell_text(ev.channel)
        elif c.key == "provider":
            cells["provider"] = cell_text(ev.provider)
        elif c.key == "level":
            cells["level"] = "" if ev.level is None else str(ev.level)
        elif c.key.startswith(cs.FIELD_PREFIX):
            wanted[cs.field_of(c.key)] = c.key
    if not wanted:
        return cells
    for name, value in row.event.data:
        key = wanted.get(name.lower())
        if key is not None and key not in cells:
            cells[key] = cell_text(str(value))
    return cells


class TableColumns:
    """The event table's side of the user's columns (a base of `EventTable`, which has the
    rest: its view, columns, cursor and reads)."""

    settings: cs.ColumnSettings
    _sort: Sort | None
    _columns: list[Column]
    view: View
    field_column: str | None

    if TYPE_CHECKING:
        def selected_row(self) -> Row | None: ...
        def reload(self, *, reset_cursor: bool = False) -> None: ...
        def goto_event(self, store_id: int, *args: Any, **kwargs: Any) -> None: ...
        def _relayout(self) -> None: ...

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns drawn now (the user's may not all fit the width)."""
        return [c.key for c in self._columns]

    @property
    def sort(self) -> Sort | None:
        """The store's sort of the rows: the user's, once loading has finished."""
        return self._sort if self.view.by_time else None

    def set_settings(self, settings: cs.ColumnSettings) -> None:
        """Show the user's columns; a new sort reads the view again, keeping the selected event."""
        before, sorted_by = self._sort, settings.sort_key
        self.settings, self._sort = settings, settings.sort
        if self._sort != before and sorted_by is not None:
            self.field_column = sorted_by  # `o` flips it, the pivot keys act on it
        if self.field_column is not None and self.field_column not in settings.visible():
            self.field_column = None
        self._relayout()
        if self.view.by_time and self._sort != before:
            row = self.selected_row()
            self.reload(reset_cursor=True)
            if row is not None:
                self.goto_event(row.id)

    def with_sort_arrow(self, header: dict[str, str]) -> dict[str, str]:
        """The header cells with ▲ or ▼ before the sorted column's title."""
        key = self.settings.sort_key
        if self.sort is not None and key is not None and key in header:
            header[key] = ("▼" if self.settings.descending else "▲") + header[key]
        return header


# -- the table's reads (in its fetcher thread) ---------------------------------------------------


def count_rows(store: Store, view: View, sort: Sort | None) -> int:
    return count_view(store, view) if sort is None else count_sorted(store, view, sort)


def page_rows(store: Store, view: View, sort: Sort | None, start: int, total: int | None,
              counted: list[int]) -> list[Row]:
    if sort is None:
        return fetch_rows(store, view, start, total, counted)
    return [make_row(r) for r in page_sorted(store, view, sort, start, PAGE)]


def _landing(store: Store, view: View, sort: Sort, position: int) -> tuple[int, list[Row]]:
    start = position - position % PAGE
    return position, [make_row(r) for r in page_sorted(store, view, sort, start, PAGE)]


def locate_row(store: Store, view: View, sort: Sort | None, store_id: int,
               nearest: StoredEvent | None, total: int | None = None) -> tuple[int, list[Row]] | None:
    """Where event `store_id` (else, unsorted, the one nearest in time to `nearest`) sits, with
    its page; sorted, an event the view lost leaves the cursor where it is (None). `total`:
    the view's count, if known (it picks the query plan)."""
    if sort is not None:
        position = position_sorted(store, view, sort, store_id)
        return None if position is None else _landing(store, view, sort, position)
    found = locate(store, view, store_id, total=total)
    if found is None and nearest is not None:
        found = locate_nearest(store, view, nearest)
    return None if found is None else (found[0], [make_row(r) for r in found[1]])


def find_row(store: Store, view: View, sort: Sort | None, term: Filter,
             anchor: StoredEvent | None, forward: bool,
             total: int | None = None) -> tuple[int, bool, list[Row]] | None:
    """The next (previous) row matching `term`: (position, wrapped, its page), or None
    (`total` as `locate_row`)."""
    if sort is None:
        found = find_match(store, view, term, anchor, forward, PAGE, total)
        return None if found is None else (found[1], found[2], [make_row(r) for r in found[3]])
    after = None if anchor is None else position_sorted(store, view, sort, anchor.id)
    hit = find_sorted(store, view, sort, term, after, forward)
    if hit is None:
        return None
    position, rows = _landing(store, view, sort, hit[0])
    return position, hit[1], rows


# -- the keys -------------------------------------------------------------------------------------


def sort_title(settings: cs.ColumnSettings) -> str:
    """"Computer ▲" for the status and the dialog; '' without a sort."""
    if settings.sort_key is None:
        return ""
    return f"{settings.label(settings.sort_key)} {'▼' if settings.descending else '▲'}"


def spell_field_columns(settings: cs.ColumnSettings, store: Store) -> bool:
    """Head the field columns that have no spelling yet as the store's events spell their
    names (a columns file from before spellings were kept, a name typed lower-cased); whether
    one was spelled."""
    unspelled = [name for key in settings.order if key not in settings.titles
                 and (name := cs.field_of(key)) is not None]
    if not unspelled:
        return False
    spelled = field_spellings(store, unspelled)
    return any([settings.spell(cs.field_key(low), name) for low, name in spelled.items()])


def table_sort(columns: TableColumns) -> tuple[Sort, str] | None:
    """The table's sort and its title, None in time order (what `e` exports in)."""
    sort = columns.sort
    return None if sort is None else (sort, sort_title(columns.settings))


def sort_selected(app: EvtxApp) -> None:
    """`o`: sort by the table's selected column (the one left/right picks); again: flip."""
    table = app.table
    key = table.field_column or "eid"
    settings = table.settings
    if settings.set_sort(key) is None:
        app.notify(f"{settings.label(key)} is computed per event and cannot be sorted by the store; "
                   "add the EventData field it shows as a column (C) and sort by that", severity="warning")
        return
    apply(app, settings)


def unsort(app: EvtxApp) -> None:
    """`O`: back to time order (already in it: said, not silent)."""
    settings = app.table.settings
    if settings.sort_key is not None:
        settings.clear_sort()
        apply(app, settings)
    else:
        app.notify("the table is in time order already (o sorts by the selected column)")


def saved_sort_note(app: EvtxApp) -> str:
    """The status line's word on a sort columns.json gave at start, once the table is sorted by
    it: "sorted by Time descending (saved; o to change, O time order)"; '' otherwise."""
    saved, settings = app.saved_sort, app.table.settings
    if saved is None or app.table.sort is None or (settings.sort_key, settings.descending) != saved:
        return ""
    how = "descending" if settings.descending else "ascending"
    return f"sorted by {settings.label(saved[0])} {how} (saved; o to change, O time order)"


def apply(app: EvtxApp, settings: cs.ColumnSettings) -> None:
    """Show `settings` in the table and save them (a config dir that cannot be written costs
    only the saving, said once)."""
    if app.saved_sort is not None and (settings.sort_key, settings.descending) != app.saved_sort:
        app.saved_sort = None  # the analyst's own sort now: no longer the saved one to point out
    app.table.set_settings(settings)
    if not app.workspace.loaded and settings.sort_key is not None:
        app.notify("the sort applies once loading has finished")
    try:
        cs.save(settings)
    except OSError as exc:
        app.notify(f"columns not saved: {printable(str(exc))}", severity="warning")


def open_dialog(app: EvtxApp) -> None:
    """`C`: the columns dialog over the table (the table follows each change)."""
    from tui.columns_dialog import ColumnsScreen

    path = app.workspace.store_path
    wide = app.table.line_width >= 120
    table = app.table

    def shown() -> list[str]:
        return table.shown_columns

    app.push_screen(ColumnsScreen(table.settings, lambda s: apply(app, s), path, wide=wide, shown=shown))
