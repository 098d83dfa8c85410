"""A name an event holds more than once (a crafted or converted log: Windows writes each 4688
field once) has every value looked at by the rules: a restricted substring or folder behind a
harmless first value fired no built-in finding, and a Sigma rule saw only the last value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.findings.engine import run_findings
from core.findings.sigma.engine import MAX_VARIANTS
from core.model.event import Event
from core.store.store import StoredEvent
from tests.findings.rule_events import USER_RUNDLL, defaults, ev
from tests.findings.sigma_helpers import run_rules, write_rule


def _twice(event: Event, name: str, value: str) -> Event:
    """`event` with a second `name` field holding `value`, right after the first."""
    data: list[tuple[str, str]] = []
    for k, v in event.data:
        data.append((k, v))
        if k == name:
            data.append((k, value))
    return dataclasses.replace(event, data=tuple(data))


def test_built_in_rules_look_at_every_value_of_a_repeated_name() -> None:
    base = ev(USER_RUNDLL, CommandLine="rundll32.exe shell32.dll,Control_RunDLL")
    hidden = _twice(_twice(base, "CommandLine", "procdump -ma lsass.exe out.dmp"),
                    "NewProcessName", "C:\\Users\\Public\\Temp\\a.exe")
    assert base.get("CommandLine") == hidden.get("CommandLine")  # the first values are harmless
    fired = {f.rule: f for f in run_findings([StoredEvent(1, hidden)], defaults())}
    assert "procdump" in fired["restricted-substring"].message
    assert ("CommandLine", "procdump -ma lsass.exe out.dmp") in fired["restricted-substring"].evidence
    assert ("NewProcessName", "C:\\Users\\Public\\Temp\\a.exe") in fired["image-in-restricted-folder"].evidence
    assert not {"restricted-substring", "image-in-restricted-folder"} & {
        f.rule for f in run_findings([StoredEvent(1, base)], defaults())}


def test_a_sigma_rule_sees_every_value_of_a_repeated_name_and_fires_once(tmp_path: Path) -> None:
    write_rule(tmp_path, "mimi", """
        title: Mimikatz Command Line
        id: 0e95725d-7320-415d-80f7-004da920fc31
        status: test
        level: high
        logsource: {product: windows, service: security}
        detection:
            selection: {EventID: 4688, CommandLine|contains: mimikatz}
            condition: selection
        """)

    def event(i: int, *lines: str) -> Event:
        return Event(0, i, i, 133_500_000_000_000_000 + i, 4688, channel="Security",
                     data=tuple(("CommandLine", line) for line in lines))
    deep = ["cmd.exe"] * (MAX_VARIANTS - 1) + ["mimikatz deep"]
    result = run_rules([tmp_path], [
        event(1, "mimikatz.exe", "cmd.exe"),  # the first value (the last one was what the rule saw)
        event(2, "cmd.exe", "mimikatz x", "mimikatz y"),  # two values match: one match
        event(3, "cmd.exe", "whoami"),
        event(4, *deep),  # its MAX_VARIANTS-th value
        event(5, *["cmd.exe"] * MAX_VARIANTS, "mimikatz past the cap"),  # past the cap: not looked at
    ])
    assert sorted(m.record_id for m in result.matches) == [1, 2, 4]
    (two,) = [m for m in result.matches if m.record_id == 2]
    assert dict(two.fields)["CommandLine"] == "mimikatz x"
