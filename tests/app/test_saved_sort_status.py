"""A sort kept in columns.json is applied at the next start with only a header arrow to show it:
the status line says the table is sorted, by what, that the sort was saved, and which keys
change it (`o`, `O`); once the analyst sorts otherwise, it no longer calls that sort saved."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.apputil import DEMO, opened, screen_text, sync, wait_for
from tui.app import EvtxApp

SAID = "sorted by Time descending (saved; o to change, O time order)"


def _status(app: EvtxApp) -> str:
    return str(app.query_one("#status-text").render())


def _save_sort(column: str, descending: bool) -> None:
    config = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    sort = {"column": column, "descending": descending}
    (config / "columns.json").write_text(json.dumps({"sort": sort}), encoding="utf-8")


@sync
async def test_a_saved_sort_applied_at_start_is_said_in_the_status_line() -> None:
    _save_sort("time", True)
    app = EvtxApp([str(DEMO)], use_cache=False)  # loads: sorted once loading has finished
    async with opened(app, (160, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.sort is not None)
        await wait_for(pilot, lambda: SAID in _status(app))
        assert SAID in " ".join(screen_text(app).split())
        # `O`: time order, the analyst's own choice now; the status no longer speaks of a saved sort
        await pilot.press("O")
        await wait_for(pilot, lambda: app.table.sort is None)
        await pilot.pause(0.1)
        assert "saved;" not in _status(app)
        # and sorted again by hand: not the saved sort (even though it is kept for the next start)
        app.table.field_column = "time"
        await pilot.press("o", "o")
        await wait_for(pilot, lambda: app.table.sort is not None and app.table.sort.descending)
        await pilot.pause(0.1)
        assert "saved;" not in _status(app)


@sync
async def test_a_reopened_log_says_its_saved_sort_too() -> None:
    _save_sort("eid", False)
    first = EvtxApp([str(DEMO)])
    async with opened(first, (160, 30)):
        pass
    again = EvtxApp([str(DEMO)])  # from the cache: sorted at once
    async with opened(again, (160, 30)) as pilot:
        await wait_for(pilot, lambda: again.table.sort is not None)
        await wait_for(pilot, lambda: "sorted by EventID ascending (saved; o to change, O time order)"
                       in _status(again))


@sync
async def test_no_saved_sort_says_nothing_of_one() -> None:
    _save_sort("time", False)  # time ascending: the table's own order, no sort applied
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 30)) as pilot:
        await pilot.pause(0.1)
        assert app.table.sort is None and "sorted by" not in _status(app)
