"""The EVTX encoder's hand-written marshal pieces load back as the pairs they stand for."""

from __future__ import annotations

import marshal

import pytest

from parsers.evtx import pieces

TEXTS = ["", "-", "a" * 255, "a" * 256, "b" * 70_000, "caf\u00e9", "\u3042" * 300, "x\ud800y", "\x00\x07", "0x1f"]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_pair_pieces_load_as_the_pair(text: str) -> None:
    piece = pieces.pair_piece(pieces.name_head("TargetUserName"), text)
    assert marshal.loads(piece) == ("TargetUserName", text)
    assert marshal.loads(pieces.pair_piece(pieces.name_head(text), "v")) == (text, "v")


@pytest.mark.parametrize("count", [0, 1, 255, 256, 300])
def test_joined_pieces_load_as_the_event_data(count: int) -> None:
    """A record's EventData blob is the tuple header and its pairs' pieces, joined; posting
    lists keyed by pieces become lists keyed by the pairs, in first-met order."""
    pairs = tuple((f"n{i}", "v" * (i % 7)) for i in range(count))
    blob = pieces.tuple_head(count) + b"".join(pieces.pair_piece(pieces.name_head(n), v) for n, v in pairs)
    assert marshal.loads(blob) == pairs
    postings = pieces.new_piece_postings()
    for sid, (name, value) in enumerate(reversed(pairs)):
        postings[pieces.pair_piece(pieces.name_head(name), value)].append(sid)
    by_pair = pieces.pair_postings(postings)
    assert list(by_pair) == list(reversed(pairs))
    assert all(ids == [sid] for sid, ids in enumerate(by_pair.values()))
