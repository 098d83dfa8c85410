"""Computer terms read as the computers they name (`core.query.host_sets`): the same events as
the compiled term, through the computer index, and nothing read at all for a computer no event has."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event
from core.query import host_sets
from core.query.compile import compile_query
from core.query.host_sets import settled_hosts
from core.query.view import View, count_view, fetch_page, first_page_within
from core.store.store import Store
from tests.stores import indexed_store

COMPUTERS = ["DC01.corp.local", "dc01.CORP.local", "DC01", "WS01", "WS01-backup", "ws01.corp", "100%_done.x",
             "Ünïcode.host", "SECURITY", ""]


def _store(tmp_path: Path) -> Store:
    events = [Event(source=0, record_number=i + 1, record_id=i + 1, filetime=133_500_000_000_000_000 + (i * 7919) % 500,
                    event_id=4624 + i % 3, computer=COMPUTERS[i % len(COMPUTERS)], channel="Security")
              for i in range(600)]
    return indexed_store(tmp_path / "s.db", events)


QUERIES = ["host:dc01", "computer:DC01.corp.local", "host:DC01.CORP.LOCAL", "host:ws01", "host:ws*", "host:*01*",
           "host:nowhere", "NOT host:dc01", "host:security", "4624 host:dc01", "host:dc01 OR host:ws01",
           "-host:ws01 4625", "host:100%_done", "host:100?_done.x", "host:ünïcode", "host:Ünïcode.host",
           "host:ws01[*]", "host:dc01 Channel:Security", 'computer:""', "host:*", "NOT host:*"]


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_events_as_the_term(tmp_path: Path, query: str) -> None:
    with _store(tmp_path) as store:
        compiled = compile_query(query)
        expected = [se.id for se in store.select(compiled)]
        settled = settled_hosts(store, compiled)
        assert [se.id for se in store.select(settled)] == expected
        assert "e.computer LIKE" not in settled.sql and "e.computer = ?" not in settled.sql
        view = View(compiled)
        assert count_view(store, view) == len(expected)
        assert [se.id for se in fetch_page(store, view, 0, None, 50)] == expected[:50]


def test_a_computer_no_event_has_reads_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        settled = settled_hosts(store, compile_query("host:nowhere"))
        assert settled.sql == "(0)" and settled.params == ()
        assert first_page_within(store, View(compile_query("4624 host:nowhere")), 0.0) == []


def test_a_term_naming_too_many_computers_stays_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_sets, "MAX_HOSTS", 2)
    with _store(tmp_path) as store:
        compiled = compile_query("host:*0* 4624")
        settled = settled_hosts(store, compiled)
        assert settled == compiled
        few = settled_hosts(store, compile_query("host:ws01 4624"))
        assert sorted(map(str, few.params[:2])) == ["WS01", "ws01.corp"] and few.params[2:] == (4624,)
