"""`enter` on a correlation tree's "why:" line jumps to the record its reason names (the engine
gives the line that record's store id, found among the link's own events), as the lines beside
it do; a why-line naming no record still says there is no event to jump to. Checked on the
tree the model builds (the story's 4690) and on one read back from the store (the demo's 4690,
whose tree the Handles view stores with the log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.store.store import Store
from tests.app.story import WS, Harness, label_text, store_ids
from tests.apputil import opened, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.correlation import CorrelationScreen, stored_correlation
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree


async def _enter_on(pilot: Any, tree: NavTree, starts: str) -> None:
    """The cursor on the first shown line whose label (after its confidence word) starts with
    `starts`, then `enter`."""
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        if node is not None and label_text(node).plain[10:].startswith(starts):
            tree.cursor_line = line
            await pilot.pause(0.05)
            await pilot.press("enter")
            await pilot.pause(0.05)
            return
    raise AssertionError(f"no line starting {starts!r}")


def _notes(app: Harness) -> list[str]:
    return [str(n.message) for n in app._notifications]  # noqa: SLF001 - what the analyst was told


@sync
async def test_why_lines_of_the_models_tree_jump_to_the_record_they_name(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, lambda ws: CorrelationScreen(ws, ids[(WS, 5)]))  # the 4690
    async with opened(app, (160, 60)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: tree.last_line > 10)
        # the source handle's 4656, logged after the 4690 (out of order)
        await _enter_on(pilot, tree, "why: its 4656 (record 6)")
        assert app.jumps == [ids[(WS, 6)]]
        # the target handle's close, logged under the source pid
        await _enter_on(pilot, tree, "why: created by this 4690; closed by 4658 record 9")
        assert app.jumps[-1] == ids[(WS, 9)]
        # the session's logon
        await _enter_on(pilot, tree, "why: logon 4624 record 1")
        assert app.jumps[-1] == ids[(WS, 1)]
        # a reason naming no record: no jump, and it says so
        jumps = len(app.jumps)
        await _enter_on(pilot, tree, "why: pid 4 is System")
        assert len(app.jumps) == jumps
        assert _notes(app)[-1].startswith("no event to jump to from this line")


@sync
async def test_a_why_line_of_a_stored_tree_jumps_too(demo_store: Path) -> None:
    ModelCache()._write_tables(demo_store, dict(BUILDERS))  # noqa: SLF001 - as the app's background writer
    with Store(demo_store, readonly=True) as store:
        # the 4690 whose source handle's 4656 (record 48240) is logged just after it
        dup = store.conn.execute("SELECT id FROM events WHERE event_id = 4690 AND record_id = 48238").fetchone()[0]
        assert stored_correlation(store, True, dup) is not None  # read from the store, not the model
        opened_by = store.conn.execute(
            "SELECT id FROM events WHERE event_id = 4656 AND record_id = 48240").fetchone()[0]
    app = Harness(demo_store, lambda ws: CorrelationScreen(ws, dup))
    async with opened(app, (160, 60)) as pilot:
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: tree.last_line > 10)
        await _enter_on(pilot, tree, "why: its 4656 (record 48240)")
        assert app.jumps == [opened_by]
