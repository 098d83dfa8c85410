"""Benchmark of opening a log in the app (not a timed test): cold, then again from the cache.

    .venv/bin/python bench/app_open.py [FILE]      # default: bench/out/big-100mb.evtx

Runs the app headless (Textual's Pilot) with a fresh cache directory and reports, from the
moment the app object is created: when the first rows are on screen (budget: 0.5 s whatever the
file size), when the log is fully loaded and indexed, and the same for a second launch that
reopens the cached store (budget: 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def launch(path: str) -> dict[str, float]:
    from tui.app import EvtxApp

    start = time.perf_counter()
    app = EvtxApp([path])
    result: dict[str, float] = {}
    async with app.run_test(size=(160, 48)):
        while app.table.row_at(0) is None:
            await asyncio.sleep(0.002)
        result["first_rows_s"] = round(time.perf_counter() - start, 3)
        while not app.workspace.loaded:
            await asyncio.sleep(0.01)
            if time.perf_counter() - start > 600:
                raise TimeoutError(path)
        result["loaded_s"] = round(time.perf_counter() - start, 3)
        while app.table.total is None and time.perf_counter() - start < 600:
            await asyncio.sleep(0.01)
        result["events"] = app.table.total or 0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", default=str(ROOT / "bench" / "out" / "big-100mb.evtx"))
    args = parser.parse_args()
    if not Path(args.file).is_file():
        raise SystemExit(f"{args.file}: missing (bench/ingest.py builds bench/out/big-100mb.evtx)")
    with tempfile.TemporaryDirectory(prefix="evtx-open-") as tmp:
        for name in ("CACHE", "DATA", "CONFIG"):
            os.environ[f"EVTX_EXPLORER_{name}_DIR"] = str(Path(tmp) / name.lower())
        results: dict[str, Any] = {"file": args.file, "mb": round(Path(args.file).stat().st_size / 1e6, 1)}
        results["cold"] = asyncio.run(launch(args.file))
        results["cached"] = asyncio.run(launch(args.file))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
