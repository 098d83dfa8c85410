"""A filtered, ordered view of the store, and the positional queries a virtual table needs.

The event table shows only a window of rows, so it asks: the page at position k, how many rows
match, where a given event sits, the next row matching a search term. All of that is SQL over
the store and lives here, not in the widget: the UI never builds SQL by hand.

Order is time order (`ts`, then EventRecordID, then insertion) once indexes exist; while a log
is still loading the table uses file order (`e.id`), which needs no index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.query import marks as marking
from core.query.first_terms import first_of_terms, set_seconds
from core.query.marks import Marks, marks_of, wanted
from core.query.order_keys import beyond, key_of
from core.query.quick_counts import quick_count
from core.query.string_terms import settled_strings
from core.query.term_sets import TERM_OPEN, settled_terms
from core.store.filter import Filter, Order
from core.store.first_listed import field_term, first_listed
from core.store.store import Store, StoredEvent, all_but_an_id_set, reads_id_set, tests_only_ids
from core.store.time_limit import within

PAGE = 64


@dataclass(frozen=True, slots=True)
class View:
    """What the table shows: the events `filter` keeps, in time (or, while loading, file) order."""

    filter: Filter = field(default_factory=Filter.everything)
    by_time: bool = True
    #: The filter as the user gave it, for a settled view (`settled`): its marks are kept by it.
    origin: Filter | None = field(default=None, compare=False)

    @property
    def matches_all(self) -> bool:
        """Whether the view holds every event (no filter)."""
        return self.filter.matches_all

    @property
    def order(self) -> Order:
        return Order.TIME if self.by_time else Order.FILE

    @property
    def order_desc(self) -> Order:
        return Order.TIME_DESC if self.by_time else Order.FILE_DESC

    def before(self, ev: StoredEvent) -> list[Filter]:
        """SQL for "comes before `ev` in view order", as ranges of an index nearest first
        (`order_keys.beyond`: one condition with an OR walked the index from the far end, 80 ms
        to page up in the middle of a million events against 1 ms)."""
        if not self.by_time:
            return [Filter.from_sql("e.id < ?", (ev.id,))]
        return beyond(key_of(ev), False)

    def after(self, ev: StoredEvent) -> list[Filter]:
        """SQL for "comes after `ev` in view order", as `before` does it."""
        if not self.by_time:
            return [Filter.from_sql("e.id > ?", (ev.id,))]
        return beyond(key_of(ev), True)

    def narrowed(self, other: Filter) -> Filter:
        """The view's events that `other` also keeps."""
        return self.filter & other


# -- queries (the table runs them in its fetcher thread) ----------------------------------------


#: A time-ordered view holding at least this many events and 1/SCAN_SHARE of the store is paged
#: by walking the time index and testing each event, which stops after a page of matches. Left
#: to itself SQLite looks up every match and sorts them all (it cannot tell a field value held
#: by 250,000 events from a rare one): 135 ms against 35 ms at a million events. Under these
#: sizes looking up and sorting is the faster plan, and the walk is bounded by the index anyway.
SCAN_MIN = 10_000
SCAN_SHARE = 20


def settled(store: Store, view: View) -> View:
    """`view` as the fetcher queries it: once the log is loaded (time order), a one-term view
    reads its ids from a set made once (`Store.id_set`) instead of its posting lists, and so
    do the terms of a compound one (`settled_terms`); a computer, channel, provider or user SID
    term reads the values it names (`settled_strings`)."""
    if not view.by_time or view.origin is not None:
        return view
    if view.filter.ids is None:
        return View(settled_strings(store, settled_terms(store, view.filter)), view.by_time, view.filter)
    return View(store.id_set(view.filter), view.by_time, view.filter)


def _marks(view: View, store: Store, total: int | None) -> Marks | None:
    """The marks kept for `view` (settled) on this connection, if they fit `total`."""
    if not view.by_time or view.origin is None:
        return None
    return marks_of(store, view.origin, total)


def fill_marks(store: Store, view: View, total: int) -> bool:
    """Make the next mark of `view` of `total` rows (`core.query.marks`: the table's fetcher
    calls this while it has nothing else to do); whether more remain to make."""
    if not view.by_time or not wanted(store, total):
        return False
    view = settled(store, view)
    marks = marks_of(store, view.origin or view.filter, total, make=True)
    return marks is not None and marks.step(store, view.filter)


