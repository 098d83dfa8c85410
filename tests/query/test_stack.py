"""Stacking (core.query.stack, `evtx-explorer stack`): the values and counts a user sees equal
what counting the events of `query --format jsonl` gives, on the demo log and a real sample."""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.model.event import Event
from core.model.values import USER_FIELDS
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.stack import stack
from core.store.store import Store
from tests.cliutil import run_cli
from tests.shared import sample

WMI = ("evtx/attack/TA0002-Execution__T1047-Windows Management Instrumentation__"
       "ID4688-5145-WMIexec execution via SMB.evtx")

Getter = Callable[[dict[str, Any]], list[Any]]  # a query document's values, as stacking them would count


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def jsonl(*argv: str) -> list[dict[str, object]]:
    status, out, err = run_cli("query", *argv, "--format", "jsonl")
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def stacked(*argv: str) -> dict[str, Any]:
    status, out, err = run_cli("stack", *argv, "--format", "json", "--limit", "0")
    assert status == 0, err
    return dict(json.loads(out))


def _fold(value: str) -> str:
    return value.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def expected(docs: list[dict[str, object]], get: Getter) -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc in docs:
        values = {_fold(v) for v in get(doc)}
        counts.update(values)
    return counts


def seen(doc: dict[str, Any]) -> Counter[str]:
    return Counter({_fold(str(v["value"])): int(v["count"]) for v in doc["values"]})


def data_field(*names: str) -> Getter:
    lowered = {n.lower() for n in names}
    return lambda doc: [v for k, v in doc["data"].items() if k.lower() in lowered]


CASES: list[tuple[str, str, Getter]] = [
    ("", "image", data_field("NewProcessName", "ProcessName", "Image", "Application")),
    ("", "CommandLine", data_field("CommandLine")),
    ("", "computer", lambda d: [d["computer"]]),
    ("", "id", lambda d: [str(d["event_id"])]),
    ("", "channel", lambda d: [d["channel"]]),
    ("4688", "parent", data_field("ParentProcessName", "ParentImage")),
    ("4624 OR 4625", "TargetUserName", data_field("TargetUserName")),
    ("-4688", "user", data_field("SubjectUserName", "TargetUserName", "AccountName", "User", "UserName")),
]


@pytest.mark.parametrize(("where", "by", "get"), CASES)
def test_stack_counts_equal_counts_over_query_on_the_demo(where: str, by: str, get: Getter) -> None:
    docs = jsonl("demo", "--where", where)
    doc = stacked("demo", "--by", by, "--where", where)
    want = expected(docs, get)
    assert seen(doc) == want and want
    assert doc["events"] == len(docs)
    holding = sum(1 for d in docs if get(d))
    assert doc["missing"] == len(docs) - holding


@pytest.mark.parametrize(("where", "by", "get"), [c for c in CASES if c[1] not in ("user", "parent")]
                         + [("5145", "ShareName", data_field("ShareName")),
                            ("5145", "RelativeTargetName", data_field("RelativeTargetName"))])
def test_stack_counts_equal_counts_over_query_on_a_real_sample(where: str, by: str, get: Getter) -> None:
    path = str(sample(WMI))
    docs = jsonl(path, "--where", where)
    doc = stacked(path, "--by", by, "--where", where)
    want = expected(docs, get)
    assert seen(doc) == want
    assert doc["events"] == len(docs) > 0


def test_rarest_first_by_default_limit_and_more_values() -> None:
    status, out, _ = run_cli("stack", "demo", "--by", "id", "--limit", "3")
    lines = out.splitlines()
    counts = [int(line.split()[0]) for line in lines[:3]]
    assert counts == sorted(counts)
    doc = stacked("demo", "--by", "id")
    total_distinct = int(doc["distinct"])
    assert lines[3].startswith(f"{total_distinct - 3:,} more values;")
    status, out, _ = run_cli("stack", "demo", "--by", "id", "--limit", "3", "--desc")
    counts = [int(line.split()[0]) for line in out.splitlines()[:3]]
    assert counts == sorted(counts, reverse=True) and status == 0


