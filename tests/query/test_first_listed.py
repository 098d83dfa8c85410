"""A view of one EventData term shows its first page before its id set is made
(`core.store.first_listed`, through `core.query.view.first_page_within`): the page is the one the
counted view shows, whatever the time order, the batches or the inputs, and a value too sparse at
the start of the time order is left to the id set."""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import first_terms
from core.query.compile import compile_query
from core.query.first_terms import first_of_terms
from core.query.term_sets import terms_of
from core.query.view import View, count_view, fetch_page, first_page_within
from core.store import first_listed as listed
from core.store.ingest import load_paths
from core.store.store import Store
from parsers import evtx
from tests.shared import sample
from tests.stores import statements

BASE = 133_500_000_000_000_000
SECURITY = "evtx/parsers/omerbenamram__samples__security.evtx"  # 2.1 MB: large enough for workers


def _event(i: int, ts: int | None, source: int = 0) -> Event:
    data = [("Index", str(i)), ("Every3", "yes" if i % 3 == 0 else "no"), ("Num", str(i % 40))]
    if i % 50 == 7:
        data.append(("Medium", "m"))
    if i in (11, 4_000, 9_999):
        data.append(("Rare", "r"))
    if i % 2:
        data.append(("Spelled", "MiXeD" if i % 4 == 1 else "mixed"))
    return Event(source=source, record_number=i + 1, record_id=i + 1, filetime=ts, event_id=4663 + i % 2,
                 computer="WS01", data=tuple(data))


@pytest.fixture(autouse=True)
def _small_values_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """These stores are small: their values are read this way too (`SMALL_BYTES`)."""
    monkeypatch.setattr(listed, "SMALL_BYTES", 0)


def _reference(store: Store, view: View) -> list[int]:
    """The counted view's first page, as the table shows it after its count."""
    return [se.id for se in fetch_page(store, view, 0, count_view(store, view))]


def _batched_store(path: Path, times: list[int | None], batch: int) -> Store:
    """Events added `batch` at a time (a posting row per value per batch), indexed."""
    store = Store(path)
    store.add_source("/logs/a.xml", "xml")
    for start in range(0, len(times), batch):
        store.add_events(_event(i, times[i]) for i in range(start, min(start + batch, len(times))))
    store.build_indexes()
    return store


QUERIES = ("Every3:yes", "Every3:no", "Num:7", "Num:0x7", "Medium:m", "Rare:r", "Spelled:mixed", "Spelled:MIXED",
           "Index:12345", "Absent:x", "Every3:y*", "Num:(3 OR 5)")
#: Compound views: terms with EventIDs, System fields, negations, alternatives.
COMPOUND = ("4663 Every3:yes", "Every3:yes NOT Num:7", "Num:(3 OR 5) Spelled:mixed", "Every3:yes OR Medium:m",
            "NOT Every3:yes", "4664 NOT Spelled:mixed", "Every3:yes Index:*1", "computer:ws01 Every3:no",
            "Rare:r OR 4663", "Every3:yes Absent:x", "NOT (Every3:no OR Num:7)",
            # free text: EventData values, the computer (every event), both, none
            "yes", "mixed", "ws01", "ws0 Every3:no", "4664 mixed", "4663 mixed", "yes NOT Num:7", "xed OR Medium:m",
            "nowhere", "NOT yes")


def test_a_field_views_first_page_comes_before_its_id_set(tmp_path: Path) -> None:
    # file order is time order but for jitter, ties and two events without a time (first in time order)
    times: list[int | None] = [None if i in (5, 300) else BASE + i * 10_000_000 + (i * 7919) % 13 * 1_000_000
                               for i in range(12_000)]
    with _batched_store(tmp_path / "s.db", times, 700) as store:
        for query in ("Every3:yes", "Spelled:mixed", "Num:7", "4663 Every3:no", "Every3:yes NOT Num:7", "yes",
                      "4664 xed"):
            view = View(compile_query(query))
            with statements(store) as seen:
                got = first_page_within(store, view, 60.0)
            assert got is not None, query
            assert not any("CREATE TABLE" in s for s in seen), query  # no id set made for it
            # the rows of the first block of the time order (4,096 events: 6 batches of 18)
            read = [len(rows.split(",")) for s in seen for rows in re.findall(r"p\.rowid IN \(([\d, ]+)\)", s)]
            spans = sum(len(first_terms._spans(store, term) or ()) for term in terms_of(view.filter))
            assert read and sum(read) * 2 < spans, query
            assert [se.id for se in got] == _reference(store, view), query
        for query in QUERIES + COMPOUND:
            view = View(compile_query(query))
            got = first_page_within(store, view, 60.0)
            if got is not None:
                assert [se.id for se in got] == _reference(store, view), query
    # events without a time all over the file: the first in time order are in every batch
    times = [None if i % 997 == 5 else BASE + i * 10_000_000 for i in range(12_000)]
    with _batched_store(tmp_path / "n.db", times, 700) as store:
        for query in QUERIES + COMPOUND:
            view = View(compile_query(query))
            got = first_page_within(store, view, 60.0)
            if got is not None:
                assert [se.id for se in got] == _reference(store, view), query
        assert first_page_within(store, View(compile_query("Every3:yes")), 60.0) is not None
        # too sparse at the start: the id set answers (it is small)
        assert first_page_within(store, View(compile_query("Rare:r")), 60.0) is None
        assert first_page_within(store, View(compile_query("Absent:x")), 60.0) == []


