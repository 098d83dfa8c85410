"""Sigma matches as records for the CLI's JSON, CSV and Markdown, and a coverage summary.

Every record carries the rule's author: the Detection Rule License (SigmaHQ's rules) requires
it wherever a match is shown or exported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from core.model.event import iso_from_filetime
from core.model.rows import source_of
from core.model.text import json_safe

from .engine import MAX_MATCHES_PER_RULE, SigmaMatch, SigmaResult

COLUMNS = ("engine", "time", "level", "title", "rule_id", "status", "author", "tactics", "techniques",
           "rule_file", "computer", "record_id", "event_id", "source", "fields")
LEVEL_ORDER = ("critical", "high", "medium", "low", "informational")


def match_record(result: SigmaResult, match: SigmaMatch, paths: Mapping[int, str] | None = None) -> dict[str, Any]:
    """One match as a JSON object (`COLUMNS`, then `file`: the input path of its event, from
    `paths` by source id, as `query` and `export` name it; "" without `paths`)."""
    rule = result.rules[match.rule]
    return {
        "engine": "sigma",
        "time": iso_from_filetime(match.time),
        "level": rule.level,
        "title": rule.title,
        "rule_id": rule.id,
        "status": rule.status,
        "author": rule.author,
        "tactics": list(rule.tactics),
        "techniques": list(rule.techniques),
        "rule_file": rule.path,
        "computer": match.computer,
        "record_id": match.record_id,
        "event_id": match.event_id,
        "source": match.source,
        "fields": dict(match.fields),
        "file": (paths or {}).get(source_of(match.store_id), ""),
    }


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def records(result: SigmaResult, paths: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    """Every match, most severe level first, then by time (`match_record`)."""
    out = [match_record(result, m, paths) for m in result.matches]
    out.sort(key=lambda r: (level_rank(r["level"]), r["time"] or "", r["title"]))
    return out


def fields_json(record: dict[str, Any]) -> str:
    """The matched fields as one JSON object with their exact values, as `export` writes its
    `data` column: a CSV cell `k=v; k=v` read a value `=evil; X=y` as two fields. (`json_safe`:
    a value's control character is a JSON escape, the same data to any JSON reader.)"""
    return json_safe(json.dumps(record.get("fields") or {}, ensure_ascii=False))


def flat(record: dict[str, Any], columns: Sequence[str] = COLUMNS) -> dict[str, str]:
    """A record's `columns` with lists and field maps as text to read (Markdown; CSV takes
    `fields_json`), a column it lacks empty."""
    out: dict[str, str] = {}
    for key in columns:
        value = record.get(key)
        if isinstance(value, list):
            out[key] = ", ".join(map(str, value))
        elif isinstance(value, dict):
            out[key] = "; ".join(f"{k}={v}" for k, v in value.items())
        else:
            out[key] = "" if value is None else str(value)
    return out


def coverage_lines(result: SigmaResult, ran: str = "ran") -> list[str]:
    """Rules run per source, rules skipped per source and reason, files that did not parse
    (`ran`: the verb, "can run" for a check without events)."""
    folded = getattr(result, "folded", 0)  # (a result pickled before the field)
    lines = [f"Sigma: {len(result.rules)} rules over {result.events:,} events in {result.seconds:.1f} s, "
             f"{len(result.matches):,} matches"
             + (f" ({folded} {'rule' if folded == 1 else 'rules'} folded into correlations)" if folded else "")]
    for source, n in sorted(result.ran.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {ran} {n:>5} on {source}")
    for source, reasons in sorted(result.skipped.items()):
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  skipped {n:>5} on {source}: {reason}")
    if result.missing:
        top = sorted(result.missing.items(), key=lambda kv: -kv[1])[:8]
        lines.append("  fields they need: " + ", ".join(f"{k} ({n})" for k, n in top))
    if folded:
        lines.append(f"  folded {folded:>4} into the correlations referring to them (generate: false): "
                     "their matches are counted there, not shown on their own")
    for reason, n in sorted(result.left_out.items()):
        lines.append(f"  left out {n:>4} by default ({reason}; see --min-level / --status)")
    for path, reason in result.errors:
        lines.append(f"  not loaded: {path}: {reason}")
    for rule, n in result.truncated.items():
        lines.append(f"  {result.rules[rule].title}: {n:,} matches, the first {MAX_MATCHES_PER_RULE:,} kept")
    copies = getattr(result, "copies", 0)  # (a result pickled before the field)
    if copies:
        lines.append(f"  {copies:,} matching events were copies of a record loaded twice: matched once")
    return lines


def per_rule(result: SigmaResult) -> list[tuple[int, int, Counter[str]]]:
    """(rule index, matches, per-host counts) per rule that fired, most severe then most
    frequent first."""
    counts: dict[int, Counter[str]] = {}
    for m in result.matches:
        counts.setdefault(m.rule, Counter())[m.computer] += 1
    rows = [(i, sum(c.values()), c) for i, c in counts.items()]
    rows.sort(key=lambda r: (level_rank(result.rules[r[0]].level), -r[1], result.rules[r[0]].title))
    return rows