def _walks(store: Store, view: View, size: int | None) -> bool:
    """Whether `view` (of `size` events, None: unknown) is read by walking the time index."""
    return view.by_time and size is not None and size >= SCAN_MIN and size * SCAN_SHARE >= store.size()


#: A view reading an id set (`Store.id_set`) too small for `_walks` still walks the time index
#: to read `k` rows on from a row or an end of it (a page beside a row: PAGE) once it holds
#: SCAN_MIN events and its size squared is over `k / PAGE * BESIDE_SQUARE` times the store's:
#: the walk passes about k * store / size entries, each tested against the set before the event
#: is read (~0.3 us), where SQLite's own plan looks up every event of the set on that side
#: (~4 us each) and sorts them. `4624 LogonType:3` on the 1 GB log (24,009 of 1.39M events):
#: 87-105 ms a page, 1.5-3 ms walked.
BESIDE_SQUARE = 10


def _walks_near(store: Store, view: View, size: int | None, k: int = PAGE) -> bool:
    """Whether `k` rows on from a row or an end of `view` are read by walking the time index."""
    if _walks(store, view, size):
        return True
    return (view.by_time and size is not None and size >= SCAN_MIN and reads_id_set(view.filter)
            and size * size * PAGE >= BESIDE_SQUARE * store.size() * k)


#: A view of id sets holding at least 1/WHOLE_SHARE of the store is read whole (a stack of a
#: column, a histogram) by walking an index holding what is read, each entry tested against the
#: sets (~0.35 us), rather than by looking up each of its events in id order (~1 us on the 1 GB
#: log's store: its stack of the 1.15M events of a value by EventID took 1.2 s, its histogram
#: 1.6). A view of every event but a set's (`NOT term`) always walks: SQLite read the whole
#: table for it (the negation's histogram, 237,634 events: 1.5 s). With 10 for 3, a histogram of
#: a quarter of `bench/table.py`'s million events, walked in the background, slowed the table's
#: next jumps by ~50 ms.
WHOLE_SHARE = 3


def whole_by_index(store: Store, which: Filter) -> bool:
    """Whether the events of `which` (a settled view's filter) are read whole by walking an
    index of the events (`WHOLE_SHARE`): it tests ids only and its size needs no event read."""
    if which.matches_all or not tests_only_ids(which):
        return False
    if all_but_an_id_set(which):
        return True
    size = store.quick_count(which)
    return size is not None and size * WHOLE_SHARE >= store.size()


def _size(store: Store, view: View, total: int | None = None) -> int | None:
    """The view's size: `total` when the caller knows it, else the size of its id set (counted
    when it was made), else unknown."""
    if total is not None:
        return total
    return store.count_ids(view.filter) if view.filter.id_table is not None else None


def fetch_page(
    store: Store, view: View, start: int, total: int | None, page: int = PAGE, counted: int | None = None
) -> list[StoredEvent]:
    """Rows at positions [start, start + PAGE) of `view`: from the end when that is closer.
    `counted`: the view's count if known to the caller only (it picks the plan, no more)."""
    view = settled(store, view)
    size = _size(store, view, total if total is not None else counted)
    if size == 0:  # (a filter matching nothing, of no index: its read would pass every event)
        return []
    marks = _marks(view, store, size) if size is not None and min(start, size - start) >= marking.NEAR_END else None
    rows = None if marks is None else marks.page(store, view.filter, start, page)
    if rows is not None:
        return rows
    if total is not None and start > total // 2 and start < total:
        end = min(start + page, total)
        rows = store.select(view.filter, offset=total - end, limit=end - start, order=view.order_desc,
                            by_time_index=_walks_near(store, view, size, total - start))
        rows.reverse()
    else:
        rows = store.select(view.filter, offset=start, limit=page, order=view.order,
                            by_time_index=_walks_near(store, view, size, start + page))
    return rows


#: How long the first page of a view may take before its count is known (`first_page_within`).
FIRST_PAGE_SECONDS = 0.03
#: The least the same may take for a view of EventData or free-text terms (`first_listed`,
#: `first_of_terms`), and the most: in between, a quarter of what the count's id sets are
#: expected to take (`first_terms.set_seconds`). At 10M events the first page of a value held by
#: 2.5M takes 7-20 ms, of free text held by 5M 40-50 ms with the store in the page cache and
#: 100-160 ms in the app from disk, against 0.6-0.8 s and 2.5-3.5 s for their sets: a fixed 0.2 s
#: was missed from disk, and the table then waited for the set. A sparse term gives up after a
#: few thousand events (`core.store.first_listed.LAST_BLOCK`), short lists are not read so at all.
FIRST_LISTED_SECONDS = 0.2
FIRST_LISTED_MOST = 1.0


