"""Times no date can hold cost only themselves, never a traceback.

* A FILETIME at or past 10000-01-01 (an EVTX carries any unsigned 64-bit count; past 2**63 the
  store keeps it as text) is kept exactly, ordered and filtered by its ticks, and worded
  `invalid FILETIME <ticks>` by every output; ranges and histograms leave it out.
* A time text whose offset carries it past a date's ends (`9999-12-31T23:59:59-01:00`) or is
  no zone's (`+99:00`, `+05:60`) is no time in a log, as an unreadable one is (the event loads;
  its text is kept as the field `TimeCreated` and a parse issue says so: it was dropped
  silently), and a bad date with its position in a query.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from cli.cmd_stats import collect
from core.model.event import (
    FILETIME_END,
    FILETIME_MIN,
    Event,
    datetime_to_filetime,
    filetime_to_datetime,
    iso_from_filetime,
    parse_time,
)
from core.query import pivot
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.timeline import SECOND, time_span, timeline
from core.query.view import View, count_view
from core.report.export import write_rows
from core.store.ingest import load_paths
from core.store.store import Store
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events

T0 = datetime_to_filetime(dt.datetime(2021, 4, 22, 8, 51, 4, tzinfo=dt.UTC))
FAR = FILETIME_END  # 10000-01-01: the first tick no datetime holds
HUGE = 2**63 + 7  # past the signed 64-bit range: stored as text
LAST = FILETIME_END - 1  # 9999-12-31T23:59:59.9999999Z: still a date


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))


def _bad(ticks: int) -> str:
    return f"invalid FILETIME {ticks}"


# --------------------------------------------------------------------------- wording


@pytest.mark.parametrize("ticks", [FAR, FAR + 1, 2**63 - 1, HUGE, 2**64 - 1, FILETIME_MIN - 1])
def test_a_time_out_of_the_date_range_is_worded_not_raised(ticks: int) -> None:
    assert iso_from_filetime(ticks) == _bad(ticks)
    assert Event(source=0, record_number=1, record_id=1, filetime=ticks, event_id=4688).time is None
    with pytest.raises(OverflowError):  # its documented contract: callers check the range first
        filetime_to_datetime(ticks)


def test_the_date_range_ends_are_still_dates() -> None:
    assert iso_from_filetime(LAST) == "9999-12-31T23:59:59.9999999Z"
    assert iso_from_filetime(FILETIME_MIN) == "0001-01-01T00:00:00.0000000Z"  # (a 4-digit year)
    assert pivot.time_text(LAST) == "9999-12-31T23:59:59.9999999Z"


# --------------------------------------------------------------------------- reading time text


@pytest.mark.parametrize("text", [
    "9999-12-31T23:59:59.9999999-01:00",  # 10000-01-01 UTC: overflowed the datetime
    "0001-01-01T00:00:00+01:00",  # year 0 UTC
    "9999-12-31 23:59:59 -14:00",
    "2020-01-01T00:00:00+99:00", "2020-01-01T00:00:00+99:99", "2020-01-01T00:00:00+05:60",
    "2020-01-01T00:00:00-1401", "2020-01-01T00:00:00+14:01",
])
def test_a_time_text_no_date_holds_is_no_time(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(("text", "utc"), [
    ("2020-01-01T00:00:00+14:00", "2019-12-31T10:00:00Z"),
    ("2020-01-01T00:00:00-12:00", "2020-01-01T12:00:00Z"),
    ("2020-01-01T00:00:00.5+05:30", "2019-12-31T18:30:00.5Z"),
    ("2020-01-01 00:00:00-0945", "2020-01-01T09:45:00Z"),
    ("9999-12-31T23:59:59.9999999+00:00", "9999-12-31T23:59:59.9999999Z"),
])
def test_real_offsets_still_read(text: str, utc: str) -> None:
    assert parse_time(text) == parse_time(utc)


def _json_log(path: Path, times: list[str]) -> Path:
    path.write_text("".join(json.dumps({"EventID": 4688, "Computer": "h1", "TimeCreated": t}) + "\n" for t in times))
    return path


TIMES = ["2020-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999-01:00", "0001-01-01T00:00:00+01:00",
         "2020-01-01T00:00:00+99:00", "not a time"]


@pytest.mark.parametrize("kind", ["jsonl", "xml"])
def test_a_log_with_such_times_loads_every_event(tmp_path: Path, kind: str) -> None:
    if kind == "jsonl":
        path = _json_log(tmp_path / "t.jsonl", TIMES)
    else:
        path = write_events(tmp_path / "t.xml", [event_xml(4688, i, t) for i, t in enumerate(TIMES, 1)])
    store = Store(":memory:")
    [info] = load_paths([str(path)], store)
    assert info.error is None and info.records == len(TIMES)
    # as an unreadable time ("not a time"): no time; the text kept as a field and said, once each
    issues = [i.reason for i in store.issues()]
    assert len(issues) == len(TIMES) - 1 and all("unreadable time TimeCreated=" in r for r in issues), issues
    events = sorted(store.select(), key=lambda se: se.event.record_number)
    assert [se.event.filetime for se in events] == [parse_time(TIMES[0]), None, None, None, None]
    assert [se.event.get("TimeCreated") for se in events] == [None, *TIMES[1:]]


def test_stats_of_such_a_log_counts_every_record(tmp_path: Path) -> None:
    path = _json_log(tmp_path / "one.jsonl", TIMES[:2])
    status, out, err = run_cli("stats", "--no-cache", str(path))
    assert status == 0 and "2 records, 1 parse issue" in out and "cannot be read" not in err + out


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize(("query", "pos", "why"), [
    ("after:9999-12-31T23:59:59-01:00", 6, "out of range"),
    ("4688 before:0001-01-01T00:00+01:00", 12, "out of range"),
    ("after:2020-01-01T00:00+99:00", 6, "beyond ±14:00"),
    ("after:2020-01-01T00:00+99:99", 6, "minutes beyond 59"),
    ("before:2020-01-01T00:00:00-14:30", 7, "beyond ±14:00"),
])
def test_a_date_no_time_holds_is_a_bad_query_with_its_position(query: str, pos: int, why: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert info.value.position == pos and "bad date" in info.value.message and why in info.value.message


def test_the_cli_reports_such_a_date_as_a_bad_query(tmp_path: Path) -> None:
    path = _json_log(tmp_path / "one.jsonl", TIMES[:2])
    status, out, err = run_cli("query", "--where", "after:9999-12-31T23:59:59-01:00", str(path))
    assert status == 2 and out == "" and "Traceback" not in err
    assert "bad date '9999-12-31T23:59:59-01:00'" in err and "position 6" in err


# --------------------------------------------------------------------------- stored out-of-range times


def _events() -> list[Event]:
    times = [T0, T0 + 5 * SECOND, FAR, HUGE, None, LAST]
    return [Event(source=0, record_number=i, record_id=i, filetime=t, event_id=4688, computer="h1",
                  data=(("N", str(i)),)) for i, t in enumerate(times, 1)]


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    s.add_source(str(tmp_path / "t.evtx"), "evtx")
    s.add_events(_events())
    s.build_indexes()
    return s


def _records(store: Store, query: str) -> list[int]:
    return sorted(se.event.record_number for se in store.select(compile_query(query)))


def test_outputs_word_such_times(store: Store) -> None:
    for fmt in ("jsonl", "csv", "table", "md"):
        out = io.StringIO()
        assert write_rows(store, store.iter_events(compile_query("")), fmt, out) == 6
        assert _bad(FAR) in out.getvalue() and _bad(HUGE) in out.getvalue(), fmt
    out = io.StringIO()
    write_rows(store, store.iter_events(compile_query("")), "jsonl", out)
    times = {json.loads(line)["record_id"]: json.loads(line)["time"] for line in out.getvalue().splitlines()}
    assert times[3] == _bad(FAR) and times[4] == _bad(HUGE) and times[5] is None
    assert times[6] == "9999-12-31T23:59:59.9999999Z"


def test_stats_range_holds_dates_only_and_counts_the_others(store: Store) -> None:
    [f] = collect(store)["files"]
    assert (f["first"], f["last"], f["invalid_times"]) == (iso_from_filetime(T0), iso_from_filetime(LAST), 2)
    assert time_span(store) == (T0, LAST, 2)


def test_the_stores_time_range_holds_dates_only(store: Store) -> None:
    """What the Markdown report's "time range of the inputs" words: no invalid end."""
    assert store.time_range() == (T0, LAST)
    assert store.time_range(source=0) == (T0, LAST)


