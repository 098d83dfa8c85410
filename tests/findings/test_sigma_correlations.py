"""Sigma correlation rules over hand-made events: event_count, value_count and temporal fire
on the windows they should, an unsupported condition is skipped with its reason, and the counts
and groups are made of whole values, not of the 400 characters a match shows."""

from __future__ import annotations

from pathlib import Path

from core.model.event import Event
from tests.findings.sigma_helpers import CORRELATED
from tests.findings.sigma_helpers import run_rules as _run
from tests.findings.sigma_helpers import write_rule as _rule

#: Three distinct user names failing from one address within a minute.
SPRAY = """
title: Password Spray
id: 0e95725d-7320-415d-80f7-004da920fc13
status: test
level: high
correlation:
    type: value_count
    rules: [failed_logon]
    group-by: [IpAddress]
    timespan: 1m
    condition: {gte: 3, field: TargetUserName}
"""

def test_correlations_event_count_value_count_temporal(tmp_path: Path) -> None:
    _rule(tmp_path, "brute", CORRELATED)
    _rule(tmp_path, "spray", SPRAY)
    _rule(tmp_path, "unsupported", """
        title: Quiet Account
        id: 0e95725d-7320-415d-80f7-004da920fc14
        status: test
        level: high
        correlation:
            type: event_count
            rules: [failed_logon]
            timespan: 1h
            condition: {lt: 2}
        """)
    minute = 60 * 10_000_000

    def failed(i: int, user: str, ip: str, minutes: float) -> Event:
        return Event(0, i, i, 133_500_000_000_000_000 + int(minutes * minute), 4625, channel="Security",
                     data=(("TargetUserName", user), ("IpAddress", ip)))
    events = [
        failed(1, "bob", "10.0.0.9", 0), failed(2, "bob", "10.0.0.9", 1), failed(3, "bob", "10.0.0.9", 2),  # 3 in 5m
        failed(4, "ann", "10.0.0.7", 0), failed(5, "ann", "10.0.0.7", 10), failed(6, "ann", "10.0.0.7", 20),
        failed(7, "u1", "10.0.0.5", 30), failed(8, "u2", "10.0.0.5", 30.2), failed(9, "u3", "10.0.0.5", 30.4),
    ]
    result = _run([tmp_path], events)
    fired = sorted((result.rules[m.rule].title, m.record_id, dict(m.fields).get("count")) for m in result.matches)
    # The low-level base rule runs for the correlations but is not shown on its own.
    assert fired == [("Brute Force Per Account", 3, "3"), ("Password Spray", 9, "3")]
    assert result.skipped["correlation"] == {"condition lt (decided only when a window closes)": 1}
    assert result.ran["correlation (event_count)"] == 1


def test_correlations_count_and_group_whole_values_not_the_shown_cut(tmp_path: Path) -> None:
    """A match shows a value's first 400 characters: the correlations counted and grouped by
    that cut, so three names alike in their first 400 characters were one distinct value (a
    spray not seen) and one group."""
    _rule(tmp_path, "base", CORRELATED.split("---")[0])
    _rule(tmp_path, "spray", SPRAY)
    _rule(tmp_path, "burst", """
        title: Burst Per Long Name
        id: 0e95725d-7320-415d-80f7-004da920fc22
        status: test
        level: high
        correlation:
            type: event_count
            rules: [failed_logon]
            group-by: [TargetUserName]
            timespan: 1m
            condition: {gte: 2}
        """)
    minute = 60 * 10_000_000
    long = "a" * 420

    def failed(i: int, user: str) -> Event:
        return Event(0, i, i, 133_500_000_000_000_000 + i * minute // 10, 4625, channel="Security",
                     data=(("TargetUserName", user), ("IpAddress", "10.0.0.9")))
    result = _run([tmp_path], [failed(1, long + "x"), failed(2, long + "y"), failed(3, long + "z")])
    fired = sorted((result.rules[m.rule].title, m.record_id) for m in result.matches)
    assert fired == [("Password Spray", 3)]  # three names; and no name failed twice
