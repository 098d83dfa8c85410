"""Sigma correlation rules over the matches of the rules they refer to.

`event_count` (at least N matches), `value_count` (at least N distinct values of a field) and
`temporal` / `temporal_ordered` (every referred rule matched, in order for the latter) within
`timespan`, per value of the `group-by` fields. Windows slide over the matches in time order;
when one satisfies the condition, one correlation match is reported (on its last event) and
the window starts again after it. Conditions that can only be decided when a window closes
(`lt`, `lte`, `neq`, for every type) and value_sum/value_avg are not evaluated: such rules are
listed as skipped with that reason. `eq` holds when the count is exactly the number: a temporal
window's count (its hits) can pass it at once, when the last rule referred to comes.

Each window keeps what its condition needs as running totals, updated as a hit enters or leaves
(hits per referred rule; for the ordered form, where each prefix of the sequence can start at the
latest), so a hit costs O(1) however many rules a temporal correlation refers to.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from .ruleset import RuleMeta, RuleSpec

TICKS = 10_000_000  # FILETIME ticks per second
SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")


@dataclass(frozen=True, slots=True)
class Correlation:
    """A correlation rule ready to run: `rule` (its index in the result's rules), the indexes of
    the rules it refers to (in order), and its spec."""

    rule: int
    refs: tuple[int, ...]
    spec: RuleSpec


def why_not(spec: RuleSpec) -> str | None:
    """Why this correlation is not evaluated, or None."""
    if spec.unsupported:
        return spec.unsupported
    if spec.correlation not in SUPPORTED:
        return f"{spec.correlation} correlations"
    op = spec.condition[0]
    if op not in ("gte", "gt", "eq"):
        return f"condition {op} (decided only when a window closes)"
    if spec.correlation == "value_count" and not spec.condition[2]:
        return "value_count without a field"
    return None


def resolve(refs: Sequence[str], metas: Sequence[RuleMeta]) -> tuple[int, ...] | str:
    """Indexes of the referred rules (by name, else id), or the first that is not loaded."""
    by_key: dict[str, int] = {}
    for i, meta in enumerate(metas):
        if meta.id:
            by_key.setdefault(meta.id, i)
        if meta.name:
            by_key.setdefault(meta.name, i)
    out = []
    for ref in refs:
        if ref not in by_key:
            return ref
        out.append(by_key[ref])
    return tuple(out)


def _threshold(op: str, count: float) -> float:
    return count + 1 if op == "gt" else count


Hit = tuple[int, int, int, dict[str, str]]  # (time, rule, index in matches, fields)


def run(correlation: Correlation, hits: Sequence[Hit]) -> list[tuple[int, int, dict[str, str]]]:
    """(index of the last match, count, group values) per window that satisfied the rule.

    Each hit enters its group's window once and leaves it once (by age or when the window is
    cleared after a match), and the window keeps what its condition needs as running totals, so
    a group of n hits costs O(n) whatever the number of rules referred to. (Recomputing the rules
    present from the whole window at every hit was quadratic: with one referred rule that never
    matches, a day of hits over K rules took minutes.)"""
    spec = correlation.spec
    span = spec.timespan * TICKS
    groups: dict[tuple[str, ...], list[Hit]] = defaultdict(list)
    for hit in hits:
        groups[tuple(hit[3].get(f, "") for f in spec.group_by)].append(hit)
    out: list[tuple[int, int, dict[str, str]]] = []
    need = _threshold(spec.condition[0], spec.condition[1])
    exact = spec.condition[0] == "eq"
    for key, items in groups.items():
        items.sort(key=lambda h: (h[0], h[2]))
        values = dict(zip(spec.group_by, key, strict=True))
        window = _window(spec, correlation.refs)
        held = window.hits
        for hit in items:
            window.push(hit)
            # `>`: a hit exactly `timespan` older than the newest is still in the window. A
            # negative timespan empties it, the new hit included (the count is then that of
            # an empty window).
            while held and hit[0] - held[0][0] > span:
                window.pop()
            count = window.count()
            if count is not None and (count == need if exact else count >= need):
                out.append((hit[2], count, values))
                window.clear()
    return out


class _Window:
    """The hits of one group within the timespan, oldest first, and the count the rule compares
    with its threshold (None: the rule's other requirement is not met). `event_count` as is:
    the count is the number of hits."""

    def __init__(self) -> None:
        self.hits: deque[Hit] = deque()

    def push(self, hit: Hit) -> None:
        self.hits.append(hit)
        self.added(hit)

    def pop(self) -> None:
        self.removed(self.hits.popleft())

    def clear(self) -> None:
        self.hits.clear()
        self.cleared()

    def added(self, hit: Hit) -> None:
        """Account for a hit that entered (in time order)."""

    def removed(self, hit: Hit) -> None:
        """Account for the oldest hit, which left."""

    def cleared(self) -> None:
        """Forget every hit: the window starts again after a match."""

    def count(self) -> int | None:
        return len(self.hits)


class _Values(_Window):
    """`value_count`: the count is the number of distinct values of the field (a missing field
    counts as the empty value), kept as a Counter of the values in the window."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field
        self.seen: Counter[str] = Counter()

    def added(self, hit: Hit) -> None:
        self.seen[hit[3].get(self.field, "")] += 1

    def removed(self, hit: Hit) -> None:
        name = hit[3].get(self.field, "")
        self.seen[name] -= 1
        if not self.seen[name]:
            del self.seen[name]

    def cleared(self) -> None:
        self.seen.clear()

    def count(self) -> int | None:
        return len(self.seen)


class _Temporal(_Window):
    """`temporal`: every referred rule has a hit in the window; the count is then the number of
    hits. Hits per referred rule and how many of those rules have one are kept as they come and
    go, instead of collecting the rules present from the whole window at every hit."""

    def __init__(self, refs: tuple[int, ...]) -> None:
        super().__init__()
        self.wanted = frozenset(refs)
        self.per_rule: dict[int, int] = {}
        self.present = 0  # referred rules with at least one hit in the window

    def added(self, hit: Hit) -> None:
        rule = hit[1]
        if rule in self.wanted:
            had = self.per_rule.get(rule, 0)
            self.per_rule[rule] = had + 1
            if not had:
                self.present += 1

    def removed(self, hit: Hit) -> None:
        rule = hit[1]
        if rule in self.wanted:
            left = self.per_rule[rule] - 1
            self.per_rule[rule] = left
            if not left:
                self.present -= 1

    def cleared(self) -> None:
        self.per_rule.clear()
        self.present = 0

    def count(self) -> int | None:
        return len(self.hits) if self.present == len(self.wanted) else None


class _Ordered(_Window):
    """`temporal_ordered`: the referred rules appear in the window in their order (as a
    subsequence: other hits may come between, a rule referred to twice needs two hits); the
    count is then the number of hits.

    Exact and incremental: number the hits of the group 0, 1, ... as they come, and keep for
    each prefix refs[:j] the latest position `latest[j]` such that refs[:j] is a subsequence of
    the hits from there to the newest (-1: none). A new hit at position p of rule r extends
    every prefix ending with r: latest[j] = max(latest[j], latest[j - 1]) where refs[j - 1] == r,
    with latest[0] = p and the prefixes taken longest first so that one hit is not used twice.
    The window, hits `start` to p, holds the whole sequence exactly when latest[len(refs)] >=
    start. Hits leaving (by age or the clear after a match) only move `start`: nothing to undo.
    A hit costs one step per place its rule has in refs (one, unless a rule is referred twice).
    The answers are those of the walk over the whole window it replaces: matching greedily from
    the oldest hit finds the sequence exactly when the window holds it."""

    def __init__(self, refs: tuple[int, ...]) -> None:
        super().__init__()
        self.size = len(refs)
        self.slots: dict[int, tuple[int, ...]] = {}
        for j in range(len(refs), 0, -1):  # longest prefix first
            self.slots[refs[j - 1]] = (*self.slots.get(refs[j - 1], ()), j)
        self.latest = [-1] * (len(refs) + 1)
        self.end = 0  # position of the next hit

    def added(self, hit: Hit) -> None:
        latest = self.latest
        latest[0] = self.end
        for j in self.slots.get(hit[1], ()):
            if latest[j - 1] > latest[j]:
                latest[j] = latest[j - 1]
        self.end += 1

    def count(self) -> int | None:
        if not self.size:  # nothing to find: any window, even an empty one, has it
            return len(self.hits)
        start = self.end - len(self.hits)
        return len(self.hits) if self.latest[self.size] >= start else None


def _window(spec: RuleSpec, refs: tuple[int, ...]) -> _Window:
    """The window for the rule's type. Only SUPPORTED types reach here (`why_not`); any other
    is counted as temporal_ordered, as it always was."""
    if spec.correlation == "event_count":
        return _Window()
    if spec.correlation == "value_count":
        return _Values(str(spec.condition[2]))
    if spec.correlation == "temporal":
        return _Temporal(refs)
    return _Ordered(refs)
