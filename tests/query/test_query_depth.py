"""Queries nested as deep as SQLite's parser allows (`core.query.sql_depth`): for each construct,
the deepest query the compiler accepts runs in every statement the store and the query layer
put a filter in (pages, counts, id sets, marks, sorts, stacks, histograms, first pages), and one
level deeper is a QueryError pointing at the NOT, group or term too many, not
`sqlite3.OperationalError: parser stack overflow` from whichever statement ran it first (the
CLI's traceback, the app's table "counting..." forever). The CLI's exit status for both is here
too: what it checks is the query layer's error, which the commands share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.model.event import Event
from core.query import compile as compile_module
from core.query import marks, pivot, sql_depth, view
from core.query import stack as stack_module
from core.query import timeline as timeline_module
from core.query.compile import QueryError, compile_query
from core.query.parser import MAX_DEPTH
from core.query.sort import FIELD, Sort, find_sorted, page_sorted, position_sorted, sorted_table
from core.query.stack import stack
from core.query.timeline import timeline
from core.query.view import View
from core.store import first_listed
from core.store.store import Store
from tests.cliutil import run_cli
from tests.logs import event_xml, write_events
from tests.stores import indexed_store

HOUR = 36_000_000_000


def _events() -> list[Event]:
    """60 events, each holding some of the values the queries below name."""
    return [Event(
        source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + i * HOUR,
        event_id=(4688, 4624, 4689)[i % 3], level=i % 5, channel=("Security", "System")[i % 2],
        provider="Microsoft-Windows-Security-Auditing", computer=("WS01.corp.local", "DC01")[i % 2], pid=i % 7,
        tid=1, user_sid="S-1-5-18" if i % 4 else None,
        data=(("SubjectUserName", ("alice", f"u{i % 30}")[i % 2]), ("CommandLine", f"c{i % 20} log cleared"),
              ("NewProcessName", rf"C:\x{i % 5}.exe"), ("ProcessId", hex(i % 9))),
    ) for i in range(60)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with indexed_store(Path(tmp_path_factory.mktemp("depth")) / "events.db", _events()) as st:
        yield st


def _nested(opening: Callable[[int], str], leaf: str) -> Callable[[int], str]:
    """Groups opened inside each other, `opening(i)` the i-th, around `leaf`."""
    return lambda n: "".join(opening(i) for i in range(n)) + leaf + ")" * n


def _drilled(n: int) -> str:
    """A view drilled down n times in the app, each time after typing `OR user:uI` at the end of
    the filter bar: the pivot groups the OR and excludes a value (`core.query.pivot`)."""
    text = pivot.filter_to("user", "alice")
    for i in range(n):
        text = pivot.exclude(f"{text} OR user:u{i}", "image", rf"C:\x{i}.exe")
    return text


#: name -> the query nested n levels deep (each construct, and the heaviest terms under NOT).
CONSTRUCTS: dict[str, Callable[[int], str]] = {
    "NOT eventid": lambda n: "NOT " * n + "4688",
    "NOT alias field": lambda n: "NOT " * n + "user:alice",
    "NOT free text": lambda n: "NOT " * n + "cleared",
    "NOT value list of a System field": lambda n: "NOT " * n + "level:(1 OR 2)",
    "NOT alias list with a column": lambda n: "NOT " * n + "pid:(1 OR 0x2)",
    "NOT host": lambda n: "NOT " * n + "host:ws01",
    "NOT file": lambda n: "NOT " * n + "file:a.xml",
    "dash groups": _nested(lambda i: "-(", "NOT " * 8 + "level:(1 OR 2)"),  # (each `-(` is 2 of MAX_DEPTH)
    "dash groups of OR": _nested(lambda i: "-(4624 OR ", "user:alice"),
    "nested OR": _nested(lambda i: f"(user:u{i} OR ", "4688"),
    "nested AND": _nested(lambda i: f"(cmd:*c{i}* AND ", "4688"),
    "mixed AND and OR": _nested(lambda i: f"(user:u{i} OR " if i % 2 else f"(image:*x{i}* ", '"cleared"'),
    "pivots after typed ORs": _drilled,
    # Left-nested groups cost a level each (`((a OR b) OR c)`), here over NOTs that leave room for ~30.
    "left-nested groups": lambda n: ("(" * n + "NOT " * 12 + "level:(1 OR 2)"
                                     + "".join(f" OR user:u{i})" for i in range(n))),
}


def _accepted(text: str) -> bool:
    try:
        compile_query(text)
    except QueryError:
        return False
    return True


def _deepest(make: Callable[[int], str]) -> int:
    """The most levels of `make` the compiler accepts (bisected: it accepts all fewer)."""
    lo, hi = 0, 1
    while _accepted(make(hi)):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _accepted(make(mid)) else (lo, mid)
    return lo


def _run_everywhere(store: Store, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the filter `text` through every statement that reads a view: SQLite parses each."""
    compiled = compile_query(text, store.field_names())
    rows = store.select(compiled)
    assert store.count(compiled) == len(rows) == len(list(store.iter_events(compiled)))
    assert store.count(compiled, at_most=3) == min(3, len(rows))
    assert store.count_ids(store.id_set(compiled)) == len(rows)  # an id set of the whole filter
    v = View(compiled)
    assert view.count_view(store, v) == len(rows)
    page = view.fetch_page(store, v, 0, len(rows), page=5)
    view.first_page_within(store, v, 5.0)
    find = compile_query("4624 OR 4689")
    if rows:
        anchor = page[0]
        view.fetch_beside(store, v, anchor, True, page=5)
        view.fetch_beside(store, v, rows[-1], False, page=5)
        assert view.position_of(store, v, anchor.id) == 0
        view.locate(store, v, rows[-1].id, page=5)
        view.find_match(store, v, find, anchor, True, page=5)
        view.find_match(store, v, find, rows[-1], False, page=5)
    for by in ("id", "computer", "channel", "user", "CommandLine"):
        stack(store, compiled, by, limit=None)
    timeline(store, compiled)
    with monkeypatch.context() as m:  # the big views' plans: walks of an index, buckets counted apart
        m.setattr(timeline_module, "whole_by_index", lambda *args: True)
        m.setattr(stack_module, "whole_by_index", lambda *args: True)
        m.setattr(first_listed, "SMALL_BYTES", 0)
        timeline(store, compiled, HOUR)
        stack(store, compiled, "computer", limit=None)
        view.first_page_within(store, v, 5.0)
    for sort in (Sort("computer"), Sort(FIELD, "commandline", descending=True)):
        sorted_table(store, v, sort)
        page_sorted(store, v, sort, 0, 5)
        if rows:
            position_sorted(store, v, sort, rows[0].id)
            find_sorted(store, v, sort, find, 0, True)
    with monkeypatch.context() as m:
        m.setattr(marks, "BLOCK", 7)
        m.setattr(marks, "MIN_ROWS", 1)
        m.setattr(marks, "MIN_BLOCKS", 1)
        m.setattr(marks, "NEAR_END", 1)
        while view.fill_marks(store, v, len(rows)):
            pass
        for p in range(0, len(rows), 4):
            assert [r.id for r in view.fetch_page(store, v, p, len(rows), page=3)] == [r.id for r in rows[p:p + 3]]
            assert view.position_of(store, v, rows[p].id, len(rows)) == p


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_the_deepest_query_accepted_runs_everywhere_and_one_level_deeper_is_refused_where_it_goes_too_deep(
        store: Store, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make = CONSTRUCTS[name]
    deepest = _deepest(make)
    _run_everywhere(store, make(deepest), monkeypatch)
    assert 10 <= deepest < MAX_DEPTH - 1, deepest  # SQLite's parser, not MAX_DEPTH, stopped it
    deeper = make(deepest + 1)
    with pytest.raises(QueryError) as info:
        compile_query(deeper)
    assert info.value.message == sql_depth.TOO_DEEP
    at = info.value.position  # where a NOT, a dash, a group or a term too heavy for its place starts
    assert at == 0 or deeper[at - 1] in " (-", (at, deeper[at - 10:at + 10])
    # The compiler's count is SQLite's: measured by SQLite, the SQL of the deepest fits the budget
    # and the SQL of one level deeper (compiled with no budget) does not.
    budget = sql_depth.budget()
    assert sql_depth.term_weight(compile_query(make(deepest)).sql) <= budget
    monkeypatch.setattr(sql_depth, "budget", lambda: 10**6)
    monkeypatch.setattr(compile_module, "check_runs", lambda *args: None)
    assert sql_depth.term_weight(compile_query(deeper).sql) > budget


@pytest.mark.parametrize(("make", "culprit"), [
    (CONSTRUCTS["NOT eventid"], lambda n: 4 * n),  # the first NOT the term cannot stand under
    (CONSTRUCTS["nested OR"], lambda n: len(CONSTRUCTS["nested OR"](n)) - n - len("4688")),  # the group too many
])
def test_the_error_points_at_the_level_one_too_deep(make: Callable[[int], str], culprit: Callable[[int], int]) -> None:
    deepest = _deepest(make)
    with pytest.raises(QueryError) as info:
        compile_query(make(deepest + 1))
    assert info.value.position == culprit(deepest)


def test_a_query_too_tall_for_sqlite_is_refused_and_the_tallest_accepted_runs_everywhere(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's other bound, an expression tree 1000 deep (half that in a subquery: the timeline's
    count per bucket): a list of 256 values ORed first with as many terms as the tree takes."""
    values = " OR ".join(str(i) for i in range(256))

    def make(n: int) -> str:
        return f"level:({values}) OR " + " OR ".join(["4688"] * n)

    most = _deepest(make)
    _run_everywhere(store, make(most), monkeypatch)
    assert 200 <= most < 255, most
    with pytest.raises(QueryError) as info:
        compile_query(make(most + 1))
    assert (info.value.message, info.value.position) == (sql_depth.TOO_LARGE, 0)  # the list


def test_repeated_drill_downs_do_not_nest() -> None:
    """Add a value, exclude one, 120 times over, then zoom into a bucket: the pivots append
    terms side by side, so the query is as deep after the last step as after the first."""
    text = pivot.filter_to("user", "alice")
    text = pivot.exclude(f"{text} OR user:bob", "image", r"C:\x.exe")  # an OR once: grouped once
    weights = []
    for i in range(120):
        step = (pivot.add_filter, pivot.exclude)[i % 2]
        text = step(text, ("cmd", "user", "image")[i % 3], f"v{i} x")
        if i % 17 == 0 or i == 119:
            weights.append(sql_depth.term_weight(compile_query(text).sql))  # SQLite's measure of the whole
    text = pivot.within(text, 133_500_000_000_000_000, 133_500_000_000_000_000 + HOUR)
    compile_query(text)
    assert len(set(weights[1:])) == 1 and weights[-1] < sql_depth.budget() // 2, weights
    assert _deepest(_drilled) >= 20  # typing an OR before each pivot nests, a level a step


def test_cli_refuses_a_query_too_deep_for_sqlite_and_runs_the_deepest_it_takes(tmp_path: Path) -> None:
    data = [{"SubjectUserName": f"u{i}", "NewProcessName": r"C:\x.exe"} for i in range(30)]
    log = write_events(tmp_path / "long.xml", [event_xml(4688, i + 1, f"2024-03-14T08:{i:02d}:00Z", fields)
                                               for i, fields in enumerate(data)])
    make = CONSTRUCTS["nested OR"]
    deepest = _deepest(make)
    commands = [("query",), ("stack", "--by", "image"), ("timeline",),
                ("export", "--format", "jsonl", "--output", str(tmp_path / "out.jsonl"), "--force"), ("correlate",)]
    for command in commands:
        status, _, err = run_cli(command[0], "--no-cache", *command[1:], str(log), "--where", make(deepest))
        assert status == 0, (command, err)
        status, _, err = run_cli(command[0], "--no-cache", *command[1:], str(log), "--where", make(28))
        said = err.splitlines()[0]
        assert status == 2 and "Traceback" not in err, (command, err)
        assert said.startswith(f"evtx-explorer: bad query: {sql_depth.TOO_DEEP} at position "), said
