"""Every correlation view's builder of what it stores (`tui.stored_views`), by its name in the
store: the app hands them to its workspace so that the first model build stores every view,
and a reopen shows each of them without building the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the app imports this module; the engines load when a view needs them
    from tui.stored_views import ViewBuilder


#: The names the views are stored by (`all_view_builders`'s keys), known without importing a
#: view: a reopen tells whether anything is left to store without loading every view's module.
STORED_VIEWS = ("processes", "sessions", "handles", "process_access")


def all_view_builders() -> dict[str, ViewBuilder]:
    """The builders of the Processes, Sessions, Handles and Process access views (imported
    when first asked for: the engines load when a view first needs them)."""
    from tui.handles import HandlesScreen, handle_rows
    from tui.process_access import ProcessAccessScreen, stored_access_rows
    from tui.processes import ProcessesScreen, stored_forest
    from tui.sessions import SessionsScreen, stored_sessions
    from tui.stored_views import paused

    return {name: paused(build) for name, build in {  # made with the cyclic collector paused
        ProcessesScreen.STORED_TREE: stored_forest,
        SessionsScreen.STORED_LIST: stored_sessions,
        HandlesScreen.STORED_LIST: handle_rows,
        ProcessAccessScreen.STORED_LIST: stored_access_rows,
    }.items()}
