"""A megabyte value froze the UI for seconds: `x` on a value of one letter and a million
combining accents took 10 to 16 s, a megabyte of zero-width spaces 6 s per `d`, a cursor move
onto such a row 2 to 3.5 s, a 10,000-field event 3.5 s per `d` or resize. Textual measures and
draws every code point, and such a value is a few cells wide, so it was never wrapped nor cut.
The detail pane now lays out the first characters of a value and says how many more there are
(`tui.detail_wrap`), and the fields of a huge event up to a number of lines (`tui.detail`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Static

from tests.app.applogs import tree_labels
from tests.apputil import opened, sync, wait_for
from tui.app import EvtxApp
from tui.detail import TREE_LINES, FieldTree
from tui.detail_wrap import VALUE_CHARS, XML_CHARS

COMBINING = "a" + "\u0301" * 1_000_000
ZERO_WIDTH = "\u200b" * 1_000_000
FIELDS = 10_000
#: Seconds a key may take on such an event (it took 2 to 16 before; 0.2 to 0.7 now).
SLOW = 3.0


def big_log(tmp_path: Path) -> Path:
    """A small event, then one per big value, then one of FIELDS fields (in time order)."""
    def record(i: int, **data: str) -> dict[str, Any]:
        return {"EventID": 4688, "TimeCreated": f"2024-01-01T00:00:0{i}Z", "Computer": "WS01",
                "EventRecordID": i + 1, "NewProcessName": f"C:\\p{i}.exe", **data}

    records = [
        record(0, CommandLine="small"),
        record(1, CommandLine=COMBINING),
        record(2, CommandLine=ZERO_WIDTH),
        record(3, **{f"F{j}": "v" * 50 for j in range(FIELDS)}),
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


async def timed(pilot: Any, key: str, done: Any) -> float:
    """Seconds from pressing `key` until `done()` holds and the screen is drawn."""
    start = time.monotonic()
    await pilot.press(key)
    await wait_for(pilot, done, 30)
    await pilot.pause(0.05)
    return time.monotonic() - start - 0.05


def xml_shown(app: EvtxApp) -> str:
    box = app.query_one("#xml-text", Static)
    visual = getattr(box, "visual", None)
    rendered = visual if visual is not None else box.render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def on_record(app: EvtxApp, record: int) -> bool:
    event = app.detail.event
    return event is not None and event.record_id == record


def command_line(app: EvtxApp) -> str:
    return next(label for label in tree_labels(app) if label.startswith("CommandLine: "))


@sync
async def test_the_xml_tab_of_a_megabyte_of_accents_is_quick_and_cut(tmp_path: Path) -> None:
    app = EvtxApp([str(big_log(tmp_path))], use_cache=False)
    async with opened(app, (160, 48)) as pilot:
        await wait_for(pilot, lambda: app.table.total == 4 and on_record(app, 1), 30)  # all rows, the cursor placed
        await pilot.press("j")
        await wait_for(pilot, lambda: on_record(app, 2), 30)
        took = await timed(pilot, "x", lambda: "more characters" in xml_shown(app))
        assert took < SLOW, f"x took {took:.1f} s"
        text = xml_shown(app)
        assert len(text) < XML_CHARS + 1_000
        assert "CommandLine" in text and "more characters (y copies the event, e exports the view)" in text
        took = await timed(pilot, "x", lambda: app.query_one(FieldTree).display)
        assert took < SLOW, f"x back took {took:.1f} s"


@sync
async def test_moving_onto_megabyte_values_and_hiding_the_pane_are_quick(tmp_path: Path) -> None:
    app = EvtxApp([str(big_log(tmp_path))], use_cache=False)
    async with opened(app, (160, 48)) as pilot:
        await wait_for(pilot, lambda: app.table.total == 4 and on_record(app, 1), 30)  # all rows, the cursor placed
        for record in (2, 3):
            took = await timed(pilot, "j", lambda r=record: on_record(app, r))
            assert took < SLOW, f"j onto record {record} took {took:.1f} s"
            shown = command_line(app)
            assert len(shown) < VALUE_CHARS + 200  # the first characters, and a note
            assert "more characters (y copies the event, e exports the view)" in shown
            if record == 2:  # (accents are shown as they are: one code point each)
                assert f"… {len(COMBINING) - VALUE_CHARS:,} more characters" in shown
            took = await timed(pilot, "d", lambda: not app.detail.display)
            assert took < SLOW, f"d took {took:.1f} s"
            took = await timed(pilot, "d", lambda: app.detail.display and app.query_one(FieldTree).size.width > 0)
            assert took < SLOW, f"d back took {took:.1f} s"


@sync
async def test_an_event_of_ten_thousand_fields_shows_the_first_and_counts_the_rest(tmp_path: Path) -> None:
    app = EvtxApp([str(big_log(tmp_path))], use_cache=False)
    async with opened(app, (160, 48)) as pilot:
        await wait_for(pilot, lambda: app.table.total == 4 and on_record(app, 1), 30)  # all rows, the cursor placed
        await pilot.press("G")
        await wait_for(pilot, lambda: on_record(app, 4), 30)
        labels = tree_labels(app)
        shown = sum(1 for label in labels if label.startswith("F") and ": v" in label)
        assert 0 < shown <= TREE_LINES
        assert f"… {FIELDS - shown:,} more fields (y copies the event, e exports the view)" in labels
        took = await timed(pilot, "d", lambda: not app.detail.display)
        assert took < SLOW, f"d took {took:.1f} s"
        took = await timed(pilot, "d", lambda: app.detail.display)
        assert took < SLOW, f"d back took {took:.1f} s"
        start = time.monotonic()
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.1)
        await wait_for(pilot, lambda: app.query_one(FieldTree).size.width < 120)
        took = time.monotonic() - start
        assert took < SLOW, f"a resize took {took:.1f} s"
        assert sum(1 for label in tree_labels(app) if label.startswith("F") and ": v" in label) == shown


def test_a_line_of_zero_width_characters_is_cut_in_code_points() -> None:
    from tui.detail_wrap import CHARS_PER_CELL, INDENT, wrap_label

    accents = "a" + "\u0301" * 5_000  # one cell wide, five thousand code points
    lines = wrap_label(Text(accents), 40)
    assert len(lines) > 1 and all(len(line.plain) <= 40 * CHARS_PER_CELL for line in lines)
    assert lines[0].plain + "".join(line.plain[len(INDENT):] for line in lines[1:]) == accents


def test_the_xml_text_is_cut_per_line_and_in_all_and_keeps_only_its_own_line_breaks() -> None:
    from tui.detail_wrap import XML_LINE_CHARS, XML_LINES, xml_text

    text = xml_text("<a>\r\n" + "x" * (XML_LINE_CHARS + 5) + "\n<b>NEL\x85LS\u2028</b>\n")
    lines = text.plain.splitlines()
    assert lines[0] == "<a>" and lines[2] == "<b>NEL\\x85LS\\u2028</b>" and len(lines) == 3
    assert lines[1].startswith("x" * XML_LINE_CHARS + " … 5 more characters")
    many = xml_text("\n".join(["<x/>"] * (XML_LINES + 7))).plain.splitlines()
    assert len(many) == XML_LINES + 1 and many[-1].startswith("… 7 more lines")
    assert len(xml_text("\n".join(["y" * XML_LINE_CHARS] * 50)).plain) < XML_CHARS + 1_000
