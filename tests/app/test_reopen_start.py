"""A reopened log's views come first: what the app does besides showing them keeps off their way.

On a reopen every view is read from the store in 0.1-0.3 s, but the app's start-up work shares
the interpreter and the cores with it. Here: a stored Processes tree asks for no table write (its
check imported every other view's module in a thread while the next view opened); a stored
list's first page is read without counting its lines (`count(*)` read every line's cells, again
for every page); the findings child runs at a lower CPU priority; and the findings are read
back from it (0.1-0.2 s of unpickling at a million events) only once a view asked for is shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tui.model_cache as model_cache
from core.findings.engine import store_findings
from core.findings.rules import load_rules
from core.store import correlation_tables as tables
from core.store.cache import open_inputs
from core.store.store import Store
from tests.apputil import DEMO, ROOT
from tests.correlate.stored_tables import BUILDERS
from tui.list_pages import read_first
from tui.model_cache import ModelCache
from tui.workspace import QUIET_WAIT_LIMIT, VIEW_QUIET, Workspace

#: Opens the stored log in the app, shows the Processes view, lets the app run on for a while
#: and prints which other views' modules were imported meanwhile.
REOPEN = """
import asyncio, json, sys
from pathlib import Path
from bench.view_ready import shown
from tui.app import EvtxApp

async def main() -> None:
    app = EvtxApp([], store_path=Path(sys.argv[1]))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.table.row_at(0) is None:
            await pilot.pause(0.02)
        app.action_view("2")
        for _ in range(500):
            if shown(app):
                break
            await pilot.pause(0.02)
        status = str(app.screen.query_one("#view-status").render())
        await pilot.pause(1.5)  # (a write's check started 0.25 s after the tree was filled)
    views = ("tui.handles", "tui.sessions", "tui.process_access")
    print(json.dumps({"status": status, "imported": [m for m in views if m in sys.modules]}))

asyncio.run(main())
"""


@pytest.fixture
def stored_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo log's store with every view stored (what a reopen reads)."""
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    store = open_inputs([str(DEMO)])
    path = store.path
    store.close()
    assert ModelCache().stored_view(path, True, "processes", BUILDERS, wait=True)
    return path


def test_a_reopened_processes_view_loads_no_other_view(stored_demo: Path) -> None:
    out = subprocess.run([sys.executable, "-c", REOPEN, str(stored_demo)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "root processes" in result["status"]  # the stored tree is on screen
    assert result["imported"] == []


def test_a_stored_list_is_opened_without_counting_its_lines(stored_demo: Path) -> None:
    with Store(stored_demo, readonly=True) as store:
        for name in ("handles", "sessions", "process_access"):
            lines = store.conn.execute("SELECT count(*) FROM corr_row WHERE list = ?", (name,)).fetchone()[0]
            statements: list[str] = []
            store.conn.set_trace_callback(statements.append)
            total, count, first = read_first(store, name, 20_000)
            store.conn.set_trace_callback(None)
            assert (count, len(first)) == (lines, min(lines, 100))
            assert tables.list_size(store, name) == (total, lines)
            assert not [s for s in statements if "count(" in s.lower()], name


def test_the_findings_child_runs_at_a_lower_priority(stored_demo: Path) -> None:
    code = ("import os, sys\nimport core.findings.child as child\nbefore = os.nice(0)\n"
            "child.store_findings = lambda store, rules: sys.exit(print(os.nice(0) - before))\n"
            "child.main([sys.argv[1]])\n")
    out = subprocess.run([sys.executable, "-c", code, str(stored_demo)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) > 0


def test_findings_are_read_back_once_no_view_is_opening(stored_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(store_path=stored_demo, loaded=True)
    calls: list[float] = []
    real_wait = ws.wait_quiet

    def waited() -> None:
        real_wait()
        calls.append(time.monotonic())

    ws.models.wait_quiet = waited
    monkeypatch.setattr(model_cache, "CHILD_FINDINGS_EVENTS", 0)  # the demo log's findings from a child
    ws.hold_background()  # a view was just asked for
    asked = time.monotonic()
    data, partial = ws.findings()
    with Store(stored_demo, readonly=True) as store:
        assert data == store_findings(store, load_rules(None)) and not partial
    assert len(calls) == 1 and calls[0] - asked >= VIEW_QUIET * 0.9


def test_waiting_for_a_quiet_ui_is_bounded() -> None:
    ws = Workspace()
    t0 = time.monotonic()
    ws.wait_quiet()  # no view asked for: at once
    assert time.monotonic() - t0 < 0.05
    ws._quiet_after = time.monotonic() + 3600  # a view that never shows
    ws.models.stop.set()  # ... and the app ends: no wait
    ws.wait_quiet()
    assert time.monotonic() - t0 < 0.2 < QUIET_WAIT_LIMIT
