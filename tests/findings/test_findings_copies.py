"""The same record loaded twice (a log and its copy: `core.model.same_records`) fires once: the
built-in rules and Sigma rules keep the first copy's findings, and a Sigma correlation counts the
record once (loaded twice, two failed logons were four: a brute force that was not)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.findings.engine import run_findings
from core.findings.sigma.report import coverage_lines
from core.model.event import Event
from core.store.store import StoredEvent
from tests.findings.rule_events import USER_RUNDLL, defaults, ev
from tests.findings.sigma_helpers import CORRELATED, run_rules, write_rule


def _copy(event: Event) -> Event:
    return dataclasses.replace(event, source=1)


def test_built_in_rules_fire_once_for_a_record_loaded_twice() -> None:
    first = ev(USER_RUNDLL, rid=7, NewProcessName="C:\\Tools\\nc.exe")
    other = ev(USER_RUNDLL, rid=8, NewProcessName="C:\\Tools\\nc.exe")  # another record, alike but for its id
    events = [StoredEvent(1, first), StoredEvent(2, other), StoredEvent((1 << 40) + 1, _copy(first))]
    found = run_findings(events, defaults())
    assert sorted((f.store_id, f.rule) for f in found) == [
        (1, "image-outside-standard-folders"), (2, "image-outside-standard-folders")]


def test_sigma_matches_and_counts_a_record_loaded_twice_once(tmp_path: Path) -> None:
    write_rule(tmp_path, "brute", CORRELATED)
    minute = 60 * 10_000_000

    def failed(i: int) -> Event:
        return Event(0, i, i, 133_500_000_000_000_000 + i * minute, 4625, channel="Security",
                     data=(("TargetUserName", "bob"), ("IpAddress", "10.0.0.9")))
    log = [failed(1), failed(2)]
    once = run_rules([tmp_path], log)
    twice = run_rules([tmp_path], [*log, *map(_copy, log)])
    assert [m.record_id for m in once.matches] == [m.record_id for m in twice.matches] == []  # 2 < 3: no brute force
    assert (once.copies, twice.copies) == (0, 2)
    assert any("2 matching events were copies of a record loaded twice" in line for line in coverage_lines(twice))
    three = run_rules([tmp_path], [*log, failed(3), *map(_copy, log)])
    assert [(three.rules[m.rule].title, m.record_id) for m in three.matches] == [("Brute Force Per Account", 3)]
