"""Sigma correlation rules as the spec (v2, "Sigma Correlation Rules") defines them, over
hand-made events: a temporal condition counts the rules referred to that matched (not the
events), in their order for `temporal_ordered`; an event lacking a group-by field is in no group
(and value_count leaves out those lacking its field); the rules a correlation refers to are its
parts, not findings of their own, unless `generate: true`; a correlation may refer to another."""

from __future__ import annotations

from pathlib import Path

from core.findings.sigma.correlate import MAX_CHAIN, TICKS, Correlation, Hit, run
from core.findings.sigma.engine import SigmaResult
from core.findings.sigma.report import coverage_lines
from core.findings.sigma.ruleset import RuleSpec
from core.model.event import Event
from tests.findings.sigma_helpers import run_rules as _run
from tests.findings.sigma_helpers import write_rule as _rule

T0 = 133_500_000_000_000_000


def _event(i: int, eid: int, seconds: float, **data: str) -> Event:
    return Event(0, i, i, T0 + int(seconds * TICKS), eid, channel="Security", data=tuple(data.items()))


def _base(name: str, eid: int, level: str = "high") -> str:
    return f"""
        title: base {name}
        id: 0e95725d-7320-415d-80f7-{eid:012d}
        name: {name}
        status: test
        level: {level}
        logsource: {{product: windows, service: security}}
        detection:
            selection: {{EventID: {eid}}}
            condition: selection
        """


def _correlation(title: str, kind: str, refs: str, condition: str = "", group_by: str = "[U]",
                 timespan: str = "10s", more: str = "", top: str = "") -> str:
    return f"""
        title: {title}
        name: {title}
        status: test
        level: high
        {top}
        correlation:
            type: {kind}
            rules: {refs}
            group-by: {group_by}
            timespan: {timespan}
            {f"condition: {condition}" if condition else ""}
            {more}
        """


def _fired(result: SigmaResult) -> list[tuple[str, int, dict[str, str]]]:
    return sorted((result.rules[m.rule].title, m.record_id, dict(m.fields)) for m in result.matches)


def _titles(result: SigmaResult) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for title, record, _ in _fired(result):
        out.setdefault(title, []).append(record)
    return out


def _abc(tmp_path: Path) -> None:
    _rule(tmp_path, "a", _base("A", 4624))
    _rule(tmp_path, "b", _base("B", 4672))
    _rule(tmp_path, "c", _base("C", 4720))


#: Per user: t1 A, A, B; t2 B, A; t3 A, C (each within 2 s; users 100 s apart).
ABC_EVENTS = [
    _event(10, 4624, 100, U="t1"), _event(11, 4624, 101, U="t1"), _event(12, 4672, 102, U="t1"),
    _event(20, 4672, 200, U="t2"), _event(21, 4624, 201, U="t2"),
    _event(30, 4624, 300, U="t3"), _event(31, 4720, 301, U="t3"),
]


def test_temporal_condition_counts_the_rules_that_matched_not_the_events(tmp_path: Path) -> None:
    """The spec: "for a temporal or temporal_ordered correlation it specified the count of
    different event types (Sigma rules matching)". Every referred rule was required whatever the
    condition said, and `eq: 2` compared the events: A, A, B (3 events, 2 rules) never fired."""
    _abc(tmp_path)
    _rule(tmp_path, "r_abc2", _correlation("abc_gte_2", "temporal", "[A, B, C]", "{gte: 2}"))
    _rule(tmp_path, "r_ab1", _correlation("ab_gte_1", "temporal", "[A, B]", "{gte: 1}"))
    _rule(tmp_path, "r_ab_eq2", _correlation("ab_eq_2", "temporal", "[A, B]", "{eq: 2}"))
    _rule(tmp_path, "r_ab", _correlation("ab_default", "temporal", "[A, B]"))  # pySigma: gte 2
    _rule(tmp_path, "r_abc3", _correlation("abc_gt_2", "temporal", "[A, B, C]", "{gt: 2}"))
    result = _run([tmp_path], ABC_EVENTS)
    fired = _titles(result)
    assert fired["abc_gte_2"] == [12, 21, 31]  # A and B, B and A, A and C
    assert fired["ab_eq_2"] == [12, 21]
    assert fired["ab_default"] == [12, 21]
    # Any one hit of A or B: each starts a window that is met at once (as event_count gte 1).
    assert fired["ab_gte_1"] == [10, 11, 12, 20, 21, 30]
    assert "abc_gt_2" not in fired  # never all three
    counts = {(t, r): f["count"] for t, r, f in _fired(result)}
    assert counts[("ab_eq_2", 12)] == "2" and counts[("abc_gte_2", 31)] == "2" and counts[("ab_gte_1", 11)] == "1"


