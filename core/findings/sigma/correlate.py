"""Sigma correlation rules over the matches of the rules they refer to.

`event_count` (at least N matches), `value_count` (at least N distinct values of a field) and
`temporal` / `temporal_ordered` (every referred rule matched, in order for the latter) within
`timespan`, per value of the `group-by` fields. Windows slide over the matches in time order;
when one satisfies the condition, one correlation match is reported (on its last event) and
the window starts again after it. Conditions that can only be decided when a window closes
(`lt`, `lte`, `neq`) and value_sum/value_avg are not evaluated: such rules are listed as
skipped with that reason.
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
    if spec.correlation in ("event_count", "value_count") and op not in ("gte", "gt", "eq"):
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
    """(index of the last match, count, group values) per window that satisfied the rule."""
    spec = correlation.spec
    span = spec.timespan * TICKS
    groups: dict[tuple[str, ...], list[Hit]] = defaultdict(list)
    for hit in hits:
        groups[tuple(hit[3].get(f, "") for f in spec.group_by)].append(hit)
    out: list[tuple[int, int, dict[str, str]]] = []
    need = _threshold(spec.condition[0], spec.condition[1])
    for key, items in groups.items():
        items.sort(key=lambda h: (h[0], h[2]))
        values = dict(zip(spec.group_by, key, strict=True))
        window: deque[Hit] = deque()
        seen: Counter[str] = Counter()
        for hit in items:
            window.append(hit)
            if spec.correlation == "value_count":
                seen[hit[3].get(str(spec.condition[2]), "")] += 1
            while window and hit[0] - window[0][0] > span:
                old = window.popleft()
                if spec.correlation == "value_count":
                    name = old[3].get(str(spec.condition[2]), "")
                    seen[name] -= 1
                    if not seen[name]:
                        del seen[name]
            count = _count(spec, correlation.refs, window, len(seen))
            if count is not None and count >= need:
                out.append((hit[2], count, values))
                window.clear()
                seen.clear()
    return out


def _count(spec: RuleSpec, refs: tuple[int, ...], window: deque[Hit], distinct: int) -> int | None:
    if spec.correlation == "event_count":
        return len(window)
    if spec.correlation == "value_count":
        return distinct
    present = {h[1] for h in window}
    if spec.correlation == "temporal":
        return len(window) if all(r in present for r in refs) else None
    step = 0  # temporal_ordered: the referred rules appear in this order in the window
    for h in window:
        if step < len(refs) and h[1] == refs[step]:
            step += 1
    return len(window) if step == len(refs) else None
