"""The histogram of a view (core.query.timeline, `evtx-explorer timeline`): buckets picked from
the span, aligned, summing to the view's count; each bucket's query selects exactly its events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model.event import Event, parse_time
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.pivot import within
from core.query.timeline import DAY, HOUR, MINUTE, SECOND, auto_width, parse_width, timeline
from core.query.view import View, count_view
from core.store.store import Store
from tests.cliutil import run_cli


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _t(text: str) -> int:
    ticks = parse_time(text)
    assert ticks is not None
    return ticks


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    times = ["2024-03-14T08:00:00Z", "2024-03-14T08:00:59.9999999Z", "2024-03-14T08:01:00Z",
             "2024-03-14T08:30:10Z", "2024-03-14T09:59:00Z", None, "2024-03-14T08:00:30Z"]
    s = Store(tmp_path / "t.db")
    s.add_source("x.xml", "xml")
    s.add_events([Event(source=0, record_number=i, record_id=i, filetime=None if t is None else _t(t),
                        event_id=4624 if i % 2 else 4688, data=(("N", str(i)),)) for i, t in enumerate(times, 1)])
    s.build_indexes()
    return s


def test_auto_width_gives_30_to_120_round_buckets() -> None:
    base = _t("2024-03-14T00:00:00Z")
    assert auto_width(base, base + 100 * SECOND) == SECOND
    assert auto_width(base, base + 2 * HOUR - SECOND) == MINUTE  # 120 minutes
    assert auto_width(base, base + 2 * HOUR) == 2 * MINUTE  # 121 minutes would be too many
    assert auto_width(base, base + 3 * DAY) == HOUR
    for span in (7 * SECOND * 13, 5 * HOUR + 7, 40 * DAY, 3 * 365 * DAY):
        width = auto_width(base, base + span)
        n = (base + span) // width - base // width + 1
        assert n <= 120 and (n >= 30 or width == SECOND), (span, width, n)


def test_buckets_sum_to_the_view_and_events_without_time_apart(store: Store) -> None:
    tl = timeline(store, compile_query(""), MINUTE)
    assert tl.total == 7 and tl.no_time == 1
    assert sum(b.count for b in tl.buckets) == 6
    assert tl.buckets[0].start == _t("2024-03-14T08:00:00Z") and tl.buckets[-1].end == _t("2024-03-14T10:00:00Z")
    assert [b.count for b in tl.buckets[:3]] == [3, 1, 0]  # 08:00:59.9999999 is in the first minute
    assert len(tl.buckets) == 120  # empty minutes kept: gaps are the picture
    assert tl.bucket_of(_t("2024-03-14T08:30:10Z")) == 30 and tl.bucket_of(None) is None


def test_each_bucket_query_selects_exactly_its_events(store: Store) -> None:
    for query in ("", "4688"):
        tl = timeline(store, compile_query(query), MINUTE)
        for b in tl.buckets:
            if b.count:
                assert count_view(store, View(compile_query(within(query, b.start, b.end)), by_time=True)) == b.count


def test_filtered_view_and_given_widths(store: Store) -> None:
    tl = timeline(store, compile_query("4624"), HOUR)
    assert tl.total == 4 and tl.no_time == 0
    assert [b.count for b in tl.buckets] == [3, 1]
    assert parse_width("1h") == HOUR and parse_width("30s") == 30 * SECOND and parse_width("1d") == DAY
    for bad in ("0m", "1y", "h", ""):
        with pytest.raises(QueryError):
            parse_width(bad)
    with pytest.raises(QueryError, match="more than 10,000") as raised:
        timeline(store, compile_query(""), 10_000)  # 1 ms buckets over two hours
    suggested = raised.value.message.rsplit("e.g. ", 1)[1].rstrip(")")  # a width that fits, to type
    assert 1 <= len(timeline(store, compile_query(""), parse_width(suggested)).buckets) <= 120


def test_cli_timeline_json_csv_and_usage_errors() -> None:
    status, out, err = run_cli("timeline", "demo", "--format", "json")
    assert status == 0, err
    doc = json.loads(out)
    assert 30 <= len(doc["buckets"]) <= 120
    assert sum(b["count"] for b in doc["buckets"]) + doc["without_time"] == doc["events"]
    status, qout, _ = run_cli("query", "demo", "--format", "jsonl")
    assert doc["events"] == len(qout.splitlines())
    first = doc["buckets"][0]
    start, end = (first[k].replace(".0000000", "") for k in ("start", "end"))
    assert first["query"] == f"after:{start} before:{end}"
    status, out, _ = run_cli("timeline", "demo", "--where", "4688", "--bucket", "1h", "--format", "csv")
    rows = out.splitlines()
    assert rows[0] == "start,end,count" and status == 0
    status, qout, _ = run_cli("query", "demo", "--where", "4688", "--format", "jsonl")
    assert sum(int(r.split(",")[2]) for r in rows[1:]) == len(qout.splitlines())
    assert run_cli("timeline", "demo", "--bucket", "1y")[0] == 2
    assert run_cli("timeline", "demo", "--where", "user:(")[0] == 2


def test_every_events_buckets_are_counted_by_ranges_of_the_time_index(tmp_path: Path) -> None:
    """The whole store's histogram counts each bucket over its range of the time index (no sort of
    every event): the buckets equal the events' own times floored to the width, with times on
    bucket edges, times before 1601 (negative ticks) and no time at all."""
    import random

    from tests.stores import statements

    rnd = random.Random(5)  # around 1601-01-01 (tick 0): half the times before it, some on edges
    times = [None if i % 17 == 0 else rnd.randrange(-45, 45) * MINUTE // (1 if i % 3 else 7) for i in range(600)]
    s = Store(tmp_path / "r.db")
    s.add_source("x.xml", "xml")
    s.add_events([Event(source=0, record_number=i, record_id=i, filetime=t, event_id=4688 if i % 5 else 4624)
                  for i, t in enumerate(times)])
    s.build_indexes()
    with statements(s) as seen:
        tl = timeline(s, compile_query(""), MINUTE)
    assert any("WITH RECURSIVE" in sql for sql in seen) and not any("GROUP BY" in sql for sql in seen)
    timed = [t for t in times if t is not None]
    assert tl.no_time == times.count(None) and tl.total == len(times)
    want = {b: sum(1 for t in timed if t // MINUTE == b) for b in range(min(timed) // MINUTE, max(timed) // MINUTE + 1)}
    assert {b.start // MINUTE: b.count for b in tl.buckets} == want
    small = timeline(s, compile_query("4624"), MINUTE)  # not ids alone: grouped in one pass
    early = [t for i, t in enumerate(times) if t is not None and i % 5 == 0]
    assert {b.start // MINUTE: b.count for b in small.buckets if b.count} == {
        b: n for b in {t // MINUTE for t in early} if (n := sum(1 for t in early if t // MINUTE == b))}
