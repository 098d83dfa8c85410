"""Pilot tests of the Sessions view: one compact row per logon session (start, computer, user,
type, source, auth, privileged, processes, end), the rest and the processes in the tree below,
log text literal."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from core.store.cache import open_inputs
from tests.app.story import Harness, label_text, store_ids, tree_lines
from tests.apputil import opened, screen_text, sync, wait_for
from tests.logs import event_xml, write_events
from tui.nav_tree import NavTree
from tui.sessions import COLUMNS, SessionsScreen, SessionsTable

HEADINGS = ["Start (UTC)", "Computer", "User", "Type", "Source", "Auth", "Privileged", "Processes", "End (UTC)"]
WS = "WS01.contoso.local"


def _status_says(app: Harness, text: str) -> bool:
    return text in str(app.screen.query_one("#view-status").render())


def _rows(table: SessionsTable) -> list[list[str]]:
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


@sync
async def test_the_list_shows_each_logon_in_the_columns_an_analyst_scans(demo_store: Path) -> None:
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        assert [str(column.label) for column in table.columns.values()] == HEADINGS == [h for h, _w in COLUMNS]
        rows = _rows(table)
        assert ["2024-03-14 08:30:12", WS, "CONTOSO\\adm-bob", "10 RemoteInteractive", "10.0.10.55", "Negotiate",
                "yes", "2", "2024-03-14 08:41:07"] in rows
        ntlm = next(r for r in rows if r[1].startswith("DC01") and r[3] == "3 Network")
        assert (ntlm[4], ntlm[5], ntlm[6], ntlm[8]) == ("10.0.10.21", "NTLM V2", "yes", "2024-03-14 08:27:53")
        alice = [r for r in rows if r[2] == "CONTOSO\\alice"]
        assert [(r[6], r[7], r[8]) for r in alice] == [("yes", "1", "still open"), ("no", "12", "still open")]
        # the processes of SYSTEM's well-known session: a row of their own, begun before the log
        assert rows[0][:3] == ["before the log", "DC01.contoso.local", "NT AUTHORITY\\SYSTEM"]
        status = app.screen.query_one("#view-status")
        # the status is set with the rows and drawn on the next refresh: wait for it, not a frame
        await wait_for(pilot, lambda: "8 logon sessions on 2 computers" in str(status.render()))


@sync
async def test_the_tree_holds_the_rest_and_the_processes_jump_to_their_4688(demo_store: Path) -> None:
    ids = {record: sid for (_host, record), sid in store_ids(demo_store).items()}
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count > 0)
        row = next(i for i, r in enumerate(_rows(table)) if r[2] == "CONTOSO\\alice" and r[7] == "12")
        table.move_cursor(row=row)
        await wait_for(pilot, lambda: any("processes: 12" in t for t in tree_lines(tree)))
        lines = tree_lines(tree)
        assert any(t.startswith("exact     logon type: 2 Interactive (at the keyboard)") for t in lines)
        assert any("source: address 127.0.0.1, workstation WS01" in t for t in lines)
        assert any("authentication: Negotiate, logon process User32" in t for t in lines)
        assert any("privileged: no (no 4672" in t for t in lines)
        assert any("linked logon 0x5a3c1" in t and "4624 record" in t for t in lines)
        assert any("end: still open at end of log" in t for t in lines)
        await pilot.press("enter")  # to the tree
        node = next(n for n in tree.walk() if "psx.exe" in label_text(n).plain)
        tree.reveal(node)
        await pilot.press("enter")
        assert node.data is not None and app.jumps == [node.data.store_id]
        assert node.data.store_id in ids.values()


@sync
async def test_log_text_in_the_list_and_tree_is_literal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    hostile = "[bold red]KALI[/]"
    log = write_events(tmp_path / "hostile.xml", [event_xml(4624, 1, "2024-03-01T10:00:01.0000000Z", {
        "TargetUserSid": "S-1-5-21-1", "TargetUserName": "[link=x]eve[/link]", "TargetDomainName": "DOM",
        "TargetLogonId": "0x1a2b3", "LogonType": "3", "IpAddress": "-", "WorkstationName": hostile,
        "AuthenticationPackageName": "NTLM", "LmPackageName": "NTLM V1", "LogonProcessName": "NtLmSsp ",
    })])
    store = open_inputs([str(log)])
    path = store.path
    store.close()
    app = Harness(path, SessionsScreen)
    async with opened(app, (160, 30)) as pilot:
        table = app.screen.query_one(SessionsTable)
        tree = app.screen.query_one(NavTree)
        await wait_for(pilot, lambda: table.row_count > 0 and bool(tree_lines(tree)))
        (row,) = _rows(table)
        assert (row[2], row[4], row[5], row[6]) == ("DOM\\[link=x]eve[/li…", "[bold red]KALI…", "NTLM V1", "no")
        assert any(f"workstation {hostile}" in t for t in tree_lines(tree))
        shown = screen_text(app)  # as drawn: the markup is text, not style
        assert "[bold red]KALI" in shown and "DOM\\[link=x]eve" in shown


@sync
async def test_slash_in_the_list_finds_the_next_session_by_user_or_address(demo_store: Path) -> None:
    app = Harness(demo_store, SessionsScreen)
    async with opened(app, (160, 48)) as pilot:
        table = app.screen.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        await pilot.press("slash", *"10.0.10.55", "enter")
        await wait_for(pilot, lambda: _rows(table)[table.cursor_row][4] == "10.0.10.55")
        first = table.cursor_row
        await pilot.press("n")
        await wait_for(pilot, lambda: table.cursor_row != first)
        assert _rows(table)[table.cursor_row][2] == "CONTOSO\\adm-bob"
        await pilot.press("slash", *"0x9f1b2c", "enter")  # a logon id, not shown in the list
        await wait_for(pilot, lambda: _rows(table)[table.cursor_row][5] == "NTLM V2")
        assert _rows(table)[table.cursor_row][1].startswith("DC01")


@sync
async def test_logon_events_in_no_session_are_counted_in_the_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logon event whose logon id is no number makes no session: `evtx-explorer sessions`
    said how many, the view said nothing. Its status counts them, built and as stored."""
    import tui.model_cache as mc
    from tests.correlate.hand_made_logs import unreadable_logon_ids
    from tests.correlate.stored_tables import BUILDERS, no_model

    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    log = write_events(tmp_path / "log.xml", unreadable_logon_ids())
    store = open_inputs([str(log)])
    path = store.path
    store.close()
    said = "1 logon session on 1 computer; 2 logon events in no session (a logon id that is no number)"
    for stored in (False, True):
        if stored:  # as a reopen reads it, no model built
            assert mc.ModelCache().stored_view(path, True, "sessions", BUILDERS, wait=True)
            monkeypatch.setattr(mc, "build_model", no_model)
        app = Harness(path, SessionsScreen)
        async with opened(app, (160, 30)) as pilot:
            await wait_for(pilot, functools.partial(_status_says, app, said))
