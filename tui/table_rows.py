"""What the event table shows of an event: its row (the text computed in the fetcher thread,
not at render), the columns that fit the terminal's width, times in UTC or local time, and the
finding markers (a glyph per severity, so it reads without colour).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from core.model.event import Event, filetime_to_datetime, invalid_time_text, iso_from_filetime, time_in_range
from core.model.summary import event_image, event_user, summarize
from core.model.text import printable
from core.query.view import View, fetch_page, first_page_within
from core.store.store import Store, StoredEvent

#: Characters of a value a table cell is made of: a column is at most a screen wide, and a
#: megabyte value escaped and measured on every repaint took seconds a row (attacker-sized).
CELL_CHARS = 1_000


def cell_text(value: str) -> str:
    """`value` as a table cell: its first `CELL_CHARS` characters, printable (attacker text)."""
    return printable(value[:CELL_CHARS])

#: Rows per page the table fetches.
PAGE = 64

#: Most severe first; an unknown severity ranks after these.
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
#: The finding marker of each severity: distinct glyphs, so severity reads under NO_COLOR.
SEVERITY_GLYPHS = {"critical": "!", "high": "!", "medium": "+", "low": ".", "info": "."}
#: The component class that colours each marker.
SEVERITY_CLASSES = {
    "critical": "event-table--finding-high",
    "high": "event-table--finding-high",
    "medium": "event-table--finding-medium",
    "low": "event-table--finding-low",
    "info": "event-table--finding-low",
}


def severity_rank(severity: str) -> int:
    """0 for the most severe; unknown severities after every known one."""
    low = severity.lower()
    return SEVERITY_ORDER.index(low) if low in SEVERITY_ORDER else len(SEVERITY_ORDER)


def finding_glyph(severity: str) -> str:
    """The marker of a severity (`?` for one the rules file invented)."""
    return SEVERITY_GLYPHS.get(severity.lower(), "?")


class Row(NamedTuple):
    """One table row, with the per-row text computed in the fetcher thread (not at render)."""

    id: int
    event: Event
    summary: str
    user: str
    image: str

    @property
    def stored(self) -> StoredEvent:
        return StoredEvent(self.id, self.event)


def make_row(se: StoredEvent) -> Row:
    ev = se.event
    return Row(se.id, ev, cell_text(summarize(ev)), cell_text(event_user(ev)), cell_text(event_image(ev)))


def fetch_rows(store: Store, view: View, start: int, total: int | None, counted: list[int]) -> list[Row]:
    """A page of `view` as table rows (text computed here, in the fetcher thread). `counted`
    holds the view's count once the fetcher has it (see `EventTable.reload`)."""
    return [make_row(r) for r in fetch_page(store, view, start, total, PAGE, counted[0] if counted else None)]


def first_rows(store: Store, view: View) -> list[Row] | None:
    """The first page of `view` if it can be read before its count (`first_page_within`)."""
    found = first_page_within(store, view, page=PAGE)
    return None if found is None else [make_row(r) for r in found]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int
    right: bool = False
    gap: int = 1  # blank cells after the column (the two marker columns sit side by side)


def layout_columns(width: int, several_sources: bool, local: bool) -> list[Column]:
    """Columns that fit `width`: the summary takes what is left; less useful ones drop first."""
    time_w = 23 if width >= 120 else 19
    cols = [
        Column("mark", "", 1, gap=0),
        Column("finding", "", 1),
        Column("time", f"Time ({local_offset_label()})" if local else "Time (UTC)", time_w),
    ]
    if several_sources and width >= 94:
        cols.append(Column("source", "Source", 12))
    cols += [Column("record", "Record", 7, True), Column("eid", "EvID", 5, True)]
    # Everything is scoped by computer (the same pid on two hosts is two processes), so the
    # computer outranks the user when space is short.
    if width >= 94:
        cols.append(Column("computer", "Computer", 14))
    if width >= 108:
        cols.append(Column("user", "User", 12))
    if width >= 78:
        cols.append(Column("image", "Image", 14))
    used = sum(c.width + c.gap for c in cols)
    cols.append(Column("summary", "Summary", max(8, width - used)))
    return cols


