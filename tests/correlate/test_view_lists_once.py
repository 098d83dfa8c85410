"""The Handles and Process access lists are made once per model (issue 18): the view and the
background writer of the correlation tables ask for the same list, often at the same moment from
two threads; making it twice cost 1-4 s and a second copy of the list at a million events."""

from __future__ import annotations

import threading
import time

import pytest

from core.correlate import model as model_module
from core.correlate.model import CorrelationModel, build_model
from tests.correlate.access_events import chain
from tests.correlate.events import load


def _counted(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> list[int]:
    """Wrap `target.name` to count its calls (slowed down, so that two threads overlap)."""
    real = getattr(target, name)
    calls: list[int] = []

    def wrapper(*args: object) -> object:
        calls.append(1)
        time.sleep(0.05)
        return real(*args)

    monkeypatch.setattr(target, name, wrapper)
    return calls


def test_process_accesses_are_made_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counted(monkeypatch, model_module, "process_accesses")
    model = build_model(load(*chain()))
    first = model.process_accesses()
    assert [g.target for g in first] == ["lsass.exe 0x2bc (700)", "notepad.exe 0x5dc (1500)"]
    assert model.process_accesses() is first
    assert len(calls) == 1


def test_handle_duplications_are_made_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counted(monkeypatch, CorrelationModel, "_make_duplications")
    model = build_model(load(*chain()))
    first = model.handle_duplications()
    assert [d.event.record_id for d in first] == [5]
    assert model.handle_duplications() is first
    assert len(calls) == 1


@pytest.mark.parametrize("view", ["process_accesses", "handle_duplications"])
def test_two_threads_asking_at_once_share_one_list(monkeypatch: pytest.MonkeyPatch, view: str) -> None:
    accesses = _counted(monkeypatch, model_module, "process_accesses")
    duplications = _counted(monkeypatch, CorrelationModel, "_make_duplications")
    model = build_model(load(*chain()))
    got: list[object] = []
    start = threading.Barrier(2)

    def ask() -> None:
        start.wait()
        got.append(getattr(model, view)())

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 2 and got[0] is got[1] and got[0]
    assert len(accesses if view == "process_accesses" else duplications) == 1
