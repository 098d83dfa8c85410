"""An EventData field column's header is the field's name as the events spell it (`CommandLine`),
not its lower-cased key (`field:commandline`): the store's lists keep names lower-cased, and the
picker listed `commandline` and headed the column so. The key stays lower-cased (saved, matched
case-insensitively); the spelling is read from an event holding the name
(`core.store.field_spellings`) and kept in `columns.json` beside the key."""

from __future__ import annotations

import json
import marshal
import os
from pathlib import Path

import pytest
from rich.text import Text

from core.model.event import Event
from core.store import field_spellings as fs
from tests.apputil import DEMO, opened, sync, wait_for
from tests.stores import indexed_store
from tui import column_settings as cs
from tui.app import EvtxApp
from tui.columns import layout
from tui.columns_dialog import ColumnsScreen, FieldPicker

KEY = "field:commandline"


def _header(app: EvtxApp) -> str:
    return "".join(seg.text for seg in app.table.render_line(0))


def _dialog_line(screen: ColumnsScreen, key: str) -> str:
    prompt = screen._list.get_option(key).prompt
    assert isinstance(prompt, Text)
    return prompt.plain


@sync
async def test_an_added_field_is_listed_and_headed_as_the_events_spell_it() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 40)) as pilot:
        # Logons: no row on screen holds CommandLine; the picker spells it all the same.
        await pilot.press("slash", *"4624", "enter")
        await wait_for(pilot, lambda: app.workspace.query == "4624" and app.table.row_at(0) is not None)
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ColumnsScreen))
        screen = app.screen
        assert isinstance(screen, ColumnsScreen)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, FieldPicker))
        picker = app.screen
        assert isinstance(picker, FieldPicker)
        assert "CommandLine" in picker.names and "NewProcessName" in picker.names
        assert not any(n == n.lower() and n.lower() in ("commandline", "newprocessname") for n in picker.names)
        await pilot.press(*"commandli", "enter")
        await wait_for(pilot, lambda: KEY in app.table.shown_columns and app.screen is screen)
        assert "CommandLine" in _dialog_line(screen, KEY)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ColumnsScreen))
        assert "CommandLine" in _header(app) and "commandline" not in _header(app)
        assert app.table.settings.titles == {KEY: "CommandLine"}
    saved = json.loads((Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / cs.FILE_NAME).read_text(encoding="utf-8"))
    assert KEY in saved["order"] and saved["titles"] == {KEY: "CommandLine"}


@sync
async def test_a_saved_column_without_its_spelling_is_spelled_when_a_log_opens() -> None:
    """A columns file written before spellings were kept (or by hand, lower-cased)."""
    path = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / cs.FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"order": ["time", "eid", "computer", KEY, "summary"]}), encoding="utf-8")
    app = EvtxApp([str(DEMO)])
    async with opened(app, (160, 40)) as pilot:
        await wait_for(pilot, lambda: app.table.settings.titles.get(KEY) == "CommandLine")
        await pilot.pause()
        assert "CommandLine" in _header(app) and "commandline" not in _header(app)


def test_the_spelling_is_kept_in_the_file_and_the_key_stays_lower_cased() -> None:
    settings = cs.ColumnSettings()
    assert settings.add_field("commandline") == KEY and settings.titles == {KEY: "commandline"}
    settings.titles.clear()
    assert settings.spell(KEY, "CommandLine") and not settings.spell(KEY, "COMMANDLINE")  # the first met stays
    assert not settings.spell(KEY, "Image")  # not this column's name
    assert settings.add_field("TargetUserName") == "field:targetusername"
    assert settings.label(KEY) == "CommandLine" and settings.label("field:targetusername") == "TargetUserName"
    assert [c.title for c in layout(settings, 200, False, False) if cs.field_of(c.key)] == [
        "CommandLine", "TargetUserName"]
    again = cs.ColumnSettings.from_json(json.loads(json.dumps(settings.to_json())))
    assert again.order == settings.order and again.titles == settings.titles
    # A title for no column, or not of its column's name, is dropped; a hand-written key keeps its case.
    raw = {"order": ["field:IpAddress", KEY], "titles": {KEY: "Image", "field:gone": "Gone", "x": 1}}
    loaded = cs.ColumnSettings.from_json(raw)
    assert loaded.titles == {"field:ipaddress": "IpAddress"} and loaded.label(KEY) == "commandline"
    assert settings.remove_field(KEY) and KEY not in settings.titles
    full = cs.ColumnSettings()
    for i in range(cs.MAX_FIELD_COLUMNS):
        full.add_field(f"F{i}")
    assert full.add_field("Extra") is None and "field:extra" not in full.titles


def _event(rid: int, data: tuple[tuple[str, str], ...]) -> Event:
    return Event(source=0, record_number=rid, record_id=rid, filetime=133_500_000_000_000_000 + rid,
                 event_id=1, channel="c", provider="p", computer="WS01", pid=1, tid=1, data=data)


def test_the_store_spells_each_name_as_an_event_holding_it(tmp_path: Path) -> None:
    events = [_event(1, (("CommandLine", "a"), ("lower", "x"))), _event(2, (("COMMANDLINE", "b"),)),
              _event(3, (("IpAddress", "::1"),))]
    with indexed_store(tmp_path / "s.db", events) as store:
        spelled = fs.field_spellings(store)
        assert spelled["lower"] == "lower" and spelled["ipaddress"] == "IpAddress"
        assert spelled["commandline"] in ("CommandLine", "COMMANDLINE")
        assert fs.field_spellings(store, ["IPADDRESS", "nosuch"]) == {"ipaddress": "IpAddress"}
        # A damaged blob costs only its spelling: the name as the key has it.
        store.conn.execute("UPDATE events SET data = ? WHERE id = (SELECT lo FROM postings WHERE name = 'ipaddress')",
                           (b"\xff\x00garbage",))
        assert fs.field_spellings(store, ["ipaddress"]) == {"ipaddress": "ipaddress"}
        store.conn.execute("UPDATE events SET data = ? WHERE id = (SELECT lo FROM postings WHERE name = 'ipaddress')",
                           (marshal.dumps(["not", "pairs"]),))
        assert fs.field_spellings(store, ["ipaddress"]) == {"ipaddress": "ipaddress"}


def test_names_past_the_bound_stay_as_keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fs, "MAX_NAMES", 2)
    with indexed_store(tmp_path / "s.db", [_event(1, (("Aa", "1"), ("Bb", "2"), ("Cc", "3")))]) as store:
        assert fs.field_spellings(store) == {"aa": "Aa", "bb": "Bb", "cc": "cc"}
