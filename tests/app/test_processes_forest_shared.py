"""The Processes view's forest is built once per model while a screen shows it: the correlation
tables' writer, which runs meanwhile, stores that forest instead of building a second one (the
first open's peak memory at a million events)."""

from __future__ import annotations

import gc

from core.correlate.model import CorrelationModel, build_model
from tests.correlate.events import load, p4688, p4689
from tui.processes import computer_branches, stored_forest


def _model() -> CorrelationModel:
    return build_model(load(
        p4688(1, 0.0, "0x100", r"C:\Windows\System32\cmd.exe", "0x4"),
        p4688(2, 1.0, "0x200", r"C:\Windows\System32\whoami.exe", "0x100"),
        p4689(3, 2.0, "0x200", r"C:\Windows\System32\whoami.exe"),
    ))


def test_the_writer_stores_the_forest_the_screen_shows() -> None:
    model = _model()
    shown = computer_branches(model)
    stored = stored_forest(model).tree
    assert stored is not None
    assert [id(node) for node in stored] == [id(node) for node in shown]


def test_a_forest_no_screen_holds_is_built_again_alike() -> None:
    model = _model()
    first = computer_branches(model)
    labels = [str(node.label) for node in first]
    kids = [len(node.children) for node in first]
    del first
    gc.collect()
    again = computer_branches(model)
    assert [str(node.label) for node in again] == labels
    assert [len(node.children) for node in again] == kids
