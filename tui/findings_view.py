"""The Findings view: what the 4688 monitoring rules (`core.findings.engine`) flag, grouped by rule.

One branch per rule that fired, with its severity (a word and a colour: it must read with
NO_COLOR) and how many events it flagged, most severe first; under it one line per flagged
event (time, computer, record, the rule's message), read from the store a page at a time
(`tui.findings_pages`: a "more" line fetches the next; `/` searches the rest through the store).
`enter` on a line jumps to the event. The findings are computed once per store and kept in it
(`tui.model_cache`, `core.findings.pages`) in a worker thread.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message_pump import MessagePump
from textual.widgets import Static, Tree

from core.findings.engine import Finding
from core.findings.pages import FindingsPages, pages_of
from core.findings.sigma import HINT, SigmaResult, cached_sigma, rule_dirs, run_sigma
from core.findings.sigma.child import CHILD_SIGMA_EVENTS, sigma_in_child
from core.findings.sigma.progress import SigmaProgress
from core.findings.sigma.report import coverage_lines, per_rule
from core.model.event import iso_from_filetime
from core.model.text import printable
from core.store.child_process import ChildFailed
from core.store.store import Store, StoreError
from tui.findings_filters import (
    ALL,
    BuiltinPages,
    Filters,
    FindingsGroups,
    SigmaRuleGroup,
    apply,
    next_value,
    statuses_of,
    tactics_of,
)
from tui.findings_pages import PAGE as PAGE
from tui.findings_pages import finding_line as finding_line
from tui.findings_pages import finding_nodes, more_line, search_unshown
from tui.messages import FindingsReady, SigmaProgressed
from tui.model_cache import FindingsData, ModelCache, ViewDataError
from tui.nav_tree import ItemNode, NavTree, TreeItem, ViewNode
from tui.stored_views import StoredNode
from tui.tree_views import SingleTreeScreen, activate, add_page
from tui.words import plural
from tui.workspace import Workspace

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


def group_findings(data: FindingsData, pages: FindingsPages | None = None) -> tuple[list[ViewNode], tuple[str, ...]]:
    """One node per rule that fired (most severe, then most frequent first), the first page of
    its findings under it in time order; and the rules in the nodes' order (node i's children
    are fetched as `parent` i + 1). Counts come from the store (`rule_counts`): no finding is
    read beyond the first pages."""
    pages = pages or pages_of(data)
    nodes: list[tuple[int, int, str, str]] = []
    for rule, count, first in pages.rule_counts():
        severity = first or data.severities.get(rule, "")
        nodes.append((_rank(severity), -count, rule, severity))
    nodes.sort(key=lambda n: n[:3])
    out: list[ViewNode] = []
    for parent, (_, minus, rule, severity) in enumerate(nodes, 1):
        label = Text()
        label.append_text(severity_text(severity))
        label.append(" ")
        label.append(printable(rule), style="bold")
        label.append(f" ({-minus:,})")
        title = data.titles.get(rule)
        if title:
            label.append("  " + printable(title))
        out.append(ViewNode(label, children=tuple(finding_nodes(pages, rule, parent, 0))))
    return out, tuple(n[2] for n in nodes)


#: Hears a Sigma run's progress, then None when it has ended (`workspace_sigma`).
SigmaListener = Callable[[SigmaProgress | None], None]

def to_app(app: MessagePump) -> SigmaListener:
    """A listener posting the progress to `app` as typed messages (from any thread: the UI is
    touched only by their handlers, on the main thread)."""

    def tell(progress: SigmaProgress | None) -> None:
        app.post_message(SigmaProgressed(progress))

    return tell


#: Sigma levels as the severity words above.
SIGMA_LEVELS = {"informational": "info"}


def sigma_rule_groups(result: SigmaResult) -> tuple[list[SigmaRuleGroup], ViewNode]:
    """One node per Sigma rule that fired (counts per rule and host, the rule's author, which its
    license requires wherever a match is shown, its status and ATT&CK tags: the view's search
    and filters use them), one line per event under it; and a node saying what ran and what was
    skipped per source. `findings_filters.apply` groups the rules by level."""
    by_rule: dict[int, list[Any]] = defaultdict(list)
    for match in result.matches:
        by_rule[match.rule].append(match)
    rules: list[SigmaRuleGroup] = []
    for rule_index, count, hosts in per_rule(result):
        meta = result.rules[rule_index]
        level, title, author = meta.level, meta.title, meta.author
        label = Text()
        label.append_text(severity_text(SIGMA_LEVELS.get(level, level)))
        label.append(" " + printable(title), style="bold")
        label.append(f" ({count:,})  ")
        label.append(", ".join(f"{printable(h)}: {n:,}" for h, n in hosts.most_common(5)))
        label.append(f"  by {printable(author or '?')}", style="italic")
        label.append(f"  {printable(meta.status or '?')}")
        if meta.tactics:
            label.append("  [" + printable(", ".join(meta.tactics + meta.techniques)) + "]")
        items = sorted(by_rule[rule_index], key=lambda m: (m.time is None, m.time or 0, m.store_id))
        children = tuple(
            ViewNode(Text("  ".join([
                iso_from_filetime(m.time) or "no time", printable(m.computer), f"record {m.record_id}",
                printable(m.source), printable("; ".join(f"{k}={v}" for k, v in m.fields))[:300],
            ])), store_id=m.store_id)
            for m in items
        )
        rules.append(SigmaRuleGroup(ViewNode(label, children=children), SIGMA_LEVELS.get(level, level),
                                    meta.status, meta.tactics))
    lines = coverage_lines(result)
    coverage = ViewNode(printable(lines[0]), children=tuple(ViewNode(printable(x.strip())) for x in lines[1:]))
    return rules, coverage


def sigma_level_name(severity: str) -> str:
    """A severity word as Sigma spells the level (`info` is `informational`)."""
    return next((k for k, v in SIGMA_LEVELS.items() if v == severity), severity)


_RESULTS: weakref.WeakKeyDictionary[ModelCache, tuple[threading.Lock, dict[str, SigmaResult | None]]] = (
    weakref.WeakKeyDictionary()
)
_RESULTS_LOCK = threading.Lock()


def _stops(models: ModelCache, progress: SigmaListener | None) -> Callable[[SigmaProgress], None]:
    """`progress`, raising ViewDataError once the app has ended: an in-process run stops at its
    next rule file or batch of events instead of holding the app's exit."""

    def tell(p: SigmaProgress) -> None:
        models.check_stop()
        if progress is not None:
            progress(p)

    return tell


