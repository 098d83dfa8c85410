"""Long lists (Handles, Process access, Sessions): a table that draws only the lines on screen.

A list view holds every line of its list (hundreds of thousands at ten million events; it held
the first 20,000 before). Putting 20,000 into Textual's `DataTable` cost seconds:
it measures every cell of every new row on the UI thread, and a reopened view read and parsed
every stored line (JSON cells into `Text`) before the last one showed, holding the GIL while
the UI waited (a reopened Sessions view: 1.7 s, stalls of 0.6 s at 1M events). Here:

* `PagedRowsTable` is a `DataTable` (same look, keys, cursor and messages) that knows only how
  many lines its list has: a line's cells are asked of its `Lines` when the line is drawn, so
  any number of lines cost what the ones on screen cost (`grow` adds lines counted later);
* `StoredLines`: a list stored with the log (`corr_row`), read a page at a time by position
  in a thread of its own (`tui.page_fetcher`, as the event table reads events); a line not read
  yet is drawn as `…` and drawn again once its page is in. A reopened view reads the list's
  line count and first page, nothing more. `/` searches the stored list there too (`find`);
* `MadeLines`: a list made from the model, each line made when it is needed (the last
  MAX_MADE made are kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey

from core.model.text import printable
from core.store import correlation_tables as tables
from core.store.store import Store
from tui.page_fetcher import PageFetcher
from tui.stored_views import StoredRow, load_list

L = TypeVar("L")

#: Lines read from the store at once: the first page comes with the list (the first screen
#: draws without waiting), the others when a line of theirs is drawn or asked for.
PAGE = 100
#: Pages of a stored list kept in memory (the least recently read go first).
MAX_PAGES = 40
#: What a line not read yet shows in its first cell until its page is in.
PENDING = "…"
#: Lines of a list made from the model kept once made (the least recently drawn go first, made
#: again when needed): a list of every 4690 of a big log scrolled through would keep them all.
MAX_MADE = 5_000


class Lines(Generic[L]):
    """A list's lines by position: `count` of them, each one's cells as the table draws them.
    `line(i)` is None while line i is not at hand (it is then being fetched: `changed` is
    called once it is)."""

    def __init__(self, count: int, cells: Callable[[L], Sequence[Text]]) -> None:
        self.count = count
        self._cells = cells
        #: Called (on the UI thread) when lines that were not at hand are.
        self.changed: list[Callable[[], None]] = []

    def line(self, index: int) -> L | None:
        raise NotImplementedError

    def cells(self, index: int) -> Sequence[Text] | None:
        line = self.line(index)
        return None if line is None else self._cells(line)

    def _changed(self) -> None:
        for callback in list(self.changed):
            callback()


class MadeLines(Lines[L]):
    """Lines made from the model's items, each when it is drawn or asked for: what a view
    shows of 200,000 4690s is the 50 on screen, not 200,000 rows made up front. `items` may be
    only the first lines of a list still being laid out (`grow` then counts the rest)."""

    def __init__(self, items: Sequence[Any], make: Callable[[Any], L], cells: Callable[[L], Sequence[Text]]) -> None:
        super().__init__(len(items), cells)
        self.items = items
        self._make = make
        self._made: OrderedDict[int, L] = OrderedDict()

    def line(self, index: int) -> L | None:
        if not 0 <= index < self.count:
            return None
        made = self._made.get(index)
        if made is None:
            made = self._made[index] = self._make(self.items[index])
            if len(self._made) > MAX_MADE:
                self._made.popitem(last=False)
        else:
            self._made.move_to_end(index)
        return made

    def grow(self) -> None:
        """`items` holds more lines now (the rest of the list laid out): count them."""
        self.count = len(self.items)

    def find(self, after: int, forward: bool, matches: Callable[[L], bool]) -> int | None:
        """The next line (wrapping) after line `after` that `matches`, None if none does: every
        line, each made to be tested and not kept (blocking: a worker's for a long list)."""
        count = self.count
        for step in range(1, count + 1):
            index = (after + step) % count if forward else (after - step) % count
            line = self._made.get(index)
            if line is None:
                line = self._make(self.items[index])
            if matches(line):
                return index
        return None


class StoredLines(Lines[L]):
    """The lines of a list stored with the log, read a page at a time by `fetcher`'s thread
    (`parse` runs there too: a stored row into the view's line)."""

    def __init__(self, fetcher: PageFetcher, name: str, count: int, first: Sequence[L],
                 parse: Callable[[StoredRow], L], cells: Callable[[L], Sequence[Text]]) -> None:
        super().__init__(count, cells)
        self._fetcher = fetcher
        self._generation = fetcher.generation
        self.name = name
        self._parse = parse
        self._pages: OrderedDict[int, list[L]] = OrderedDict()
        self._pending: set[int] = set()
        if first:
            self._pages[0] = list(first[:PAGE])

    def line(self, index: int) -> L | None:
        if not 0 <= index < self.count:
            return None
        number, at = divmod(index, PAGE)
        page = self._pages.get(number)
        if page is None:
            self._request(number)
            return None
        self._pages.move_to_end(number)
        return page[at] if at < len(page) else None

    def _request(self, number: int) -> None:
        if number in self._pending:
            return
        self._pending.add(number)
        name, parse, start = self.name, self._parse, number * PAGE
        limit = min(PAGE, self.count - start)

        def read(store: Store) -> list[L]:
            return [parse(row) for row in stored_rows(store, name, limit, start)]

        self._fetcher.submit(self._generation, read, lambda rows: self._arrived(number, rows))

    def _arrived(self, number: int, rows: list[L]) -> None:
        self._pending.discard(number)
        self._pages[number] = rows
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        self._changed()

    def find(self, after: int, forward: bool, text: str, field: str, done: Callable[[int | None], None]) -> None:
        """Look for the next line (wrapping) after line `after` whose stored text `field` (of
        its `extra`) holds `text` in any case, in the fetcher's thread: `done(line or None)`."""
        name, count = self.name, self.count

        def search(store: Store) -> int | None:
            return tables.find_line(store, name, field, text, after=after, forward=forward, limit=count)

        self._fetcher.submit(self._generation, search, done)


def read_first(store: Store, name: str, limit: int | None = None) -> tuple[int, int, list[StoredRow]]:
    """(the list's `ViewRows.total`, how many lines it has (the views show every one: `limit`
    None), at most `limit`; its first page): what a reopened list view reads before it shows
    (blocking: a worker's)."""
    total, count = tables.list_size(store, name)
    count = count if limit is None else min(count, limit)
    return total, count, stored_rows(store, name, min(PAGE, count)) if count else []


def stored_rows(store: Store, name: str, limit: int, start: int = 0) -> list[StoredRow]:
    """`limit` lines of the stored list `name` from line `start` on, their text made printable
    again: a store written by an older version replays its lines as they were made, and the
    Process access view's line above the list once quoted the log's user name raw (an
    `ESC[2J` in it cleared the terminal on every repaint)."""
    return [_printable_row(row) for row in load_list(store, name, limit, start=start)[2]]


def _printable_row(row: StoredRow) -> StoredRow:
    cells = tuple(_printable_text(cell) for cell in row.cells)
    why = _printable_text(row.why)
    if why is row.why and all(new is old for new, old in zip(cells, row.cells, strict=True)):
        return row  # (nearly always: the views store printable text)
    return replace(row, cells=cells, why=why)


def _printable_text(text: Text) -> Text:
    """`text` itself when printable, else its printable text (its spans dropped: they were
    laid on the raw characters)."""
    plain = text.plain
    shown = printable(plain)
    return text if shown == plain else Text(shown, style=text.style, justify=text.justify)


# -- the table ---------------------------------------------------------------------------------
# `DataTable` keeps a row (`rows`), a position (`_row_locations`) and cells (`_data`) per row;
# these stand-ins answer the same questions for the lines of a `Lines` by position, without
# holding them (row i is keyed "i", one line high, unlabelled, as the lists always added them).


def _index(key: object, count: int) -> int | None:
    value = getattr(key, "value", key)
    try:
        index = int(value) if isinstance(value, str) else -1
    except ValueError:
        return None
    return index if 0 <= index < count else None


class _Keys:
    """`DataTable._row_locations`: row key <-> position."""

    def __init__(self, count: int) -> None:
        self.count = count

    def get(self, key: object) -> int | None:
        return _index(key, self.count)

    def get_key(self, index: int) -> RowKey | None:
        return RowKey(str(index)) if 0 <= index < self.count else None

    def contains_value(self, index: int) -> bool:
        return 0 <= index < self.count

    def __contains__(self, key: object) -> bool:
        return _index(key, self.count) is not None

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[RowKey]:
        return (RowKey(str(i)) for i in range(self.count))


class _Rows(_Keys):
    """`DataTable.rows`: row key -> `Row`."""

    def __getitem__(self, key: object) -> Row:
        index = _index(key, self.count)
        if index is None:
            raise KeyError(key)
        return Row(RowKey(str(index)), 1, None, False)

    def get(self, key: object, default: Any = None) -> Any:
        return self[key] if key in self else default

    def keys(self) -> Iterator[RowKey]:
        return iter(self)

    def clear(self) -> None:
        self.count = 0


class _Cells(_Keys):
    """`DataTable._data`: row key -> {column key: cell}, asked of the table's `Lines`."""

    def __init__(self, table: PagedRowsTable, count: int) -> None:
        super().__init__(count)
        self._table = table

    def __getitem__(self, key: object) -> dict[Any, Text | None]:
        index = _index(key, self.count)
        if index is None:
            raise KeyError(key)
        return self._table.row_cells(index)

    def get(self, key: object, default: Any = None) -> Any:
        return self[key] if key in self else default

    def clear(self) -> None:
        self.count = 0


class _Offsets:
    """`DataTable._y_offsets`: (row key, line within the row) per line of the table."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __getitem__(self, y: int) -> tuple[RowKey, int]:
        if not 0 <= y < self.count:
            raise IndexError(y)
        return RowKey(str(y)), 0

    def __len__(self) -> int:
        return self.count

    def clear(self) -> None:
        """(`DataTable.clear` clears the offsets; these hold nothing.)"""


class _OrderedRows:
    """`DataTable.ordered_rows`: the rows in order, made as they are read."""

    def __init__(self, positions: range) -> None:
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            return _OrderedRows(self._positions[item])
        index = self._positions[item]
        return Row(RowKey(str(index)), 1, None, False)

    def __iter__(self) -> Iterator[Row]:
        return (Row(RowKey(str(i)), 1, None, False) for i in self._positions)


class PagedRowsTable(DataTable[Text]):
    """A `DataTable` showing the lines of a `Lines` (`show_lines`), each drawn from its source
    when it comes into view (see the module docstring). Its columns have fixed widths (the
    lists' cells are cut to them): nothing is measured."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: Lines[Any] | None = None
        self.fetcher: PageFetcher | None = None

    def reader(self, db_path: Path) -> PageFetcher:
        """The thread that reads this table's stored lines from the database at `db_path`."""
        if self.fetcher is None or self.fetcher.db_path != db_path:
            if self.fetcher is not None:
                self.fetcher.close()
            self.fetcher = PageFetcher(db_path, self)
        self.fetcher.generation += 1  # answers for an older list are dropped
        return self.fetcher

    def on_unmount(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    def on_page_fetcher_fetched(self, message: PageFetcher.Fetched) -> None:
        message.stop()
        if self.fetcher is None or message.generation != self.fetcher.generation:
            return
        if message.error is not None:
            self.app.notify(printable(f"list not read: {type(message.error).__name__}: {message.error}"),
                            severity="error", markup=False)
        elif message.deliver is not None:
            message.deliver()

    def show_lines(self, lines: Lines[Any] | None) -> None:
        """Show `lines` (None: none), cursor on the first."""
        self.clear()
        self.lines = lines
        if lines is None:
            return
        lines.changed.append(self._lines_changed)
        count = lines.count
        self.rows = cast(Any, _Rows(count))
        self._row_locations = cast(Any, _Keys(count))
        self._data = cast(Any, _Cells(self, count))
        self._require_update_dimensions = True
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate
        if count and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self.check_idle()

    def clear(self, columns: bool = False) -> PagedRowsTable:
        if self.lines is not None and self._lines_changed in self.lines.changed:
            self.lines.changed.remove(self._lines_changed)
        self.lines = None
        super().clear(columns)
        return self

    def grow(self, count: int) -> None:
        """The shown list has `count` lines now (more were counted after it showed): the cursor
        and what is drawn stay."""
        for held in (self.rows, self._row_locations, self._data):
            if isinstance(held, _Keys):
                held.count = count
        self._require_update_dimensions = True
        self._update_count += 1
        self.refresh()
        self.check_idle()

    def _lines_changed(self) -> None:
        """Lines drawn as not read yet are in: draw them again (every cached line and cell is
        keyed by the update count)."""
        self._update_count += 1
        self.refresh()

    def row_cells(self, index: int) -> dict[Any, Text | None]:
        """The cells of line `index` by column key (`…` while it is not read yet)."""
        cells = self.lines.cells(index) if self.lines is not None else None
        if cells is None:
            cells = (Text(PENDING),)
        keys = [column.key for column in self.ordered_columns]
        return {key: cell for key, cell in zip_longest(keys, cells) if key is not None}

    @property
    def _y_offsets(self) -> Any:
        return _Offsets(self.row_count)

    @property
    def ordered_rows(self) -> Any:
        return _OrderedRows(range(self.row_count))