def test_time_filters_compare_such_times_by_their_ticks(store: Store) -> None:
    assert _records(store, "after:2020-01-01") == [1, 2, 3, 4, 6]
    assert _records(store, "before:2030-01-01") == [1, 2]
    assert _records(store, "after:9999-12-31T23:59:59.9999999") == [3, 4, 6]


def test_the_timeline_leaves_such_times_out_of_its_buckets(store: Store) -> None:
    small = timeline(store, compile_query("-record:6"), SECOND)  # one pass over the view
    assert small.total == 5 and small.no_time == 3 and sum(b.count for b in small.buckets) == 2
    assert small.buckets[0].start == T0 and small.buckets[-1].end == T0 + 6 * SECOND
    whole = timeline(store, compile_query(""))  # the time index, by ranges
    assert whole.total == 6 and whole.no_time == 3 and sum(b.count for b in whole.buckets) == 3
    for b in whole.buckets:  # each bucket's query compiles, the one reaching past 9999 too
        query = b.query()
        assert count_view(store, View(compile_query(query))) >= b.count, query
    assert whole.buckets[-1].end_datetime.year == 9999
    assert whole.bucket_of(FAR) is None and whole.bucket_of(HUGE) is None


def test_pivots_around_such_a_time(store: Store) -> None:
    far = next(se.event for se in store.select() if se.event.filetime == FAR)
    assert pivot.around_event(far) is None  # no span around it can be written
    near = next(se.event for se in store.select() if se.event.filetime == LAST)
    text = pivot.around_event(near)
    assert text is not None and "after:9999-12-31T23:54:59.9999999Z" in text and "before:" not in text
    assert count_view(store, View(compile_query(text))) == 3  # (past 9999: the out-of-range ones too)
    assert pivot.within("4688", T0, FAR + SECOND) == f"4688 after:{pivot.time_text(T0)}"


