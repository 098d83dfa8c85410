"""The model built ahead (`tui.prebuild`): once the log is loaded and its findings are in, the
app builds the correlation model without a view asking, so the first correlation shows without
the build's wait; the build keeps off the interpreter while the analyst presses keys, never keeps
a view that asks for the model waiting, and stops for another store or the app's end (quitting
during it: test_app_threads.py)."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tui.model_cache as model_cache
from cli import cmd_open
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.correlation import CorrelationScreen
from tui.model_cache import ModelCache, ViewDataError
from tui.nav_tree import NavTree


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every model build from now on, counted (the real build runs)."""
    builds: list[int] = []
    real = model_cache.build_model

    def counted(store: Any, progress: Any = None) -> Any:
        builds.append(1)
        return real(store, progress)

    monkeypatch.setattr(model_cache, "build_model", counted)
    return builds


@sync
async def test_the_model_is_built_once_the_log_is_loaded_and_the_first_correlation_needs_no_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_builds(monkeypatch)
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        ws = app.workspace
        await wait_for(pilot, lambda: ws.loaded and ws.store_path is not None and
                       ws.models.built_model(ws.store_path, True) is not None, timeout=30)
        assert builds == [1]  # no key pressed, no view asked
        await pilot.press("c")  # the selected event's correlation: from the model built ahead
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children), timeout=10)
        assert builds == [1]


@sync
async def test_without_prebuild_the_model_waits_for_a_view(monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_builds(monkeypatch)
    app = EvtxApp([str(DEMO)], prebuild=False)
    async with opened(app, (100, 30)) as pilot:
        ws = app.workspace
        await wait_for(pilot, lambda: ws.loaded and ws.findings_ready, timeout=30)
        await pilot.pause(0.5)
        assert builds == [] and ws.store_path is not None and ws.models.built_model(ws.store_path, True) is None
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CorrelationScreen))
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children), timeout=10)
        assert builds == [1]


def test_the_open_command_turns_it_off() -> None:
    parser = argparse.ArgumentParser()
    cmd_open.configure(parser)
    assert cmd_open.make_app([str(DEMO)], parser.parse_args([str(DEMO)])).prebuild is True
    assert cmd_open.make_app([str(DEMO)], parser.parse_args([str(DEMO), "--no-prebuild"])).prebuild is False


