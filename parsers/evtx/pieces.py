"""EventData pairs as ready marshal pieces: the store row's EventData blob by concatenation.

Why: `marshal.dumps` of a record's pairs cost more than a microsecond per record (a fifth of
the row building), although logs repeat most pairs. A pair's marshal bytes depend on the pair
alone (written here without marshal's back-references), so the encoder's value caches keep
the piece ready, a record's blob is a header and a join, and the posting lists are keyed by
the pieces (whose hash bytes objects remember) until the batch is done (`pair_postings`).
`marshal.loads` of the joined blob gives the same tuple of (name, value) pairs as before.
"""

from __future__ import annotations

import marshal
import struct
from collections import defaultdict
from typing import Any

from core.model.rows import MARSHAL_VERSION, EventRow, Postings, repeated_in

#: Posting lists keyed by the pair's piece (bytes): what the EVTX encoder fills.
PiecePostings = dict[bytes, list[int]]

_LEN32 = struct.Struct("<I").pack
#: marshal's short ASCII string header ('z', one length byte) for each length.
_SHORT_ASCII = [b"z" + bytes((n,)) for n in range(256)]
#: A tuple's header: marshal's small tuple (')', one count byte) below 256 items.
_SMALL_TUPLE = [b")" + bytes((n,)) for n in range(256)]


def str_piece(text: str) -> bytes:
    """`text` as marshal (version 4) writes a str, without the reference flag: `marshal.loads`
    reads it back equal. (ASCII: short or long ASCII; else UTF-8 with lone surrogates kept.)"""
    if text.isascii():
        n = len(text)
        if n < 256:
            return _SHORT_ASCII[n] + text.encode("ascii")
        return b"a" + _LEN32(n) + text.encode("ascii")
    raw = text.encode("utf-8", "surrogatepass")
    return b"u" + _LEN32(len(raw)) + raw


def name_head(name: str) -> bytes:
    """The start of the piece of every pair named `name` (`pair_piece` = this + the value's)."""
    return _SMALL_TUPLE[2] + str_piece(name)


def pair_piece(head: bytes, value: str) -> bytes:
    """The piece of the pair (name, `value`) whose `name_head` is `head`."""
    return head + str_piece(value)


def repeated_piece(name: str) -> bytes:
    """The piece of `core.model.rows.REPEATED`'s key for the lower-cased `name`: marshal's
    (None, name), which no pair's piece is (a name is a str)."""
    return _SMALL_TUPLE[2] + b"N" + str_piece(name)


def tuple_head(count: int) -> bytes:
    """marshal's header of a tuple of `count` items (the blob is this + the pieces)."""
    return _SMALL_TUPLE[count] if count < 256 else b"(" + _LEN32(count)


def encode_one(store_id: int, postings: PiecePostings, t: tuple[Any, ...]) -> EventRow:
    """`core.model.rows.encode_one` with the pairs posted by their pieces (the records the
    generated encoders hand to the interpreter or the reference decoder)."""
    (source, number, record_id, ts, eid, version, level, task, opcode, keywords, channel, provider,
     computer, pid, tid, user_sid, data, locator) = t
    for name, value in data:
        postings[name_head(name) + str_piece(value)].append(store_id)
    if len(data) > 1:
        for name in repeated_in(data):
            postings[repeated_piece(name)].append(store_id)
    return (store_id, source, number, number if record_id is None else record_id, ts, eid, version, level, task,
            opcode, keywords, channel, provider, computer, pid, tid, user_sid, locator,
            marshal.dumps(data, MARSHAL_VERSION) if data else b"")


def new_piece_postings() -> PiecePostings:
    return defaultdict(list)


def pair_postings(postings: PiecePostings) -> Postings:
    """The posting lists by (name, value), in the order the pairs were first met (one
    `marshal.loads` per distinct pair of the batch)."""
    loads = marshal.loads
    return {loads(piece): ids for piece, ids in postings.items()}
