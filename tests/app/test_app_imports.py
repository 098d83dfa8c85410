"""The app's start imports no engine: the correlation model, the findings rules, the case keys
and the views load when first used (plain imports inside functions, which fail loudly when a
module is broken), so they do not delay the first rows."""

from __future__ import annotations

import subprocess
import sys

from tests.apputil import ROOT

DEFERRED = ("core.correlate", "core.findings", "core.report", "tui.case_actions", "tui.model_cache",
            "tui.correlation", "tui.processes", "tui.handles", "tui.sessions", "tui.findings_view", "tui.marks")


def test_starting_the_app_imports_no_engine_and_no_view() -> None:
    code = "import sys, tui.app\nprint(' '.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = [m for m in out.stdout.split() if m.startswith(DEFERRED)]
    assert loaded == []


def test_every_view_module_imports() -> None:
    """What the deferral must not hide: each view's module is there and imports."""
    from tui.commands import VIEWS
    from tui.workspace import Workspace

    for _title, make in VIEWS.values():
        if make is not None:
            assert make(Workspace()).__class__.__name__.endswith("Screen")
