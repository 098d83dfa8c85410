"""The filter language's safety and plans, run against the same small store as test_query.py:
injection attempts and hostile sizes are refused or find nothing, errors say what and where,
the mirrored System fields match what the store writes, and queries are driven by indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event
from core.query.compile import MIRRORED_SYSTEM_FIELDS, compile_query
from core.query.parser import MAX_DEPTH, MAX_TERMS
from core.store.filter import Order
from core.store.schema import SYSTEM_FIELDS
from core.store.store import Store
from tests.query.query_events import (
    EVENTS,
    WS01,
    error,
    events_store,  # noqa: F401 - the tests' `store` fixture
    found,
    ticks,
)

# -- safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'user:"x\' OR 1=1 --"',
        "user:x'--",
        'cmd:"x\'); DROP TABLE events; --"',
        '"\'; DELETE FROM postings; --"',
        'image:"%"',
        'ObjectName:") OR 1=1 OR ("',
    ],
)
def test_injection_attempts_match_nothing_and_harm_nothing(store: Store, query: str) -> None:
    compiled = compile_query(query)
    assert found(store, query) == set()
    assert store.count() == len(EVENTS)
    assert "'" not in compiled.sql.replace("ESCAPE '\\'", "")  # user text is never in the SQL


def test_user_text_only_travels_as_parameters(store: Store) -> None:
    query = 'cmd:"x\' OR 1=1 --"'
    assert "1=1" not in compile_query(query).sql
    assert found(store, '"x\' OR 1=1 --"') == {9}  # the text is searched for, literally


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("4688 (user:x", "unclosed '('", 5),
        ("((4688)", "unclosed '('", 0),
        ("4688 user:x)", "unexpected ')'", 11),
        ("(4688))", "unexpected ')'", 6),
        (")", "unexpected ')'", 0),
        ("()", "empty parentheses", 0),
        ("4688 AND", "nothing after 'AND'", 5),
        ("4688 or", "nothing after 'or'", 5),
        ("NOT", "nothing after 'NOT'", 0),
        ("(4688 AND)", "nothing after 'AND'", 6),
        ("4688 AND OR 4689", "unexpected 'OR'", 9),
        ("OR 4688", "unexpected 'OR'", 0),
        ("and", "unexpected 'and'", 0),
        ("- 4688", "'-' must be followed by a term", 0),
        ("4688 -", "'-' must be followed by a term", 5),
        ("user:", "missing value after 'user:'", 5),
        ("4688 user: x", "missing value after 'user:'", 10),
        ("(pid:)", "missing value after 'pid:'", 5),
        (":x", "missing field name before ':'", 0),
        ('cmd:"abc', "unterminated quote", 4),
        ('4688 "abc', "unterminated quote", 5),
        ('""', "empty search text", 0),
        ("after:2015-13-45", "bad date '2015-13-45' (use 2015-11-12 or 2015-11-12T02:00:00)", 6),
        ("4688 before:yesterday", "bad date 'yesterday' (use 2015-11-12 or 2015-11-12T02:00:00)", 12),
        ("after:2015-11-12T25:00", "bad date '2015-11-12T25:00' (use 2015-11-12 or 2015-11-12T02:00:00)", 6),
        ("id:4688,x", "'x' is not a number", 8),
        ("id:4688,,4689", "empty list item", 8),
        ("9" * 45, f"'{'9' * 45}' is out of range", 0),
        ("user:ab\ud800", "invalid character", 7),
    ],
)
def test_errors_carry_message_and_position(query: str, message: str, position: int) -> None:
    err = error(query)
    assert (err.message, err.position) == (message, position)
    assert str(err) == f"{message} at position {position}"


def test_error_str_format() -> None:
    assert str(error("4688 user:x)")) == "unexpected ')' at position 11"


def test_hostile_sizes_are_query_errors_not_crashes() -> None:
    deep = "(" * (MAX_DEPTH + 5) + "4688" + ")" * (MAX_DEPTH + 5)
    assert "nested deeper" in error(deep).message
    assert "nested deeper" in error("-" * 5000 + "4688").message
    assert "terms" in error(" ".join(["4688"] * (MAX_TERMS + 1))).message
    assert "longer than" in error("a" * 20_000).message
    assert "values in a list" in error("id:" + ",".join(["1"] * 2000)).message
    # Just inside the limits still compiles.
    compile_query("(" * (MAX_DEPTH - 1) + "4688" + ")" * (MAX_DEPTH - 1))
    compile_query(" OR ".join(["4688"] * MAX_TERMS))


# -- the store contract and the query plans -------------------------------------------------


def test_mirrored_system_fields_match_what_the_store_writes(tmp_path: Path) -> None:
    full = Event(
        source=0,
        record_number=1,
        record_id=1,
        filetime=1,
        event_id=1,
        version=1,
        level=1,
        task=1,
        opcode=1,
        keywords="0x1",
        channel="c",
        provider="p",
        computer="h",
        pid=1,
        tid=1,
        user_sid="S-1-5-18",
    )
    with Store(tmp_path / "s.db") as st:
        st.add_events([full])
        written = {str(r[0]) for r in st.conn.execute("SELECT DISTINCT name FROM postings")}
    assert written & set(SYSTEM_FIELDS) == MIRRORED_SYSTEM_FIELDS


def _plan(store: Store, query: str) -> str:
    compiled = compile_query(query)
    rows = store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE {compiled.sql} ORDER BY e.ts, e.record_id LIMIT 100",
        compiled.params,
    ).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("pid:0xc8c", "postings_num"),
        ("user:dadmin", "postings_value"),
        (r"image:C:\Windows\*", "postings_value"),
        ("handle:0x11ac", "postings_num"),
        ("4688 user:dadmin", "postings_value"),
        ("4688", "events_eid"),
        ("after:2015-11-12T02:00 before:2015-11-12T03:00", "events_time"),
    ],
)
def test_queries_are_driven_by_an_index(store: Store, query: str, index: str) -> None:
    plan = _plan(store, query)
    assert index in plan, plan
    assert "SCAN p" not in plan, plan  # the posting lists are looked up, never scanned


def test_free_text_searches_distinct_values_not_events(store: Store) -> None:
    """EventData values are searched in `postings`, System values in `strings`, and events are
    only visited for a System value that matched (strings is the outer loop)."""
    lines = _plan(store, '"passwords.txt"').splitlines()
    # EventData values are matched in the index (no list read), and only matching rows fetched.
    assert any(line.startswith("SCAN postings USING COVERING INDEX postings_value") for line in lines), lines
    assert "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)" in lines, lines
    assert "SCAN p" not in lines, lines
    outer = next(i for i, line in enumerate(lines) if line.startswith("SCAN t"))
    inner = next(i for i, line in enumerate(lines) if line.startswith(("SCAN s", "SEARCH s")))
    assert outer < inner, lines


def test_time_ordered_reads_stream_instead_of_sorting(tmp_path: Path) -> None:
    """Findings and exports read every 4688/4689 in time order: the planner must scan the time
    index rather than sort the matching rows in memory (with sampled statistics it misjudged
    EventID selectivity and sorted a million rows: memory grew with the log)."""
    from core.store.store import SELECT_COLUMNS

    with Store(tmp_path / "s.db") as st:
        st.add_source("a.evtx", "evtx")
        st.add_events(
            Event(0, i, i, ticks("2015-11-12T00:00:00Z") + i * 10_000_000, (4688, 4689, 4624, 4663)[i % 4],
                  computer=WS01, data=(("ProcessId", "0x2bc"),))
            for i in range(1, 40_000)
        )
        st.build_indexes()
        sql = f"SELECT {SELECT_COLUMNS} FROM events e WHERE e.event_id IN (?, ?) ORDER BY {Order.TIME.value}"
        plan = " / ".join(str(r[-1]) for r in st.conn.execute("EXPLAIN QUERY PLAN " + sql, (4688, 4689)))
        assert "events_time" in plan and "TEMP B-TREE" not in plan, plan