def test_stack_formats_csv_and_md_escape_what_the_log_wrote(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    store.add_events([Event(source=0, record_number=i, record_id=i, filetime=None, event_id=1,
                            data=(("Name", value),))
                      for i, value in enumerate(["=cmd|' /c calc'!A0", "a|b", "a|b"], 1)])
    store.build_indexes()
    result = stack(store, compile_query(""), "Name")
    from cli.cmd_stack import write_stack

    out = io.StringIO()
    write_stack(result, "csv", out)
    assert out.getvalue().splitlines() == ["count,share,Name", "1,0.333333,=cmd|' /c calc'!A0", "2,0.666667,a|b"]
    out = io.StringIO()
    write_stack(result, "md", out)
    assert "| 2 | 66.67% | a\\|b |" in out.getvalue()


def test_unknown_field_is_a_usage_error_naming_near_ones() -> None:
    status, out, err = run_cli("stack", "demo", "--by", "ComandLine")
    assert status == 2 and out == ""
    assert "unknown field 'ComandLine'" in err and "commandline" in err


def test_case_variants_group_as_the_query_compares(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    store.add_events([Event(source=0, record_number=i, record_id=i, filetime=None, event_id=4688,
                            data=(("NewProcessName", v),))
                      for i, v in enumerate(["C:\\A.exe", "c:\\a.EXE", "C:\\b"], 1)])
    result = stack(store, compile_query(""), "NewProcessName", descending=True)
    assert [(r.value, r.count) for r in result.rows] == [("C:\\A.exe", 2), ("C:\\b", 1)]
    only_a = stack(store, compile_query("NewProcessName:c:\\a.exe"), "image")
    assert [(r.count, r.share) for r in only_a.rows] == [(2, 1.0)]
    with pytest.raises(QueryError):
        stack(store, compile_query(""), "nope")


def test_an_event_holding_a_value_under_two_names_of_an_alias_counts_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    rows = [(4648, "bob", "bob"), (4648, "bob", "alice"), (4624, "WS01$", "bob"), (4624, "alice", "-"), (4688, "x", "")]
    store.add_events([Event(source=0, record_number=i, record_id=i, filetime=None, event_id=eid,
                            data=(("SubjectUserName", subject), ("TargetUserName", target)))
                      for i, (eid, subject, target) in enumerate(rows, 1)])
    for query, want, missing in (("", {"bob": 3, "alice": 2, "WS01$": 1, "-": 1, "x": 1, "": 1}, 0),
                                 ("4648", {"bob": 2, "alice": 1}, 0),
                                 ("-4624", {"bob": 2, "alice": 1, "x": 1, "": 1}, 0)):
        result = stack(store, compile_query(query), "user")
        assert {r.value: r.count for r in result.rows} == want, query
        assert result.missing == missing
        for value, count in want.items():
            from core.query.pivot import add_filter

            c = compile_query(add_filter(query, "user", value))
            assert store.count(c) == count, (query, value)


@pytest.mark.parametrize("by", ["image", "parent", "user", "cmd", "computer", "channel", "provider", "id",
                                "TargetUserName", "LogonType", "file"])
def test_filtering_to_a_stacked_value_returns_exactly_its_count(by: str) -> None:
    from cli.demo_log import demo_log
    from core.query.pivot import add_filter
    from core.query.view import View, count_view
    from core.store.cache import open_inputs

    store = open_inputs([str(demo_log())], use_cache=False, jobs=1)
    for where in ("", "4624 OR 4688"):
        result = stack(store, compile_query(where), by, limit=None)
        assert result.rows, (by, where)
        for row in result.rows:
            query = add_filter(where, result.field, row.value)
            assert count_view(store, View(compile_query(query), by_time=True)) == row.count, (query, row)


def _alias_expected(events: list[Event], names: tuple[str, ...]) -> tuple[Counter[str], int]:
    """Per folded value, the events holding it under any of `names`; and the events holding any."""
    lowered = {n.lower() for n in names}
    counts: Counter[str] = Counter()
    holding = 0
    for ev in events:
        values = {_fold(v) for k, v in ev.data if k.lower() in lowered}
        counts.update(values)
        holding += bool(values)
    return counts, holding


def test_alias_stacks_count_distinct_events_across_batches_names_and_spellings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`user` over lists written in many load batches (a posting row per batch and pair), with
    events holding one value under two names, two spellings of a value, and a name twice: every
    value counts the distinct events holding it, `missing` the events holding none. The lists
    are read a batch's group at a time, never all at once."""
    from core.query import stack as stacking
    from core.query.pivot import add_filter

    rnd = random.Random(11)
    values = ["alice", "ALICE", "Bob", "bob", "SYSTEM", "-", "WS01$", "x" * 30]
    names = ["SubjectUserName", "TargetUserName", "AccountName", "subjectusername", "Other"]
    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    for batch in range(7):
        store.add_events([Event(source=0, record_number=batch * 100 + i, record_id=batch * 100 + i,
                                filetime=133_500_000_000_000_000 + rnd.randrange(10**9),
                                event_id=rnd.choice([4624, 4648, 4688]),
                                data=tuple((rnd.choice(names), rnd.choice(values)) for _ in range(rnd.randrange(4))))
                          for i in range(100)])
    store.build_indexes()
    groups: list[int] = []
    original = stacking._overlapping

    def spy(spans: Any) -> Any:
        for group in original(spans):
            groups.append(len(group))
            yield group

    monkeypatch.setattr(stacking, "_overlapping", spy)
    for query in ("", "4624", "-4624", "user:alice", "SubjectUserName:bob OR 4688"):
        compiled = compile_query(query)
        events = [se.event for se in store.select(compiled)]
        want, holding = _alias_expected(events, USER_FIELDS)
        result = stack(store, compiled, "user", limit=None)
        assert Counter({_fold(r.value): r.count for r in result.rows}) == want, query
        assert result.total == len(events) and result.missing == len(events) - holding, query
        for row in result.rows:
            assert store.count(compile_query(add_filter(query, "user", row.value))) == row.count, (query, row)
    assert len(groups) >= 5 * 7 and max(groups) < 40  # a batch's lists at a time


def test_a_list_without_ends_puts_every_list_in_one_group() -> None:
    from core.query.stack import _overlapping, _span
    from core.store.writes import list_ends

    assert _span(*list_ends("[5, 6, 7, 9, 12]")) == (5, 12) and _span(*list_ends("[5]")) == (5, 5)
    assert list_ends("[x, y]") == (None, None) and list_ends("[]") == (None, None)
    odd = _span(*list_ends("[x, y]"))
    spans = sorted([(1, 3, 10), (4, 9, 11), (*odd, 12), (20, 30, 13)])
    assert list(_overlapping(spans)) == [[12, 10, 11, 13]]
    assert list(_overlapping(sorted([(1, 3, 10), (3, 9, 11), (10, 12, 12)]))) == [[10, 11], [12]]


@pytest.mark.parametrize("first", ["Security", "system", None])
def test_a_whole_store_stack_of_an_unindexed_column_counts_the_first_value_apart(tmp_path: Path,
                                                                                first: str | None) -> None:
    """Every event by channel, level, provider, user SID...: the first event's value counted as
    every event less the others (only they are sorted) gives what grouping every event gave,
    spellings included, whether that value is common, rare or missing."""
    from core.query import stack as stacking
    from tests.stores import indexed_store

    channels = ["Security"] * 40 + ["SECURITY", "security", "System", "System", "Application"]
    events = [Event(source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + i,
                    event_id=4624, channel=channels[i % len(channels)] if i else (first or ""),
                    level=None if i % 7 == 0 else i % 3,
                    user_sid=None if i % 2 else ("S-1-5-18", "s-1-5-18")[i % 4 // 2],
                    keywords="0x8020000000000000" if i % 5 else "text")
              for i in range(300)]
    with indexed_store(tmp_path / "s.db", events) as store:
        for column in ("channel", "level", "user_sid", "keywords", "provider", "version"):
            sql = f"SELECT e.{column}, count(*) FROM events e WHERE e.{column} IS NOT NULL GROUP BY e.{column}"
            grouped = stacking._merge((r[0], int(r[1])) for r in store.conn.execute(sql))
            assert stacking._column_counts(store, compile_query(""), column) == grouped, column
            assert stacking._apart_from_the_first(store, column) in (None, grouped), column
        assert stacking._apart_from_the_first(store, "level") is None  # the first event has none
