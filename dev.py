#!/usr/bin/env python3
"""Set-up and entry points for a fresh machine with only Python 3.11+ (stdlib only).

    python3 dev.py demo    create/refresh .venv, then open the app on the bundled demo log
    python3 dev.py test    create/refresh .venv, then run the test suite (pytest, 2 workers)
    python3 dev.py lint    ruff + mypy --strict on core/ and parsers/
    python3 dev.py bench   the ingest benchmark (bench/ingest.py)

The venv is re-installed only when pyproject.toml changes (a stamp file records its hash).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".evtx-explorer-installed"


#: What each command needs installed: the app alone, or the app with the test, lint and bench
#: tools (and the fleet extra: PySpark, pyarrow, DuckDB; about 1 GB). `demo` needs no more than
#: the app, so a first look does not wait for Spark.
EXTRAS = {"demo": "", "test": "[dev]", "lint": "[dev]", "bench": "[dev]"}


def ensure_venv(extra: str = "[dev]") -> None:
    """Create `.venv` and install the project with `extra` ("" or "[dev]"), unless the stamp
    says this pyproject.toml was installed with as much already."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under whatever python3 is on PATH
        sys.exit(f"evtx-explorer needs Python 3.11+, this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    done = STAMP.read_text().split() if STAMP.exists() else []
    if (BIN / "python").exists() and done[:1] == [digest] and (extra == "" or "[dev]" in done[1:]):
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    what = "evtx-explorer" + (" and its dev tools" if extra else "")
    print(f"installing {what} into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "-e", f".{extra}"], check=True, cwd=ROOT)
    STAMP.write_text(f"{digest} {extra or '[app]'}\n")


def run(cmd: list[str]) -> int:
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__)
        return 2
    what, rest = argv[0], argv[1:]
    ensure_venv(EXTRAS[what])
    if what == "demo":
        return run([str(BIN / "evtx-explorer"), "demo", *rest])
    if what == "test":
        jobs = os.environ.get("PYTEST_JOBS", "2")
        return run([str(BIN / "python"), "-m", "pytest", "-n", jobs, "--dist", "worksteal", *rest])
    if what == "lint":
        status = run([str(BIN / "ruff"), "check", "."])
        return status or run([str(BIN / "mypy")])
    return run([str(BIN / "python"), "bench/ingest.py", *rest])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # ctrl-c: the command it ran has said what it stopped
        sys.exit(130)
