"""Hostile text inputs must load in time linear in their size: the Event XML scanner once
rescanned up to MAX_EVENT_CHARS characters for every `<` of an unterminated construct
(8.5 MB of `<` took 51 s, 12 MB of `<!--`, `<?` or `<![` over 90 s).

The scans here use a small `MAX_EVENT_CHARS` so that the old behaviour shows at a few MB, and
feed the text through a chunk source that gives up after a deadline, so a regression fails in
seconds instead of hanging the suite."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.model.event import Event
from parsers import eventxml, jsonlines, jsonrecords
from tests.parsers.xml_events import xml_event

MB = 1024 * 1024
CHUNK = 64 * 1024
HOSTILE = ["<", "<!--", "<?", "<![", "<!x", "<a ", "<!--<", "<?<!--<![<"]


class TooSlow(Exception):
    pass


def _chunks(text: str, deadline: float) -> Iterator[str]:
    for i in range(0, len(text), CHUNK):
        if time.perf_counter() > deadline:
            raise TooSlow
        yield text[i : i + CHUNK]


def _load_seconds(text: str, budget: float) -> tuple[float, int]:
    """(seconds to scan `text` as Event XML, events found); inf when over `budget`."""
    start = time.perf_counter()
    try:
        items = list(eventxml.iter_text_events(_chunks(text, start + budget), "x.xml", 0))
    except TooSlow:
        return float("inf"), 0
    return time.perf_counter() - start, sum(isinstance(i, Event) for i in items)


def _normal(size: int) -> str:
    one = xml_event(4688, 1, {"CommandLine": "cmd.exe /c whoami", "ProcessId": "0x4f8"})
    return "<Events>" + one * (size // len(one)) + "</Events>"


@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_xml_loads_as_fast_as_a_normal_log(unit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventxml, "MAX_EVENT_CHARS", 64 * 1024)
    size = 3 * MB
    normal, events = _load_seconds(_normal(size), 60)
    assert events > 1000
    hostile, _ = _load_seconds("<Events>" + unit * (size // len(unit)), max(2.0, 3 * normal))
    assert hostile <= max(1.0, 2 * normal), (unit, hostile, normal)


def test_hostile_xml_scan_time_grows_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """4x the input (and 4x the event limit, as the real 8 Mi limit is against 12 MB) takes
    about 4x the time, not 16x."""
    unit = "<!--<"
    timings = []
    for size in (MB, 4 * MB):
        monkeypatch.setattr(eventxml, "MAX_EVENT_CHARS", size // 4)
        seconds, _ = _load_seconds(unit * (size // len(unit)), 20)
        timings.append(seconds)
    assert timings[1] <= 8 * timings[0] + 0.3, timings


def test_events_among_hostile_text_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipping dead-ended openers in one step must not skip an event among them (a stray
    `<` before an event used to swallow the event's own `<Event ...>` tag)."""
    monkeypatch.setattr(eventxml, "MAX_EVENT_CHARS", 4096)
    good = xml_event(4688, 7, {"A": "1"})
    for unit in HOSTILE:
        text = "<Events>" + unit * (20_000 // len(unit)) + good + unit * (20_000 // len(unit))
        _, events = _load_seconds(text, 10)
        assert events == 1, unit


def _json_seconds(text: str, budget: float) -> tuple[float, int]:
    """(seconds to read `text` as JSON, records seen); inf when over `budget`."""
    start = time.perf_counter()
    try:
        items = list(jsonlines.iter_text_events(_chunks(text, start + budget), "x.json", 0))
    except TooSlow:
        return float("inf"), 0
    return time.perf_counter() - start, len(items)


def test_broken_json_array_elements_cost_linear_time() -> None:
    """Each broken element of an array was decoded against the whole buffer, and the error
    message of a failed decode counts the lines before it: 2 MB of `{"a":x},` took minutes."""
    good = '{"Event": {"System": {"EventID": 4688, "EventRecordID": 1}, "EventData": {"A": "b"}}}'
    timings = []
    for size in (MB // 4, MB):
        text = "[" + '{"a":x},' * (size // 8) + good + "]"
        seconds, records = _json_seconds(text, 30)
        assert records == size // 8 + 1
        timings.append(seconds)
    assert timings[1] <= 8 * timings[0] + 0.5, timings


def test_broken_json_array_element_reads_on_to_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken element with no `}, {` in the text held: the rest of the array still loads
    (it used to end the walk), and an oversized one is dropped, not buffered."""
    monkeypatch.setattr(jsonrecords, "MAX_RECORD_CHARS", 64 * 1024)
    good = '{"Event": {"System": {"EventID": 4688, "EventRecordID": 1}, "EventData": {"A": "b"}}}'
    for broken in ['{"a": 1 x ' + "y" * 30_000 + "}", '{"a": "' + "z" * 200_000 + '" q}']:
        text = "[" + good + ", " + broken + ", " + good + "]"
        _, records = _json_seconds(text, 10)
        items = list(jsonlines.iter_text_events(iter([text[i : i + 4096] for i in range(0, len(text), 4096)]), "x", 0))
        assert records == 3 and [type(i).__name__ for i in items] == ["Event", "ParseIssue", "Event"]