def test_temporal_ordered_counts_the_rules_matched_in_their_order(tmp_path: Path) -> None:
    """`temporal_ordered` with a count below the number of rules: the most rules referred to
    whose hits are in the window in the order listed (any of them, not only the first ones:
    as `temporal` with any N of its rules, plus the order). Every rule was required."""
    _abc(tmp_path)
    _rule(tmp_path, "r_ord2", _correlation("ordered_abc_2", "temporal_ordered", "[A, B, C]", "{gte: 2}"))
    _rule(tmp_path, "r_ord", _correlation("ordered_abc", "temporal_ordered", "[A, B, C]"))
    events = [
        _event(1, 4624, 0, U="ac"), _event(2, 4720, 1, U="ac"),  # A then C: 2 in order
        _event(3, 4720, 0, U="ca"), _event(4, 4624, 1, U="ca"),  # C then A: 1
        _event(5, 4672, 0, U="bc"), _event(6, 4720, 1, U="bc"),  # B then C: 2 in order
        _event(7, 4720, 0, U="cba"), _event(8, 4672, 1, U="cba"), _event(9, 4624, 2, U="cba"),  # 1
        _event(10, 4672, 0, U="bab"), _event(11, 4624, 1, U="bab"), _event(12, 4672, 2, U="bab"),  # A, B
        _event(13, 4624, 0, U="abc"), _event(14, 4672, 1, U="abc"), _event(15, 4720, 2, U="abc"),
    ]
    fired = _titles(_run([tmp_path], events))
    assert fired["ordered_abc_2"] == [2, 6, 12, 14]
    assert fired["ordered_abc"] == [15]


def test_ordered_count_directly() -> None:
    """`run` itself: the count reported is the rules met, and the order is that of the list."""
    a, b, c = 1, 2, 3

    def fired(refs: tuple[int, ...], least: int, *rules_at: tuple[int, float]) -> list[tuple[int, int]]:
        spec = RuleSpec(None, None, None, None, correlation="temporal_ordered", timespan=10,
                        condition=("gte", least, None))
        hits: list[Hit] = [(int(t * TICKS), r, i, {}) for i, (r, t) in enumerate(rules_at)]
        return [(last, count) for last, count, _ in run(Correlation(9, refs, spec), hits)]

    assert fired((a, b, c), 2, (c, 0), (b, 1), (c, 2)) == [(2, 2)]  # B then C
    assert fired((a, b, c), 2, (c, 0), (b, 1), (a, 2)) == []
    assert fired((a, a, b), 2, (a, 0), (a, 1)) == [(1, 2)]  # A referred twice: two hits of it
    assert fired((a, b, c), 3, (a, 0), (c, 1), (b, 2), (c, 3)) == [(3, 3)]
    assert fired((a, b, c), 2, (b, 0), (a, 11), (c, 22)) == []  # each pair too far apart


def test_an_event_lacking_a_group_by_field_is_in_no_group(tmp_path: Path) -> None:
    """Two events without U and one with U="" made a group of three ("U": ""): a missing field
    was read as the empty value. As a SIEM's `stats ... by U`, an event without U takes no part;
    the empty string is still a value of its own."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "burst", _correlation("burst", "event_count", "[fail]", "{gte: 3}"))
    events = [
        _event(1, 4625, 0), _event(2, 4625, 1, U=""), _event(3, 4625, 2),  # one in the group ""
        _event(4, 4625, 20, U=""), _event(5, 4625, 21, U=""), _event(6, 4625, 22, U=""),  # three
    ]
    assert _fired(_run([tmp_path], events)) == [("burst", 6, {"U": "", "count": "3"})]


def test_temporal_ordered_without_the_group_by_field_does_not_fire(tmp_path: Path) -> None:
    _abc(tmp_path)
    _rule(tmp_path, "r_ord", _correlation("ordered_ab", "temporal_ordered", "[A, B]"))
    events = [_event(1, 4624, 0), _event(2, 4672, 1),  # no U at all
              _event(3, 4624, 10, U="x"), _event(4, 4672, 11, U="x")]
    assert _titles(_run([tmp_path], events)) == {"ordered_ab": [4]}


def test_value_count_leaves_out_events_without_the_field(tmp_path: Path) -> None:
    """h1, h2 and an event without W were three distinct values of W; "" is one."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "spray", _correlation("spray", "value_count", "[fail]", "{gte: 3, field: W}", timespan="60s"))
    events = [
        _event(1, 4625, 0, U="a", W="h1"), _event(2, 4625, 1, U="a", W="h2"), _event(3, 4625, 2, U="a"),
        _event(4, 4625, 0, U="b", W="h1"), _event(5, 4625, 1, U="b", W=""), _event(6, 4625, 2, U="b", W="h2"),
    ]
    assert _fired(_run([tmp_path], events)) == [("spray", 6, {"U": "b", "count": "3"})]


FAILS = [_event(i, 4625, i, U="a") for i in range(1, 5)]


