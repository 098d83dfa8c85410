"""Pivots on attacker-controlled values and field names: the filter bar never receives a
character a terminal acts on or shows as nothing (Textual's input draws its value raw), and a
crafted EventData name cannot splice operators into the query (`4689 OR ProcessName`: `=` on it
showed every 4689 instead of the event pivoted from)."""

from __future__ import annotations

import pytest

from core.model.event import Event
from core.model.text import printable
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.pivot import around, exclude, filter_to, term
from core.store.store import Store

#: Values holding what no filter bar may show, each with decoys that differ elsewhere.
HOSTILE = [
    "\x1b[2J\x1b[31mANSIRED\x1b[0m.exe",
    "\x1b]52;c;ZWNobyBwd25lZA==\x07x",
    "C1\x9bcsi",
    "txt\u202eexe.scr",
    "line1\nline2\r\nline3\ttab",
    "ls\u200bass.exe",
    "tag\U000e0041s",
    "star*and?\x1b[bracket]",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(tmp_path_factory.mktemp("pivot_hostile") / "p.db")
    s.add_source("x.xml", "xml")
    events = [Event(source=0, record_number=i, record_id=i, filetime=None, event_id=4688,
                    data=(("Field", value), ("4689 OR ProcessName", "val13")))
              for i, value in enumerate(HOSTILE, 1)]
    decoys = ["lsass.exe", "ANSIRED.exe", "line1 line2 line3 tab", "txtexe.scr", "starXand?\x1b[bracket]"]
    events += [Event(source=0, record_number=100 + i, record_id=100 + i, filetime=None, event_id=4688,
                     data=(("Field", value),)) for i, value in enumerate(decoys)]
    events.append(Event(source=0, record_number=200, record_id=200, filetime=None, event_id=4689,
                        computer="C\x1b]0;t\x07", data=(("ProcessName", "val13"),)))
    s.add_events(events)
    s.build_indexes()
    return s


def found(store: Store, query: str) -> set[int | None]:
    return {se.event.record_id for se in store.select(compile_query(query, store.field_names()))}


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_value_pivots_to_its_event_with_nothing_raw_in_the_filter(store: Store, value: str) -> None:
    for text in (filter_to("Field", value), exclude("4688", "Field", value)):
        assert printable(text) == text, text  # nothing a terminal acts on, nothing invisible
    assert found(store, filter_to("Field", value)) == {HOSTILE.index(value) + 1}
    assert HOSTILE.index(value) + 1 not in found(store, exclude("4688", "Field", value))


def test_around_a_hostile_computer(store: Store) -> None:
    text = around("C\x1b]0;t\x07", 0, 5)
    assert printable(text) == text and "\x1b" not in text


@pytest.mark.parametrize("name", ["4689 OR ProcessName", "a:b", "-x", "(x", "x)", "a b", "", "n\x1b[2J", "x\u200by"])
def test_a_field_name_no_term_can_hold_is_refused_not_spliced(name: str) -> None:
    with pytest.raises(QueryError, match="no query term can name the field"):
        term(name, "val13")


def test_the_crafted_name_no_longer_widens_to_every_4689(store: Store) -> None:
    """Before: `4689 OR ProcessName:val13`, every 4689 (record 200) and not the event's own."""
    with pytest.raises(QueryError):
        filter_to("4689 OR ProcessName", "val13")
    assert 200 not in found(store, filter_to("Field", HOSTILE[0]))


def test_a_one_letter_field_and_a_value_starting_with_a_backslash_stays_one_term() -> None:
    """`C:\\x` is read as a path to search for: the value is quoted instead."""
    assert term("C", "\\x") == 'C:"\\x"'
    assert term("Field", "\\Device\\x") == "Field:\\Device\\x"
