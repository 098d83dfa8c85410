"""Findings: the 4688 security-monitoring recommendations run over events.

Each rule (configured in `core.findings.rules`) looks at one event and says why it fired, in one line,
with the field values that made it fire as evidence. `run_findings` streams: it keeps only a
table of live processes per computer (pid -> integrity level), which is what the
"integrity above the parent's" rule needs, so memory does not grow with the log.

Accounts: the recommendations name the "Creator Subject" and the "Target Subject" of 4688. Both
are checked by the account rules. The token rules (%%1936 / %%1937) look at the account the new
process runs as: the Target Subject when the event has one (the creator started the process
for another logon), else the Creator Subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.findings.checks import ABOVE_PARENT, CHECKS
from core.findings.parents import (
    PROCESS_CREATED,
    ParentInfo,
    ParentLookup,
    ProcessTable,
    check_above_parent,
    store_parent_lookup,
)
from core.findings.rules import Rule, RulesError, RuleSet, load_rules
from core.model.event import Event
from core.model.same_records import record_key

if TYPE_CHECKING:
    from core.store.store import Store, StoredEvent

__all__ = ["Finding", "FindingsData", "RuleSet", "RulesError", "findings_for_event", "load_rules", "run_findings"]

@dataclass(frozen=True, slots=True)
class Finding:
    """One rule firing on one event.

    `time` is the event's FILETIME (100 ns ticks, UTC) or None; render it with
    `core.model.event.iso_from_filetime`. `evidence` holds the (field, value) pairs that made the rule
    fire; `related_store_id` points at a second record the finding relies on (the parent's 4688
    for the integrity rule).
    """

    rule: str
    severity: str
    store_id: int
    record_id: int | None
    event_id: int
    computer: str
    time: int | None
    message: str
    evidence: tuple[tuple[str, str], ...] = ()
    related_store_id: int | None = None


# -- the engine -------------------------------------------------------------------------------


def _finding(
    rule: Rule, store_id: int, event: Event, verdict: tuple[str, list[tuple[str, str]]], related: int | None = None
) -> Finding:
    message, evidence = verdict
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        store_id=store_id,
        record_id=event.record_id,
        event_id=event.event_id,
        computer=event.computer,
        time=event.filetime,
        message=" ".join(message.split())[:1000],
        evidence=tuple((k, v[:1000]) for k, v in evidence),
        related_store_id=related,
    )


def evaluate(rules: RuleSet, store_id: int, event: Event, parent: ParentInfo | None) -> list[Finding]:
    """Every enabled rule on one event; `parent` is its parent's 4688 (for the integrity rule)."""
    out: list[Finding] = []
    for rule in rules.rules:
        if not rule.enabled or event.event_id not in rule.event_ids:
            continue
        if rule.id == ABOVE_PARENT:
            verdict = check_above_parent(rule, event, parent)
            if verdict is not None:
                out.append(_finding(rule, store_id, event, verdict, parent.store_id if parent else None))
            continue
        verdict = CHECKS[rule.id](rule, event)
        if verdict is not None:
            out.append(_finding(rule, store_id, event, verdict))
    return out


def needed_event_ids(rules: RuleSet) -> list[int]:
    """The event IDs the enabled rules look at: callers may feed `run_findings` only those."""
    return sorted({eid for rule in rules.enabled for eid in rule.event_ids})


def iter_store_events(store: Store, rules: RuleSet) -> Iterator[StoredEvent]:
    """The store's events that the enabled rules need, in time order (what `run_findings` wants)."""
    return store.iter_events_of(needed_event_ids(rules))


def run_findings(events: Iterable[StoredEvent], rules: RuleSet) -> list[Finding]:
    """Run the rules over `events`, which must come in time order (`Store.iter_events`'s
    default order), streaming: only the live-process table is kept between events."""
    table = ProcessTable()
    track = any(r.enabled and r.id == ABOVE_PARENT for r in rules.rules)
    out: list[Finding] = []
    #: The events that fired, by what makes two the same record: a copy of one (the same log
    #: loaded twice, `core.model.same_records`) adds no finding of its own.
    fired: dict[tuple[Any, ...], int] = {}
    for store_id, event in events:
        parent = table.parent(event) if track and event.event_id == PROCESS_CREATED else None
        found = evaluate(rules, store_id, event, parent)
        if found and fired.setdefault(record_key(event.computer, event.channel, event.filetime, event.record_id,
                                                 event.event_id, event.data), store_id) == store_id:
            out.extend(found)
        if track:
            table.feed(store_id, event)
    return out


@dataclass(frozen=True)
class FindingsData:
    """The findings of a store, with the title and severity of each rule (for grouping) and
    where the rules came from (built-in defaults, the user's file); `rules_digest` is the
    rules' `RuleSet.digest`, what they are kept with the store under (`core.findings.stored`).
    `findings` is a list, or the rows kept with the store read when asked
    (`core.findings.pages.StoredFindingList`: the app never holds them all)."""

    findings: Sequence[Finding]
    titles: dict[str, str]
    severities: dict[str, str]
    sources: tuple[str, ...]
    rules_digest: str = ""


def store_findings(store: Store, rules: RuleSet) -> FindingsData:
    """Every finding of `rules` over the whole store."""
    findings = run_findings(iter_store_events(store, rules), rules)
    return FindingsData(
        findings=findings,
        titles={r.id: r.title for r in rules.rules},
        severities={r.id: r.severity for r in rules.rules},
        sources=tuple(rules.sources),
        rules_digest=rules.digest,
    )


def findings_for_event(
    stored: StoredEvent, rules: RuleSet, store: Store | None = None, *, lookup: ParentLookup | None = None
) -> list[Finding]:
    """Which rules fire on one event and why (the UI's detail pane).

    The integrity-above-parent rule needs the parent's 4688: pass the `store` (or a `lookup`);
    without either that rule is skipped for this event.
    """
    store_id, event = stored
    parent: ParentInfo | None = None
    if event.event_id == PROCESS_CREATED:
        finder = lookup or (store_parent_lookup(store) if store is not None else None)
        if finder is not None:
            parent = finder(event, store_id)
    return evaluate(rules, store_id, event, parent)


def findings_json(finding: Finding) -> dict[str, Any]:
    """The CLI's JSON object for one finding."""
    from core.model.event import iso_from_filetime

    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "record_id": finding.record_id,
        "event_id": finding.event_id,
        "computer": finding.computer,
        "time": iso_from_filetime(finding.time),
        "message": finding.message,
    }
