"""The detail pane reads like the event: long values wrap (no sideways scrolling), the XML tab
is indented, a decoded value does not repeat the raw one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from core.model.decode import decoding_shown
from parsers.xml_indent import indented
from tests.app.story import label_text
from tests.apputil import DEMO, opened, sync, wait_for
from tui.app import EvtxApp
from tui.detail import FieldTree

#: The demo's one 4688 whose command line (241 characters) runs cmd.exe into PowerShell.
LONG_CMD = 'cmd:"*cmd.exe*powershell*"'


def tree_labels(app: EvtxApp) -> list[str]:
    tree = app.query_one(FieldTree)
    lines = []
    for number in range(tree.last_line + 1):
        node = tree.get_node_at_line(number)
        if node is not None:
            lines.append(label_text(node).plain)
    return lines


async def show_only(pilot: Pilot[Any], app: EvtxApp, query: str) -> None:
    app.set_filter(query)
    await wait_for(pilot, lambda: app.table.total == 1)
    await wait_for(pilot, lambda: app.detail.event is not None
                   and app.detail.event.get("CommandLine") is not None)


@sync
async def test_a_long_command_line_wraps_instead_of_scrolling_sideways() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await show_only(pilot, app, LONG_CMD)
        await pilot.pause(0.1)
        tree = app.query_one(FieldTree)
        # nothing wider than the pane: no sideways scrolling
        assert tree.virtual_size.width <= tree.scrollable_content_region.width
        event = app.detail.event
        assert event is not None
        command = event.get("CommandLine") or ""
        labels = tree_labels(app)
        start = next(i for i, label in enumerate(labels) if label.startswith("CommandLine: "))
        assert labels[start + 1].startswith("  ")  # continuation lines are indented
        joined = "".join(label.strip() for label in labels[start:start + 8])
        assert "".join(command.split()) in "".join(joined.split())
        # every line of the wrapped field pivots on the same field
        await pilot.press("enter")  # focus the detail pane
        tree.cursor_line = start + 2  # the tree shows lines as `tree_labels` lists them
        await pilot.pause(0.05)
        await pilot.press("equals_sign")
        assert app.filter_bar.input.value.startswith("CommandLine:")


@sync
async def test_the_pane_wraps_again_when_its_width_changes() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await show_only(pilot, app, LONG_CMD)
        await pilot.pause(0.1)
        narrow = len(tree_labels(app))
        await pilot.resize_terminal(160, 40)  # the wide layout: the pane beside the table
        await pilot.pause(0.3)
        tree = app.query_one(FieldTree)
        assert tree.virtual_size.width <= tree.scrollable_content_region.width
        assert len(tree_labels(app)) != narrow


@sync
async def test_a_long_hostile_value_wraps_as_literal_text(tmp_path: Path) -> None:
    from tests.app.applogs import event_xml, write_log

    evil = "powershell " + "[bold red]x[/] " * 30 + "\x1b]52;c;AAAA\x07 end"
    log = write_log(tmp_path / "evil.xml", [
        event_xml(1, 4688, "2024-01-01T00:00:00Z", {"CommandLine": evil}),
    ])
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (100, 30)) as pilot:
        await pilot.pause(0.1)
        labels = tree_labels(app)
        start = next(i for i, label in enumerate(labels) if label.startswith("CommandLine: "))
        wrapped = labels[start:]
        assert len(wrapped) > 2
        text = " ".join(label.strip() for label in wrapped)
        assert text.count("[bold red]x[/]") == 30  # no markup applied
        assert "\x1b" not in text and "end" in text


@sync
async def test_the_xml_tab_is_indented() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await show_only(pilot, app, LONG_CMD)
        await pilot.press("x")
        box = app.query_one("#xml-text", Static)

        def shown() -> str:
            content = box.visual if hasattr(box, "visual") else None
            rendered = box.render()
            return rendered.plain if isinstance(rendered, Text) else str(content or rendered)

        await wait_for(pilot, lambda: "<EventData>" in shown())
        lines = shown().splitlines()
        assert "  <System>" in lines and "  <EventData>" in lines
        assert any(line.startswith("    <Data Name=\"CommandLine\">") or
                   line.startswith("    <Data Name='CommandLine'>") for line in lines)


@sync
async def test_a_decoded_number_does_not_repeat_the_raw_one() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await show_only(pilot, app, LONG_CMD)
        await pilot.pause(0.1)
        labels = tree_labels(app)
        assert "ProcessId: 0x1b58 (7000)" in labels
        assert "NewProcessId: 0x2f4c (12108)" in labels
        assert not any("= 0x" in label for label in labels)


def test_decoding_shown_adds_only_what_is_new() -> None:
    assert decoding_shown("0x2c4", "0x2c4 (708)") == ("", " (708)")
    assert decoding_shown("0x3e7", "0x3e7 (999) SYSTEM") == ("", " (999) SYSTEM")
    assert decoding_shown("0x0000000000000c8c", "0xc8c (3212)") == ("=", "0xc8c (3212)")
    assert decoding_shown("%%1936", "Type 1: full token") == ("=", "Type 1: full token")
    assert decoding_shown("12", "123") == ("=", "123")  # a longer number is no suffix
    assert decoding_shown("0x2c4", "0x2c4") is None
    assert decoding_shown("0x2c4", None) is None


def test_indenting_keeps_values_and_leaves_damaged_text_alone() -> None:
    xml = ("<!-- reconstructed -->\n<Event xmlns='x'><System><EventID>1</EventID></System>"
           "<EventData><Data Name='a'>  two  spaces </Data><Data Name='b'>&amp;[red]&lt;x</Data></EventData></Event>")
    out = indented(xml)
    assert out.splitlines()[:3] == ["<!-- reconstructed -->", '<Event xmlns="x">', "  <System>"]
    assert '    <Data Name="a">  two  spaces </Data>' in out
    assert '<Data Name="b">&amp;[red]&lt;x</Data>' in out
    damaged_texts = ("(cannot read the XML: OSError: gone)", "<Event><System>",
                     "<!DOCTYPE x [<!ENTITY e 'y'>]><E>&e;</E>")
    for damaged in damaged_texts:
        assert indented(damaged) == damaged
    assert indented('{"EventID": 1, "a": "b"}') == '{\n  "EventID": 1,\n  "a": "b"\n}'


def test_wrapping_keeps_every_character_within_the_width() -> None:
    from rich.cells import cell_len

    from tui.detail_wrap import INDENT, MAX_LINES, wrap_label

    value = "C:\\Windows\\" + "x" * 70 + " -a b 漢字漢字 " + "y" * 200
    lines = wrap_label(Text(value), 30)
    assert all(cell_len(line.plain) <= 30 for line in lines)
    assert lines[0].plain + "".join(line.plain[len(INDENT):] for line in lines[1:]) == value
    huge = wrap_label(Text("z" * 100_000), 40)
    assert len(huge) == MAX_LINES and "more characters" in huge[-1].plain


@sync
async def test_no_sideways_scrolling_once_the_wrapped_lines_bring_a_scrollbar(tmp_path: Path) -> None:
    from tests.app.applogs import event_xml, write_log

    many = {f"Field{i}": f"value {i}" for i in range(40)}
    many["CommandLine"] = "powershell -enc " + "A" * 400
    log = write_log(tmp_path / "two.xml", [
        event_xml(1, 4688, "2024-01-01T00:00:00Z", {"NewProcessName": "C:\\a.exe"}),
        event_xml(2, 4688, "2024-01-01T00:00:01Z", many),
    ])
    app = EvtxApp([str(log)], use_cache=False)
    async with opened(app, (100, 60)) as pilot:
        tree = app.query_one(FieldTree)
        assert not tree.show_vertical_scrollbar  # the first event fits
        await pilot.press("down")
        await wait_for(pilot, lambda: app.detail.event is not None and app.detail.event.record_id == 2)
        await pilot.pause(0.1)
        assert tree.show_vertical_scrollbar
        assert tree.virtual_size.width <= tree.scrollable_content_region.width


@sync
async def test_x_in_the_field_tree_moves_focus_to_the_xml_which_scrolls() -> None:
    """`x` with the field tree focused hid the tree and left nothing focused: no key scrolled."""
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await show_only(pilot, app, LONG_CMD)
        await pilot.press("enter")
        assert isinstance(app.focused, FieldTree)
        await pilot.press("x")
        xml = app.query_one("#xml-scroll")
        await wait_for(pilot, lambda: xml.max_scroll_y > 0)
        assert app.focused is xml
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: xml.scroll_y == 2)
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: xml.scroll_y > 2)
        await pilot.press("x")  # back to the fields, still in the pane
        assert isinstance(app.focused, FieldTree)


@sync
async def test_the_xml_tab_indents_an_event_holding_control_characters(tmp_path: Path) -> None:
    """ESC and BEL are no XML 1.0 (not even as `&#x1b;`): the parsers' indenter refused such an
    event and the tab showed it on one line. Indented, the values kept as written."""
    from tests.app.applogs import event_xml, write_log

    command = "cmd \x1b[31mRED\x1b[0m \x1b]52;c;aGVsbG8=\x07 end"
    events = [event_xml(1, 4688, "2024-05-01T10:00:00.0000000Z",
                        {"NewProcessName": "C:\\x\\evil.exe", "CommandLine": command, "ProcessId": "0x4"})]
    log = write_log(tmp_path / "controls.xml", [e.replace("\x1b", "&#x1b;").replace("\x07", "&#x7;") for e in events])
    app = EvtxApp([str(log)])
    async with opened(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: app.detail.event is not None)
        assert app.detail.event is not None and app.detail.event.get("CommandLine") == command
        await pilot.press("x")
        box = app.query_one("#xml-text", Static)

        def shown() -> str:
            rendered = box.render()
            return rendered.plain if isinstance(rendered, Text) else str(getattr(box, "visual", rendered))

        await wait_for(pilot, lambda: "<EventData>" in shown())
        lines = shown().splitlines()
        assert "  <System>" in lines and "  <EventData>" in lines and lines[-1] == "</Event>"
        data = next(line for line in lines if "CommandLine" in line)
        assert data.startswith("    <Data Name=")
        assert data.endswith(">cmd &#x1b;[31mRED&#x1b;[0m &#x1b;]52;c;aGVsbG8=&#x7; end</Data>")
        assert not any(ch in shown() for ch in "\x1b\x07")
