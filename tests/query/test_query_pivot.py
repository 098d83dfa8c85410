"""Pivots (core.query.pivot): the query text built for a (field, value) parses, and run against
a store returns exactly the events holding that value, whatever the value holds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.model.event import Event, parse_time
from core.query.compile import compile_query
from core.query.pivot import (
    add_filter,
    around,
    around_event,
    column_field,
    exclude,
    filter_to,
    quote_value,
    term,
    within,
)
from core.store.store import Store

VALUES = [
    "plain",
    "C:\\Program Files\\App\\x.exe",
    'say "hi"',
    "a:b:c",
    "*.exe",
    "what?",
    "lit[*]eral",
    "[x]",
    "ends\\",
    'q\\"mixed\\\\',
    "(paren)",
    "-enc",
    "OR",
    "not",
    "tab\there",
    "42",
    "0x1a2c",
    "S-1-5-18",
    "ünïcode ö",
    "",
]


def _t(text: str) -> int:
    ticks = parse_time(text)
    assert ticks is not None
    return ticks


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(tmp_path_factory.mktemp("pivot") / "p.db")
    s.add_source("x.xml", "xml")
    events = []
    for i, value in enumerate(VALUES, 1):
        when = _t("2024-03-14T08:00:00Z") + i * 600_000_000
        events.append(Event(source=0, record_number=i, record_id=i, filetime=when, event_id=4688,
                            computer="WS 01" if i % 2 else "DC01",
                            data=(("Field", value), ("Other", "x"))))
    # decoys: the value inside a longer one, and a different case
    events.append(Event(source=0, record_number=100, record_id=100, filetime=None, event_id=1,
                        data=(("Field", "xx plain xx"), ("Other", "PLAIN"))))
    s.add_events(events)
    s.build_indexes()
    return s


def found(store: Store, query: str) -> set[int | None]:
    c = compile_query(query, store.field_names())
    return {se.event.record_id for se in store.select(c)}


def holding(value: str) -> set[int]:
    return {i for i, v in enumerate(VALUES, 1) if v.lower() == value.lower()}


@pytest.mark.parametrize("value", VALUES)
def test_filter_to_a_value_returns_exactly_its_events(store: Store, value: str) -> None:
    assert found(store, filter_to("Field", value)) == holding(value)


@pytest.mark.parametrize("value", VALUES)
def test_exclude_and_add_keep_the_current_query(store: Store, value: str) -> None:
    current = "4688 OR id:1"
    everything = found(store, current)
    assert found(store, exclude(current, "Field", value)) == everything - holding(value)
    assert found(store, add_filter(current, "Field", value)) == holding(value)
    assert found(store, add_filter("", "Field", value)) == holding(value)


def test_the_text_built_is_the_shortest_that_means_the_value() -> None:
    assert term("user", "alice") == "user:alice"
    assert term("image", "C:\\Program Files\\x.exe") == 'image:"C:\\Program Files\\x.exe"'
    assert quote_value("*.exe") == "[*].exe"
    assert quote_value('say "hi"') == '"say \\"hi\\""'
    assert quote_value("ends\\") == "ends\\"  # bare: no quote for the backslash to escape
    assert quote_value("end s\\") == '"end s\\\\"'
    assert add_filter("a OR b", "user", "x") == "(a OR b) user:x"
    assert exclude("4688", "image", "C:\\w\\cmd.exe") == "4688 -image:C:\\w\\cmd.exe"


def test_system_columns_pivot(store: Store) -> None:
    assert found(store, filter_to("computer", "WS 01")) == {i for i in range(1, len(VALUES) + 1) if i % 2}
    assert found(store, filter_to("id", "1")) == {100}


def test_around_an_event_is_its_computer_within_n_minutes(store: Store) -> None:
    t5 = _t("2024-03-14T08:00:00Z") + 5 * 600_000_000  # record 5 (WS 01): others are 1 minute apart
    assert found(store, around("WS 01", t5, minutes=2)) == {3, 5, 7}
    assert found(store, around("WS 01", t5)) == {1, 3, 5, 7, 9}  # default 5 minutes, both ends kept
    assert found(store, around("DC01", t5, minutes=1)) == {4, 6}
    assert found(store, within("Other:x", t5, t5 + 600_000_000)) == {5}


def test_around_an_event_and_table_columns(store: Store) -> None:
    five = next(se.event for se in store.select(compile_query("record:5")))
    assert around_event(five, 2) == around("WS 01", five.filetime or 0, 2)
    assert found(store, around_event(five, 2) or "") == {3, 5, 7}
    assert around_event(next(se.event for se in store.select(compile_query("record:100")))) is None
    assert [column_field(c) for c in ("Computer", "EventID", "User", "Image", "Summary")] == [
        "computer", "id", "user", "image", None]


def test_zooming_again_keeps_one_time_range_and_the_same_events(store: Store) -> None:
    """A zoom on a histogram bucket added an `after:`/`before:` pair to the query each time: the
    query's own top-level bounds are folded into the new range (the tighter of each), so the
    events are those of both ranges and the bar keeps one pair."""
    base = _t("2024-03-14T08:00:00Z")
    minute = 600_000_000
    first = within("Other:x", base + 2 * minute, base + 9 * minute)  # records 2-8
    assert found(store, first) == {2, 3, 4, 5, 6, 7, 8}
    second = within(first, base + 5 * minute, base + 12 * minute)  # a bucket reaching past the range
    assert second.count("after:") == 1 and second.count("before:") == 1, second
    assert found(store, second) == {5, 6, 7, 8}
    third = within(second, base, base + 6 * minute)  # and before it
    assert third == within("Other:x", base + 5 * minute, base + 6 * minute)
    assert found(store, third) == {5}
    # Only top-level ANDed bounds fold: under an OR or a NOT, or grouped, they stay as typed.
    for query in ("(Other:x after:2024-03-14T08:30:00Z)", "Other:x OR before:2024-03-14T08:30:00Z",
                  "-after:2024-03-14T08:30:00Z", "Other:x after:garbage"):
        assert within(query, base, base + minute).count("after:") + within(query, base, base + minute).count(
            "before:") == query.count("after:") + query.count("before:") + 2, query
    assert found(store, within("before:2024-03-14T08:50:00Z Field:plain", base, base + 99 * minute)) == {1}
    assert within('Field:"after:x y"  before:2024-03-14T08:50:00Z', base, base + minute).startswith(
        'Field:"after:x y" after:')


def test_a_value_longer_than_a_query_holds_pivots_as_its_prefix(tmp_path: Path) -> None:
    """A pivot on a megabyte command line was refused as "no query term can name the field"
    (a query holds at most 10,000 characters): its first characters are matched as a prefix, in
    a term the lexer reads back, whatever the value's quotes, backslashes and globs; the
    events found are those whose value starts so, and no shorter one."""
    from core.query.lexer import MAX_QUERY_CHARS
    from core.query.pivot import TERM_CHARS, prefix_only, term

    pieces = [v for v in VALUES if v] + ["\\", '"', "*", "[", "é", "x" * 50]
    rnd = random.Random(5)
    values = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(800, 3_000))) for _ in range(12)]
    values += ["A" * 1_000_000, "\\" * 20_000, "*" * 9_000, "C:\\" + "d\\" * 5_000]
    events = []
    for i, value in enumerate(values):
        for j, variant in enumerate((value, value[: len(value) // 2], value + "tail", "Z" + value)):
            events.append(Event(source=0, record_number=i * 4 + j, record_id=i * 4 + j, filetime=None,
                                event_id=4688, data=(("CommandLine", variant),)))
    store = Store(tmp_path / "long.db")
    store.add_source("x.xml", "xml")
    store.add_events(events)
    store.build_indexes()
    for i, value in enumerate(values):
        assert prefix_only("CommandLine", value)
        text = term("CommandLine", value)
        assert len(text) <= TERM_CHARS < MAX_QUERY_CHARS and text.endswith(("*", '*"')), text[-20:]
        hits = found(store, text)
        assert {i * 4, i * 4 + 2} <= hits and i * 4 + 3 not in hits, i  # itself and a longer one, not "Z..."
        prefix_of = {e.record_id for e in events if e.data[0][1].startswith(value[:200])}
        assert hits <= prefix_of, i
    short = "C:\\Windows\\x.exe"
    assert not prefix_only("CommandLine", short) and term("CommandLine", short) == filter_to("CommandLine", short)