def workspace_sigma(ws: Workspace, progress: SigmaListener | None = None) -> SigmaResult | None:
    """The Sigma result of the workspace's loaded store (blocking: a worker's), computed once
    for the view and the table's markers, from the folders `--sigma` named (the environment
    `cli.cmd_open` sets) or the user's sigma folder; None without rules. Big stores run it in a
    child process. `progress` hears how far the run is, and None once it has ended (only when
    this call ran the rules: a result already made is returned at once)."""
    dirs = rule_dirs(None)
    if not dirs or not ws.loaded or ws.store_path is None:
        return None
    with _RESULTS_LOCK:
        if ws.models not in _RESULTS:  # one result per workspace (its model cache)
            _RESULTS[ws.models] = (threading.Lock(), {})
        lock, done = _RESULTS[ws.models]
    path = ws.store_path
    with lock:
        if str(path) in done:
            return done[str(path)]
        with Store(path, readonly=True) as reader:
            kept = cached_sigma(reader, dirs)  # a reopen: kept with the store, no child started
        if kept is not None:
            done[str(path)] = kept
            return kept
        store = Store(path)
        try:
            if store.shareable and store.size() >= CHILD_SIGMA_EVENTS:
                try:
                    sigma_in_child(path, dirs, ws.models.stop, progress=progress)
                except ChildFailed:
                    if ws.models.stop.is_set():
                        return None
            result = run_sigma(store, dirs, progress=_stops(ws.models, progress))  # a child's: from the cache
        except ViewDataError:
            return None  # the app has ended: nothing is kept, nobody waits for it
        finally:
            store.close()
            if progress is not None:
                progress(None)
        done[str(path)] = result
        return result


def findings_groups(data: FindingsData, ws: Workspace, progress: SigmaListener | None = None) -> FindingsGroups:
    """The view's groups (the worker's part): built-in rules' groups (their first pages, and what
    fetches the next ones), Sigma rules, and the Sigma coverage node or a hint."""
    try:
        pages = pages_of(data)
        nodes, rules = group_findings(data, pages)
    except (StoreError, ValueError) as exc:  # the store gone or changed under the app
        raise ViewDataError(f"findings unreadable: {type(exc).__name__}: {exc}") from exc
    builtin = tuple((group_level(node), node) for node in nodes)
    found = BuiltinPages(pages, rules, len(data.findings))
    if not rule_dirs(None):
        return FindingsGroups(builtin, always=(ViewNode(printable(HINT)),), found=found)
    if not ws.loaded:
        return FindingsGroups(builtin, always=(ViewNode("Sigma rules run once the inputs are loaded"),), found=found)
    result = workspace_sigma(ws, progress)
    if result is None:
        return FindingsGroups(builtin, found=found)
    sigma, coverage = sigma_rule_groups(result)
    return FindingsGroups(builtin, tuple(sigma), (coverage,), found=found)