#: The columns whose cell names a field (the pivot and stack keys: `tui.pivots`); the others
#: have none.
FIELD_COLUMNS = ("record", "eid", "computer", "user", "image", "source", "level")
#: Columns left/right also pick, to sort by (`o`): the Time, the System columns the user may
#: show (Channel and Provider pivot too), and the EventData field columns (`field:` + name).
PICKABLE = ("time", "channel", "provider")


def next_field_column(columns: list[Column], current: str | None, delta: int) -> str | None:
    """The field column `delta` steps from `current` (None: EvID) among those shown."""
    keys = [c.key for c in columns if c.key in FIELD_COLUMNS or c.key in PICKABLE or c.key.startswith("field:")]
    if not keys:
        return current
    at = keys.index(current or "eid") if (current or "eid") in keys else 0
    return keys[max(0, min(len(keys) - 1, at + delta))]


def format_time(ts: int | None, local: bool, millis: bool) -> str:
    """The Time cell: a time out of the date range as every output words it (`invalid FILETIME`
    and its ticks); a local time past a date's ends (hours from 0001 or 9999) in UTC, with its `Z`."""
    if ts is None:
        return "-"
    if not time_in_range(ts):
        return invalid_time_text(ts)
    dt = filetime_to_datetime(ts)
    if local:
        try:
            dt = dt.astimezone()
        except (OverflowError, ValueError, OSError):
            return iso_from_filetime(ts) or "-"
    text = dt.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{dt.microsecond // 1000:03d}" if millis else text


def local_offset_label() -> str:
    """The local zone's UTC offset for the header and status line ("UTC+09:00"), or both of
    them where it keeps summer time ("UTC+01:00/+02:00"): each row is converted with the offset
    in force at its own time, so naming only today's would misstate half the year's rows."""
    year = _dt.datetime.now().year
    offsets = sorted({
        int((_dt.datetime(year, month, 1, tzinfo=_dt.UTC).astimezone().utcoffset() or _dt.timedelta(0))
            .total_seconds() // 60)
        for month in (1, 7)  # winter and summer, north or south
    })
    return "UTC" + "/".join(_offset_text(m) for m in offsets)


def _offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def row_cells(
    row: Row, severity: str | None, marked: bool, source_names: dict[int, str], local: bool, millis: bool
) -> dict[str, str]:
    """The text of each column of one row (all of it printable already)."""
    ev = row.event
    return {
        "mark": "*" if marked else "",
        "finding": finding_glyph(severity) if severity is not None else "",
        "time": format_time(ev.filetime, local, millis),
        "source": source_names.get(ev.source, str(ev.source)),
        "record": str(ev.record_id),
        "eid": str(ev.event_id),
        "computer": cell_text(ev.computer),
        "user": row.user,
        "image": row.image,
        "summary": row.summary,
    }


def line_strip(
    columns: list[Column], cells: dict[str, str], style: Style, cell_styles: dict[str, Style] | None, width: int
) -> Strip:
    """One line of the table: each cell cut (with `…`) or padded to its column, `width` wide."""
    segments: list[Segment] = []
    for col in columns:
        text = cells.get(col.key, "")
        if cell_len(text) > col.width:
            text = set_cell_size(text, max(0, col.width - 1)) + "…" if col.width > 1 else text[:1]
        elif col.right:
            text = " " * (col.width - cell_len(text)) + text
        text = set_cell_size(text, col.width)
        extra = cell_styles.get(col.key) if cell_styles else None
        segments.append(Segment(text, style + extra if extra else style))
        if col.gap:
            segments.append(Segment(" " * col.gap, style))
    return Strip(segments).adjust_cell_length(width, style)
