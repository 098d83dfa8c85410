"""The first page of a compound view of EventData terms, before any of its id sets is made.

`4663 handle:0x438`, `LogonType:3 NOT SubjectUserSid:S-1-5-18`: the view's statements read each
term from an id set (`core.query.term_sets`), made first, which takes as long as for the term
alone (a value held by 2.5M of 10M events: 0.6-0.8 s). The first page needs only the events at
the start of the time order: a block of them at a time, each term stands for the ids of the few
posting rows that can hold a block's events (`core.store.first_listed`: the same answer for
every event of the block), and SQLite tests the whole filter on the block's events alone.
"""

from __future__ import annotations

from core.query.term_sets import map_terms, terms_of
from core.store import first_listed as listed
from core.store.filter import Filter
from core.store.first_listed import field_term, first_in_time, listed_bytes, matching, posting_spans, rows_meeting
from core.store.store import Store


def _rows_term(rows: list[int]) -> Filter:
    """A term read from these posting rows only (none: no event)."""
    if not rows:
        return Filter.nothing()
    return Filter.from_sql(f"e.id IN (SELECT j.value FROM postings p, json_each(p.ids) j"
                           f" WHERE p.rowid IN ({', '.join(map(str, rows))}))")


def first_of_terms(store: Store, which: Filter, count: int, deadline: float) -> list[int] | None:
    """The store ids of the first `count` events of `which` in time order (`first_in_time`),
    or None: a filter with no posting-list term or one of another shape than a field's (free
    text), or whose terms' events at the start of the time order are in posting rows too long."""
    terms = terms_of(which)
    if not terms or not all(map(field_term, terms)):
        return None
    spans = [posting_spans(store, term) for term in terms]
    if any(s is None for s in spans):
        return None
    if sum(listed_bytes(s or ()) for s in spans) < listed.SMALL_BYTES:  # its id sets are quick to make
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
        return matching(store, map_terms(which, lambda n, _: _rows_term(rows[n])), block)

    return first_in_time(store, count, deadline, held)
