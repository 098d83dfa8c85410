"""The layers point one way: `core` and `parsers` never import textual, `tui` or `cli`."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)])]


def test_core_and_parsers_never_import_textual() -> None:
    modules = _modules("core") + _modules("parsers") + ["cli.cmd_stats", "cli.cmd_query"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(n for n in sys.modules if n == 'textual' or n.startswith(('textual.', 'tui', 'rich')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(modules) > 8
    assert out.stdout.strip() == "", f"core/parsers pulled in: {out.stdout}"


def test_no_textual_import_statement_in_core_or_parsers() -> None:
    for package in ("core", "parsers"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "import textual" not in text and "from textual" not in text, path
            assert "from tui" not in text and "import tui" not in text, path
            assert "from cli" not in text and "import cli" not in text, path


def test_fast_path_loads_clean_evtx_without_python_evtx_or_lxml() -> None:
    """python-evtx and lxml cost ~70 ms of imports before a cold start's first event: the fast
    path imports them only when a record falls back (they are the reference, not the route)."""
    from tests.shared import sample

    path = sample("evtx/parsers/omerbenamram__samples__security.evtx")
    code = (
        "import sys\n"
        "from parsers import evtx\n"
        "from core.model import Event\n"
        f"n = sum(1 for e in evtx.iter_events({str(path)!r}, 0, jobs=1) if isinstance(e, Event))\n"
        "print(n, sorted({m.split('.')[0] for m in sys.modules if m.startswith(('Evtx', 'lxml'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    count, loaded = out.stdout.split(" ", 1)
    assert int(count) > 1000
    assert loaded.strip() == "[]", f"imported on the fast path: {loaded}"
