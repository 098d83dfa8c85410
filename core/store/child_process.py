"""Starting one of our own modules as a child process (`python -m core.xxx_child ...`).

The app hands long CPU-bound work to children (ingest, findings): it keeps the GIL for the UI,
and a thread-running process must not fork. The child runs in this same interpreter, with the
project on its path whatever the current directory is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])


def module_command(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `python -m module args...`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return [sys.executable, "-m", module, *args], env
