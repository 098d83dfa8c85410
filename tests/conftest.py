"""Every test runs with its own cache, case and config directories: nothing is read from or
written to the tester's real ones (a `rules.toml` there must not change what findings fire), and
no state leaks between tests. The bundled demo log is written first if it is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.apputil import DEMO


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVTX_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "isolated-config"
    config.mkdir(exist_ok=True)
    monkeypatch.setenv("EVTX_EXPLORER_CONFIG_DIR", str(config))
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _demo_log() -> None:
    if not DEMO.exists():
        subprocess.run([sys.executable, str(DEMO.parent / "make_demo.py")], cwd=DEMO.parents[1], check=True)
