"""Stacking (core.query.stack, `evtx-explorer stack`): the values and counts a user sees equal
what counting the events of `query --format jsonl` gives, on the demo log and a real sample."""

from __future__ import annotations

import io
import json
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cli.main import main
from core.model.event import Event
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.stack import stack
from core.store.store import Store
from tests.shared import sample

WMI = ("evtx/attack/TA0002-Execution__T1047-Windows Management Instrumentation__"
       "ID4688-5145-WMIexec execution via SMB.evtx")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def jsonl(*argv: str) -> list[dict[str, object]]:
    status, out, err = run_cli("query", *argv, "--format", "jsonl")
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def stacked(*argv: str) -> dict[str, object]:
    status, out, err = run_cli("stack", *argv, "--format", "json", "--limit", "0")
    assert status == 0, err
    return dict(json.loads(out))


def _fold(value: str) -> str:
    return value.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def expected(docs: list[dict[str, object]], get: object) -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc in docs:
        values = {_fold(v) for v in get(doc)}  # type: ignore[operator]
        counts.update(values)
    return counts


def seen(doc: dict[str, object]) -> Counter[str]:
    return Counter({_fold(str(v["value"])): int(v["count"]) for v in doc["values"]})  # type: ignore[index, union-attr]


def data_field(*names: str) -> object:
    lowered = {n.lower() for n in names}
    return lambda doc: [v for k, v in doc["data"].items() if k.lower() in lowered]


CASES = [
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
def test_stack_counts_equal_counts_over_query_on_the_demo(where: str, by: str, get: object) -> None:
    docs = jsonl("demo", "--where", where)
    doc = stacked("demo", "--by", by, "--where", where)
    want = expected(docs, get)
    assert seen(doc) == want and want
    assert doc["events"] == len(docs)
    holding = sum(1 for d in docs if get(d))  # type: ignore[operator]
    assert doc["missing"] == len(docs) - holding


@pytest.mark.parametrize(("where", "by", "get"), [c for c in CASES if c[1] not in ("user", "parent")]
                         + [("5145", "ShareName", data_field("ShareName")),
                            ("5145", "RelativeTargetName", data_field("RelativeTargetName"))])
def test_stack_counts_equal_counts_over_query_on_a_real_sample(where: str, by: str, get: object) -> None:
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
    total_distinct = int(doc["distinct"])  # type: ignore[arg-type]
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
    assert out.getvalue().splitlines() == ["count,share,Name", "1,0.333333,'=cmd|' /c calc'!A0", "2,0.666667,a|b"]
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
