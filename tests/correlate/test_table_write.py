"""Writing the correlation tables' links fast (issue 18): the links of every event are worded
from the facts table's columns, with no `Facts` made per event (a million events' links took
20 s of CPU with one per handle event), and they are the links the event's `Facts` gives."""

from __future__ import annotations

from typing import Any

import pytest

from core.correlate import persist
from core.correlate.facts import FactsTable
from core.correlate.model import CorrelationModel, build_model
from tests.app.story import story
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made


def _models() -> list[CorrelationModel]:
    return [build_model(load(*hand_made())), build_model(load(*story()))]


def _by_facts(model: CorrelationModel) -> list[persist.LinkRow]:
    """Every link as `_links_of` words it from each event's `Facts` (the write's way before)."""
    return [row for found in model._facts for row in persist._links_of(model, found)]


@pytest.mark.parametrize("which", [0, 1], ids=["hand-made", "views-story"])
def test_links_from_the_columns_are_those_of_each_events_facts(which: int) -> None:
    model = _models()[which]
    written = list(persist.links(model))
    assert {row[1] for row in written} >= {"source process", "source handle", "session"}
    assert written == _by_facts(model)


def test_no_facts_are_made_to_write_the_links(monkeypatch: pytest.MonkeyPatch) -> None:
    models = _models()
    made = [0]
    real = FactsTable.facts

    def counted(self: FactsTable, pos: int) -> Any:
        made[0] += 1
        return real(self, pos)

    monkeypatch.setattr(FactsTable, "facts", counted)
    for model in models:
        rows = list(persist.links(model))
        assert any(row[2] == "handle" for row in rows)  # handle events are there: 4656, 4658, 4690
    assert made[0] == 0  # before: one per handle event