def _in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []

    def run() -> None:
        try:
            got.append(fn())
        except Exception as exc:  # noqa: BLE001 - handed to the test
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def test_a_prebuild_waits_while_keys_are_pressed_but_never_keeps_a_view_waiting(
        churn_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_builds(monkeypatch)
    cache = ModelCache()
    pressing = threading.Event()
    pressing.set()
    thread, got = _in_thread(lambda: cache.prebuild(churn_store, lambda: not pressing.is_set(), lambda: True))
    deadline = time.monotonic() + 10
    while cache.model_progress is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.model_progress is not None  # started, then held at its first batch
    read = cache.model_progress
    time.sleep(0.6)
    assert cache.model_progress == read and thread.is_alive() and not got
    # A view asks for the model while keys are still pressed: the prebuild goes on, the view
    # gets that same model (one build), nobody waits for the keys to stop.
    asker, answer = _in_thread(lambda: cache.model(churn_store, True))
    asker.join(60)
    thread.join(60)
    assert not asker.is_alive() and not thread.is_alive()
    assert got == [True] and builds == [1]
    assert answer[0] is cache.built_model(churn_store, True)
    assert cache.prebuild(churn_store, lambda: True, lambda: True) is False and builds == [1]  # built already


def test_a_prebuild_goes_on_when_the_keys_stop(churn_store: Path) -> None:
    cache = ModelCache()
    pressing = threading.Event()
    pressing.set()
    thread, got = _in_thread(lambda: cache.prebuild(churn_store, lambda: not pressing.is_set(), lambda: True))
    time.sleep(0.3)
    assert thread.is_alive()
    pressing.clear()
    thread.join(60)
    assert got == [True] and cache.built_model(churn_store, True) is not None


def test_a_prebuild_stops_for_another_store_and_for_the_apps_end(churn_store: Path) -> None:
    cache = ModelCache()
    with pytest.raises(ViewDataError, match="another store"):
        cache.prebuild(churn_store, lambda: True, lambda: False)
    assert cache.built_model(churn_store, True) is None
    cache.stop.set()
    with pytest.raises(ViewDataError, match="stopped"):
        cache.prebuild(churn_store, lambda: True, lambda: True)
    assert cache.built_model(churn_store, True) is None


def test_the_app_counts_a_view_being_opened_as_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A view opened from the store on a reopen builds no model (nobody waits for the prebuild),
    but it must not share the interpreter with it while it is opened (`Workspace.hold_background`)."""
    from tui.prebuild import prebuild_model
    from tui.workspace import Workspace

    ws = Workspace(inputs=[], store_path=tmp_path / "s.sqlite")
    ws.loaded = True
    seen: list[tuple[bool, bool]] = []

    def prebuild(path: Path, idle: Any, wanted: Any, report: Any = None) -> bool:
        seen.append((idle(), wanted()))
        return True

    monkeypatch.setattr(ws.models, "prebuild", prebuild)
    assert prebuild_model(ws, tmp_path / "s.sqlite", lambda: 0.0) is True
    ws.hold_background()  # a view asked for just now
    assert prebuild_model(ws, tmp_path / "s.sqlite", lambda: 0.0) is True
    assert prebuild_model(ws, tmp_path / "s.sqlite", time.monotonic) is True  # a key just now
    assert seen == [(True, True), (False, True), (False, True)]
    assert prebuild_model(ws, tmp_path / "other.sqlite", lambda: 0.0) is False  # not the open store
    ws.loaded = False
    assert prebuild_model(ws, tmp_path / "s.sqlite", lambda: 0.0) is False and len(seen) == 3


def test_a_prebuild_that_finds_a_views_build_under_way_builds_nothing(
        churn_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_builds(monkeypatch)
    counted = model_cache.build_model
    started = threading.Event()

    def slow(store: Any, progress: Any = None) -> Any:
        started.set()
        time.sleep(0.5)  # the prebuild comes in meanwhile, and waits for this build
        return counted(store, progress)

    monkeypatch.setattr(model_cache, "build_model", slow)
    cache = ModelCache()
    viewer, seen = _in_thread(lambda: cache.model(churn_store, True))
    assert started.wait(10)
    assert cache.prebuild(churn_store, lambda: True, lambda: True) is False  # the view's model, not its own
    viewer.join(60)
    assert builds == [1] and seen[0] is cache.built_model(churn_store, True)


@sync
async def test_the_views_are_stored_ahead_and_a_reopen_shows_them_without_a_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No view is opened in the first session; the next open of the log reads every view from
    the store (no model built for it), the links too."""
    from core.store import correlation_links
    from core.store.store import Store
    from tui.processes import ProcessesScreen
    from tui.view_builders import STORED_VIEWS

    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        ws = app.workspace
        assert ws.store_path is not None
        path = ws.store_path
        await wait_for(pilot, lambda: ws.models.stored_all(path, True, STORED_VIEWS) and not ws.models.writing,
                       timeout=60)
    with Store(path, readonly=True) as store:
        assert correlation_links.links_ready(store)
    builds = _counting_builds(monkeypatch)
    again = EvtxApp([str(DEMO)], prebuild=False)
    async with opened(again, (100, 30)) as pilot:
        assert again.workspace.store_path == path  # the cached store of the first open
        again.action_view("2")
        await wait_for(pilot, lambda: isinstance(again.screen, ProcessesScreen) and bool(again.screen.query(NavTree)))
        tree = again.screen.query_one(NavTree)
        await wait_for(pilot, lambda: bool(tree.root.children), timeout=10)
        assert builds == []


def test_the_stored_views_are_named_without_importing_them() -> None:
    from tui.view_builders import STORED_VIEWS, all_view_builders

    assert sorted(STORED_VIEWS) == sorted(all_view_builders())


def test_the_tables_stored_ahead_wait_while_keys_are_pressed(churn_store: Path) -> None:
    """The writer of the tables stored ahead stops at its next check while `idle()` is false
    and goes on when it is true again; the app's end stops it."""
    from tui.view_builders import STORED_VIEWS, all_view_builders

    cache = ModelCache()
    cache.model(churn_store, True)
    pressing = threading.Event()
    pressing.set()
    cache.write_later(churn_store, True, all_view_builders(), idle=lambda: not pressing.is_set())
    assert cache.writing
    time.sleep(1.0)
    assert cache.writing and not cache.stored_all(churn_store, True, STORED_VIEWS)
    pressing.clear()
    deadline = time.monotonic() + 60
    while cache.writing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.stored_all(churn_store, True, STORED_VIEWS)


def test_a_paused_writer_ends_with_the_app(churn_store: Path) -> None:
    from tui.view_builders import STORED_VIEWS, all_view_builders

    cache = ModelCache()
    cache.model(churn_store, True)
    cache.write_later(churn_store, True, all_view_builders(), idle=lambda: False)
    time.sleep(0.5)
    assert cache.writing
    cache.stop.set()
    deadline = time.monotonic() + 5
    while cache.writing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not cache.writing and not cache.stored_all(churn_store, True, STORED_VIEWS)


@sync
async def test_the_status_line_shows_the_build_ahead_and_clears_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.messages import ModelAhead
    from tui.status import StatusBar

    seen: list[ModelAhead] = []
    real = EvtxApp.on_model_ahead

    def noted(self: EvtxApp, message: ModelAhead) -> None:
        real(self, message)
        seen.append(message)
        if message.progress is not None:
            assert self._ahead.startswith("correlating ") and self._ahead.endswith("%")

    monkeypatch.setattr(EvtxApp, "on_model_ahead", noted)
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        ws = app.workspace
        await wait_for(pilot, lambda: bool(seen) and seen[-1].progress is None, timeout=30)
        assert [m.progress for m in seen[:-1]] and all(m.progress is not None for m in seen[:-1])
        assert ws.store_path is not None and ws.models.built_model(ws.store_path, True) is not None
        await pilot.pause(0.1)
        assert "correlating" not in str(app.query_one(StatusBar).render())