def sigma_findings(ws: Workspace, progress: SigmaListener | None = None) -> tuple[list[Finding], dict[str, str]]:
    """The Sigma matches as findings for the table's marker column and the detail pane (the
    rule's author in the title they show), and those titles by rule."""
    result = workspace_sigma(ws, progress)
    if result is None:
        return [], {}
    titles: dict[str, str] = {}
    out: list[Finding] = []
    for m in result.matches:
        meta = result.rules[m.rule]
        rule = f"sigma:{meta.id or meta.title}"
        titles[rule] = f"{meta.title} (Sigma, by {meta.author or '?'})"
        severity = SIGMA_LEVELS.get(meta.level, meta.level) or "info"
        message = f"{meta.title} (by {meta.author or '?'})"
        out.append(Finding(rule, severity, m.store_id, m.record_id, m.event_id, m.computer, m.time, message, m.fields))
    return out, titles


def group_level(node: ViewNode) -> str | None:
    """The severity a top-level group stands for (a built-in rule's, or `Sigma <level>`), or
    None for the nodes that are not findings (Sigma's coverage, a hint)."""
    plain = node.label.plain if isinstance(node.label, Text) else str(node.label)
    words = plain.split()
    if len(words) > 1 and words[0] == "Sigma":
        words = words[1:]
    word = SIGMA_LEVELS.get(words[0], words[0]) if words else ""
    return word if word in SEVERITY_ORDER else None