def test_the_rules_a_correlation_refers_to_are_not_findings_of_their_own(tmp_path: Path) -> None:
    """`generate` (default false) "defines if the rules referred from the correlation rule should
    be converted as stand-alone rules or if only the correlation query should be generated
    (default)": the base rule reported every 4625 beside the correlation. It still feeds it;
    the coverage says how many rules were folded so."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "pair", _correlation("pair", "event_count", "[fail]", "{gte: 2}", timespan="60s"))
    result = _run([tmp_path], FAILS)
    assert _titles(result) == {"pair": [2, 4]}
    assert result.folded == 1
    lines = coverage_lines(result)
    assert lines[0].endswith("2 matches (1 rule folded into correlations)")
    assert any(line.startswith("  folded    1 into the correlations referring to them") for line in lines)


def test_generate_true_keeps_the_rules_referred_to(tmp_path: Path) -> None:
    """`generate: true` (in the correlation section, where pySigma reads it, or at the top of
    the rule, where the spec's schema puts it) shows the rules referred to as well; one
    correlation saying so is enough for a rule two refer to."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "pair", _correlation("pair", "event_count", "[fail]", "{gte: 2}", timespan="60s",
                                         more="generate: true"))
    result = _run([tmp_path], FAILS)
    assert _titles(result) == {"base fail": [1, 2, 3, 4], "pair": [2, 4]}
    assert result.folded == 0 and "folded" not in coverage_lines(result)[0]
    _rule(tmp_path, "pair3", _correlation("pair3", "event_count", "[fail]", "{gte: 3}", timespan="60s"))
    assert _titles(_run([tmp_path], FAILS)) == {"base fail": [1, 2, 3, 4], "pair": [2, 4], "pair3": [3]}
    (tmp_path / "pair.yml").unlink()
    _rule(tmp_path, "pair3", _correlation("pair3", "event_count", "[fail]", "{gte: 3}", timespan="60s",
                                          top="generate: true"))
    assert _titles(_run([tmp_path], FAILS)) == {"base fail": [1, 2, 3, 4], "pair3": [3]}


def test_a_correlation_that_cannot_run_folds_nothing(tmp_path: Path) -> None:
    """A correlation skipped (here `lt`, decided only when a window closes) shows nothing: the
    rule it refers to keeps its own findings."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "quiet", _correlation("quiet", "event_count", "[fail]", "{lt: 2}", timespan="60s"))
    result = _run([tmp_path], FAILS)
    assert _titles(result) == {"base fail": [1, 2, 3, 4]} and result.folded == 0


def test_correlations_referring_to_correlations(tmp_path: Path) -> None:
    """"refers to a rule that is not loaded (inner)": a correlation over a correlation was
    refused, though the spec allows chains. The inner one runs first; its matches (with its
    group-by values) are the outer one's events; it is folded into the outer one as rules are."""
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "inner", _correlation("inner", "event_count", "[fail]", "{gte: 2}", timespan="60s"))
    _rule(tmp_path, "outer", _correlation("outer", "event_count", "[inner]", "{gte: 2}", timespan="60s"))
    result = _run([tmp_path], FAILS)
    assert _fired(result) == [("outer", 4, {"U": "a", "count": "2"})]
    assert result.folded == 2 and result.ran["correlation (event_count)"] == 2
    # The inner correlation left out by the filters (level low) still runs for the outer one.
    _rule(tmp_path, "inner", _correlation("inner", "event_count", "[fail]", "{gte: 2}", timespan="60s")
          .replace("level: high", "level: low"))
    assert _titles(_run([tmp_path], FAILS)) == {"outer": [4]}


def test_chains_that_cannot_run_say_why(tmp_path: Path) -> None:
    _rule(tmp_path, "fail", _base("fail", 4625))
    _rule(tmp_path, "self", _correlation("self", "event_count", "[self]", "{gte: 1}"))
    _rule(tmp_path, "c1", _correlation("c1", "event_count", "[c2]", "{gte: 1}"))
    _rule(tmp_path, "c2", _correlation("c2", "event_count", "[c1]", "{gte: 1}"))
    _rule(tmp_path, "above", _correlation("above", "event_count", "[c1]", "{gte: 1}"))
    _rule(tmp_path, "quiet", _correlation("quiet", "event_count", "[fail]", "{lt: 2}"))
    _rule(tmp_path, "over_quiet", _correlation("over_quiet", "event_count", "[quiet]", "{gte: 1}"))
    _rule(tmp_path, "lost", _correlation("lost", "event_count", "[nowhere]", "{gte: 1}"))
    result = _run([tmp_path], FAILS)
    assert result.skipped["correlation"] == {
        "refers to itself, through correlations or directly (a cycle)": 4,  # self, c1, c2, above
        "condition lt (decided only when a window closes)": 1,
        "refers to a correlation that cannot run (quiet)": 1,
        "refers to a rule that is not loaded (nowhere)": 1,
    }
    assert _titles(result) == {"base fail": [1, 2, 3, 4]}


def test_chains_are_bounded(tmp_path: Path) -> None:
    _rule(tmp_path, "fail", _base("fail", 4625))
    below = "fail"
    for depth in range(1, MAX_CHAIN + 2):
        _rule(tmp_path, f"c{depth}", _correlation(f"c{depth}", "event_count", f"[{below}]", "{gte: 1}", timespan="1h"))
        below = f"c{depth}"
    result = _run([tmp_path], FAILS[:1])
    assert _titles(result) == {f"c{MAX_CHAIN}": [1]}  # (each below it folded into the next)
    assert result.skipped["correlation"] == {f"correlations chained more than {MAX_CHAIN} deep": 1}
