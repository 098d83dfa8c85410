"""The Process access view on a log with more accesses than it lists at once (issue 18): it
shows its first lines before every 4656's target is named, and its status line then counts
every access (less those of a process to itself), as the whole list does; then every line of
the list is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.correlate.access_list import AccessList
from core.correlate.model import model_from_store
from core.store.store import Store
from tests.app.story import Harness
from tests.apputil import opened, sync, wait_for
from tui.process_access import AccessItems, AccessTable, ProcessAccessScreen


@sync
async def test_the_status_counts_every_access_once_the_first_lines_show(churn_store: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ProcessAccessScreen, "FIRST_LINES", 40)  # fewer than the log's accesses
    with Store(churn_store, readonly=True) as store:
        listing = AccessList(model_from_store(store))
        total = listing.total()
        first = next(g.target for g in listing)
        lines = len(AccessItems(listing))
    app = Harness(churn_store, ProcessAccessScreen)
    async with opened(app, (140, 30)) as pilot:
        screen = app.screen
        table = screen.query_one(AccessTable)
        status = screen.query_one("#view-status")
        await wait_for(pilot, lambda: table.row_count > 0)
        assert table.row_count in (40, lines)  # the first 40, then (maybe at once) every line
        assert table.get_row_at(0)[2].plain.startswith(first)
        await wait_for(pilot, lambda: str(status.render()).startswith(f"{total:,} process accesses"), timeout=30)
        await wait_for(pilot, lambda: table.row_count == lines, timeout=30)
        assert str(status.render()) == (f"{total:,} process accesses (Sysmon 10, 4656 on a process) "
                                        f"in {lines:,} lines   enter: to the tree")
