"""Computer, channel, provider and user SID terms read as the values they name
(`core.query.string_terms`): the same events as the compiled term, the computer through its
index, and nothing read at all for a value no event has."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event
from core.query import string_terms
from core.query.compile import compile_query
from core.query.string_terms import settled_strings
from core.query.view import View, count_view, fetch_page, first_page_within
from core.store.store import Store
from tests.stores import indexed_store

COMPUTERS = ["DC01.corp.local", "dc01.CORP.local", "DC01", "WS01", "WS01-backup", "ws01.corp", "100%_done.x",
             "Ünïcode.host", "SECURITY", ""]
CHANNELS = ["Security", "security", "System", "Microsoft-Windows-Sysmon/Operational", ""]
SIDS = [None, "S-1-5-18", "s-1-5-18", "S-1-5-21-1-2-3-500", ""]


def _store(tmp_path: Path) -> Store:
    events = [Event(source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + (i * 7919) % 500,
                    event_id=4624 + i % 3, computer=COMPUTERS[i % len(COMPUTERS)], channel=CHANNELS[i % 5],
                    provider="Microsoft-Windows-Security-Auditing" if i % 4 else "Prov_%", user_sid=SIDS[i % 5 - i % 2])
              for i in range(600)]
    return indexed_store(tmp_path / "s.db", events)


QUERIES = ["host:dc01", "computer:DC01.corp.local", "host:DC01.CORP.LOCAL", "host:ws01", "host:ws*", "host:*01*",
           "host:nowhere", "NOT host:dc01", "host:security", "4624 host:dc01", "host:dc01 OR host:ws01",
           "-host:ws01 4625", "host:100%_done", "host:100?_done.x", "host:ünïcode", "host:Ünïcode.host",
           "host:ws01[*]", "host:dc01 Channel:Security", 'computer:""', "host:*", "NOT host:*",
           "channel:security", "channel:nowhere", "channel:*sysmon*", 'channel:""', "NOT channel:System",
           "provider:prov_%", "provider:prov?%", "provider:*auditing", "usersid:s-1-5-18", "usersid:S-1-5-21*",
           "NOT usersid:*", "channel:security host:ws01 -4625"]


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_events_as_the_term(tmp_path: Path, query: str) -> None:
    with _store(tmp_path) as store:
        compiled = compile_query(query)
        expected = [se.id for se in store.select(compiled)]
        settled = settled_strings(store, compiled)
        assert [se.id for se in store.select(settled)] == expected
        assert not any(term.text in settled.sql for term in string_terms._TERMS)
        view = View(compiled)
        assert count_view(store, view) == len(expected)
        assert [se.id for se in fetch_page(store, view, 0, None, 50)] == expected[:50]


def test_a_value_no_event_has_reads_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        for query in ("host:nowhere", "channel:nowhere", "provider:x*"):
            settled = settled_strings(store, compile_query(query))
            assert settled.sql == "(0)" and settled.params == ()
        assert first_page_within(store, View(compile_query("4624 host:nowhere")), 0.0) == []


def test_a_term_naming_too_many_values_stays_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(string_terms, "MAX_VALUES", 2)
    with _store(tmp_path) as store:
        compiled = compile_query("host:*0* 4624")
        assert settled_strings(store, compiled) == compiled
        few = settled_strings(store, compile_query("host:ws01 4624"))
        assert sorted(map(str, few.params[:2])) == ["WS01", "ws01.corp"] and few.params[2:] == (4624,)


def test_a_view_settled_again_reads_strings_once(tmp_path: Path) -> None:
    """Every page of a view settles its filter: the strings are read for its first only."""
    from tests.stores import statements

    with _store(tmp_path) as store:
        compiled = compile_query("host:dc01 4624")
        with statements(store) as seen:
            first = settled_strings(store, compiled)
            again = settled_strings(store, compiled)
        assert again is first
        assert sum("FROM strings" in s for s in seen) == 1
        store.add_events([Event(source=0, record_number=9999, record_id=9999, filetime=133_500_000_000_000_000,
                                event_id=4624, computer="dc01.new.corp")])
        later = settled_strings(store, compiled)  # events added: read again
        assert "dc01.new.corp" in later.params and len(store.select(later)) == len(store.select(compiled))
