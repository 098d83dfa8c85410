"""The correlation model built ahead: once a store is loaded and its findings are in, the model
is built in the background, so that the first correlation an analyst opens (a 4690's processes,
the Processes view) shows at once instead of after the build (seconds at a million events, more
than a minute at ten million; analysts browse the table for longer than that before following an
event). It yields to the analyst: while keys are pressed or a view is being opened it keeps
off the interpreter (`ModelCache.prebuild`), and a view that asks for the model meanwhile waits
for this build, not a second one; the status line shows how far it is. Then the views' tables
and the links are written into the store, yielding to the analyst the same way, so that the
next open of the log shows every view at once whether or not one was opened in this one.
`evtx-explorer open --no-prebuild` turns both off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from tui.messages import ModelAhead
from tui.view_builders import STORED_VIEWS
from tui.workspace import Workspace

#: Seconds after the last key press (or mouse event) during which the build keeps off the
#: interpreter: the UI's work after a key (a page of rows fetched and drawn) takes tens of
#: milliseconds, a held key repeats every ~30-50 ms.
INPUT_QUIET_S = 0.5


def ahead_note(progress: tuple[int, int]) -> str:
    """The status line's note while the model is built ahead."""
    read, total = progress
    return f"correlating {min(100, read * 100 // max(total, 1))}%"


def prebuild_model(workspace: Workspace, path: Path, last_input: Callable[[], float],
                   post: Callable[[Message], object] | None = None) -> bool:
    """Build the model of the loaded store at `path` unless it is built (blocking: a thread
    worker), then store its views' tables ahead (`Workspace.store_views_ahead`); `last_input()`
    is the `time.monotonic()` of the UI's last input event; `post` gets the build's progress
    (`ModelAhead`, each percent, then None). Whether it built one. A failure is left to the
    view that asks next (it builds again and says why)."""
    if workspace.store_path != path or not workspace.loaded:
        return False

    def idle() -> bool:  # no key for INPUT_QUIET_S, no view asked for lately (a reopen's, from the store)
        return time.monotonic() - last_input() >= INPUT_QUIET_S and workspace.quiet()

    def wanted() -> bool:
        return workspace.store_path == path

    shown = -1

    def report(read: int, total: int) -> None:
        nonlocal shown
        percent = read * 100 // max(total, 1)
        if post is not None and percent != shown:
            shown = percent
            post(ModelAhead((read, total)))

    try:
        built = workspace.models.prebuild(path, idle, wanted, report)
    except Exception:  # noqa: BLE001 - stopped (the app ends, another store is open), or failed:
        return False   # the view asking later builds and reports it
    finally:
        if post is not None and shown >= 0:
            post(ModelAhead(None))
    if wanted():
        try:
            workspace.store_views_ahead(STORED_VIEWS, idle)
        except Exception:  # noqa: BLE001 - best effort: a view stores them when shown
            pass
    return built
