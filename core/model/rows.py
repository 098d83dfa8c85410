"""Events as compact rows for SQLite, and back; EventData values as posting lists.

Encoding is a pure function so that parser worker processes can do it: shipping plain tuples
of str/int between processes is much cheaper than pickling `Event` objects, and the main
process then only runs `executemany`. Three choices here carry most of the ingest speed:

* A store id is decided where the event is decoded, from where it sits in its input
  (`store_id`): workers need no round trip to number their events, and ids stay in input order.
* The EventData pairs of an event are kept `marshal`led (a tenth of the cost of `json.dumps`,
  which was a third of the whole per-event budget); `data_pairs` reads them back (`decode_row`).
  A cache database is a file on disk: a bit flip or a hand edit can make a blob say anything.
  `marshal.loads` trusts the counts a blob declares (a 5-byte `(` + 0x7ffffff0 allocated a
  16 GB tuple before failing), so `data_pairs` first checks, without allocating, that no tuple
  or list in the blob claims more items than bytes remain (`marshal_bounded`), then that what
  loaded is a tuple of (str, str); anything else is a ValueError the CLI and app report as a
  damaged cache (`core.store.cache_damage`), which the next run parses again.
* The field index is a posting list per distinct (name, value): event logs repeat most values
  (accounts, SIDs, images, access masks, logon types), so a batch holds a few distinct pairs per
  event instead of a dozen field rows, and the store writes one row per pair (see
  `core.store.schema.postings`). System values live in their `events` columns only.
"""

from __future__ import annotations

import marshal
import struct
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


#: What a stored blob that does not decode as written raises (`core.store.cache_damage` knows it).
DAMAGED_DATA = "damaged event data in the store"
_I32 = struct.Struct("<i").unpack_from
#: Bytes that may be the type code of a tuple or list with a 4-byte count (`(`, `[`, with or
#: without marshal's FLAG_REF). `marshal.loads` allocates such a container whole from its count
#: (PyTuple_New fills it: 0x7ffffff0 items took 39 s and 16.8 GB; a list 6 s), so a blob holding
#: one of these bytes is walked (`_pairs_bounded`) before it is loaded; one that holds none
#: (most rows: a small tuple of short strings) is loaded at once. Elsewhere marshal checks sizes
#: against the bytes left (strings) or allocates nothing up front.
_COUNTED = (b"(", b"[", b"\xa8", b"\xdb")
_SMALL_TUPLE = 0x29  # ')': a tuple of up to 255 items (what `encode_one` writes below 256 pairs)
_REF_FLAG = 0x80
#: marshal type codes, as `marshal_bounded` reads them.
_SHORT_STRINGS = frozenset(b"zZ")  # 1-byte length
_STRINGS = frozenset(b"uaAts")  # 4-byte length
#: String type codes of `encode_one`'s pairs, with and without FLAG_REF (`_pairs_bounded`).
_PAIR_SHORT = frozenset(b"zZ\xda\xfa")
_PAIR_LONG = frozenset(b"uaAt\xf5\xe1\xc1\xf4")
_REF = 0x72
_SCALARS = {ord("N"): 1, ord("T"): 1, ord("F"): 1, ord("i"): 5, ord("r"): 5, ord("g"): 9}


def marshal_bounded(blob: bytes) -> bool:
    """Whether `blob` is one marshalled value built only of None, bools, ints, floats, strings
    and tuples, in which no count claims more than the bytes left (so `marshal.loads` of it
    allocates in proportion to its length) and which ends where the blob ends. Allocates
    nothing in proportion to any count it reads."""
    size = len(blob)
    pos = 0
    pending = 1  # values still to read: their bytes are at least as many
    try:
        while pending:
            code = blob[pos] & ~_REF_FLAG
            pending -= 1
            if code in _SHORT_STRINGS:
                pos += 2 + blob[pos + 1]
            elif code in _STRINGS:
                length = _I32(blob, pos + 1)[0]
                if length < 0:
                    return False
                pos += 5 + length
            elif code == _SMALL_TUPLE:
                pending += blob[pos + 1]
                pos += 2
            elif code == 0x28:  # '(': 4-byte count
                count = _I32(blob, pos + 1)[0]
                if count < 0:
                    return False
                pending += count
                pos += 5
            elif code == 0x6C:  # 'l': a long of |n| 15-bit digits
                digits = _I32(blob, pos + 1)[0]
                pos += 5 + 2 * abs(digits)
            elif code in _SCALARS:
                pos += _SCALARS[code]
            else:
                return False
            if pos + pending > size:  # (each value still to read takes a byte at least)
                return False
    except (IndexError, struct.error):
        return False
    return pos == size


