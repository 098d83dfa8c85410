"""Each widget's own CSS lives beside it (its DEFAULT_CSS), and tui/app.tcss holds only the main
screen's layout: the arrangement of the panes, narrow or wide. A rule for a widget's insides
added to app.tcss would be found here (and would silently outrank the widget's own rules)."""

from __future__ import annotations

import re
from pathlib import Path

from tui.detail import DetailPane
from tui.event_table import EventTable
from tui.filter_bar import FilterBar
from tui.status import StatusBar

TUI = Path(__file__).resolve().parents[2] / "tui"


def _selectors(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]


def test_app_css_holds_the_layout_only() -> None:
    selectors = _selectors((TUI / "app.tcss").read_text(encoding="utf-8"))
    assert selectors
    layout = re.compile(r"(\.-wide )?(#main|EventTable|DetailPane(:focus-within)?)\Z")
    assert [s for s in selectors if not layout.match(s)] == []


def test_each_widget_styles_itself() -> None:
    for widget in (EventTable, DetailPane, FilterBar, StatusBar):
        own = _selectors(widget.DEFAULT_CSS)
        assert own and all(s.startswith(widget.__name__) for s in own), widget.__name__
