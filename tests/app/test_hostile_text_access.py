"""The Process access view's line above the list quotes the source's user and image as the log
wrote them (`core.correlate.access_risk`): a user name holding `ESC[2J` cleared the terminal
on every repaint. Checked in what the app would write to the terminal, both when the list is
made from the model (a first open) and when it is read from the store (a reopen), also from a
store an older version wrote with the raw text in it (`tui.list_pages.stored_rows`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text

import tui.process_access as process_access
from core.store.cache import open_inputs
from tests.app.story import Harness
from tests.apputil import opened, sync, wait_for
from tests.correlate.stored_tables import BUILDERS
from tui.model_cache import ModelCache
from tui.process_access import AccessTable, ProcessAccessScreen

#: A user name that clears the screen and turns the text red if it reaches the terminal raw.
EVIL = "[bold red]REDMARK[/]\x1b[2J\x1b[31mANSIRED\x1b[0m\x1b]52;c;cHduZWQ=\x07"


def _record(i: int, event_id: int, **data: str) -> dict[str, Any]:
    return {"EventID": event_id, "TimeCreated": f"2024-01-01T00:00:0{i}Z", "Computer": "WS01",
            "Channel": "Security", "ProviderName": "Microsoft-Windows-Security-Auditing",
            "EventRecordID": i + 1, **data}


def hostile_access_log(tmp_path: Path) -> Path:
    """A process started by the hostile user opens lsass (a 4656 on a Process object)."""
    records = [
        _record(0, 4688, NewProcessName="C:\\Users\\x\\" + EVIL + ".exe", NewProcessId="0x500",
                ProcessId="0x4", SubjectUserName=EVIL, SubjectDomainName="CORP", SubjectLogonId="0x1234"),
        _record(1, 4656, ProcessId="0x500", ProcessName="C:\\Users\\x\\" + EVIL + ".exe", HandleId="0x48",
                ObjectServer="Security", ObjectType="Process",
                ObjectName="\\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe",
                AccessMask="0x1410", SubjectLogonId="0x1234", SubjectUserName=EVIL),
    ]
    path = tmp_path / "access.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def access_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CACHE", "DATA", "CONFIG"):
        monkeypatch.setenv(f"EVTX_EXPLORER_{name}_DIR", str(tmp_path / name.lower()))
    store = open_inputs([str(hostile_access_log(tmp_path))])
    path = store.path
    store.close()
    return path


def terminal_bytes(app: Any) -> str:
    """What a full repaint of the screen writes to the terminal."""
    return str(app.screen._compositor.render_update(full=True).render_segments(app.console))


async def _check_why_line(app: Harness, pilot: Any) -> None:
    table = app.screen.query_one(AccessTable)
    await wait_for(pilot, lambda: table.row_count >= 2)
    await pilot.press("j")  # from the target's heading to the access
    why = app.screen.query_one("#access-why")
    await wait_for(pilot, lambda: "source is not a system process" in str(why.render()))
    await pilot.pause(0.1)
    shown = str(why.render())
    assert "[bold red]REDMARK[/]\\x1b[2J\\x1b[31mANSIRED" in shown  # literal and visibly escaped
    assert "\x1b" not in shown and "\x07" not in shown
    out = terminal_bytes(app)
    assert "\x1b[2J" not in out and "\x1b]52" not in out and "\x07" not in out
    assert "REDMARK[/]\\x1b[2J" in out


@sync
async def test_the_access_why_line_escapes_the_log_user_when_made_from_the_model(access_store: Path) -> None:
    app = Harness(access_store, ProcessAccessScreen)
    async with opened(app, (160, 40)) as pilot:
        await _check_why_line(app, pilot)


@sync
async def test_the_access_why_line_escapes_the_log_user_when_read_from_the_store(access_store: Path) -> None:
    assert ModelCache().stored_view(access_store, True, "process_access", BUILDERS, wait=True)
    app = Harness(access_store, ProcessAccessScreen)
    async with opened(app, (160, 40)) as pilot:
        await _check_why_line(app, pilot)


@sync
async def test_a_why_line_stored_raw_by_an_older_version_is_shown_escaped(
    access_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = process_access.access_line

    def as_before(item: Any) -> process_access.Row:  # what the store held before the fix
        row = made(item)
        return replace(row, why=Text(row.why.plain + " " + EVIL))

    monkeypatch.setattr(process_access, "access_line", as_before)
    assert ModelCache().stored_view(access_store, True, "process_access", BUILDERS, wait=True)
    monkeypatch.setattr(process_access, "access_line", made)

    def not_from_the_model(*args: Any) -> Any:
        raise AssertionError("the list must be read from the store")

    monkeypatch.setattr(ProcessAccessScreen, "model_lines", not_from_the_model)
    app = Harness(access_store, ProcessAccessScreen)
    async with opened(app, (160, 40)) as pilot:
        await _check_why_line(app, pilot)


@sync
async def test_a_page_that_fails_on_log_text_is_said_escaped(access_store: Path) -> None:
    """An error reading a page of a stored list is said in a notification: its text may quote
    the store's (the log's) text."""
    from tui.page_fetcher import PageFetcher

    assert ModelCache().stored_view(access_store, True, "process_access", BUILDERS, wait=True)
    app = Harness(access_store, ProcessAccessScreen)
    async with opened(app, (160, 40), notifications=True) as pilot:
        table = app.screen.query_one(AccessTable)
        await wait_for(pilot, lambda: table.row_count >= 2 and table.fetcher is not None)
        assert table.fetcher is not None
        table.post_message(PageFetcher.Fetched(table.fetcher.generation, None, ValueError(EVIL)))

        def said() -> list[str]:
            return [n.message for n in app._notifications if "list not read" in n.message]

        await wait_for(pilot, lambda: bool(said()))
        await pilot.pause(0.2)
        assert "\x1b" not in said()[0] and "REDMARK[/]\\x1b[2J" in said()[0]
        out = terminal_bytes(app)
        assert "\x1b[2J" not in out and "\x1b]52" not in out and "REDMARK[/]\\x1b[2J" in out
