"""The first page of a view of EventData or free-text terms, before any of its id sets is made.

`4663 handle:0x438`, `LogonType:3 NOT SubjectUserSid:S-1-5-18`: the view's statements read each
term from an id set (`core.query.term_sets`), made first, which takes as long as for the term
alone (a value held by 2.5M of 10M events: 0.6-0.8 s). The first page needs only the events at
the start of the time order: a block of them at a time, each term stands for the ids of the few
posting rows that can hold a block's events (`core.store.first_listed`: the same answer for
every event of the block; a free-text term also tests the event's System values, as its id
set reads them from `strings`), and SQLite tests the whole filter on the block's events alone.
"""

from __future__ import annotations

from core.query.compile import FREE_TEXT_IDS, FREE_TEXT_ROWS, FREE_TEXT_SYSTEM
from core.query.term_sets import map_terms, terms_of
from core.store import first_listed as listed
from core.store.filter import Filter
from core.store.first_listed import (
    field_term,
    first_in_time,
    listed_bytes,
    matching,
    posting_spans,
    rows_meeting,
    spans_where,
    strings_like,
)
from core.store.store import Store

Spans = list[tuple[int, int, int, int]]
#: An id set's cost per byte of its posting lists (10M events: 36 ns for a value held by 2.5M,
#: 51 ns for free text held by 5M).
SET_SECONDS_PER_BYTE = 40e-9


def _spans(store: Store, term: Filter) -> Spans | None:
    """The spans of the posting rows `term` reads (`core.store.first_listed`), or None for a
    term of neither shape this reads."""
    if term.ids == FREE_TEXT_IDS:
        return spans_where(store, f"p.rowid IN ({FREE_TEXT_ROWS})", term.params[:1])
    return posting_spans(store, term)


def set_seconds(store: Store, which: Filter) -> float:
    """About how long the count's id sets of `which` take (its posting-list terms' smallest, at
    `SET_SECONDS_PER_BYTE`); 0 for a filter without such terms."""
    terms = terms_of(which)
    sizes = [listed_bytes(spans) for term in terms if (spans := _spans(store, term)) is not None]
    return min(sizes, default=0) * SET_SECONDS_PER_BYTE


def _in_block(term: Filter, rows: list[int]) -> Filter:
    """What `term` says of an event of a block whose ids only posting rows `rows` may list: the
    ids those rows list, and for free text what the event's System values say (the `strings`
    half of its ids, tested on the event)."""
    ids = "0"
    if rows:
        listed_in = ", ".join(map(str, rows))
        ids = f"e.id IN (SELECT j.value FROM postings p, json_each(p.ids) j WHERE p.rowid IN ({listed_in}))"
    if term.ids != FREE_TEXT_IDS:
        return Filter.from_sql(ids)
    return Filter.from_sql(f"({ids} OR {FREE_TEXT_SYSTEM})", term.params[:1] * FREE_TEXT_SYSTEM.count("?"))


def first_of_terms(store: Store, which: Filter, count: int, deadline: float) -> list[int] | None:
    """The store ids of the first `count` events of `which` in time order (`first_in_time`),
    or None: a filter with no posting-list term or one of neither shape (`_spans`), of short
    lists only (its id sets are quick to make), or whose terms' events at the start of the time
    order are in posting rows too long."""
    terms = terms_of(which)
    if not terms or not all(field_term(term) or term.ids == FREE_TEXT_IDS for term in terms):
        return None
    spans = [_spans(store, term) for term in terms]
    system = any(term.ids == FREE_TEXT_IDS and strings_like(store, str(term.params[0])) for term in terms)
    if not system and sum(listed_bytes(s or ()) for s in spans) < listed.SMALL_BYTES:
        return None

    def held(block: list[int]) -> set[int] | None:
        rows: list[list[int]] = []
        read = 0
        for term_spans in spans:
            assert term_spans is not None
            met, size = rows_meeting(term_spans, block)
            rows.append(met)
            read += size
        if read > listed.BYTES_AT_ONCE:
            return None
        return matching(store, map_terms(which, lambda n, term: _in_block(term, rows[n])), block)

    return first_in_time(store, count, deadline, held)
