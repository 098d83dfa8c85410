"""When an app ends, its long work stops: a test process (or a session) running many apps must
not gather live threads. The correlation tables written in the background after a view showed
the model, a model build, a Sigma run and the load are told to stop when the app unmounts, and
end within a second or two instead of running to the end of their work."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.findings.sigma.progress import EVALUATING, SigmaProgress
from core.store.store import Store
from tests.apputil import DEMO, opened, wait_for
from tui.app import EvtxApp
from tui.nav_tree import NavTree, ViewNode
from tui.processes import ProcessesScreen
from tui.stored_views import ViewRows
from tui.view_builders import all_view_builders

#: How long the app's threads may outlive it.
GRACE = 5.0


def _slow_view(model: object) -> ViewRows:
    """A view whose rows take 20 s to make: a big log's views, without the big log."""

    def nodes() -> Iterator[ViewNode]:
        for i in range(20_000):
            time.sleep(0.001)
            yield ViewNode(f"node {i}")

    return ViewRows(tree=nodes())


def _alive(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in threading.enumerate() if t not in before and t.is_alive()]


def test_quitting_while_the_correlation_tables_are_written_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    app = EvtxApp([str(DEMO)])
    app.workspace.view_builders = lambda: {**all_view_builders(), "slow": _slow_view}

    async def run() -> None:
        async with opened(app, (100, 30)) as pilot:
            await pilot.press("2")  # Processes: shows the model, then writes the tables for the next open
            await wait_for(pilot, lambda: isinstance(app.screen, ProcessesScreen)
                           and bool(app.screen.query_one(NavTree).root.children))
            await wait_for(pilot, lambda: app.workspace.models.writing)
            await pilot.press("q")

    asyncio.run(run())
    deadline = time.monotonic() + GRACE
    while _alive(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(before) == []


def _slow_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model builds of 20 s from now on (a big log's read, without the big log), telling their
    progress as the real one does."""
    from tui import model_cache

    real = model_cache.build_model

    def slow_build(store: Store, progress: Callable[[int, int], None] | None = None) -> Any:
        for i in range(20_000):
            time.sleep(0.001)
            if progress is not None and not i % 100:
                progress(i, 20_000)
        return real(store, progress)

    monkeypatch.setattr(model_cache, "build_model", slow_build)


@pytest.mark.parametrize("ahead", [False, True], ids=["a view's build", "the build ahead"])
def test_quitting_while_the_model_is_built_ends_the_build(monkeypatch: pytest.MonkeyPatch, ahead: bool) -> None:
    """A model build (10 s at a million events) stops at its next progress step: the app's
    exit, which waits for its workers, is not held up until the build ends; a view's build, or
    the one the app starts once the log is loaded (`tui.prebuild`), which keeps no model then."""
    _slow_builds(monkeypatch)
    before = set(threading.enumerate())
    app = EvtxApp([str(DEMO)], prebuild=ahead)
    quit_at = [0.0]

    async def run() -> None:
        async with opened(app, (100, 30), ready=not ahead) as pilot:  # (ready: no worker left running)
            if not ahead:
                await pilot.press("2")
            await wait_for(pilot, lambda: app.workspace.models.model_progress is not None, timeout=30)
            quit_at[0] = time.monotonic()
            await pilot.press("q")

    asyncio.run(run())
    assert time.monotonic() - quit_at[0] < GRACE
    deadline = time.monotonic() + GRACE
    while _alive(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(before) == []
    assert app.workspace.store_path is not None
    assert app.workspace.models.built_model(app.workspace.store_path, True) is None


def test_an_in_process_sigma_run_stops_when_the_app_ends(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A store under the child's size runs Sigma in the worker's thread: it stops at its next
    progress step once the app has ended (and keeps no result)."""
    from core.store.cache import open_inputs
    from tui import findings_view
    from tui.workspace import Workspace

    store = open_inputs([str(DEMO)])
    db = store.path
    store.close()

    def slow_sigma(store: Store, dirs: object, *, progress: Callable[[Any], None] | None = None) -> Any:
        for i in range(20_000):  # 3,000 rules over a big store, without them: 20 s
            time.sleep(0.001)
            if progress is not None and not i % 100:
                progress(SigmaProgress(EVALUATING, i, 20_000, 1, 0))
        raise AssertionError("the run was not stopped")

    monkeypatch.setattr(findings_view, "rule_dirs", lambda _named: [tmp_path])
    monkeypatch.setattr(findings_view, "run_sigma", slow_sigma)
    ws = Workspace(store_path=db, loaded=True)
    threading.Timer(0.3, ws.models.stop.set).start()  # the app ends
    started = time.monotonic()
    assert findings_view.workspace_sigma(ws) is None
    assert time.monotonic() - started < GRACE


def _model_of_an_ended_app(db: Path) -> Any:
    """A weak reference to the model an app on `db` built ahead, once that app has ended."""
    import weakref

    from core.correlate import disk_array

    app = EvtxApp([str(db)], store_path=db)

    async def run() -> None:
        async with opened(app, (100, 30)) as pilot:  # (the model built ahead, no worker left)
            await wait_for(pilot, lambda: app.workspace.models.peek_model() is not None, timeout=30)

    asyncio.run(run())
    deadline = time.monotonic() + GRACE
    while app.workspace.models.writing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not app.workspace.models.writing  # the tables stored ahead: their writer ends with the app
    model = app.workspace.models.peek_model()
    assert model is not None and disk_array.PAGER._thread is not None  # noqa: SLF001 - its columns paged
    return weakref.ref(model)


def test_an_ended_app_leaves_its_model_to_be_collected(churn_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The columns' pager thread, started while the app ran, once kept the app's stderr capture
    and through it the app, the model and the very columns it waits to see go: the ended app
    stayed whole in the process (and the pager with it) for as long as the process ran."""
    import gc

    from core.correlate import disk_array

    monkeypatch.setattr(disk_array, "PAGED_MIN", 1 << 12)  # this small model's columns paged too
    gone = _model_of_an_ended_app(churn_store)
    gc.collect()
    assert gone() is None
    deadline = time.monotonic() + GRACE
    while disk_array.PAGER._thread is not None and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.05)
    assert disk_array.PAGER._thread is None  # noqa: SLF001 - and the pager ends with them
