"""Sigma correlations at scale: the sliding windows keep running totals, so a `temporal` or
`temporal_ordered` correlation over many rules costs O(1) per hit, where rebuilding the rules
present from the whole window at every hit was quadratic (a day of 4688 over 8 rules, one of
which never matched, took a minute). Their answers are the same as a plain algorithm's that
recounts the whole window at every hit, kept below as the reference, on random hit streams of
every shape."""

from __future__ import annotations

import random
from collections import Counter, defaultdict, deque
from collections.abc import Sequence

import pytest

from core.findings.sigma.correlate import TICKS, Correlation, Hit, run
from core.findings.sigma.ruleset import RuleSpec

KINDS = ("event_count", "value_count", "temporal", "temporal_ordered")
Out = list[tuple[int, int, dict[str, str]]]


# The reference: `run` and `_count` as they were before the windows kept running totals, with
# the spec's counts: a temporal window counts the referred rules that matched in it (each
# reference met by a hit of its own), an ordered one the most of them matched in their order
# (the longest common subsequence); a hit lacking a group-by field (value_count: the counted
# field) takes no part.
def _reference_threshold(op: str, count: float) -> float:
    return count + 1 if op == "gt" else count


def _reference_run(correlation: Correlation, hits: Sequence[Hit]) -> Out:
    spec = correlation.spec
    span = spec.timespan * TICKS
    groups: dict[tuple[str, ...], list[Hit]] = defaultdict(list)
    field = str(spec.condition[2])
    for hit in hits:
        if spec.correlation == "value_count" and field not in hit[3]:
            continue
        if all(f in hit[3] for f in spec.group_by):
            groups[tuple(hit[3][f] for f in spec.group_by)].append(hit)
    out: Out = []
    need = _reference_threshold(spec.condition[0], spec.condition[1])
    for key, items in groups.items():
        items.sort(key=lambda h: (h[0], h[2]))
        values = dict(zip(spec.group_by, key, strict=True))
        window: deque[Hit] = deque()
        seen: Counter[str] = Counter()
        for hit in items:
            window.append(hit)
            if spec.correlation == "value_count":
                seen[hit[3][field]] += 1
            while window and hit[0] - window[0][0] > span:
                old = window.popleft()
                if spec.correlation == "value_count":
                    name = old[3][field]
                    seen[name] -= 1
                    if not seen[name]:
                        del seen[name]
            count = _reference_count(spec, correlation.refs, window, len(seen))
            if count is not None and (count == need if spec.condition[0] == "eq" else count >= need):
                out.append((hit[2], count, values))
                window.clear()
                seen.clear()
    return out


def _reference_count(spec: RuleSpec, refs: tuple[int, ...], window: deque[Hit], distinct: int) -> int | None:
    if spec.correlation == "event_count":
        return len(window)
    if spec.correlation == "value_count":
        return distinct
    if spec.correlation == "temporal":
        present = Counter(h[1] for h in window)
        return sum(min(present[r], n) for r, n in Counter(refs).items())
    longest = [0] * (len(refs) + 1)  # of refs[:j] and the hits so far, in order
    for h in window:
        row = [0]
        for j, ref in enumerate(refs, 1):
            row.append(max(longest[j], row[j - 1], longest[j - 1] + 1 if h[1] == ref else 0))
        longest = row
    return longest[-1]


def _spec(kind: str, group_by: tuple[str, ...] = (), timespan: int = 86_400,
          condition: tuple[str, float, str | None] = ("gte", 1, None)) -> RuleSpec:
    return RuleSpec(None, None, None, None, correlation=kind, group_by=group_by, timespan=timespan,
                    condition=condition)


