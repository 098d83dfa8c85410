"""The Process access view: every handle one process opened to another (Sysmon 10, Security
4656 on a Process object, both joined when they are one access), grouped by target and ranked
by risk (lsass first, rights that read memory, a non-system source, an unusual source image),
with the access decoded (PROCESS_VM_READ...) and the 4690 duplications of the handle under it.

The rows come from `model.process_accesses()` (`core.correlate.access_list`: ranked as far as the
lines read need; the status line's count may follow the first screen, and on a big log the rest
of the list's lines too: its first FIRST_LINES show at once), stored with the log once built
(every line), with each line's correlation tree (`tui.list_tree_view`, `tui.stored_views`); moving the
cursor shows the row's correlation tree beside the list (read or built in a worker), `enter`
moves into the tree and `enter` on a tree node jumps to its event. The app pushes
`ProcessAccessScreen()` (its number key is the app's to wire). Event data is shown literally (never as markup).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast, overload

from rich.text import Text

from core.correlate.access_list import AccessList, Item
from core.model.event import iso_from_filetime
from core.model.text import one_line, printable
from core.model.values import hex_id
from tui.correlation import correlation_roots
from tui.list_pages import Lines, MadeLines
from tui.list_tree_view import ListTable, ListTreeScreen
from tui.nav_tree import confidence_text
from tui.stored_views import ListedRow, MadeRows, ViewRows
from tui.words import plural

#: Lines (groups, accesses and duplications together) shown before the rest of a longer list
#: is laid out in a worker: a few dozen screens. The first 1,000 lines of a million churn events
#: take 0.01 s, all 16,395 of them 1.1 s (every image the 4656s open swept through time).
FIRST_LINES = 1_000
#: Lines laid out at a time when the whole list is (`AccessItems.lay_out_all`): each step holds
#: the list's lock (the lines drawn meanwhile wait) for one step only.
LAY_OUT_STEP = 5_000
#: Lines of a list at most (a bound on the loop that lays them out: far beyond any log's).
MAX_LINES = 10**9

#: Lines ranked before the list shows (the first screen's, and some).
FIRST_SCREEN = 100
#: Characters of an access's risk reasons shown above the list (a status of three lines at most).
WHY_REASONS = 500

COLUMNS: tuple[tuple[str, int], ...] = (
    ("Risk", 5),
    ("Source process", 22),
    ("Target process", 22),
    ("Access", 10),
    ("Twin", 9),
    ("Rights", 36),
    ("Time (UTC)", 19),
    ("Record", 8),
    ("Computer", 20),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the list: a target's heading, an access, or a 4690 under an access; each
    opens the correlation of `store_id`. `why` is the line shown above the list for it."""

    store_id: int
    cells: tuple[Text, ...]
    why: Text


def _pid(value: int | None) -> str:
    return "?" if value is None else f"{hex_id(value)}"


def _cell(text: str, width: int) -> Text:
    return Text(one_line(printable(text), width))


def _when(ref: Any) -> Text:
    when = iso_from_filetime(ref.filetime)
    return Text(when[:19].replace("T", " ") if when else "no time")


class AccessItems(Sequence[Item]):
    """What the list's lines show, read from the model's `AccessList` as they are asked for: per
    target a heading, then its accesses riskiest first, each followed by the 4690s that
    duplicated its handle; every line, or the first `limit` until `lay_out_all`. Cheap: the
    lines themselves are made by `access_line` (when drawn, or all of them to be stored)."""

    def __init__(self, listing: AccessList, limit: int | None = None) -> None:
        self._listing = listing
        self._count = listing.line_count(limit) if limit is not None else 0
        #: Whether every line of the list is counted (`limit` None, or fewer lines than it).
        self.complete = limit is not None and self._count < limit
        if limit is None:
            self.lay_out_all()
        if self._count:  # the first screen ranked here (a worker), not when the UI draws it
            listing.item(min(self._count, FIRST_SCREEN) - 1)

    def lay_out_all(self) -> int:
        """Lay out the whole list, LAY_OUT_STEP lines at a time (blocking: a worker's), and count
        its lines: how many there are."""
        listing = self._listing
        for end in range(LAY_OUT_STEP, MAX_LINES + LAY_OUT_STEP, LAY_OUT_STEP):
            try:
                listing.item(end - 1)
            except IndexError:
                self._count = listing.line_count(end)
                break
        self.complete = True
        return self._count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._listing.item(index % self._count)

    def __iter__(self) -> Iterator[Item]:
        return (self._listing.item(i) for i in range(self._count))


def access_items(listing: AccessList, limit: int | None = None) -> tuple[int | None, AccessItems]:
    """(how many accesses, if known yet: `AccessList.total_known`; what the lines show: every
    line, or the first `limit` until `AccessItems.lay_out_all`)."""
    items = AccessItems(listing, limit)
    return listing.total_known(), items


