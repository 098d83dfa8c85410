"""The Findings view's lines of the built-in rules' findings, read a page at a time from the store.

A store's findings stay in the store (`core.findings.pages`: ~200,000 at 10M events, 350 MB as
objects): under each rule's node the view shows the first PAGE in time order and a "more" line
that fetches the next PAGE (`FindingsScreen.fetch_page`); `/` looks past the lines shown through
the store (`search_unshown`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from core.findings.engine import Finding
from core.findings.pages import FindingsPages
from core.model.event import iso_from_filetime
from core.model.text import printable
from tui import stored_views
from tui.nav_tree import TreeItem, ViewNode
from tui.stored_views import StoredNode


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


def more_line(parent: int, after: int, before: int | None = None) -> StoredNode:
    """The line standing for rule node `parent`'s findings after place `after` (and before
    `before`) not fetched yet: `enter` on it fetches the next page."""
    return StoredNode(f"... more: enter to show the next {PAGE:,}", parent_id=parent, more_after=after,
                      more_before=before)


#: Findings shown at once under a rule's node: a "more" line last fetches the next ones (a
#: store's findings stay in the store, `core.findings.pages`: 200,000 at 10M events).
PAGE = stored_views.PAGE


def finding_nodes(pages: FindingsPages, rule: str, parent: int, after: int,
                  before: int | None = None) -> list[TreeItem]:
    """The page of `rule`'s findings after place `after` (0: from the first) and before place
    `before` (None: up to the last), in time order, and a "more" line standing for the rest
    (node `parent`'s: `FindingsScreen.fetch_page`). A rule's places run 1..n without a gap."""
    if before is None:
        found = pages.rule_page(rule, after, PAGE + 1)
        rest = len(found) > PAGE
    else:
        found = pages.rule_page(rule, after, max(0, min(PAGE, before - after - 1)))
        rest = bool(found) and found[-1][0] < before - 1
    out: list[TreeItem] = [ViewNode(finding_line(f), store_id=f.store_id) for _, f in found[:PAGE]]
    if rest:
        out.append(more_line(parent, found[min(PAGE, len(found)) - 1][0], before))
    return out


def line_text(finding: Finding) -> str:
    """`finding_line(finding).plain`, without making the `Text` (a search reads thousands)."""
    record = finding.record_id
    parts = [_time_text(finding), printable(str(finding.computer or "")),
             f"record {record}" if record is not None else "record ?", printable(str(finding.message or ""))]
    return "  ".join(p for p in parts if p)


#: Findings read at once when `/` looks past the ones shown.
SEARCH_CHUNK = 2000


def search_unshown(pages: FindingsPages, todo: list[tuple[int, str, int]], needle: str) -> tuple[int, int] | None:
    """(parent, place) of the first finding, in the view's order, whose line contains `needle`
    (lower case) among those not shown yet: `todo` gives per rule (its node `parent`, the rule,
    the last place shown). Bounded by the rules' findings."""
    for parent, rule, after in todo:
        while True:
            found = pages.rule_page(rule, after, SEARCH_CHUNK)
            for pos, finding in found:
                if needle in line_text(finding).lower():
                    return parent, pos
            if len(found) < SEARCH_CHUNK:
                break
            after = found[-1][0]
    return None
