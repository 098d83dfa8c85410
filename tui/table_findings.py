"""The findings behind the event table's marker column and the detail pane's Findings node.

Once loading has finished the app runs the findings rules once over the whole store (a thread
worker), through the workspace's model cache the Findings view uses too; this is that worker's
body, and what the table and the detail pane get of its result: the severity of each flagged
event's most severe finding (the markers), and `EventFindings`, which reads one event's findings
when the detail pane shows it (most severe first): a store's findings stay in the store
(`core.findings.pages`), none is held for the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from core.findings.engine import Finding
from core.findings.pages import FindingsPages, pages_of
from core.store.store import StoreError
from tui.messages import FindingsComputed
from tui.model_cache import ModelCache, ViewDataError
from tui.table_rows import severity_rank


def _order(items: list[Finding]) -> list[Finding]:
    items.sort(key=lambda f: (severity_rank(f.severity), f.rule))
    return items


def findings_by_event(findings: Iterable[Finding]) -> dict[int, list[Finding]]:
    """Findings grouped by store id, each group most severe first (then by rule id)."""
    by_event: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_event[finding.store_id].append(finding)
    for items in by_event.values():
        _order(items)
    return dict(by_event)


class EventFindings(Mapping[int, Sequence[Finding]]):
    """Each flagged event's findings, most severe first (then by rule id), read when asked: the
    built-in rules' from `pages` (the store), plus `extra` ones held (Sigma matches). `highest`
    is the table's markers: each flagged event's most severe severity."""

    def __init__(self, pages: FindingsPages, highest: dict[int, str],
                 extra: Mapping[int, Sequence[Finding]] | None = None) -> None:
        self.pages = pages
        self.highest = highest
        self.extra: Mapping[int, Sequence[Finding]] = extra or {}

    def with_extra(self, findings: Iterable[Finding]) -> EventFindings:
        """These findings and `findings` (the Sigma matches) together."""
        extra = findings_by_event(findings)
        highest = dict(self.highest)
        for sid, items in extra.items():
            held, best = highest.get(sid), items[0].severity
            if held is None or severity_rank(best) < severity_rank(held):
                highest[sid] = best
            elif severity_rank(best) == severity_rank(held) and best != held:  # two unknown words: by rule id
                highest[sid] = _order([*self.pages.of_event(sid), *items])[0].severity
        return EventFindings(self.pages, highest, extra)

    def __getitem__(self, store_id: int) -> Sequence[Finding]:
        if store_id not in self.highest:
            raise KeyError(store_id)
        try:
            found = self.pages.of_event(store_id)
        except (StoreError, ValueError):  # the store gone or changed under the app: only what is held
            found = []
        return _order([*found, *self.extra.get(store_id, ())])

    def __iter__(self) -> Iterator[int]:
        return iter(self.highest)

    def __len__(self) -> int:
        return len(self.highest)


def compute_findings(models: ModelCache, path: Path, loaded: bool) -> FindingsComputed:
    """Blocking (a thread worker): the findings of the store at `path`, or why there are none."""
    try:
        data = models.findings(path, loaded)
        pages = pages_of(data)
        by_event = EventFindings(pages, pages.highest(severity_rank))
    except ViewDataError as exc:
        return FindingsComputed(path, None, {}, str(exc))
    except Exception as exc:  # noqa: BLE001 - shown in the detail pane, the app goes on
        return FindingsComputed(path, None, {}, f"{type(exc).__name__}: {exc}")
    return FindingsComputed(path, by_event, dict(data.titles))
