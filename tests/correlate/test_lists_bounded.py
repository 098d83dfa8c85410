"""The Handles and Process access lists remember only their last lines once read: the tables'
writer reads every line of them, and at ten million events keeping them all (each line holds its
processes and handles) held ~0.2 GB for as long as the model lived."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.correlate.access_list as access_list
import core.correlate.duplications as duplications
from core.correlate.access import image_index
from core.correlate.links import Duplication
from core.correlate.model import model_from_store
from core.store.store import Store
from tests.correlate.heap import reachable

KEEP = 16


def test_every_duplication_read_leaves_only_the_last_few_held(churn_db: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duplications, "KEEP", KEEP)
    with Store(churn_db, readonly=True) as store:
        lines = model_from_store(store).handle_duplications()
    assert len(lines) > 10 * KEEP
    first = list(lines)
    held = sum(isinstance(o, Duplication) for o in reachable(lines))
    assert 0 < held <= KEEP
    # Made again when read again, equal line for line, whether in order, by index or by slice.
    assert list(lines) == first
    assert [lines[i] for i in range(len(lines) - 1, -1, -7)] == first[::-7]
    assert [lines[i] for i in range(0, len(lines), 7)] == first[::7]
    assert list(lines[3:3 + 5 * KEEP]) == first[3:3 + 5 * KEEP]


def test_every_access_read_leaves_only_the_last_few_held(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_list, "KEEP", KEEP)
    with Store(churn_db, readonly=True) as store:
        listing = model_from_store(store).process_accesses()
    n = len(listing._sysmon) + len(listing._lone)  # noqa: SLF001 - every row of the list
    rows = [listing.access(row) for row in range(n)]
    assert len(rows) > 10 * KEEP
    assert 0 < len(listing._made) <= KEEP  # noqa: SLF001 - what the list holds
    assert [listing.access(row) for row in range(n)] == rows


def test_the_access_lists_sweep_keeps_no_images_lives(churn_db: Path) -> None:
    """Each image's instances sorted by start with their ends (`access._Lives`) are made for the
    list's sweep of that image and dropped after it (kept, every image's were ~120 MB at ten
    million events); the image index goes with the lists (`release_lists`) and comes back when
    a look-up needs it, with the same answers."""
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    listing = model.process_accesses()
    total = listing.total()
    assert total > 100
    index = image_index(model)
    assert index._built == {}  # noqa: SLF001 - what the index holds
    lines = [listing.access(row) for row in range(len(listing._sysmon) + len(listing._lone))]  # noqa: SLF001
    model.release_lists()
    assert model.by_image is None
    again = model.process_accesses()
    assert again.total() == total
    assert [again.access(row) for row in range(len(lines))] == lines
    assert image_index(model) is not index
