"""The correlation model built ahead: once a store is loaded and its findings are in, the model
is built in the background, so that the first correlation an analyst opens (a 4690's processes,
the Processes view) shows at once instead of after the build (seconds at a million events, more
than a minute at ten million; analysts browse the table for longer than that before following an
event). It yields to the analyst: while keys are pressed or a view is being opened it keeps
off the interpreter (`ModelCache.prebuild`), and a view that asks for the model meanwhile waits
for this build, not a second one. `evtx-explorer open --no-prebuild` turns it off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tui.workspace import Workspace

#: Seconds after the last key press (or mouse event) during which the build keeps off the
#: interpreter: the UI's work after a key (a page of rows fetched and drawn) takes tens of
#: milliseconds, a held key repeats every ~30-50 ms.
INPUT_QUIET_S = 0.5


def prebuild_model(workspace: Workspace, path: Path, last_input: Callable[[], float]) -> bool:
    """Build the model of the loaded store at `path` unless it is built (blocking: a thread
    worker); `last_input()` is the `time.monotonic()` of the UI's last input event. Whether it
    built one. A failure is left to the view that asks next (it builds again and says why)."""
    from tui.model_cache import ViewDataError

    if workspace.store_path != path or not workspace.loaded:
        return False

    def idle() -> bool:  # no key for INPUT_QUIET_S, no view asked for lately (a reopen's, from the store)
        return time.monotonic() - last_input() >= INPUT_QUIET_S and workspace.quiet()

    def wanted() -> bool:
        return workspace.store_path == path

    try:
        return workspace.models.prebuild(path, idle, wanted)
    except ViewDataError:  # stopped: the app ends, or another store is open
        return False
    except Exception:  # noqa: BLE001 - best effort: the view asking later builds and reports it
        return False
