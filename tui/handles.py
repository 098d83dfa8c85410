"""The Handles view: every 4690 (handle duplicated) with its source and target processes named,
and beside it the correlation tree of the selected one.

The list comes from `model.handle_duplications()` (`core.correlate.model`), stored with the log
once built, with each line's correlation tree (`tui.list_tree_view`, `tui.stored_views`): each
row already names the process instances the engine resolved (by computer + pid + time, never by
pid alone), and how sure that is, as a word. Moving the cursor shows the selected 4690's tree (source process
with its parent, source handle and object with its accesses and close, target process, target
handle, logon session, related events), read or built in a worker; `enter` in the list moves to the tree and
`enter` on a tree node jumps to its event in the event table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from core.correlate.model import CorrelationModel, Duplication, HandleLink, ProcessLink
from core.model.event import iso_from_filetime
from core.model.text import one_line, printable
from tui.correlation import correlation_roots
from tui.list_pages import Lines, MadeLines
from tui.list_tree_view import ListTable, ListTreeScreen
from tui.nav_tree import confidence_text
from tui.stored_views import ListedRow, MadeRows, ViewRows
from tui.words import plural

#: Confidence words from strongest to weakest (a row shows its weakest link).
ORDER = ("exact", "inferred", "ambiguous", "missing")


def weakest(*confidences: str | None) -> str:
    words = [c for c in confidences if c]
    if not words:
        return ""
    return max(words, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER))


def _pid(value: int | None) -> str:
    return "?" if value is None else f"0x{value:x}"


#: (heading, width) of the list's columns: fixed widths keep the layout stable while rows
#: arrive; cells are cut with an ellipsis. The link word and both processes and handles come
#: first so that they fit in 80 columns (the list is 80 wide beside the tree at 160 too: the
#: target showed as "Ta"/"Sy" behind the time); time, record and computer follow.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Link", 9),
    ("Source process", 20),
    ("Handle", 7),
    ("Target process", 18),
    ("Handle", 7),
    ("Time (UTC)", 19),
    ("Record", 8),
    ("Computer", 24),
)


def process_cell(link: ProcessLink, width: int) -> Text:
    """`lsass.exe 0x2a8`: the resolved image name (literal, cut to fit) and its pid."""
    pid = _pid(link.pid)
    name = printable(link.name or "?")
    return Text(one_line(name, max(4, width - len(pid) - 1)) + " " + pid)


def _links(dup: Duplication) -> list[tuple[str, str, ProcessLink | HandleLink]]:
    """(role, what, link) of the four links a 4690 row stands on, in reading order."""
    def handle(link: HandleLink) -> str:
        return "handle " + _pid(link.handle_id)

    def process(link: ProcessLink) -> str:
        return printable(link.name or "?") + " " + _pid(link.pid)

    return [
        ("source process", process(dup.source), dup.source),
        ("source handle", handle(dup.source_handle), dup.source_handle),
        ("target process", process(dup.target), dup.target),
        ("target handle", handle(dup.target_handle), dup.target_handle),
    ]


def weakest_link(dup: Duplication) -> tuple[str, Text]:
    """The row's link word (its weakest link's) and the line that says which link that is and
    why: the tree's top node is the 4690 itself (exact), so "inferred" in the list needs its
    reason, e.g. `inferred: source handle handle 0x44 - opened after the 4690`."""
    links = _links(dup)
    word = weakest(*(link.confidence for _r, _w, link in links))
    text = Text("weakest link: ")
    if not word:
        return word, text
    if word == "exact":
        text.append("every link is exact (both processes and both handles)")
        return word, text
    role, what, link = next(item for item in links if item[2].confidence == word)
    badge = confidence_text(word)
    badge.rstrip()  # (in place) the badge is padded for the column
    text.append_text(badge)
    text.append(f": {role} {what}")
    reason = link.reason
    if reason:
        text.append(" - " + printable(reason))
    return word, text


def duplication_row(dup: Duplication, link: str | None = None) -> tuple[Text, ...]:
    """The cells of one 4690 row, in `COLUMNS` order (`link`: its `weakest_link` word, if the
    caller has it: worked out once per line, every 4690 of a big log being stored)."""
    ref = dup.event
    when = iso_from_filetime(ref.filetime)
    if link is None:
        link = weakest_link(dup)[0]
    return (
        confidence_text(link),
        process_cell(dup.source, COLUMNS[1][1]),
        Text(_pid(dup.source_handle.handle_id)),
        process_cell(dup.target, COLUMNS[3][1]),
        Text(_pid(dup.target_handle.handle_id)),
        Text(when[:19].replace("T", " ") if when else "no time"),
        Text(one_line(str(ref.record_id), COLUMNS[6][1])),
        Text(one_line(printable(str(dup.computer)), COLUMNS[7][1])),
    )


class HandlesTable(ListTable):
    """The 4690 list (j/k move like everywhere else)."""


@dataclass(frozen=True, slots=True)
class HandleRow:
    """One line of the list (`tui.stored_views.ListedRow`): the 4690, its cells, and the line
    that says its weakest link and why (and what the handle is to)."""

    store_id: int | None
    cells: tuple[Text, ...]
    why: Text


def handle_row(dup: Duplication) -> HandleRow:
    word, why = weakest_link(dup)
    obj = str(dup.object_name or "")
    if obj:  # what the handle is to (a process handle names the target image)
        why.append(f"   object: {printable(obj)}")
    return HandleRow(int(dup.event.store_id), duplication_row(dup, word), why)


def handle_rows(model: CorrelationModel) -> ViewRows:
    """What the view lists (and stores): every 4690 in time order, and the correlation tree
    each line shows (stored for the first lines, `tui.stored_views.TREE_LINES`)."""
    dups = model.handle_duplications()
    # Each line made as the writer reads it, none kept (`MadeRows`): all at once they were 70 MB.
    return ViewRows(rows=MadeRows(dups, handle_row, lambda dup: int(dup.event.store_id)),
                    total=len(dups), event_tree=lambda stored: correlation_roots(model, stored))


class HandlesScreen(ListTreeScreen):
    """4690 events with their resolved processes; the selected one's correlation tree beside."""

    TITLE_TEXT = "Handles: 4690 handle duplications"
    IDS = ("handles-body", "handles-table", "handles-tree", "handles-why")
    COLUMNS = COLUMNS
    STORED_LIST = "handles"
    TABLE_CLASS = HandlesTable

    def build_rows(self, model: Any) -> ViewRows:
        return handle_rows(model)

    def model_lines(self, model: Any) -> tuple[int, Lines[ListedRow]]:
        # Each line made when drawn: making all 20,000 took 2.5 s of the view's 3 s at 1M events;
        # so is each 4690's `Duplication` (`core.correlate.duplications`): the count is known at
        # once, and every 4690 is a line (the list is a sequence made as it is read).
        dups = model.handle_duplications()
        return len(dups), MadeLines(dups, handle_row, lambda row: row.cells)

    def status_text(self, total: int, lines: int) -> str:
        text = f"{plural(total, 'handle duplication')} (4690)"
        if lines != total:  # (a list stored by an older version was cut)
            text += f", {lines:,} shown"
        if not total:
            text += ": none in this log"
        return text