def _random_case(rng: random.Random, kind: str, longest: int) -> tuple[Correlation, list[Hit]]:
    """A correlation and hits to run it on: few rules (some referred twice, some not at all),
    group-by fields sometimes missing, times on half seconds over a few seconds (many equal, many
    exactly `timespan` apart), indexes sometimes repeated, every operator, negative timespans."""
    rules = rng.randint(1, 6)
    if rng.random() < 0.05:
        refs: tuple[int, ...] = ()
    elif rng.random() < 0.5:
        refs = tuple(rng.sample(range(rules), rng.randint(1, rules)))
    else:
        refs = tuple(rng.randrange(rules) for _ in range(rng.randint(1, 5)))
    extra = rng.randint(0, 2)  # rules whose hits are in the stream without being referred to
    group_by = tuple(f for f in ("Computer", "User") if rng.random() < 0.4)
    timespan = rng.choice((-1, 0, 1, 2, 3, 7, 100_000))
    op = rng.choice(("gte", "gte", "gt", "eq", "lt", "lte", "neq"))
    count = rng.choice((0, 1, 1, 2, 3, 5, 2.5))
    condition = (op, count, rng.choice(("User", "Image", None)))
    n = rng.randint(0, longest)
    indexes = list(range(n))
    rng.shuffle(indexes)
    hits: list[Hit] = []
    for i in range(n):
        fields = {name: rng.choice("ab") for name in ("Computer", "User", "Image") if rng.random() < 0.8}
        index = indexes[i] if rng.random() < 0.9 else rng.randrange(max(n, 1))
        hits.append((rng.randint(0, 4 * max(timespan, 1)) * (TICKS // 2), rng.randrange(rules + extra), index, fields))
    spec = _spec(kind, group_by, timespan, condition)
    return Correlation(1_000, refs, spec), hits


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("seed", "cases", "longest"), [(1, 1500, 30), (2, 1500, 30), (3, 300, 400), (4, 60, 2000)])
def test_same_answers_as_the_reference(kind: str, seed: int, cases: int, longest: int) -> None:
    rng = random.Random(f"{kind}-{seed}")
    fired = 0
    for case in range(cases):
        correlation, hits = _random_case(rng, kind, longest)
        expected = _reference_run(correlation, list(hits))
        assert run(correlation, list(hits)) == expected, (case, correlation, hits)
        fired += len(expected)
    assert fired > cases // 10  # the cases do fire, often


def test_ordered_sequence_details() -> None:
    """Hand-checked cases of `temporal_ordered` with its default condition (the whole sequence,
    pySigma's `gte: len(rules)`): a rule referred twice needs two hits; one hit does not complete
    two steps; other hits in between do not matter; a hit exactly `timespan` older is still in
    the window; after a match the next one starts from scratch. The count is that of the rules
    referred to (the spec's "different event types"), not of the hits in the window."""
    a, b, c = 1, 2, 3

    def hits(*rules_at: tuple[int, float]) -> list[Hit]:
        return [(int(t * TICKS), r, i, {}) for i, (r, t) in enumerate(rules_at)]

    def fired(refs: tuple[int, ...], stream: list[Hit], timespan: int = 10, least: int | None = None) -> Out:
        condition = ("gte", len(refs) if least is None else least, None)
        correlation = Correlation(9, refs, _spec("temporal_ordered", timespan=timespan, condition=condition))
        assert run(correlation, stream) == _reference_run(correlation, stream)
        return run(correlation, stream)

    assert fired((a, a, b), hits((a, 0), (b, 1), (a, 2), (b, 3))) == [(3, 3, {})]
    assert fired((a, a, b), hits((a, 0), (b, 1))) == []
    assert fired((a, b), hits((b, 0), (c, 1), (a, 2), (c, 3), (b, 4))) == [(4, 2, {})]
    assert fired((a, b), hits((a, 0), (b, 10))) == [(1, 2, {})]
    assert fired((a, b), hits((a, 0), (b, 10.5))) == []
    assert fired((a, b), hits((a, 0), (b, 1), (b, 2), (a, 3), (b, 4))) == [(1, 2, {}), (4, 2, {})]
    assert fired((a, b), hits((a, 0), (b, 0)), timespan=-1) == []
    # A negative timespan leaves every window empty: only an empty sequence is found in it.
    assert fired((), hits((a, 0), (b, 0)), timespan=-1, least=0) == [(0, 0, {}), (1, 0, {})]


class _CountedRule(int):
    """A rule index that counts how often it is hashed or compared, and stops the run once that
    passes a budget: the operation count of a correlation, without timing it (an algorithm that
    looks at the whole window at every hit fails in seconds instead of running for minutes)."""

    looks = 0
    budget = 0

    def _look(self) -> None:
        _CountedRule.looks += 1
        if _CountedRule.looks > _CountedRule.budget:
            raise AssertionError(f"over {_CountedRule.budget:,} rule look-ups: not O(1) per hit")

    def __hash__(self) -> int:
        self._look()
        return int.__hash__(self)

    def __eq__(self, other: object) -> bool:
        self._look()
        return int.__eq__(self, other)


RULES = 32
EVENTS = 5_000  # (the probe had 20,000: what is checked is the count per hit)


@pytest.mark.parametrize("kind", ["temporal", "temporal_ordered"])
@pytest.mark.parametrize(("never", "timespan"), [(True, 86_400), (True, 60), (False, 86_400)])
def test_many_rules_over_a_day_cost_a_few_operations_per_hit(kind: str, never: bool, timespan: int) -> None:
    """The probe's flood (here 5,000 events of its 20,000) in a day, each matched by 32 rules, a
    temporal correlation over the 32, and one rule that never matches: with a timespan of a day
    the window then holds the whole day, up to 160,000 hits; with a minute, hits leave as they come.
    At most 8 look-ups of a hit's rule per hit (4 as it enters, 4 as it leaves), where the old
    algorithm needed one per hit in the window at every hit (some 2e11 over the day). Without
    the never-matching rule a match every 32 hits empties the window."""
    rules = [_CountedRule(k) for k in range(RULES)]
    fields = {"Computer": "WS01"}
    hits: list[Hit] = [(e * TICKS, rules[k], e * RULES + k, fields) for e in range(EVENTS) for k in range(RULES)]
    refs = (*range(RULES), RULES) if never else tuple(range(RULES))
    # (pySigma's default condition: every rule referred to)
    correlation = Correlation(99, refs, _spec(kind, ("Computer",), timespan, ("gte", len(refs), None)))
    _CountedRule.looks, _CountedRule.budget = 0, 8 * len(hits)
    try:
        out = run(correlation, hits)
    finally:
        _CountedRule.budget = 1 << 62
    assert out == ([] if never else [((e + 1) * RULES - 1, RULES, {"Computer": "WS01"}) for e in range(EVENTS)])


def test_temporal_conditions_only_when_they_can_be_decided() -> None:
    """A temporal rule's `lt`/`lte`/`neq` was evaluated as "at least N" (a rule meant to find
    quiet windows fired on busy ones): skipped with its reason, as for the count types. `eq` is
    exactly N, N the referred rules that matched (not the hits): rule 0 twice then rule 1 are
    2 rules, so `eq: 2` fires on rule 1's hit and `eq: 3` never."""
    from core.findings.sigma.correlate import why_not

    for kind in ("temporal", "temporal_ordered", "event_count"):
        for op in ("lt", "lte", "neq"):
            reason = why_not(_spec(kind, condition=(op, 3, None)))
            assert reason == f"condition {op} (decided only when a window closes)"
        for op in ("gte", "gt", "eq"):
            assert why_not(_spec(kind, condition=(op, 3, None))) is None
    hits: list[Hit] = [(0, 0, 0, {}), (1, 0, 1, {}), (2, 1, 2, {})]  # rule 0 twice, then rule 1
    for kind in ("temporal", "temporal_ordered"):
        def fired(op: str, n: int, k: str = kind) -> Out:
            return run(Correlation(9, (0, 1), _spec(k, condition=(op, n, None))), hits)

        assert fired("eq", 2) == fired("gte", 2) == fired("gt", 1) == [(2, 2, {})]
        assert fired("eq", 3) == [] and fired("gte", 3) == [] and fired("gt", 2) == []