def _pairs_bounded(blob: bytes) -> bool:
    """`marshal_bounded` for the shape `encode_one` writes, a tuple of (str, str) pairs (a pair
    or a string may be a reference to one met before), at half the cost: the table reads it."""
    size = len(blob)
    code = blob[0] & ~_REF_FLAG
    if code == _SMALL_TUPLE:
        count, pos = blob[1], 2
    elif code == 0x28:
        count, pos = _I32(blob, 1)[0], 5
        if not 0 <= count <= size:
            return False
    else:
        return False
    try:
        for _ in range(count):
            code = blob[pos]
            if code == _REF:
                pos += 5
                continue
            if code & ~_REF_FLAG != _SMALL_TUPLE or blob[pos + 1] != 2:
                return False
            pos += 2
            for _ in (0, 1):
                code = blob[pos]
                if code in _PAIR_SHORT:
                    pos += 2 + blob[pos + 1]
                elif code in _PAIR_LONG:
                    length = _I32(blob, pos + 1)[0]
                    if length < 0:
                        return False
                    pos += 5 + length
                elif code == _REF:
                    pos += 5
                else:
                    return False
            if pos > size:
                return False
    except (IndexError, struct.error):
        return False
    return pos == size


#: Every byte but `_COUNTED`'s, deleted by `bytes.translate` to find those (a C pass: 0.4 us a
#: row, against 0.6 for four `in` searches and 1.4 for a regular expression's class).
_NOT_COUNTED = bytes(sorted(set(range(256)) - {c[0] for c in _COUNTED}))


def data_pairs(blob: bytes | None) -> tuple[tuple[str, str], ...]:
    """The EventData pairs of an `events.data` blob (`encode_one`); ValueError (`DAMAGED_DATA`)
    for a blob that is not a bounded marshalled tuple of (str, str) pairs (see the module
    docstring). The correlation build reads every row here, so the common row costs one C pass
    (a small tuple, with or without FLAG_REF, holding no byte of a 4-byte-count container) and a
    loop over its pairs; the rest a walk of the blob first (`_pairs_bounded`). (It takes a
    blob holding bytes past its value as marshal does, ignoring them: never an allocation.)"""
    if not blob:
        return ()
    if type(blob) is not bytes:  # noqa: E721 - a crafted row's text or number
        raise ValueError(DAMAGED_DATA)
    if ((blob[0] | _REF_FLAG) != _SMALL_TUPLE | _REF_FLAG or blob.translate(None, _NOT_COUNTED)) \
            and not _pairs_bounded(blob):
        raise ValueError(DAMAGED_DATA)
    try:
        pairs = marshal.loads(blob)
    except (EOFError, ValueError, TypeError, MemoryError, OverflowError) as exc:
        raise ValueError(f"{DAMAGED_DATA} ({exc})") from None
    if type(pairs) is not tuple:  # noqa: E721 - exactly our own tuples of str pairs
        raise ValueError(DAMAGED_DATA)
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not str:  # noqa: E721
            raise ValueError(DAMAGED_DATA)
    return pairs


def child_pairs(blob: bytes | None) -> tuple[tuple[str, str], ...]:
    """`data_pairs` without its checks, for the correlation build's reading child only: it reads
    every row of the store, where the checks cost it a sixth of its time (1.2 s of CPU per
    million events). A blob it cannot read, or whose declared count makes it allocate more than
    the machine has, ends that child (it asks the kernel to be killed first when memory runs out:
    `core.correlate.scan_reader.main`), and the build then reads in its own process, through
    `data_pairs`, which says the cache is damaged. So does a value the child hands on that is
    not text (an int, bytes, None: marshal loads a crafted row's as they are), which the child
    checks in what it hands on, not here (`scan_reader.frames`: checking every value here, even
    in C, cost it 14% more)."""
    pairs: tuple[tuple[str, str], ...] = marshal.loads(blob) if blob else ()
    if type(pairs) is not tuple:  # noqa: E721
        raise ValueError(DAMAGED_DATA)
    return pairs


def decode_row(row: tuple[Any, ...]) -> Event:
    """Rebuild an Event from an `events` row selected as `SELECT_COLUMNS` (id excluded);
    ValueError (`DAMAGED_DATA`) when its EventData blob does not read back (`data_pairs`)."""
    (source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords, channel, provider,
     computer, pid, tid, user_sid, locator, data) = row
    pairs = data_pairs(data)
    return make_event(source, record_number, record_id, ts, event_id, version, level, task, opcode, keywords,
                      channel, provider, computer, pid, tid, user_sid, pairs, locator)