def test_a_value_held_by_fewer_events_than_a_page_shows_them_all(tmp_path: Path) -> None:
    with _batched_store(tmp_path / "s.db", [BASE + i for i in range(3_000)], 500) as store:
        view = View(compile_query("Rare:r"))  # events 11 and... nothing else under 3,000
        got = first_page_within(store, view, 60.0)
        assert got is not None
        assert [se.id for se in got] == _reference(store, view) and len(got) == 1


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_first_listed_against_the_counted_view(tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random stores (fixed seeds): time order shuffled in places or reversed, two inputs side by
    side in time, batches of any size; small blocks so that a page takes several."""
    rng = random.Random(seed)
    monkeypatch.setattr(listed, "FIRST_BLOCK", rng.choice([16, 64, 256]))
    monkeypatch.setattr(listed, "LAST_BLOCK", 50_000)
    monkeypatch.setattr(listed, "BYTES_AT_ONCE", 1 << 62)
    n = rng.randrange(500, 4_000)
    times: list[int | None] = [BASE + i * 1_000 for i in range(n)]
    shape = seed % 3
    if shape == 0:  # shuffled in windows
        for start in range(0, n, 300):
            window = times[start:start + 300]
            rng.shuffle(window)
            times[start:start + 300] = window
    elif shape == 1:  # newest first, some without a time
        times.reverse()
        for i in rng.sample(range(n), 20):
            times[i] = None
    store = Store(tmp_path / "s.db")
    store.add_source("/logs/a.xml", "xml")
    store.add_source("/logs/b.xml", "xml")
    at = 0
    while at < n:
        size = rng.randrange(1, 400)
        source = rng.randrange(2) if shape == 2 else 0
        store.add_events(_event(i, times[i] if shape != 2 else BASE + rng.randrange(n) * 1_000, source)
                         for i in range(at, min(at + size, n)))
        at += size
    store.build_indexes()
    with store:
        answered = 0
        for query in QUERIES + COMPOUND:
            which = compile_query(query)
            for count in (1, 5, 64):
                find = listed.first_listed if listed.field_term(which) else first_of_terms
                got = find(store, which, count, math.inf)
                if got is None:
                    continue
                answered += 1
                want = [se.id for se in fetch_page(store, View(which), 0, count_view(store, View(which)), page=count)]
                assert got == want, (query, count)
        assert answered >= 24


def test_posting_lists_are_ascending_on_every_ingest_path(tmp_path: Path) -> None:
    """`first_listed` finds a list's ids between its first and last: each ingest path writes its
    lists ascending (the workers inserting their own rows, the process's own, other formats),
    with their first and last ids and the bytes of their text in `lo`, `hi` and `size`."""
    path = sample(SECURITY)
    for jobs in (1, 2):
        assert evtx.uses_workers(str(path), jobs) == (jobs > 1)
        with Store(tmp_path / f"e{jobs}.db") as store:
            load_paths([str(path)], store, jobs=jobs)
            rows = _lists(store)
            assert len(rows) > 100
            assert all(ids == sorted(ids) for ids in rows)
            answered = []
            for query in ("SubjectUserSid:S-1-5-18", "ObjectType:File", "SubjectLogonId:0x3e7", "ProcessId:0x4",
                          "4624 LogonType:3", "4688 NOT SubjectUserSid:S-1-5-18",
                          "SubjectLogonId:0x3e7 ObjectType:File", "system32", "4624 security", "lsass NOT 4688"):
                view = View(compile_query(query))
                got = first_page_within(store, view, 60.0)
                if got is not None:
                    answered.append(query)
                    assert [se.id for se in got] == _reference(store, view), query
            assert len(answered) >= 8, (jobs, answered)
    with _batched_store(tmp_path / "x.db", [BASE + i for i in range(2_000)], 300) as store:
        rows = _lists(store)
        assert all(ids == sorted(ids) for ids in rows)


def _lists(store: Store) -> list[list[int]]:
    """The store's posting lists, each checked against its stored ends and size."""
    rows = []
    for lo, hi, size, text in store.conn.execute("SELECT lo, hi, size, ids FROM postings"):
        ids = json.loads(text)
        assert (lo, hi, size) == (ids[0], ids[-1], len(text.encode())), (lo, hi, size, text[:80])
        rows.append(ids)
    return rows


def test_a_value_of_few_ids_is_left_to_its_id_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists of fewer than SMALL_BYTES make an id set in a few ms: no time index read for them."""
    monkeypatch.setattr(listed, "SMALL_BYTES", 256 * 1024)
    with _batched_store(tmp_path / "s.db", [BASE + i for i in range(12_000)], 700) as store:
        for query in ("Every3:yes", "4663 Every3:yes", "Every3:yes NOT Num:7"):
            with statements(store) as seen:
                assert first_page_within(store, View(compile_query(query)), 60.0) is None, query
            assert not any(_reads_a_block(s) for s in seen), query
        monkeypatch.setattr(listed, "SMALL_BYTES", 1_000)
        for query in ("Every3:yes", "4663 Every3:yes"):
            with statements(store) as seen:
                assert first_page_within(store, View(compile_query(query)), 60.0) is not None, query
            assert any(_reads_a_block(s) for s in seen), query


def _reads_a_block(statement: str) -> bool:
    """Whether `statement` reads a block of the time order (`first_listed.block_ids`)."""
    return "ORDER BY e.ts, e.record_id, e.id LIMIT" in statement and "json_group_array(id)" in statement


def test_a_terms_spans_are_read_once_per_store_and_events(tmp_path: Path) -> None:
    """The first page reads a term's spans (its rows' ends and sizes), the count's order of sets
    needs them again: kept per store until events are added."""
    with _batched_store(tmp_path / "s.db", [BASE + i for i in range(12_000)], 700) as store:
        view = View(compile_query("Every3:yes Spelled:mixed"))
        with statements(store) as seen:
            assert first_page_within(store, view, 60.0) is not None
            count_view(store, view)
            listed.posting_spans(store, compile_query("Every3:yes"))
        assert sum("p.lo, p.hi, p.size" in s for s in seen) == 2  # once per term
        store.add_events([_event(12_000, BASE + 12_000)])
        with statements(store) as seen:
            listed.posting_spans(store, compile_query("Every3:yes"))
        assert sum("p.lo, p.hi, p.size" in s for s in seen) == 1  # read again


def test_the_first_page_is_given_longer_when_the_id_set_would_take_long(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A first page missed costs the wait for the count's id sets: it may take up to a quarter of
    what they are expected to take (a cold or busy machine missed a fixed 0.2 s at 10M events,
    then waited 3.6-4.6 s for free text's set), within FIRST_LISTED_SECONDS and FIRST_LISTED_MOST."""
    import core.query.view as views

    slow_held = listed._held

    def held(store: Store, rows: Sequence[int], block: Sequence[int]) -> set[int]:
        time.sleep(0.15)  # a block's lists read from a cold disk on a busy machine
        return slow_held(store, rows, block)

    monkeypatch.setattr(listed, "_held", held)
    monkeypatch.setattr(views, "FIRST_LISTED_SECONDS", 0.05)
    monkeypatch.setattr(views, "FIRST_LISTED_MOST", 5.0)
    with _batched_store(tmp_path / "s.db", [BASE + i for i in range(12_000)], 700) as store:
        view = View(compile_query("Every3:yes"))
        size = listed.listed_bytes(listed.posting_spans(store, view.filter) or [])
        monkeypatch.setattr(first_terms, "SET_SECONDS_PER_BYTE", 0.0)  # a set made at once: no wait
        assert first_page_within(store, view) is None
        monkeypatch.setattr(first_terms, "SET_SECONDS_PER_BYTE", 4 / size)  # a set of 4 s: up to 1 s
        assert math.isclose(first_terms.set_seconds(store, view.filter), 4.0)
        got = first_page_within(store, view)
        assert got is not None and [se.id for se in got] == _reference(store, view)
        monkeypatch.setattr(first_terms, "SET_SECONDS_PER_BYTE", 400 / size)  # never past FIRST_LISTED_MOST
        monkeypatch.setattr(views, "FIRST_LISTED_MOST", 0.1)
        assert first_page_within(store, view) is None
