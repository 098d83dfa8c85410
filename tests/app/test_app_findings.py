"""Pilot tests of findings in the main screen: the table's marker column and the detail pane's
Findings node (issue 6, "in the app"), on the demo intrusion log."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import tui.model_cache as model_cache
from core.store.store import Store
from tests.app.applogs import tree_labels
from tests.app.selected_event import findings_node_labels, markers, select, store_id_of
from tests.apputil import DEMO, app_loaded, opened, screen_text, sync, wait_for
from tui.app import EvtxApp
from tui.help import HelpScreen

MIMIKATZ_RECORD = 48232  # mk64.exe "sekurlsa::logonpasswords" from %TEMP%, elevated
SVCHOST_CHILD_RECORD = 48217  # taskhostw.exe in System32 started by svchost.exe


@sync
async def test_marker_column_shows_the_most_severe_finding_and_nothing_on_a_plain_row() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await wait_for(pilot, lambda: bool(app.table.findings))
        mk64 = store_id_of(app, MIMIKATZ_RECORD)
        plain = store_id_of(app, SVCHOST_CHILD_RECORD)
        await select(pilot, app, mk64)
        assert markers(app) == " !"
        # The glyph is coloured too when colours exist (on a row other than the cursor's).
        await select(pilot, app, plain)
        assert markers(app) == "  "
        table = app.table
        index = next(i for i in range(table.row_count) if (r := table.row_at(i)) and r.id == mk64)
        line = table.render_line(1 + index - int(table.scroll_y))
        glyph = next(seg for seg in line if seg.text == "!")
        assert glyph.style is not None and glyph.style.color is not None
        # Medium and low findings have their own glyphs (48230: UAC off is medium).
        await select(pilot, app, store_id_of(app, 48230))
        assert markers(app) == " +"
        await select(pilot, app, store_id_of(app, 48263))  # whoami run as administrator: low
        assert markers(app) == " ."


@sync
async def test_detail_pane_says_which_rules_fired_and_why() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.table.findings))
        await select(pilot, app, store_id_of(app, MIMIKATZ_RECORD))
        labels = findings_node_labels(app)
        assert labels[0].startswith("Findings (")
        restricted = [lab for lab in labels if "restricted-substring" in lab]
        assert len(restricted) == 1
        assert "high" in restricted[0] and "sekurlsa::" in restricted[0]
        assert any("image-in-restricted-folder" in lab and "Temp" in lab for lab in labels)
        # Most severe first, and visible on screen near the top of the pane.
        assert "high" in labels[1]
        assert "restricted-substring" in screen_text(app)
        # A plain event says so.
        await select(pilot, app, store_id_of(app, SVCHOST_CHILD_RECORD))
        assert findings_node_labels(app) == ["Findings", "no findings"]
        assert not any("restricted-substring" in lab for lab in tree_labels(app))


@sync
async def test_a_marked_event_with_a_finding_shows_both() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 30)) as pilot:
        await wait_for(pilot, lambda: bool(app.table.findings) and app.workspace.case is not None)
        mk64 = store_id_of(app, MIMIKATZ_RECORD)
        await select(pilot, app, mk64)
        await pilot.press("m")
        await wait_for(pilot, lambda: mk64 in app.table.marked)
        assert markers(app) == "*!"
        await select(pilot, app, store_id_of(app, SVCHOST_CHILD_RECORD))
        await pilot.press("m")
        await pilot.pause(0.05)
        assert markers(app) == "* "


@sync
async def test_detail_says_computing_until_the_findings_arrive_then_updates_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = model_cache.build_findings

    def slow(store: Store, stop: threading.Event | None = None) -> model_cache.FindingsData:
        release.wait(20)
        return real(store, stop)

    monkeypatch.setattr(model_cache, "build_findings", slow)
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40), ready=False) as pilot:  # the findings worker waits
        await wait_for(pilot, lambda: app_loaded(app))
        mk64 = store_id_of(app, MIMIKATZ_RECORD)
        await select(pilot, app, mk64)
        assert findings_node_labels(app) == ["Findings", "findings: computing…"]
        assert markers(app) == "  "
        release.set()
        await wait_for(pilot, lambda: bool(app.table.findings))
        await pilot.pause(0.05)
        assert any("restricted-substring" in lab for lab in findings_node_labels(app))
        assert markers(app) == " !"


@sync
async def test_the_findings_view_reuses_what_the_table_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = model_cache.build_findings

    def counted(store: Store, stop: threading.Event | None = None) -> model_cache.FindingsData:
        calls.append(1)
        return real(store, stop)

    monkeypatch.setattr(model_cache, "build_findings", counted)
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.table.findings))
        await pilot.press("5")
        await wait_for(pilot, lambda: "restricted-substring" in screen_text(app))
        assert calls == [1]


@sync
async def test_a_bad_rules_file_is_reported_in_the_detail_pane() -> None:
    rules = Path(os.environ["EVTX_EXPLORER_CONFIG_DIR"]) / "rules.toml"  # set by tests/conftest.py
    rules.write_text("[no-such-rule]\nseverity = 'high'\n", encoding="utf-8")
    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await select(pilot, app, store_id_of(app, MIMIKATZ_RECORD))
        await wait_for(pilot, lambda: "unavailable" in " ".join(findings_node_labels(app)))
        labels = findings_node_labels(app)
        assert "rules.toml" in labels[1]
        assert app.table.findings == {}
        assert markers(app) == "  "


@sync
async def test_help_explains_the_marker_glyphs() -> None:
    app = EvtxApp([str(DEMO)])
    async with opened(app, (100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from textual.widgets import Static

        shown = str(app.screen.query_one("#help-text", Static).render())
        for glyph, meaning in (("*", "marked event"), ("!", "high"), ("+", "medium"), (".", "low")):
            assert any(line.strip().startswith(glyph) and meaning in line for line in shown.splitlines())


@sync
async def test_rows_fit_the_table_once_the_scrollbar_appears() -> None:
    """The two marker columns take a cell from the summary; the summary must still end in `…`
    inside the table (the scrollbar appears after the first layout, when rows arrive)."""
    app = EvtxApp([str(DEMO)])
    async with opened(app, (80, 24)):
        table = app.table
        line = table.render_line(1)
        text = "".join(seg.text for seg in line)
        assert len(text) == table.line_width
        row = table.row_at(int(table.scroll_y))
        assert row is not None and len(row.summary) > 30
        assert text.rstrip().endswith("…")


@sync
async def test_findings_filters_say_why_they_show_nothing() -> None:
    """With the built-in rules only, `a` and `s` had no value to cycle and did nothing, silently;
    `l` up to a level no finding has left an empty tree."""
    from tui.findings_view import FindingsScreen

    app = EvtxApp([str(DEMO)])
    async with opened(app, (120, 40)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen)
                       and "restricted-substring" in screen_text(app))

        def notices() -> list[str]:
            return [n.message for n in app._notifications]

        await pilot.press("a")
        await wait_for(pilot, lambda: any(m.startswith("no tactic to filter by: only Sigma rules") for m in notices()))
        await pilot.press("s")
        await wait_for(pilot, lambda: any(m.startswith("no status to filter by: only Sigma rules") for m in notices()))
        assert "restricted-substring" in screen_text(app)  # nothing filtered
        for _ in range(4):  # low, medium, high, critical: the demo has no critical finding
            await pilot.press("l")
        await wait_for(pilot, lambda: "no findings at critical level or above (l shows more)" in screen_text(app))
        await pilot.press("l")  # all again
        await wait_for(pilot, lambda: "restricted-substring" in screen_text(app))
        assert "no findings at" not in screen_text(app)
