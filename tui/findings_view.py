"""The Findings view: what the 4688 monitoring rules (`core.findings.engine`) flag, grouped by rule.

One branch per rule that fired, with its severity (a word and a colour: it must read with
NO_COLOR) and how many events it flagged, most severe first; under it one line per flagged
event (time, computer, record, the rule's message). `enter` on a line jumps to the event.
The findings are computed once per store (`tui.model_cache`) in a worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.text import Text
from textual import on, work
from textual.widgets import Tree

from core.model.event import iso_from_filetime
from core.model.text import printable
from tui.messages import FindingsReady
from tui.model_cache import FindingsData
from tui.nav_tree import TreeItem, ViewNode
from tui.tree_views import SingleTreeScreen, activate

#: Most severe first; unknown severities sort last.
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
SEVERITY_STYLES = {
    "critical": "bold red reverse",
    "high": "bold red",
    "medium": "bold yellow",
    "low": "bold cyan",
    "info": "dim",
}


def severity_text(severity: str) -> Text:
    word = printable(severity.lower() or "?")
    return Text(f"{word:<8}", style=SEVERITY_STYLES.get(word, "bold"))


def _rank(severity: str) -> int:
    low = severity.lower()
    return SEVERITY_ORDER.index(low) if low in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _time_text(finding: Any) -> str:
    value = getattr(finding, "time", None)
    if value is None:
        return "no time"
    if isinstance(value, int):
        return iso_from_filetime(value) or "no time"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return printable(str(value))


def finding_line(finding: Any) -> Text:
    """`time  computer  record N  message` for one flagged event (all literal text)."""
    record = getattr(finding, "record_id", None)
    parts = [
        _time_text(finding),
        printable(str(getattr(finding, "computer", "") or "")),
        f"record {record}" if record is not None else "record ?",
        printable(str(getattr(finding, "message", "") or "")),
    ]
    return Text("  ".join(p for p in parts if p))


def group_findings(data: FindingsData) -> list[ViewNode]:
    """One node per rule that fired (most severe, then most frequent first), its findings under it
    in time order."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for finding in data.findings:
        groups[str(getattr(finding, "rule", "?"))].append(finding)
    nodes: list[tuple[int, int, str, ViewNode]] = []
    for rule, items in groups.items():
        severity = str(getattr(items[0], "severity", "") or data.severities.get(rule, ""))
        label = Text()
        label.append_text(severity_text(severity))
        label.append(" ")
        label.append(printable(rule), style="bold")
        label.append(f" ({len(items):,})")
        title = data.titles.get(rule)
        if title:
            label.append("  " + printable(title))
        items.sort(key=lambda f: (getattr(f, "time", None) is None, _time_text(f), getattr(f, "store_id", 0)))
        children = tuple(ViewNode(finding_line(f), event_id=getattr(f, "store_id", None)) for f in items)
        nodes.append((_rank(severity), -len(items), rule, ViewNode(label, children=children)))
    nodes.sort(key=lambda n: n[:3])
    return [n[3] for n in nodes]


class FindingsScreen(SingleTreeScreen):
    """Findings grouped by rule; `enter` on a finding jumps to its event."""

    VIEW_TITLE = "Findings"
    WAITING = "running the findings rules..."
    USES_MODEL = False
    TREE_ID = "findings-tree"
    SEARCH_HINT = "search the findings"

    @work(thread=True, exclusive=True, group="findings")
    def _load(self) -> None:
        self.workspace.request_findings(self, group_findings)

    def on_findings_ready(self, message: FindingsReady[list[ViewNode]]) -> None:
        data = message.data
        groups = None if message.error or data is None else message.prepared
        total = len(data.findings) if data is not None else 0
        summary = f"{total:,} findings from {len(groups or [])} rules" if total else "no rule fired"
        if data is not None and data.sources:
            summary += "   rules: " + ", ".join(printable(s) for s in data.sources)
        self.show_result(message.error or (None if data else "no findings"), groups,
                         depth=1 if groups is not None and len(groups) == 1 else 0, summary=summary,
                         partial=message.partial)

    @on(Tree.NodeSelected, "#findings-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
