"""A stack counts events, not posting entries, for a field some event holds twice: two `Data`
of one name (the same value or not, one spelling or two) or a UserData element's repeated
children. Every ingest path says which names an event holds twice (`core.model.rows.REPEATED`),
and the stack then counts distinct events; other fields keep counting list lengths."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from core.model.event import Event
from core.model.values import as_int
from core.query.compile import compile_query
from core.query.stack import stack
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from tests.shared import sample

SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"  # 2.1 MB: large enough for workers


def _compared(value: str) -> str:
    """A value as the query language compares it: a number as a number, text folded."""
    number = as_int(value)
    return value.lower() if number is None else f"#{number}"


def _by_hand(store: Store, query: str, name: str) -> tuple[Counter[str], int, int]:
    """(events per value as the query language compares it, events of the view, events of the
    view holding none), counted from the events themselves."""
    counts: Counter[str] = Counter()
    total = without = 0
    which = compile_query(query)
    for se in store.iter_events(which):
        total += 1
        values = {_compared(v) for n, v in se.event.data if n.lower() == name}
        counts.update(values)
        without += not values
    return counts, total, without


def _stacked(store: Store, query: str, name: str) -> tuple[Counter[str], int, int]:
    got = stack(store, compile_query(query), name, limit=None)
    return Counter({_compared(r.value): r.count for r in got.rows}), got.total, got.missing


def test_an_event_holding_a_field_twice_counts_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    held = [
        (("X", "a"), ("X", "a")),  # the same pair twice
        (("X", "a"), ("x", "b")),  # two values, two spellings of the name
        (("X", "A"),),  # a case variant
        (("Y", "z"),),  # no X
        (("X", "b"), ("Y", "z")),
    ]
    store.add_events([Event(source=0, record_number=i, record_id=i, filetime=None, event_id=1, data=data)
                      for i, data in enumerate(held, 1)])
    assert store.repeated_names() == {"x"}
    for query in ("", "X:b", "NOT Y:z"):
        by_hand = _by_hand(store, query, "x")
        assert _stacked(store, query, "X") == by_hand, query
    assert _stacked(store, "", "X") == (Counter({"a": 3, "b": 2}), 5, 1)
    assert store.count(compile_query("X:a")) == 3
    # a field no event holds twice: counted from list lengths, as before
    assert _stacked(store, "", "Y") == (Counter({"z": 2}), 5, 3)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_evtx_template_naming_a_field_twice(tmp_path: Path, jobs: int) -> None:
    """The security sample with every template's `SubjectLogonId` renamed `SubjectUserSid`
    (same length): its 4624s, 4672s... then hold `SubjectUserSid` twice, with two values. Loaded
    in one process and by the workers that insert their own rows."""
    data = sample(SECURITY).read_bytes()
    old, new = "SubjectLogonId".encode("utf-16-le"), "SubjectUserSid".encode("utf-16-le")
    assert data.count(old) > 0
    path = tmp_path / "renamed.evtx"
    path.write_bytes(data.replace(old, new))
    assert evtx.uses_workers(str(path), jobs) == (jobs > 1)
    with Store(tmp_path / "s.db") as store:
        load_paths([str(path)], store, jobs=jobs)
        assert store.repeated_names() == {"subjectusersid"}
        for query in ("", "4624", "NOT 4672"):
            by_hand = _by_hand(store, query, "subjectusersid")
            assert by_hand[0] and by_hand[1] > by_hand[2]
            assert _stacked(store, query, "SubjectUserSid") == by_hand, query
        twice = sum(1 for se in store.iter_events()
                    if sum(n == "SubjectUserSid" for n, _ in se.event.data) > 1)
        assert twice > 100
        # a field no template repeats: the same counts by list lengths
        assert _stacked(store, "", "TargetUserName") == _by_hand(store, "", "targetusername")


def test_records_outside_the_generated_encoders_say_so_too() -> None:
    """The interpreter's and the reference decoder's records (`parsers.evtx.pieces.encode_one`)."""
    from parsers.evtx import pieces

    postings = pieces.new_piece_postings()
    fields = (0, 1, None, None, 4624, 0, 0, 0, 0, None, "Security", "P", "PC", None, None, None)
    pieces.encode_one(7, postings, (*fields, (("Item", "1"), ("item", "2"), ("Other", "1")), 0))
    pieces.encode_one(9, postings, (*fields, (("Item", "1"),), 0))
    assert pieces.pair_postings(postings) == {
        ("Item", "1"): [7, 9], ("item", "2"): [7], ("Other", "1"): [7], (None, "item"): [7]}