def first_page_within(store: Store, view: View, seconds: float | None = None,
                      page: int = PAGE) -> list[StoredEvent] | None:
    """The first page of `view` in time order if it is read within `seconds`, before its count;
    else None, and the caller counts the view first, as the plan of a big view's pages depends
    on its size. A view of System fields only is read with SQLite's own plan (default limit
    FIRST_PAGE_SECONDS): its events are usually dense (an EventID, a computer, a channel, a
    level), at 10M events its first page takes ~1 ms, its count 0.1-1.2 s (no index on a
    channel). A view of EventData or free-text terms is read from the few posting rows its first
    events in time order are in (`core.store.first_listed`, `core.query.first_terms`; FIRST_LISTED_SECONDS),
    before any id set is made: at 10M events a value held by 2.5M waited 0.6-0.8 s for its set."""
    if not view.by_time:
        return None
    which = view.filter
    if which.ids is None and TERM_OPEN not in which.sql:
        limit = FIRST_PAGE_SECONDS if seconds is None else seconds
        return within(store, limit, lambda: fetch_page(store, view, 0, None, page))
    limit = seconds if seconds is not None else \
        max(FIRST_LISTED_SECONDS, min(FIRST_LISTED_MOST, set_seconds(store, which) / 4))
    find = first_listed if field_term(which) else first_of_terms
    return within(store, limit, lambda: _page_of(store, find(store, which, page, time.monotonic() + limit), page))


def _page_of(store: Store, ids: list[int] | None, page: int) -> list[StoredEvent] | None:
    """The events `ids` (None: not found), in time order."""
    if ids is None:
        return None
    return store.select(Filter.store_ids(*ids), limit=page, order=Order.TIME) if ids else []


def fetch_beside(store: Store, view: View, anchor: StoredEvent, after: bool, page: int = PAGE,
                 total: int | None = None) -> list[StoredEvent]:
    """The `page` rows of `view` right after (or before) the row `anchor`, in view order: the
    next page when scrolling, found through the index from a row already fetched instead of
    counted out with OFFSET (in the middle of a million events: 0.5 ms against 30-110 ms).
    A big view (`_walks`; `total`: its size if the caller knows it) walks the time index from
    the anchor: SQLite looked up every event of the view after it and sorted them (a value held
    by 1.15M of a 1 GB log's 1.39M events: 0.55 s a page, against 1-2 ms)."""
    view = settled(store, view)
    return _beside(store, view, anchor, after, page, _walks_near(store, view, _size(store, view, total), page))


def _beside(store: Store, view: View, anchor: StoredEvent, after: bool, page: int,
            walk: bool = False) -> list[StoredEvent]:
    rows: list[StoredEvent] = []
    for part in view.after(anchor) if after else view.before(anchor):
        if len(rows) >= page:
            break
        order = view.order if after else view.order_desc
        rows += store.select(view.narrowed(part), limit=page - len(rows), order=order, by_time_index=walk)
    if not after:
        rows.reverse()
    return rows


def _page_around(store: Store, view: View, found: StoredEvent, position: int, page: int,
                 walk: bool) -> list[StoredEvent]:
    """The page of `view` (positions [position - position % page, + page)) holding `found`,
    which sits at `position`: read outwards from the event through the index, where counting
    out the page's OFFSET took 30-110 ms in the middle of a million events."""
    k = position % page
    return [*_beside(store, view, found, False, k, walk), found, *_beside(store, view, found, True, page - k - 1, walk)]


def count_view(store: Store, view: View) -> int:
    if view.filter.ids is not None and view.by_time:  # one term, loaded: the size of its id set
        return store.count_ids(store.id_set(view.filter))
    if view.filter.ids is not None:  # one term: count the distinct ids it lists, no event looked up
        return store.count_ids(view.filter)
    which = settled(store, view).filter
    quick = quick_count(store, which)
    return quick if quick is not None else store.count(which)


