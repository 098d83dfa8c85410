"""Sigma correlation rules over the matches of the rules they refer to.

Within `timespan`, per value of the `group-by` fields, the spec's count is compared with the
condition: `event_count` counts matches, `value_count` distinct values of its field, `temporal`
the rules referred to that matched (the spec's "count of different event types"; pySigma's
default condition is all of them), `temporal_ordered` the most of them that matched in the order
they are listed. Each reference needs a hit of its own: with [A, A, B], two hits of A count two
(then B makes three; in that order, for the ordered form). An event lacking a group-by field takes no part (as a
SIEM's `stats ... by`); value_count leaves out the events lacking its field. The empty string is
a value like any other.

Windows slide over the matches in time order; when one satisfies the condition, one correlation
match is reported (on its last event, with the count compared) and the window starts again
after it. Conditions that can only be decided when a window closes (`lt`, `lte`, `neq`, for every
type) and value_sum/value_avg are not evaluated: such rules are listed as skipped with that
reason. Every count rises by at most one as a hit enters, so `eq` N is met when the count first
reaches N.

Each window keeps what its condition needs as running totals, updated as a hit enters or leaves
(hits per referred rule; for the ordered form, where each part of the sequence can start at the
latest), so a hit costs O(1) however many rules a temporal correlation refers to. (The ordered
form: one step per place of the hit's rule in the sequence with the default condition, times
the counts between the condition's and the whole sequence's below it: `_Ordered`.)

Correlations may refer to correlations (`link`): those run first, their matches (on their last
event, with their group-by values) are the outer one's hits.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from .ruleset import RuleMeta, RuleSpec

TICKS = 10_000_000  # FILETIME ticks per second
SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")
#: Correlations over correlations: at most this many deep.
MAX_CHAIN = 8
#: What a `temporal_ordered` window keeps per group at most (`_Ordered`): one number per step of
#: the sequence and count short of the full one (a full sequence: one per step).
MAX_ORDERED_CELLS = 100_000


@dataclass(frozen=True, slots=True)
class Correlation:
    """A correlation rule ready to run: `rule` (its index in the result's rules), the indexes of
    the rules it refers to (in order), and its spec."""

    rule: int
    refs: tuple[int, ...]
    spec: RuleSpec


def _threshold(op: str, count: float) -> float:
    return count + 1 if op == "gt" else count


def _top(size: int, need: float) -> int:
    """The count an ordered window of `size` steps follows up to: the threshold, within 1..size."""
    return size if need > size else max(1, math.ceil(need))


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
    if spec.correlation == "temporal_ordered" and spec.refs:
        size = len(spec.refs)
        top = _top(size, _threshold(op, spec.condition[1]))
        if size * min(top, size - top + 1) > MAX_ORDERED_CELLS:
            return f"temporal_ordered over {size:,} rules with a count of {top:,} (too many steps to follow)"
    return None


Ref = tuple[bool, int]  # (a correlation?, its position among the correlations or the other rules)


def link(rules: Sequence[RuleMeta], correlations: Sequence[tuple[RuleMeta, RuleSpec]],
         shown: int) -> tuple[list[tuple[int, tuple[Ref, ...]]], dict[int, str]]:
    """The correlations to run, each after those it refers to, with what they refer to (by name,
    else id; a rule before a correlation of the same name): the first `shown` correlations (the
    others were left out by the filters) that can run, and those they refer to, directly or
    through others. And why each of the `shown` ones that cannot run cannot."""
    by_key: dict[str, Ref] = {}
    for kind, metas in ((False, rules), (True, [meta for meta, _ in correlations])):
        for i, meta in enumerate(metas):
            for key in (meta.id, meta.name):
                if key:
                    by_key.setdefault(key, (kind, i))
    refs: list[tuple[Ref, ...]] = []
    why: dict[int, str] = {}
    for j, (_, spec) in enumerate(correlations):
        reason = why_not(spec)
        missing = next((r for r in spec.refs if r not in by_key), None) if reason is None else None
        if missing is not None:
            reason = f"refers to a rule that is not loaded ({missing})"
        if reason is not None:
            why[j] = reason
        refs.append(() if reason is not None else tuple(by_key[r] for r in spec.refs))
    # Inner correlations first (Kahn's order); those never ready are on a cycle or above one.
    waiting = [len({i for kind, i in found if kind}) for found in refs]
    users: dict[int, list[int]] = defaultdict(list)
    for j, found in enumerate(refs):
        for i in {i for kind, i in found if kind}:
            users[i].append(j)
    ready = deque(j for j, n in enumerate(waiting) if not n)
    depth = [0] * len(correlations)
    order: list[int] = []
    while ready:
        j = ready.popleft()
        order.append(j)
        inner = [i for kind, i in refs[j] if kind]
        if j not in why:
            stopped = next((i for i in inner if i in why), None)
            depth[j] = 1 + max((depth[i] for i in inner), default=0)
            if stopped is not None:
                meta = correlations[stopped][0]
                why[j] = f"refers to a correlation that cannot run ({meta.name or meta.id or meta.title})"
            elif depth[j] > MAX_CHAIN:
                why[j] = f"correlations chained more than {MAX_CHAIN} deep"
        for user in users[j]:
            waiting[user] -= 1
            if not waiting[user]:
                ready.append(user)
    for j, n in enumerate(waiting):
        if n:
            why[j] = "refers to itself, through correlations or directly (a cycle)"
    wanted = {j for j in range(shown) if j not in why}
    for j in reversed(order):  # (users come after what they refer to)
        if j in wanted:
            wanted.update(i for kind, i in refs[j] if kind)
    return [(j, refs[j]) for j in order if j in wanted], {j: r for j, r in why.items() if j < shown}


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
    counted = str(spec.condition[2]) if spec.correlation == "value_count" else None
    groups: dict[tuple[str, ...], list[Hit]] = defaultdict(list)
    for hit in hits:
        fields = hit[3]
        if counted is not None and counted not in fields:
            continue  # (value_count: no value to count)
        try:
            key = tuple(fields[f] for f in spec.group_by)
        except KeyError:
            continue  # (no group: a missing field is not the empty value)
        groups[key].append(hit)
    out: list[tuple[int, int, dict[str, str]]] = []
    need = _threshold(spec.condition[0], spec.condition[1])
    exact = spec.condition[0] == "eq"
    for key, items in groups.items():
        items.sort(key=lambda h: (h[0], h[2]))
        values = dict(zip(spec.group_by, key, strict=True))
        window = _window(spec, correlation.refs, need)
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
    with its threshold (None: below it). `event_count` as is: the count is the number of hits."""

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
    """`value_count`: the count is the number of distinct values of the field (every hit has
    one: `run` leaves out those without), kept as a Counter of the values in the window."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field
        self.seen: Counter[str] = Counter()

    def added(self, hit: Hit) -> None:
        self.seen[hit[3][self.field]] += 1

    def removed(self, hit: Hit) -> None:
        name = hit[3][self.field]
        self.seen[name] -= 1
        if not self.seen[name]:
            del self.seen[name]

    def cleared(self) -> None:
        self.seen.clear()

    def count(self) -> int | None:
        return len(self.seen)


class _Temporal(_Window):
    """`temporal`: the count is the number of referred rules with a hit in the window (a rule
    referred to twice: two hits count two). Hits per referred rule and the count are kept as
    they come and go, instead of collecting the rules present from the whole window at every
    hit."""

    def __init__(self, refs: tuple[int, ...]) -> None:
        super().__init__()
        self.wanted: dict[int, int] = dict(Counter(refs))  # references per rule
        self.per_rule: dict[int, int] = {}
        self.met = 0  # references with a hit of their own in the window

    def added(self, hit: Hit) -> None:
        rule = hit[1]
        want = self.wanted.get(rule)
        if want:
            had = self.per_rule.get(rule, 0)
            self.per_rule[rule] = had + 1
            if had < want:
                self.met += 1

    def removed(self, hit: Hit) -> None:
        rule = hit[1]
        want = self.wanted.get(rule)
        if want:
            left = self.per_rule[rule] - 1
            self.per_rule[rule] = left
            if left < want:
                self.met -= 1

    def cleared(self) -> None:
        self.per_rule.clear()
        self.met = 0

    def count(self) -> int | None:
        return self.met


class _Ordered(_Window):
    """`temporal_ordered`: the count is the most referred rules whose hits are in the window in
    the order they are listed (the longest common subsequence of the sequence and the window's
    hits: other hits may come between, a rule referred to twice needs two hits, one hit counts
    once). With the default condition (all of them) the whole sequence in order.

    Exact and incremental: number the hits of the group 0, 1, ... as they come, and keep for
    each prefix refs[:j] and count k the latest position `latest[j][k]` such that the hits from
    there to the newest hold k of refs[:j] in order (-1: none). A new hit at position p of rule r
    can complete a count with each place j of r in refs: latest[j][k] = max(latest[j][k],
    latest[j - 1][k - 1]) (latest[.][0] = p), the places taken last first so that one hit is
    not used twice, and a raised value carries to the longer prefixes (latest[j][k] never falls
    as j grows). The window, hits `start` to p, holds `top` of them in order exactly when
    latest[len(refs)][top] >= start. Hits leaving (by age or the clear after a match) only move
    `start`: nothing to undo. Only the counts that can still reach `top` are kept (for prefix j,
    k from top - (len(refs) - j) to top): with the default condition one per prefix, and a hit
    costs one step per place its rule has in refs."""

    def __init__(self, refs: tuple[int, ...], need: float) -> None:
        super().__init__()
        size = self.size = len(refs)
        top = self.top = _top(size, need)
        self.slots: dict[int, tuple[int, ...]] = {}
        for j in range(size, 0, -1):  # last place first
            self.slots[refs[j - 1]] = (*self.slots.get(refs[j - 1], ()), j)
        self.low = [max(1, top - (size - j)) for j in range(size + 1)]
        self.latest = [[-1] * max(0, min(j, top) - self.low[j] + 1) for j in range(size + 1)]
        self.end = 0  # position of the next hit

    def added(self, hit: Hit) -> None:
        p, latest, low, size = self.end, self.latest, self.low, self.size
        for j in self.slots.get(hit[1], ()):
            row, before, lo = latest[j], latest[j - 1], low[j]
            for k in range(lo, lo + len(row)):
                start = p if k == 1 else before[k - 1 - low[j - 1]]
                if start <= row[k - lo]:
                    continue
                row[k - lo] = start
                for longer in range(j + 1, size + 1):  # carried on to the longer prefixes
                    at = k - low[longer]
                    if at < 0 or latest[longer][at] >= start:
                        break
                    latest[longer][at] = start
        self.end = p + 1

    def count(self) -> int | None:
        if not self.size:  # nothing to find: any window, even an empty one, has none of it
            return 0
        if self.latest[self.size][0] >= self.end - len(self.hits):
            return self.top
        return 0 if self.top == 1 else None  # (below `top`: known exactly only when it is 1)


def _window(spec: RuleSpec, refs: tuple[int, ...], need: float) -> _Window:
    """The window for the rule's type. Only SUPPORTED types reach here (`why_not`); any other
    is counted as temporal_ordered, as it always was."""
    if spec.correlation == "event_count":
        return _Window()
    if spec.correlation == "value_count":
        return _Values(str(spec.condition[2]))
    if spec.correlation == "temporal":
        return _Temporal(refs)
    return _Ordered(refs, need)
