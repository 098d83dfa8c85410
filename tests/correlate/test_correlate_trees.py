"""Long lists in correlation and process trees (a handle used thousands of times, a process
with hundreds of children or handles) show their first and last TREE_EDGE items and one line
for the rest, so the tree keeps its session, target and related parts; the Correlation itself
keeps every item. And a big model is frozen out of the cyclic collector once built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.correlate import model as correlate
from core.correlate.model import TREE_EDGE, Node, build_model, model_from_store
from core.store.store import Store
from tests.correlate.events import by_record, h4656, h4658, h4663, load, p4688, p4689, s4624

KEY = r"\REGISTRY\MACHINE\SAM"
LSASS = r"C:\Windows\System32\lsass.exe"
ACCESSES = 130


def _hot_handle() -> list[str]:
    """A 4624 session, a process in it that opens one handle, uses it ACCESSES times, closes it."""
    docs = [s4624(1, 0.0, "0x4a5af0"), p4688(2, 0.5, "0x2bc", LSASS, "0x4", logon="0x4a5af0"),
            h4656(3, 1.0, "0x2bc", "0x438", KEY, LSASS)]
    docs += [h4663(4 + i, 1.0 + (i + 1) / 1000, "0x2bc", "0x438", KEY, LSASS) for i in range(ACCESSES)]
    docs.append(h4658(4 + ACCESSES, 2.0, "0x2bc", "0x438", LSASS))
    return docs


def _preorder(node: Node) -> Iterator[Node]:
    """Nodes in display order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _labels(node: Node) -> list[str]:
    return [n.label for n in _preorder(node)]


def test_a_handle_used_many_times_keeps_its_edges_and_the_rest_of_the_tree() -> None:
    events = load(*_hot_handle())
    model = build_model(events)
    c = model.correlate(by_record(events, 4 + ACCESSES // 2))  # one access in the middle
    accesses = [r for r in c.related if r.relation == "handle accessed"]
    assert len(accesses) == ACCESSES - 1  # complete (all but itself), for --json
    labels = _labels(c.tree())
    shown = [lab for lab in labels if lab.startswith("accessed: ")]
    assert len(shown) == 2 * TREE_EDGE
    assert shown[0].startswith("accessed: 4663 record 4 ")
    assert shown[-1].startswith(f"accessed: 4663 record {3 + ACCESSES} ")
    hidden = ACCESSES - 2 * TREE_EDGE
    note = f"... {hidden:,} more accesses, records {4 + TREE_EDGE} to {3 + ACCESSES - TREE_EDGE} "
    assert sum(lab.startswith(note) for lab in labels) == 1
    # What follows the accesses is all there: the close, the session, the related events.
    assert any(lab.startswith("closed: 4658 record") for lab in labels)
    assert any(lab.startswith("logon session 0x3e7") for lab in labels)
    related = next(n for n in _preorder(c.tree()) if n.label.startswith("related events: "))
    assert related.label == f"related events: {len(c.related)}"
    assert len(related.children) == 2 * TREE_EDGE + 1
    assert len(labels) < 3 * 2 * TREE_EDGE + 40


def test_short_lists_are_shown_whole() -> None:
    docs = _hot_handle()[: 3 + 2 * TREE_EDGE + 1]  # exactly 2 * TREE_EDGE + 1 accesses
    events = load(*docs)
    labels = _labels(build_model(events).correlate(by_record(events, 3)).tree())
    assert sum(lab.startswith("accessed: ") for lab in labels) == 2 * TREE_EDGE + 1
    assert not any(" more accesses" in lab for lab in labels)


def test_a_process_with_many_children_and_handles() -> None:
    parent = r"C:\Windows\System32\services.exe"
    docs = [p4688(1, 0.0, "0x2c0", parent, "0x4")]
    n = 2 * TREE_EDGE + 10
    for i in range(n):
        pid = f"0x{0x1000 + 4 * i:x}"
        docs.append(p4688(2 + i, 1.0 + i, pid, r"C:\Windows\System32\svchost.exe", "0x2c0"))
        docs.append(h4656(1000 + i, 1.0 + i, "0x2c0", f"0x{0x100 + 4 * i:x}", KEY, parent))
        docs.append(p4689(2000 + i, 1.5 + i, pid, r"C:\Windows\System32\svchost.exe"))
    events = load(*docs)
    model = build_model(events)
    tree = model.correlate(by_record(events, 1)).tree()
    labels = _labels(tree)
    assert sum(lab.startswith("child: svchost.exe") for lab in labels) == 2 * TREE_EDGE
    assert sum(lab.startswith(f"... {n - 2 * TREE_EDGE} more children") for lab in labels) == 1
    handles = next(node for node in _preorder(tree) if node.label == f"handles: {n}")
    assert len(handles.children) == 2 * TREE_EDGE + 1
    # The Processes view: the process's handles capped the same way, its children all there.
    (system,) = model.process_forest("HOST1")
    root = next(k for k in system.children if k.label.startswith("services.exe"))
    assert sum(k.label.startswith("svchost.exe") for k in root.children) == n
    assert sum(k.label.startswith("handle 0x") for k in root.children) == 2 * TREE_EDGE
    assert sum(k.label.startswith(f"... {n - 2 * TREE_EDGE} more handles") for k in root.children) == 1


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_big_model_is_frozen_out_of_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    """Else the first collection after the build walks every object of the model with the
    GIL held (1.7-3 s at a million events: the screen freezes)."""
    events = load(*_hot_handle())
    with Store(tmp_path / "hot.db") as store:
        store.add_events(se.event for se in events)
        store.build_indexes()
        model_from_store(store)
        assert gc.get_freeze_count() == 0  # a small model: the collector copes
        monkeypatch.setattr(correlate, "FREEZE_EVENTS", len(events))
        model = model_from_store(store)
        frozen = gc.get_freeze_count()
        assert frozen > 10 * len(events) and gc.isenabled()
        assert gc.is_tracked(model.processes)
        gc.unfreeze()
        gc.collect()  # whatever else was waiting
        del model
        assert gc.collect() == 0  # and it has no cycles: reference counting frees it
