"""Long lists (Handles, Process access, Sessions) shown at once and filled in behind.

A list view holds up to 20,000 lines. Putting them all into Textual's `DataTable` in one go
froze the UI for seconds on a reopen (8-10 s until the Handles view showed at 1M events):
`DataTable` measures every cell of every new row on the UI thread (`measure` per cell, though
the lists' columns have fixed widths), and the stored lines were all read and parsed before
the first one showed. Here:

* `FixedRowsTable` skips that measuring when it cannot matter (fixed-width columns, one-line
  rows, no row labels), and adds a batch of rows without re-rendering the lines already
  shown (`append_rows`): what a line looks like is unchanged;
* `ListFeeder` adds lines to the table a growing batch per UI turn (`FIRST` at once: a
  screenful and more), so keys are handled between batches;
* `read_lines` reads a stored list a page at a time (`corr_row` is keyed by (list, pos)) so the
  worker posts the first page before it parses the rest.

The views keep every line they know in their own list (so `/` searches them all, also the
ones not in the table yet) and ask `ListFeeder.reveal` to move the cursor to a line that is
not added yet: it moves there once the line is in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import zip_longest
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey

from core.store import correlation_tables as tables
from core.store.store import Store
from tui.stored_views import StoredRow, load_list

#: Lines added to the table at once when a list arrives (more than a tall terminal shows).
FIRST = 200
#: Lines added per UI turn after the first ones: as many as are in the table already, within
#: these bounds. Every addition makes the table walk all of its rows and the screen lay out
#: again: growing batches keep 20,000 lines to about ten additions, each a few tens of
#: milliseconds of the UI thread.
BATCH = 500
MAX_BATCH = 4_000
#: Lines a worker reads and parses per page of a stored list, after the first page (about
#: 20 ms of parsing), and how long it then sleeps: a thread parsing without pause holds the GIL
#: most of the time, and the UI thread, which gives it up at every system call, waited for it
#: (stalls of 0.5-0.8 s while 20,000 lines were read).
PAGE = 500
PAUSE = 0.01


class FixedRowsTable(DataTable[Text]):
    """A `DataTable` whose new rows are not measured when no measure can change the layout:
    every column has a fixed width, no row has a label or an automatic height (the lists
    always add them so). Measuring cost ~0.1 ms per row on the UI thread: 2 s for 20,000."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if all(not column.auto_width for column in self.ordered_columns):
            rows = self.rows
            new_rows = [key for key in new_rows if key in rows and (rows[key].label is not None
                                                                    or rows[key].auto_height)]
        super()._update_dimensions(new_rows)

    def append_rows(self, rows: Sequence[Sequence[Text]], first_key: int) -> None:
        """Add `rows` at the bottom, keyed `first_key`, `first_key + 1`...: what `add_row`
        does per row (textual 8.2), with its cursor update and idle check once per call: per
        row they were most of the cost of adding 20,000 lines. Nor is the table's update count
        bumped, which would drop every rendered line and cell (all are keyed by it) and render
        the visible ones again per batch (most of the fill's CPU): rows added below change
        no line rendered (a line past the last row is blank and never cached); only the line
        offsets, cached by that count, are dropped."""
        columns = [column.key for column in self.ordered_columns]
        if any(len(cells) > len(columns) for cells in rows):
            raise ValueError("More values provided than there are columns.")
        was_empty = self.row_count == 0
        locations, data, table_rows, new_rows = self._row_locations, self._data, self.rows, self._new_rows
        for offset, cells in enumerate(rows):
            key = RowKey(str(first_key + offset))
            if key in locations:
                raise ValueError(f"The row key {key!r} already exists.")
            locations[key] = len(table_rows)
            data[key] = dict(zip_longest(columns, cells))  # (None in missing cells, as add_row)
            table_rows[key] = Row(key, 1, None, False)
            new_rows.add(key)
        if not rows:
            return
        self._require_update_dimensions = True
        self._offset_cache.clear()
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self.check_idle()


class ListFeeder:
    """Adds a view's lines to its table a batch per UI turn (see the module docstring).

    `cells(line)` gives a line's cells; `added` says how many lines are in the table. `reset`
    starts a new list (lines of an older one still queued are dropped)."""

    def __init__(self, owner: Widget, table: FixedRowsTable, cells: Callable[[Any], Sequence[Text]]) -> None:
        self._owner = owner
        self._table = table
        self._cells = cells
        self._lines: list[Any] = []
        self._limit = 0
        self._expected = 0
        self.added = 0
        self._scheduled = False
        self._reveal: int | None = None
        self._generation = 0

    def reset(self, lines: list[Any], limit: int, expected: int | None = None) -> None:
        """A new list: the table is cleared and `lines` (the view's own list, which may grow
        later to `expected` lines: `more`) are added, up to `limit` in all; the first `FIRST`
        at once."""
        self._generation += 1
        self._table.clear()
        self._lines, self._limit, self.added, self._reveal = lines, limit, 0, None
        self._expected = min(limit, len(lines) if expected is None else max(expected, len(lines)))
        self._add(FIRST)
        self._schedule()

    def more(self) -> None:
        """The view's list grew: add the new lines (in batches)."""
        if self.added < min(len(self._lines), self._limit) and self.added < FIRST:
            self._add(FIRST - self.added)
        self._schedule()

    def reveal(self, index: int) -> None:
        """Move the cursor to line `index` now if it is in the table, else once it is."""
        if index < self.added:
            self._reveal = None
            self._table.move_cursor(row=index)
        else:
            self._reveal = index

    def _add(self, count: int) -> None:
        end = min(len(self._lines), self._limit, self.added + count)
        if end > self.added:
            cells = self._cells
            self._table.append_rows([cells(line) for line in self._lines[self.added:end]], self.added)
            self.added = end
        if self._reveal is not None and self._reveal < self.added:
            self.reveal(self._reveal)

    def _want(self) -> int:
        return min(max(BATCH, self.added), MAX_BATCH)

    def _schedule(self) -> None:
        available = min(len(self._lines), self._limit)
        if self._scheduled or self.added >= available:
            return
        if available - self.added < self._want() and available < self._expected:
            return  # a whole batch once the worker has read it (`more`): fewer, bigger ones

        self._scheduled = True
        generation = self._generation
        self._owner.set_timer(0.001, lambda: self._batch(generation))

    def _batch(self, generation: int) -> None:
        self._scheduled = False
        if generation != self._generation:
            self._schedule()
            return
        self._add(self._want())
        self._schedule()


def read_lines(store: Store, name: str, limit: int) -> Iterator[tuple[int, int, list[StoredRow]]]:
    """A stored list a page at a time: (its `ViewRows.total`, how many lines it has, the page)
    for the first `FIRST` lines, then per `PAGE` lines, up to `limit` lines (blocking: a
    worker's; it may stop between pages)."""
    total, lines = tables.list_size(store, name)
    start, size = 0, FIRST
    while True:
        rows = load_list(store, name, min(size, limit - start), start=start)[2] if start < limit else []
        yield total, lines, rows
        start += len(rows)
        if len(rows) < size or start >= min(lines, limit):
            return
        size = PAGE
        time.sleep(PAUSE)