class FindingsScreen(SingleTreeScreen):
    """Findings grouped by rule; `enter` on a finding jumps to its event; `l` raises the lowest
    severity shown (info, low, medium, high, critical, then all again); `a` cycles the ATT&CK
    tactics and `s` the statuses of the Sigma rules that fired (then all again). The filters
    combine (`tui.findings_filters`)."""

    VIEW_TITLE = "Findings"
    WAITING = "running the findings rules..."
    USES_MODEL = False
    TREE_ID = "findings-tree"
    SEARCH_HINT = "search the findings (rule, author, tactic, status, host)"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "min_level", "Min level"),
        Binding("a", "tactic", "Tactic"),
        Binding("s", "status", "Status"),
    ]

    _last: FindingsReady[FindingsGroups] | None = None

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.filters = Filters(rank=_rank)

    @property
    def min_level(self) -> str:
        """The lowest severity shown ("info": everything)."""
        return self.filters.min_level

    def _refilter(self) -> None:
        if self._last is not None:
            self.on_findings_ready(self._last)

    def _groups(self) -> FindingsGroups:
        prepared = self._last.prepared if self._last is not None else None
        return prepared if prepared is not None else FindingsGroups()

    def action_min_level(self) -> None:
        order = SEVERITY_ORDER[::-1]  # info, low, medium, high, critical
        self.filters.min_level = order[(order.index(self.filters.min_level) + 1) % len(order)]
        self._refilter()

    def action_tactic(self) -> None:
        values = tactics_of(self._groups())
        if not values and self.filters.tactic == ALL:
            self._nothing_to_cycle("tactic", "ATT&CK tactics")
            return
        self.filters.tactic = next_value(self.filters.tactic, values)
        self._refilter()

    def action_status(self) -> None:
        values = statuses_of(self._groups())
        if not values and self.filters.status == ALL:
            self._nothing_to_cycle("status", "statuses")
            return
        self.filters.status = next_value(self.filters.status, values)
        self._refilter()

    def _nothing_to_cycle(self, what: str, carried: str) -> None:
        """`a`/`s` with no value to cycle did nothing, silently: say why (only Sigma rules carry
        tactics and statuses)."""
        if self._last is None or self._last.prepared is None:
            why = "the findings are not ready yet"
        elif not self._groups().sigma:
            why = f"only Sigma rules carry {carried}, and none fired"
        else:
            why = "none of the Sigma rules that fired has one"
        self.notify(f"no {what} to filter by: {why}", severity="warning", markup=False)

    @work(thread=True, exclusive=True, group="findings")
    def _load(self) -> None:
        ws = self.workspace
        tell = to_app(self.app)
        ws.request_findings(self, lambda data: findings_groups(data, ws, tell))

    def on_sigma_progressed(self, message: SigmaProgressed) -> None:
        """While the view waits for its findings, the Sigma run's progress under its title."""
        status = self.query_one("#view-status", Static)
        if message.progress is not None and str(status.render()).startswith(self.WAITING):
            status.update(Text(f"{self.WAITING}   {message.progress.text()}"))

    def on_findings_ready(self, message: FindingsReady[FindingsGroups]) -> None:
        self._last = message
        data = message.data
        prepared = None if message.error or data is None else message.prepared
        groups = None if prepared is None else apply(prepared, self.filters, sigma_level_name)
        found = prepared.found if prepared is not None else None
        total = found.total if found is not None else 0
        fired = len(found.rules) if found is not None else 0
        summary = f"{plural(total, 'finding')} from {plural(fired, 'rule')}" if total else "no built-in rule fired"
        if data is not None and data.sources:
            summary += "   rules: " + ", ".join(printable(s) for s in data.sources)
        shown = self.filters.describe()
        if shown:
            summary += "   " + shown
        # Open one level more when there is a single group or only Sigma's (no built-in rule fired).
        depth = 1 if groups is not None and (len(groups) == 1 or not fired or self.filters.narrows_rules) else 0
        self.show_result(message.error or (None if data else "no findings"), groups, depth=depth, summary=summary,
                         partial=message.partial)

    def fetch_page(self, parent: int, after: int | None, before: int | None = None) -> list[TreeItem]:
        """In a worker: the next page of the findings of the rule of top node `parent` (a
        "more" line's), read from the store."""
        found = self._groups().found
        if found is None or not 0 < parent <= len(found.rules):
            return []
        try:
            return finding_nodes(found.pages, found.rules[parent - 1], parent, after or 0, before)
        except (StoreError, ValueError) as exc:  # the store gone or changed under the app
            self.app.call_from_thread(self.notify, printable(f"findings unreadable: {type(exc).__name__}: {exc}"),
                                      severity="error", markup=False)
            return []

    def _unshown(self) -> list[tuple[int, str, int, ItemNode]]:
        """Per built-in rule shown with findings not fetched yet: (its parent number, rule, the
        last place fetched, its "more" line), in the tree's order."""
        found = self._groups().found
        if found is None:
            return []
        out = []
        for top in self.query_one(NavTree).root.children:
            more = top.children[-1] if top.children else None
            data = more.data if more is not None else None
            if (more is not None and isinstance(data, StoredNode) and data.more_after is not None
                    and data.more_before is None and 0 < data.parent_id <= len(found.rules)):
                out.append((data.parent_id, found.rules[data.parent_id - 1], data.more_after, more))
        return out

    def action_search_next(self, forward: bool = True) -> None:
        """`/` and `n`/`N` over the findings shown; past them, over those still in the store
        (each rule's not fetched yet, in the view's order): the page holding the match is
        fetched and shown, a "more" line standing for the ones skipped."""
        tree = self.query_one(NavTree)
        if not self._search_text or tree.find(self._search_text, forward) is not None:
            super().action_search_next(forward)
            return
        unshown = self._unshown()
        if not unshown:
            super().action_search_next(forward)  # (says "not found")
            return
        self._search_store(self._search_text, [(p, rule, after) for p, rule, after, _ in unshown])

    @work(thread=True, exclusive=True, group="findings-search")
    def _search_store(self, text: str, todo: list[tuple[int, str, int]]) -> None:
        found = self._groups().found
        try:
            hit = search_unshown(found.pages, todo, text.lower()) if found is not None else None
            nodes = [] if hit is None or found is None else finding_nodes(
                found.pages, found.rules[hit[0] - 1], hit[0], hit[1] - 1)
        except (StoreError, ValueError) as exc:  # the store gone or changed under the app
            self.app.call_from_thread(self.notify, printable(f"search failed: {type(exc).__name__}: {exc}"),
                                      severity="error", markup=False)
            return
        self.app.call_from_thread(self._show_found, text, hit, nodes)

    def _show_found(self, text: str, hit: tuple[int, int] | None, nodes: list[TreeItem]) -> None:
        tree = self.query_one(NavTree)
        more = next((m for p, _, after, m in self._unshown() if hit is not None and p == hit[0] and after < hit[1]),
                    None)
        if hit is None or more is None or more.parent is None or not nodes:
            self.notify(f"not found: {printable(text)}", severity="warning", markup=False)
            return
        parent, pos = hit
        data = more.data
        assert isinstance(data, StoredNode) and data.more_after is not None
        top = more.parent
        more.remove()
        if pos - 1 > data.more_after:  # the findings skipped: a "more" line of their own
            add_page(top, [more_line(parent, data.more_after, pos)])
        first = len(top.children)
        add_page(top, nodes)
        target = top.children[first]
        tree.reveal(target)
        tree.focus()

    @on(Tree.NodeSelected, "#findings-tree")
    def _selected(self, event: Tree.NodeSelected[TreeItem]) -> None:
        event.stop()
        activate(self, event.node)