def _far_xml(monkeypatch: pytest.MonkeyPatch) -> None:
    """The XML loader reading the text `FAR`/`HUGE` as those ticks: a store holding them, as an
    EVTX FILETIME substitution gives, from a log the test writes."""
    from parsers import time_text

    def read(text: str | None) -> int | None:
        return {"FAR": FAR, "HUGE": HUGE}.get(text or "") or parse_time(text)

    monkeypatch.setattr(time_text, "parse_time", read)


def test_every_command_words_such_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _far_xml(monkeypatch)
    log = str(write_events(tmp_path / "far.xml", [event_xml(4688, 1, "2021-04-22T08:51:04Z"),
                                                  event_xml(4688, 2, "FAR"), event_xml(4688, 3, "HUGE")]))
    for argv in (["stats", "--no-cache"], ["stats", "--json"], ["query"], ["query", "--format", "csv"],
                 ["query", "--format", "table"], ["query", "--format", "md"],
                 ["query", "--where", "after:2020-01-01"], ["timeline"], ["timeline", "--format", "json"]):
        status, out, err = run_cli(*argv, log)
        assert status == 0 and "Traceback" not in err, (argv, err)
        if argv[0] == "query":
            assert _bad(FAR) in out and _bad(HUGE) in out, argv
    assert "(2 invalid: out of the date range)" in run_cli("stats", log)[1]
    for fmt in ("csv", "jsonl", "md"):
        target = tmp_path / f"out.{fmt}"
        status, _, err = run_cli("export", "--format", fmt, "--output", str(target), log)
        assert status == 0 and _bad(FAR) in target.read_text(encoding="utf-8"), (fmt, err)
