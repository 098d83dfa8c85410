"""The findings behind the event table's marker column and the detail pane's Findings node.

Once loading has finished the app runs the findings rules once over the whole store (a thread
worker), through the workspace's model cache the Findings view uses too; this is that worker's
body, and how its result is grouped for the table (the most severe finding of each event first).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from core.findings.engine import Finding
from tui.messages import FindingsComputed
from tui.model_cache import ModelCache, ViewDataError
from tui.table_rows import severity_rank


def findings_by_event(findings: Iterable[Finding]) -> dict[int, list[Finding]]:
    """Findings grouped by store id, each group most severe first (then by rule id)."""
    by_event: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_event[finding.store_id].append(finding)
    for items in by_event.values():
        items.sort(key=lambda f: (severity_rank(f.severity), f.rule))
    return dict(by_event)


def compute_findings(models: ModelCache, path: Path, loaded: bool) -> FindingsComputed:
    """Blocking (a thread worker): the findings of the store at `path`, or why there are none."""
    try:
        data = models.findings(path, loaded)
    except ViewDataError as exc:
        return FindingsComputed(path, None, {}, str(exc))
    except Exception as exc:  # noqa: BLE001 - shown in the detail pane, the app goes on
        return FindingsComputed(path, None, {}, f"{type(exc).__name__}: {exc}")
    return FindingsComputed(path, findings_by_event(data.findings), dict(data.titles))
