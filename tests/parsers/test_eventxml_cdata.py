"""Event XML whose event holds `<Event>` or `</Event>` as text, in a CDATA section, a comment or a
processing instruction (well-formed XML): the fragment scanner steps over those constructs as
it does between events, so the event loads and so does the next (each once cost both); and a
`>` in a quoted attribute value of `<Event>` does not end its start tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event, ParseIssue
from parsers.eventxml import event_xml, iter_events
from tests.cliutil import run_cli
from tests.logs import event_xml as make_event_xml
from tests.logs import write_events

HIDDEN = {
    "cdata event": "<![CDATA[<Event>]]>evil",
    "cdata end": "<![CDATA[</Event>]]>evil",
    "cdata both": "<![CDATA[</Event><Event>]]>evil",
    "comment event": "<!-- <Event> -->evil",
    "comment end": "<!-- </Event> -->evil",
    "pi event": "<?x <Event> ?>evil",
    "pi end": "<?x </Event> ?>evil",
}


def _log(tmp_path: Path, body: str) -> Path:
    def one(n: int) -> str:
        return make_event_xml(4688, n, f"2024-01-01T00:00:0{n}Z", {"CommandLine": f"cmd{n}"})

    middle = one(2).replace("<Data Name=\"CommandLine\">cmd2</Data>", f"<Data Name=\"CommandLine\">{body}</Data>")
    assert middle != one(2)
    return write_events(tmp_path / "log.xml", [one(1), middle, one(3)])


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_an_event_edge_written_as_text_costs_nothing(tmp_path: Path, name: str) -> None:
    log = _log(tmp_path, HIDDEN[name])
    found = list(iter_events(str(log)))
    assert [x for x in found if isinstance(x, ParseIssue)] == []
    events = [x for x in found if isinstance(x, Event)]
    assert [e.record_id for e in events] == [1, 2, 3]
    assert dict(events[1].data)["CommandLine"].endswith("evil")
    assert dict(events[2].data)["CommandLine"] == "cmd3"
    assert "evil" in event_xml(str(log), 2) and "cmd3" in event_xml(str(log), 3)  # raw XML: same fragments


def test_what_stats_says(tmp_path: Path) -> None:
    log = _log(tmp_path, HIDDEN["cdata event"])
    code, out, err = run_cli("stats", "--no-cache", "--issues", str(log))
    assert code == 0, err
    assert "3 records, 0 parse issues" in out


@pytest.mark.parametrize("attr", ['q="/>"', "q='a>b'", 'q="&gt;/>" r=">"'])
def test_a_gt_in_an_attribute_value_does_not_end_the_start_tag(tmp_path: Path, attr: str) -> None:
    first = make_event_xml(4624, 1, "2024-01-01T00:00:01Z", {"LogonType": "2"}).replace("<Event ", f"<Event {attr} ", 1)
    second = make_event_xml(4688, 2, "2024-01-01T00:00:02Z", {"CommandLine": "cmd2"})
    log = write_events(tmp_path / "log.xml", [first, second])
    found = list(iter_events(str(log)))
    assert [x for x in found if isinstance(x, ParseIssue)] == []
    assert [(e.event_id, e.record_id) for e in found if isinstance(e, Event)] == [(4624, 1), (4688, 2)]


def test_a_stray_quote_in_a_start_tag_costs_only_its_event(tmp_path: Path) -> None:
    first = make_event_xml(4624, 1, "2024-01-01T00:00:01Z").replace("<Event ", '<Event q="x ', 1)
    second = make_event_xml(4688, 2, "2024-01-01T00:00:02Z", {"CommandLine": "cmd2"})
    log = write_events(tmp_path / "log.xml", [first, second])
    found = list(iter_events(str(log)))
    assert len([x for x in found if isinstance(x, ParseIssue)]) == 1
    assert [e.record_id for e in found if isinstance(e, Event)] == [2]
