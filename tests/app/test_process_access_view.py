"""Pilot test of the Process access view (issue 17), pushed directly on the hand-made story of
tests/app/test_views.py: mimikatz.exe 0x1234 opens lsass.exe with 0x1010 (r6, a 4656 on a Process
object), and its handle 0x44 is duplicated into System by the 4690 r5."""

from __future__ import annotations

from pathlib import Path

from tests.app.story import LSASS, WS, Harness, cursor_to, store_ids, tree_lines
from tests.apputil import opened, sync, wait_for
from tui.handles import HandlesScreen, HandlesTable
from tui.nav_tree import NavTree
from tui.process_access import AccessTable, ProcessAccessScreen


@sync
async def test_process_access_lists_lsass_first_decoded_with_its_duplication(story_store: Path) -> None:
    ids = store_ids(story_store)
    app = Harness(story_store, ProcessAccessScreen)
    async with opened(app, (120, 30)) as pilot:
        screen = app.screen
        table = screen.query_one(AccessTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert len(rows) == 3
        heading, access, dup = rows
        assert heading[2].startswith("lsass.exe: 1 access") and heading[8] == WS
        assert access[1].strip() == "mimikatz.exe 0x1234" and access[2] == "lsass.exe ?"
        assert access[3] == "0x1010" and access[5].startswith("PROCESS_VM_READ, PROCESS_QUERY_LIMI")
        assert access[7] == "6" and int(access[0]) >= 150
        assert dup[1].strip() == "4690 duplicated" and dup[7] == "5"
        await pilot.press("j")
        why = str(screen.query_one("#access-why").render())
        assert why.startswith("4656 record 6: target is lsass.exe (credentials); can read its memory")
        assert "target missing: no lsass.exe alive on" in why
        tree = screen.query_one("#access-tree", NavTree)
        await wait_for(pilot, lambda: any("handle opened" in t for t in tree_lines(tree)))
        lines = tree_lines(tree)
        assert any("linked records: 1" in t for t in lines)
        assert any("target process: lsass.exe" in t for t in lines)
        await pilot.press("enter")  # into the tree
        assert tree.has_focus
        await cursor_to(pilot, tree, "process: mimikatz.exe")
        await pilot.press("enter")
        assert app.jumps == [ids[(WS, 4)]]


@sync
async def test_handles_list_names_the_object_of_the_duplicated_handle(story_store: Path) -> None:
    app = Harness(story_store, HandlesScreen)
    async with opened(app, (120, 30)) as pilot:
        table = app.screen.query_one(HandlesTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        why = str(app.screen.query_one("#handles-why").render())
        assert why.startswith("weakest link: inferred: source handle handle 0x44 - ")
        assert why.endswith(f"object: Process {LSASS}")
