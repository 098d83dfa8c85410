"""The Processes forest made as it is read (`core.correlate.forest`): node for node the forest
`process_forest` makes at once, and walked depth first by the tables' writer with only the
children lists on its way down alive (the whole forest was 5.25 M objects at 10 M events)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from rich.text import Text

from core.correlate.links import Node
from core.correlate.model import CorrelationModel, build_model
from core.model.text import printable
from tests.correlate.events import h4656, h4658, load, p4688, p4689
from tests.correlate.test_correlate_store import _hand_made
from tui.nav_tree import TreeItem, ViewNode
from tui.processes import stored_forest
from tui.stored_views import tree_rows


def family_log(parents: int = 20, children: int = 8, handles: int = 2) -> list[str]:
    """Two computers; on each, `parents` cmd.exe under System, each starting `children`
    processes that open and close `handles` handles, some exiting, one pid reused; a last
    parent with 60 handles (its list cut to its edges) and children logged out of order."""
    docs: list[str] = []
    rid = 0

    def add(make: object, *args: object, **kw: object) -> None:
        nonlocal rid
        rid += 1
        docs.append(make(rid, *args, **kw))  # type: ignore[operator]

    for host in ("HOST1", "HOST2"):
        sec = 0.0
        for i in range(parents):
            ppid = f"0x{0x1000 + i * 0x100:x}"
            add(p4688, sec, ppid, r"C:\Windows\System32\cmd.exe", "0x4", computer=host)
            for j in range(children):
                pid = f"0x{0x1000 + i * 0x100 + (j + 1) * 4:x}"
                image = rf"C:\tools\child{j}.exe"
                sec += 1.0
                add(p4688, sec, pid, image, ppid, computer=host)
                for k in range(handles):
                    add(h4656, sec + 0.1, pid, f"0x{0x40 + k * 4:x}", rf"\REGISTRY\MACHINE\K{k}", image,
                        computer=host)
                    add(h4658, sec + 0.2, pid, f"0x{0x40 + k * 4:x}", image, computer=host)
                if j % 3 == 0:
                    add(p4689, sec + 0.5, pid, image, computer=host)
            if i == 0:  # the first child's pid reused after its exit
                sec += 1.0
                add(p4688, sec, f"0x{0x1000 + 4:x}", r"C:\tools\reuse.exe", ppid, computer=host)
        sec += 1.0
        big = "0x9000"
        add(p4688, sec, big, r"C:\tools\big.exe", "0x4", computer=host)
        for k in range(60):
            add(h4656, sec + 0.01 * (k + 1), big, f"0x{0x100 + k * 4:x}", rf"\REGISTRY\MACHINE\B{k}",
                r"C:\tools\big.exe", computer=host)
        add(p4688, sec + 2.0, "0x9104", r"C:\tools\late.exe", big, computer=host)
        add(p4688, sec + 1.5, "0x9108", r"C:\tools\early.exe", big, computer=host)
    return docs


def old_branches(model: CorrelationModel) -> list[TreeItem]:
    """The computer branches as the Processes view made them before: every node at once."""
    out: list[TreeItem] = []
    for computer in model.computers():
        forest = list(model.process_forest(computer))
        label = Text(printable(str(computer)), style="bold")
        label.append(f"  ({len(forest):,} root processes)" if forest else "  (no process seen)")
        out.append(ViewNode(label, children=tuple(forest)))
    return out


def test_the_forest_made_as_read_is_the_forest_made_at_once() -> None:
    for docs in (family_log(), _hand_made()):
        model = build_model(load(*docs))
        old = list(tree_rows(old_branches(model)))
        new = list(tree_rows(stored_forest(model).tree or ()))
        assert len(new) > 20 and new == old


def _live_nodes() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Node))


def test_the_writer_streams_the_forest_without_holding_it() -> None:
    model = build_model(load(*family_log()))
    gc.collect()
    before = _live_nodes()
    rows = tree_rows(stored_forest(model).tree or ())
    written, most = 0, 0
    for written, _row in enumerate(rows, 1):
        if written % 25 == 0:
            most = max(most, _live_nodes() - before)
    assert written > 1500
    # The children lists on the way down (System's 22 children, then big.exe's 104: two
    # processes, its handles cut to 51 lines with a close line each, its exit), not the forest.
    assert most < 200, (most, written)


def _walk(nodes: list[Node]) -> Iterator[Node]:
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def test_each_read_makes_the_children_again_and_keeps_none() -> None:
    from core.correlate.forest import LazyForest

    model = build_model(load(*family_log(parents=2, children=2)))
    forest = LazyForest(model)
    (system,) = forest.roots("host1")
    first, again = system.children, system.children
    assert first == again and first[0] is not again[0]
    eager = {node.label for node in _walk(model.process_forest("HOST1"))}
    assert {node.label for node in _walk(forest.roots("HOST1"))} == eager
    assert forest.root_count("HOST2") == 1 and forest.roots("nowhere") == []
