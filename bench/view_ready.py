"""When a correlation view is on screen, for the benchmarks that drive the app headless.

A view is shown once its screen is pushed, its status no longer says "reading" (a list looked up
in the store) nor "building" (the model) and, for a tree
view, its tree has stopped filling: what an analyst waits for after pressing its key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

#: The correlation views by their key: Processes, Handles, Sessions, Process access.
VIEWS = (("2", "processes"), ("3", "handles"), ("4", "sessions"), ("7", "process_access"))


def shown(app: Any) -> bool:
    """Whether the view the app last switched to is on screen and complete."""
    from textual.widgets import Static

    from tui.nav_tree import NavTree

    screen = app.screen
    if screen is app.screen_stack[0]:
        return False
    status = screen.query("#view-status")
    if status and str(status.first(Static).render()).startswith(("reading", "building")):
        return False
    trees = screen.query(NavTree)
    if len(trees) == 1 and not screen.query("DataTable"):  # a tree view: filled
        return bool(status) and not trees.first().filling
    return bool(status)


async def open_views(app: Any, limit_s: float = 1800.0) -> dict[str, float]:
    """Open every correlation view in turn; seconds each took to show (TimeoutError past
    `limit_s` for one view)."""
    out: dict[str, float] = {}
    for key, name in VIEWS:
        t0 = time.perf_counter()
        app.action_view(key)
        while not shown(app):
            await asyncio.sleep(0.01)
            if time.perf_counter() - t0 > limit_s:
                raise TimeoutError(name)
        out[name] = round(time.perf_counter() - t0, 2)
    return out
