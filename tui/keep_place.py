"""Keep the place across a filter change: the event selected before stays selected when the
new view holds it, else the view's event nearest to it in time (`EventTable.goto_event`'s
`nearest`). Without this every filter change threw the analyst back to the top."""

from __future__ import annotations

from core.query.view import View, fetch_beside, locate
from core.store.store import Store, StoredEvent


def locate_nearest(store: Store, view: View, anchor: StoredEvent) -> tuple[int, list[StoredEvent]] | None:
    """Where the event of `view` nearest to `anchor` in time sits (with its page, as `locate`);
    None for an empty view. One index lookup either side of the anchor's place in view order."""
    after = fetch_beside(store, view, anchor, True, 1)
    before = fetch_beside(store, view, anchor, False, 1)
    ts = anchor.event.filetime
    candidates = [*after, *before]
    if not candidates:
        return None
    if ts is None:
        best = candidates[0]
    else:
        best = min(candidates, key=lambda se: abs((se.event.filetime if se.event.filetime is not None else 0) - ts))
    return locate(store, view, best.id)