def access_line(item: Item) -> Row:
    """The line of one `access_items` item."""
    kind, what = item
    if kind == "access":
        return _access_row(what)
    if kind == "dup":
        return Row(what.store_id, (
            Text(""), Text("  4690 duplicated", style="italic"), Text(""), Text(""), Text(""), Text(""),
            _when(what), Text(str(what.record_id)), Text(""),
        ), Text(f"the handle of the access above, duplicated by 4690 record {what.record_id}"))
    group = what
    first = group.first
    heading = f"{group.target}: {plural(group.count, 'access', 'accesses')}"
    return Row(first.evidence.store_id, (
        Text(str(group.risk), style="bold"), Text(""), Text(one_line(printable(heading), 60), style="bold"),
        Text(""), Text(""), Text(""), Text(""), Text(""), _cell(group.computer, COLUMNS[8][1]),
    ), Text(f"target {printable(group.target)} on {printable(group.computer)}: riskiest first"))


def _access_row(access: Any) -> Row:
    src = f"{printable(access.source_name)} {_pid(access.source_pid)}"
    tgt = f"{printable(access.target_name)} {_pid(access.target_pid)}"
    twin = access.twin
    twin_word = confidence_text(twin.confidence) if twin is not None else Text("-")
    ref = access.evidence
    why = Text(f"{ref.event_id} record {ref.record_id}: ")
    # The reasons quote the source's user and image as the log wrote them (`access_risk`): made
    # printable, and cut so that a megabyte user name cannot stall the three-line status.
    why.append(one_line("; ".join(access.why_risky), WHY_REASONS) or "no risk marker")
    why.append(f" | access {_pid(access.access)}: {printable(access.rights)}")
    if twin is not None:
        why.append(f" | same access as {twin.ref.event_id} record {twin.ref.record_id} ({twin.confidence}): "
                   f"{printable(twin.reason)}")
    if access.target_confidence != "exact":
        why.append(f" | target {access.target_confidence}: {printable(access.target_reason)}")
    return Row(ref.store_id, (
        Text(str(access.risk)),
        Text("  " + one_line(src, COLUMNS[1][1] - 2)),
        _cell(tgt, COLUMNS[2][1]),
        Text(_pid(access.access)),
        twin_word,
        _cell(access.rights, COLUMNS[5][1]),
        _when(ref),
        Text(str(ref.record_id)),
        _cell(access.computer, COLUMNS[8][1]),
    ), why)


def stored_access_rows(model: Any) -> ViewRows:
    """What the view lists (and stores): every line of the model's process accesses, and the
    correlation tree each line shows (stored for the first lines, `tui.stored_views.TREE_LINES`)."""
    listing = model.process_accesses()
    items = AccessItems(listing)
    # Each line made as the writer reads it, none kept (`MadeRows`): all at once, 40 MB at 1M events.
    return ViewRows(rows=MadeRows(items, access_line, _item_store_id), total=listing.total(),
                    event_tree=lambda stored: correlation_roots(model, stored))


def _item_store_id(item: Item) -> int | None:
    """The event of an `access_items` item's line (as `access_line` makes it), without the line."""
    kind, what = item
    if kind == "access":
        return cast(int | None, what.evidence.store_id)
    if kind == "dup":
        return cast(int | None, what.store_id)
    return cast(int | None, what.first.evidence.store_id)


class AccessTable(ListTable):
    """The access list (j/k move like everywhere else)."""


class ProcessAccessScreen(ListTreeScreen):
    """Handles opened to other processes, by target and risk; the selected one's tree beside."""

    DEFAULT_CSS = """
    #access-body { layout: vertical; height: 1fr; }
    #access-body.-wide { layout: horizontal; }
    #access-table { height: auto; max-height: 45%; min-height: 4; border: round $primary 40%; }
    #access-table:focus { border: round $accent; }
    #access-body #access-tree { height: 1fr; }
    #access-body.-wide #access-table { width: 1fr; height: 1fr; max-height: 100%; }
    #access-body.-wide #access-tree { width: 1fr; height: 1fr; }
    """

    TITLE_TEXT = "Process access: handles opened to other processes"
    IDS = ("access-body", "access-table", "access-tree", "access-why")
    COLUMNS = COLUMNS
    STORED_LIST = "process_access"
    #: Lines shown before the rest of the list is laid out (in a worker, `lines_later`).
    FIRST_LINES = FIRST_LINES
    TABLE_CLASS = AccessTable

    def build_rows(self, model: Any) -> ViewRows:
        return stored_access_rows(model)

    def model_lines(self, model: Any) -> tuple[int | None, Lines[ListedRow]]:
        # Each line made when drawn (making all of them was a third of the view's time), and
        # the list ranked as far as they need (`AccessList`); the count may come after.
        total, items = access_items(model.process_accesses(), self.FIRST_LINES)
        return total, MadeLines(items, access_line, lambda row: row.cells)

    def count_later(self, model: Any) -> int:
        return int(model.process_accesses().total())

    def lines_pending(self, lines: Lines[ListedRow]) -> bool:
        items = lines.items if isinstance(lines, MadeLines) else None
        return isinstance(items, AccessItems) and not items.complete

    def lines_later(self, lines: Lines[ListedRow]) -> int:
        items = lines.items if isinstance(lines, MadeLines) else None
        return items.lay_out_all() if isinstance(items, AccessItems) else lines.count

    def counting_text(self, lines: int) -> str:
        return "counting process accesses (Sysmon 10, 4656 on a process)..."

    def status_text(self, total: int, lines: int) -> str:
        text = f"{plural(total, 'process access', 'process accesses')} (Sysmon 10, 4656 on a process)"
        if total and not self._growing:
            text += f" in {lines:,} lines"
        if not total:
            text += ": none in this log"
        return text
