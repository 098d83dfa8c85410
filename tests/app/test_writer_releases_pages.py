"""The tables' writer gives back the model's mapped pages as it writes: walking the Processes
forest reads the facts, process and handle columns through their side files' maps at random
places, and every page touched stayed in the app's RSS until the walk ended (~0.6 GB of file
pages at ten million events, the first open's peak)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tui.model_cache as mc
from bench.churn import build_churn_store
from core.correlate.model import CorrelationModel
from tui.model_cache import ModelCache
from tui.view_builders import all_view_builders


def _built(tmp_path: Path) -> tuple[Path, ModelCache]:
    """A churn store and a cache holding its model, built (the writer's input)."""
    db = tmp_path / "churn.sqlite"
    build_churn_store(db, 20_000, seed=7)
    cache = ModelCache()
    cache.model(db, True)
    return db, cache


def test_the_writer_gives_back_the_models_pages_while_it_writes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db, cache = _built(tmp_path)
    checks = 0
    released: list[int] = []
    real_release = CorrelationModel.release_pages

    def counted_check() -> None:
        nonlocal checks
        checks += 1

    def counted_release(model: CorrelationModel) -> None:
        released.append(checks)
        real_release(model)

    monkeypatch.setattr(CorrelationModel, "release_pages", counted_release)
    monkeypatch.setattr(mc, "RELEASE_S", 0.0)  # at every check
    cache._write_tables(db, all_view_builders(), counted_check)  # noqa: SLF001 - the app's background write
    assert checks >= 30
    # At every check (no time to wait), and once after each view's rows are built (4 views).
    assert len(released) >= checks + 4
    assert released[-checks // 2:] == sorted(released[-checks // 2:])


def test_the_writer_gives_back_the_c_heaps_free_memory_while_it_writes(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Freed rows, JSON cells and SQLite buffers stay in the C heaps unless trimmed: the writer
    trims at its checks and after each view (a million-event log: 337 -> 179 MB at the end)."""
    db, cache = _built(tmp_path)
    checks = 0
    trims: list[int] = []

    def counted_check() -> None:
        nonlocal checks
        checks += 1

    def counted_trim() -> bool:
        trims.append(checks)
        return True

    monkeypatch.setattr(mc, "give_back", counted_trim)
    monkeypatch.setattr(mc, "RELEASE_S", 0.0)
    cache._write_tables(db, all_view_builders(), counted_check)  # noqa: SLF001 - the app's background write
    assert checks >= 30
    assert len(trims) >= checks + 4


def test_the_writer_gives_pages_back_by_what_is_resident(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two gives-back by time, the writer's checks give the pages back as soon as
    RELEASE_MB of them are resident above what the last give-back left (a quarter of a second of
    Process access lines held 60-140 MB at ten million events; the libraries' pages grow as code
    runs), and wait for the views only every CHECKS_PER_YIELD checks."""
    # MB: at the start, then at each check, and after each give-back
    resident = iter([10.0, 12.0, 40.0, 15.0, 22.0, 24.0, 16.0, 17.0])
    monkeypatch.setattr(mc, "file_pages_mb", lambda: next(resident))
    monkeypatch.setattr(mc, "RELEASE_S", 3600.0)  # never by time here
    monkeypatch.setattr(mc, "LOOK_S", 0.0)  # a look at every check
    monkeypatch.setattr(mc, "CHECKS_PER_YIELD", 2)
    released: list[int] = []
    waited: list[int] = []
    model: Any = SimpleNamespace(release_pages=lambda: released.append(1))
    check = mc._releasing(lambda: waited.append(1), model)  # noqa: SLF001
    for _ in range(5):
        check()
    assert len(released) == 2  # at 40 (10 + 30), at 24 (15 + 9); not at 12, 22 or 17
    assert len(waited) == 2


def test_the_writer_looks_at_its_pages_at_most_every_look_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """A look at the resident pages reads /proc (at every check: 443,114 reads in the 1M writer,
    a tenth of its time); checks made within LOOK_S of the last look skip it."""
    looks: list[int] = []

    def looked() -> float:
        looks.append(1)
        return 10.0

    monkeypatch.setattr(mc, "file_pages_mb", looked)
    monkeypatch.setattr(mc, "LOOK_S", 3600.0)
    model: Any = SimpleNamespace(release_pages=lambda: None)
    check = mc._releasing(lambda: None, model)  # noqa: SLF001
    for _ in range(1000):
        check()
    assert len(looks) == 1  # the first, when made; none of the checks within the hour
    monkeypatch.setattr(mc, "LOOK_S", 0.0)
    check()
    assert len(looks) == 2
