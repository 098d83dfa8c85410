"""Events as compact rows for SQLite, and back; EventData values as posting lists.

Encoding is a pure function so that parser worker processes can do it: shipping plain tuples
of str/int between processes is much cheaper than pickling `Event` objects, and the main
process then only runs `executemany`. Three choices here carry most of the ingest speed:

* A store id is decided where the event is decoded, from where it sits in its input
  (`store_id`): workers need no round trip to number their events, and ids stay in input order.
* The EventData pairs of an event are kept `marshal`led (a tenth of the cost of `json.dumps`,
  which was a third of the whole per-event budget); only `decode_row` reads them back.
* The field index is a posting list per distinct (name, value): event logs repeat most values
  (accounts, SIDs, images, access masks, logon types), so a batch holds a few distinct pairs per
  event instead of a dozen field rows, and the store writes one row per pair (see
  `core.store.schema.postings`). System values live in their `events` columns only.
"""

from __future__ import annotations

import marshal
from collections import defaultdict
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any, Final, TypeVar

from core.model.event import Event, make_event

#: (id, source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords,
#:  channel, provider, computer, pid, tid, user_sid, locator, data)
EventRow = tuple[Any, ...]
#: (field name as written, value) -> store ids of the events holding it, ascending; and under
#: (REPEATED, lower-cased name), the events holding that name more than once (`repeated_in`).
Postings = dict[tuple[str | None, str], list[int]]
#: The same with the ids as a JSON array ("[5, 9, 12]"): how batches travel to the store.
PostingsText = dict[tuple[str | None, str], str]
#: The name part of the key under which postings list the events holding a field more than once
#: (two `Data` of one name, a UserData element's repeated children, two spellings of one name).
#: A stack counts a list's length as its events only for a field no event holds twice; these
#: lists travel with the batch's others (whatever carries postings carries them) and the store's
#: writers keep only their names (`split_repeated`). No field of a log is named None.
REPEATED: Final = None
_T = TypeVar("_T")

#: The fields of an `EventRow`, in order (the `events` table's columns: `core.store.schema`).
EVENT_COLUMNS = (
    "id, source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords, "
    "channel, provider, computer, pid, tid, user_sid, locator, data"
)

#: Store ids are (input position << ID_SHIFT) + the event's place in its input (the byte offset
#: of an EVTX record, the 1-based position in other formats): unique, in input order, and known
#: to whoever decodes the event. Inputs up to 1 TiB.
ID_SHIFT = 40
MAX_PLACE = (1 << ID_SHIFT) - 1
#: marshal format version written (stable since Python 3.4; part of the cache key).
MARSHAL_VERSION = 4
_EMPTY = b""


def store_id(source: int, place: int) -> int:
    """The store id of the event at `place` (see ID_SHIFT) of input `source`."""
    if not 0 <= place <= MAX_PLACE:
        raise ValueError(f"event position {place} out of range")
    return (source << ID_SHIFT) | place


def source_of(store_id: int) -> int:
    """The input (`Event.source`) of the event of this store id (see ID_SHIFT)."""
    return store_id >> ID_SHIFT


def encode_tuples(items: Iterable[tuple[int, tuple[Any, ...]]], postings: Postings) -> list[EventRow]:
    """Store rows of (store id, Event fields in declaration order) pairs, adding each event's
    EventData pairs to `postings` (a `defaultdict(list)` or `new_postings()`).

    `record_id` falls back to the record number (the 1-based position for text formats) when
    the input carries no EventRecordID."""
    return [encode_one(store_id, postings, t) for store_id, t in items]


def encode_one(store_id: int, postings: Postings, t: tuple[Any, ...]) -> EventRow:
    """`encode_tuples` for one event (the decoder's generated encoders fall back to this)."""
    (source, number, record_id, ts, eid, version, level, task, opcode, keywords, channel, provider,
     computer, pid, tid, user_sid, data, locator) = t
    for pair in data:
        postings[pair].append(store_id)
    if len(data) > 1:
        for name in repeated_in(data):
            postings[REPEATED, name].append(store_id)
    return (store_id, source, number, number if record_id is None else record_id, ts, eid, version, level, task,
            opcode, keywords, channel, provider, computer, pid, tid, user_sid, locator,
            marshal.dumps(data, MARSHAL_VERSION) if data else _EMPTY)


def repeated_in(data: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The lower-cased names `data` holds more than once (how the store compares names)."""
    names = tuple(map(_NAME, data))
    found = _REPEATS.get(names)
    if found is None:
        seen: set[str] = set()
        twice: set[str] = set()
        for name in names:
            lowered = name.lower()
            (twice if lowered in seen else seen).add(lowered)
        found = tuple(sorted(twice))
        if len(names) <= _REPEATS_NAMES:  # (a hostile event's thousands of names are not kept)
            if len(_REPEATS) >= _REPEATS_KEPT:
                _REPEATS.clear()
            _REPEATS[names] = found
    return found


#: `repeated_in` by the names of an event, in order (a log has a few hundred such lists at most:
#: a look-up is half the cost of lower-casing every name of every event).
_REPEATS: dict[tuple[str, ...], tuple[str, ...]] = {}
_REPEATS_KEPT = 4096
_REPEATS_NAMES = 64
_NAME = itemgetter(0)


def split_repeated(postings: Mapping[tuple[str | None, str], _T]) -> tuple[dict[tuple[str, str], _T], set[str]]:
    """(the posting lists of field values, the names some event holds more than once)."""
    lists: dict[tuple[str, str], _T] = {}
    repeated: set[str] = set()
    for (name, value), ids in postings.items():
        if name is REPEATED:
            repeated.add(value)
        else:
            lists[name, value] = ids
    return lists, repeated


def new_postings() -> Postings:
    """An empty posting table for `encode_tuples` (a defaultdict: marshal it as `dict(...)`)."""
    return defaultdict(list)


def postings_text(postings: Postings) -> PostingsText:
    """Posting lists as JSON arrays, made where the events are encoded (in the workers): the
    store then only joins text. (`repr` of a list of ints is its JSON, and the fastest way.)"""
    return {key: repr(ids) for key, ids in postings.items()}


def system_strings(rows: Iterable[EventRow]) -> set[str]:
    """The distinct channel, provider, computer and user SID values of these rows (the store's
    `strings` table, which free text searches instead of every event)."""
    found: set[str] = set()
    for row in rows:
        found.update(row[11:14])
        if row[16] is not None:
            found.add(row[16])
    found.discard("")
    return found


def event_fields(event: Event) -> tuple[Any, ...]:
    """An Event's fields in declaration order (what `encode_tuples` takes)."""
    return (
        event.source, event.record_number, event.record_id, event.filetime, event.event_id, event.version,
        event.level, event.task, event.opcode, event.keywords, event.channel, event.provider, event.computer,
        event.pid, event.tid, event.user_sid, event.data, event.locator,
    )


def decode_row(row: tuple[Any, ...]) -> Event:
    """Rebuild an Event from an `events` row selected as `SELECT_COLUMNS` (id excluded)."""
    (source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords, channel, provider,
     computer, pid, tid, user_sid, locator, data) = row
    pairs: tuple[tuple[str, str], ...] = marshal.loads(data) if data else ()
    if type(pairs) is not tuple:  # noqa: E721 - only our own tuples of str pairs are accepted
        raise ValueError("damaged event data in the store")
    return make_event(source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords,
                      channel, provider, computer, pid, tid, user_sid, pairs, locator)
