"""The Processes view: per computer, the tree of process instances (parent -> children).

Built from `model.process_forest(computer)` (`core.correlate`): a pid reused on one host is two
instances, so two separate nodes; processes with no 4688 (running before the log began) are
marked `inferred` with the reason; each instance lists its handles and its exit. The same pid
on two computers is two processes: each computer is its own branch. `enter` on a process jumps
to its 4688 (or to the node's event).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.widgets import Static, Tree

from core.text import printable
from tui.correlation import NavTree, SingleTreeScreen, ViewNode, activate
from tui.model_cache import ModelReady, app_loaded, request_model

#: Below this many nodes the whole forest is unfolded; above it only computers and roots are.
UNFOLD_ALL_BELOW = 3000


def count_nodes(nodes: list[Any]) -> int:
    total = 0
    stack = list(nodes)
    while stack and total <= UNFOLD_ALL_BELOW:
        node = stack.pop()
        total += 1
        stack.extend(getattr(node, "children", None) or ())
    return total


def computer_branches(model: Any) -> list[ViewNode]:
    """One branch per computer holding its process forest."""
    branches: list[ViewNode] = []
    for computer in model.computers():
        forest = list(model.process_forest(computer))
        label = Text(printable(str(computer)), style="bold")
        label.append(f"  ({len(forest):,} root processes)" if forest else "  (no process seen)")
        branches.append(ViewNode(label, children=tuple(forest)))
    return branches


class ProcessesScreen(SingleTreeScreen):
    """Process instances per computer; `enter` jumps to the node's event (a process: its 4688)."""

    VIEW_TITLE = "Processes"
    WAITING = "building the process model..."
    TREE_ID = "processes-tree"
    SEARCH_HINT = "search processes (image, pid...)"

    @work(thread=True, exclusive=True, group="processes")
    def _load(self) -> None:
        request_model(self.app, self)

    def on_model_ready(self, message: ModelReady) -> None:
        status = self.query_one("#view-status", Static)
        tree = self.query_one(NavTree)
        tree.clear()
        if message.error or message.model is None:
            status.update(Text(message.error or "no correlation model", style="bold"))
            return
        branches = computer_branches(message.model)
        roots = sum(len(b.children) for b in branches)
        depth = 99 if count_nodes(list(branches)) <= UNFOLD_ALL_BELOW else 1
        tree.fill(branches, expand_depth=depth)
        text = f"{len(branches)} computers, {roots:,} root processes"
        if message.partial:
            text += "   (still loading: the tree will be rebuilt)"
            self.set_timer(1.0, self._reload_when_loaded)
        status.update(Text(text + "   enter: jump"))
        if branches:
            tree.move_cursor_to_line(0)

    def _reload_when_loaded(self) -> None:
        if app_loaded(self.app):
            self._load()
        else:
            self.set_timer(1.0, self._reload_when_loaded)

    @on(Tree.NodeSelected, "#processes-tree")
    def _selected(self, event: Tree.NodeSelected[Any]) -> None:
        event.stop()
        activate(self, event.node)
