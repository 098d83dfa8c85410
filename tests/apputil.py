"""The one harness the app tests drive Textual's Pilot through.

`opened(app)` runs an app headless and, before the test body gets the pilot, waits for it to
be ready: the main app (`EvtxApp`) until its log is loaded, its first row, detail pane and
findings are shown; any other app (the views' and case keys' small hosts) until its workers
are done. `sync` runs an async test body (no async pytest plugin is installed), `wait_for`
lets the app run until a condition holds, `snapshot_ready` is the `run_before` of the SVG
snapshot tests, `screen_text` is what the screen shows.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "intrusion.xml"


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test body with asyncio (no async pytest plugin is needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until `cond()` holds (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


def app_loaded(app: App[Any]) -> bool:
    """The main app has loaded its log and shows its first row (other apps: always)."""
    from tui.app import EvtxApp

    if not isinstance(app, EvtxApp):
        return True
    return bool(app.workspace.loaded and app.table.total is not None and app.table.row_at(0) is not None)


async def settle(pilot: Pilot[Any], timeout: float = 30.0) -> None:
    """Wait until the app is loaded (`app_loaded`) and no worker runs any more."""
    app = pilot.app
    await wait_for(pilot, lambda: app_loaded(app), timeout)
    await app.workers.wait_for_complete()
    await pilot.pause(0.05)


@asynccontextmanager
async def opened(
    app: App[Any], size: tuple[int, int] = (100, 30), *, ready: bool = True, notifications: bool = False,
    timeout: float = 30.0,
) -> AsyncIterator[Pilot[Any]]:
    """Run `app` headless at `size` and yield its pilot once it `settle`d (`ready=False`: at
    once, for tests of what happens while it loads)."""
    async with app.run_test(size=size, notifications=notifications) as pilot:
        if ready:
            await settle(pilot, timeout)
        yield pilot


async def snapshot_ready(pilot: Pilot[Any], cond: Callable[[], bool] = lambda: True, timeout: float = 20.0) -> None:
    """For `snap_compare(run_before=...)`: `settle`, then until `cond()` holds and every footer
    shows its keys (a footer rebuilding after a bindings change shows none)."""
    from tui.screenshots import footer_ready

    await settle(pilot, timeout)
    await wait_for(pilot, cond, timeout)
    await pilot.pause(0.1)
    await wait_for(pilot, lambda: footer_ready(pilot.app), timeout)


def screen_text(app: App[Any]) -> str:
    """What the screen shows, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)
