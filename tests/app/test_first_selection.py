"""Which event is selected once several logs have loaded: the earliest (the first row in time
order) unless the analyst moved meanwhile, then the event they moved to.

While loading, the table is in load order: its first row is the first file's first event. A
second file's earlier events sort above it once loading ends, and keeping that first-loaded
row selected left the analyst mid-table (row 5,009 of 7,270 on two sample logs)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from tests.app.applogs import event_xml, write_log
from tests.apputil import opened, sync, wait_for
from tui.app import EvtxApp
from tui.messages import LoadFinished

N = 300


def two_logs(tmp_path: Path) -> list[str]:
    """`late.xml` (2024, records 1..N) then `early.xml` (2023, records N+1..2N): the file given
    first holds the later events."""
    def events(first: int, year: int) -> list[str]:
        return [event_xml(first + i, 4688, f"{year}-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}.0000000Z",
                          {"NewProcessName": f"C:\\x\\p{i}.exe", "NewProcessId": hex(i + 4), "ProcessId": "0x4"})
                for i in range(N)]

    late = write_log(tmp_path / "late.xml", events(1, 2024))
    early = write_log(tmp_path / "early.xml", events(N + 1, 2023))
    return [str(late), str(early)]


def held_at_the_end(app: EvtxApp) -> threading.Event:
    """Hold the app's `LoadFinished` until the returned event is set: the table shows the rows
    in load order meanwhile, whatever the machine's speed."""
    gate = threading.Event()
    run = app.loader.run

    def held(post: Callable[[Message], object]) -> None:
        def hold(message: Message) -> object:
            if isinstance(message, LoadFinished):
                gate.wait(60)
            return post(message)

        run(hold)

    app.loader.run = held  # type: ignore[method-assign]
    return gate


def selected_record(app: EvtxApp) -> int | None:
    row = app.table.selected_row()
    return row.stored.event.record_id if row is not None else None


@sync
async def test_after_loading_the_earliest_event_is_selected(tmp_path: Path) -> None:
    app = EvtxApp(two_logs(tmp_path), use_cache=False)
    gate = held_at_the_end(app)
    async with opened(app, (100, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(0) is not None, timeout=30)  # load order first
        assert selected_record(app) == 1 and not app.workspace.loaded
        gate.set()
        await wait_for(pilot, lambda: app.workspace.loaded and app.table.total == 2 * N, timeout=60)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert app.table.cursor == 0
        assert selected_record(app) == N + 1  # early.xml's first event, not late.xml's
        assert app.detail.event is not None and app.detail.event.record_id == N + 1


@sync
async def test_a_move_made_while_loading_keeps_its_event_selected(tmp_path: Path) -> None:
    app = EvtxApp(two_logs(tmp_path), use_cache=False)
    gate = held_at_the_end(app)
    async with opened(app, (100, 30), ready=False) as pilot:
        await wait_for(pilot, lambda: app.table.row_at(2) is not None, timeout=30)
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: selected_record(app) == 3)  # late.xml's third, in load order
        assert not app.workspace.loaded
        gate.set()
        await wait_for(pilot, lambda: app.workspace.loaded and app.table.total == 2 * N, timeout=60)
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: selected_record(app) == 3)
        assert app.table.cursor == N + 2  # it moved with its event into time order