def position_of(store: Store, view: View, store_id: int, total: int | None = None) -> int | None:
    """Where the event `store_id` sits in `view`, or None when the view excludes it."""
    found = locate(store, view, store_id, page=0, total=total)
    return None if found is None else found[0]


def locate(store: Store, view: View, store_id: int, page: int = PAGE,
           total: int | None = None) -> tuple[int, list[StoredEvent]] | None:
    """Where the event `store_id` sits in `view` and, for `page` > 0, the rows of the page of
    that size holding it (time order only: while loading, rows land between others, so the
    list is empty); None when the view excludes the event. For jumps to an event. `total`: the
    view's size if the caller knows it (it picks the plan, no more)."""
    view = settled(store, view)
    found = store.select(view.narrowed(Filter.store_ids(store_id)), limit=1)
    if not found:
        return None
    return _landing(store, view, found[0], page, total)


def _landing(store: Store, view: View, ev: StoredEvent, page: int,
             total: int | None = None) -> tuple[int, list[StoredEvent]]:
    """Where `ev` sits in `view`, and the rows of its page as `locate` says."""
    size = _size(store, view, total)
    position = _position(store, view, ev, size)
    if page <= 0 or not view.by_time:
        return position, []
    return position, _page_around(store, view, ev, position, page, _walks_near(store, view, size, page))


#: Looking an event up costs about WALK_COST times as much as walking past an index entry and
#: testing it (the 1 GB log's views: 1.5 us against 0.9).
WALK_COST = 1.5
_FIRST_CAP = 4096


def _position(store: Store, view: View, ev: StoredEvent, size: int | None) -> int:
    """How many events of `view` come before `ev` (one of its events; `size`: the view's, if
    known). Looking each of them up costs more than walking the time index and testing each
    entry (`WALK_COST`) when the test needs no more than the entry (the view is id sets:
    `tests_only_ids`; an EventID view's own index counts faster than a walk reading each event's
    EventID): a big view of known size is counted by a walk on whichever side of
    `ev` has fewer than WALK_COST times its events in the store (a value held by 1.15M of a 1 GB
    log's 1.39M events: 1 s to place an event, 6-270 ms so); those sides are counted from the
    index alone, as far as the shorter goes. A small view (SCAN_MIN events) is looked up: a few ms."""

    def counted(parts: list[Filter], walk: bool) -> int:
        return sum(store.count(view.narrowed(part), by_time_index=walk) for part in parts)

    marks = _marks(view, store, size)
    marked = None if marks is None else marks.position(store, view.filter, ev)
    if marked is not None:
        return marked
    ts = ev.event.filetime
    if size is not None and size >= SCAN_MIN and view.by_time and ts is not None and tests_only_ids(view.filter):
        bound, cap = int(size * WALK_COST), _FIRST_CAP
        earlier, later = Filter.from_sql("e.ts < ?", (ts,)), Filter.from_sql("e.ts > ?", (ts,))
        while True:  # both sides counted up to a cap growing fourfold: the cost of the shorter
            cap = min(cap, bound)
            if store.count(earlier, by_time_index=True, at_most=cap) < cap:
                return counted(view.before(ev), True)
            if store.count(later, by_time_index=True, at_most=cap) < cap:
                return size - 1 - counted(view.after(ev), True)
            if cap == bound:
                break
            cap *= 4
    return counted(view.before(ev), False)


def find_match(
    store: Store,
    view: View,
    term: Filter,
    anchor: StoredEvent | None,
    forward: bool,
    page: int = 0,
    total: int | None = None,
) -> tuple[int, int, bool, list[StoredEvent]] | None:
    """The next (or previous) row of `view` after `anchor` that also matches `term`, wrapping
    around once: (store id, position, wrapped, the rows of its page as `locate` gives them),
    or None when no row of the view matches."""
    view = settled(store, view)
    base = view.narrowed(term)
    wrapped = False
    found: list[StoredEvent] = []
    order = view.order if forward else view.order_desc
    if anchor is not None:
        for rel in view.after(anchor) if forward else view.before(anchor):
            found = store.select(base & rel, limit=1, order=order)
            if found:
                break
    if not found:
        wrapped = anchor is not None
        found = store.select(base, limit=1, order=order)
    if not found:
        return None
    position, rows = _landing(store, view, found[0], page, total)
    return found[0].id, position, wrapped, rows
