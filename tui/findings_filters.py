"""The Findings view's filters: lowest level (`l`), MITRE ATT&CK tactic (`a`) and rule status (`s`).

The view's worker prepares every group once (`FindingsGroups`): the built-in rules' groups and
one node per Sigma rule with what the filters test (its level, status and tactics, from the rule
itself, never parsed back out of a label). Filtering is then a cheap regrouping on the main
thread, so a key press never reruns the rules. The three filters combine (AND). Built-in rules
carry no tactic or status: a tactic or status filter leaves them out, and the status line says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from core.model.text import printable
from tui.nav_tree import ViewNode

#: Every value of a filter ("all": no filter).
ALL = "all"


@dataclass(frozen=True, slots=True)
class SigmaRuleGroup:
    """One Sigma rule's node (its matches under it) and what the filters test."""

    node: ViewNode
    level: str  # the severity word (`SEVERITY_ORDER`: Sigma's informational is info)
    status: str
    tactics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BuiltinPages:
    """Where the built-in rules' findings are read a page at a time (`core.findings.pages`), the
    rule of each top node in order (node i + 1's is `rules[i]`) and how many findings there are."""

    pages: Any
    rules: tuple[str, ...]
    total: int


@dataclass(frozen=True, slots=True)
class FindingsGroups:
    """What the view's worker made of the findings: built-in groups (`(severity, node)`, the
    first page of each rule's findings), Sigma rules, the nodes shown whatever the filters
    (Sigma's coverage, a hint), and what reads the built-in rules' next pages (`found`)."""

    builtin: tuple[tuple[str | None, ViewNode], ...] = ()
    sigma: tuple[SigmaRuleGroup, ...] = ()
    always: tuple[ViewNode, ...] = ()
    found: BuiltinPages | None = None


@dataclass
class Filters:
    """The filters in force: the lowest level shown, a tactic and a status (ALL: any)."""

    min_level: str = "info"
    tactic: str = ALL
    status: str = ALL
    #: Severity rank (0 = most severe), from the view.
    rank: Callable[[str], int] = field(default=lambda s: 0)

    @property
    def narrows_rules(self) -> bool:
        """A tactic or status filter: only Sigma rules carry them."""
        return self.tactic != ALL or self.status != ALL

    def keeps_level(self, level: str | None) -> bool:
        return level is None or self.rank(level) <= self.rank(self.min_level)

    def keeps(self, rule: SigmaRuleGroup) -> bool:
        return (self.keeps_level(rule.level)
                and (self.tactic == ALL or self.tactic in rule.tactics)
                and (self.status == ALL or rule.status == self.status))

    def empty_note(self) -> str:
        """The line of a tree the filters left without any finding (it looked like a view
        with nothing to show): what they keep out, and the keys that show more."""
        kept = []
        if self.min_level != "info":
            kept.append(f"at {self.min_level} level or above")
        if self.tactic != ALL:
            kept.append(f"with tactic {printable(self.tactic)}")
        if self.status != ALL:
            kept.append(f"with status {printable(self.status)}")
        keys = "/".join(key for key, on in (("l", self.min_level != "info"), ("a", self.tactic != ALL),
                                            ("s", self.status != ALL)) if on)
        return f"no findings {' '.join(kept)} ({keys} shows more)"

    def describe(self) -> str:
        """The status line's part: what is shown, with the key that changes it."""
        parts = []
        if self.min_level != "info":
            parts.append(f"showing {self.min_level} and up (l)")
        if self.tactic != ALL:
            parts.append(f"tactic {printable(self.tactic)} (a)")
        if self.status != ALL:
            parts.append(f"status {printable(self.status)} (s)")
        if self.narrows_rules:
            parts.append("built-in rules hidden (no tactic or status)")
        return "   ".join(parts)


def next_value(current: str, values: list[str]) -> str:
    """The value after `current` in ALL, *values, then ALL again (a filter key's cycle)."""
    cycle = [ALL, *values]
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else ALL


def tactics_of(groups: FindingsGroups) -> list[str]:
    """The tactics of the Sigma rules that fired, in the order of first appearance."""
    return list(dict.fromkeys(t for g in groups.sigma for t in g.tactics))


def statuses_of(groups: FindingsGroups) -> list[str]:
    return sorted({g.status for g in groups.sigma if g.status})


def apply(groups: FindingsGroups, filters: Filters, sigma_level_name: Callable[[str], str]) -> list[ViewNode]:
    """The tree's top-level nodes under `filters`: built-in groups, then the kept Sigma rules
    grouped by level (most severe first, counted again), then the nodes always shown; a line
    saying so when the filters keep no finding."""
    out = [] if filters.narrows_rules else [n for lvl, n in groups.builtin if filters.keeps_level(lvl)]
    by_level: dict[str, list[SigmaRuleGroup]] = defaultdict(list)
    for rule in groups.sigma:
        if filters.keeps(rule):
            by_level[rule.level].append(rule)
    for level in sorted(by_level, key=filters.rank):
        rules = by_level[level]
        count = sum(len(r.node.children) for r in rules)
        label = Text(f"Sigma {printable(sigma_level_name(level))} ({count:,})", style="bold")
        out.append(ViewNode(label, children=tuple(r.node for r in rules)))
    if not out and (groups.builtin or groups.sigma):  # (the filters hide every finding)
        out.append(ViewNode(Text(filters.empty_note(), style="italic")))
    return [*out, *groups.always]
