"""The Process access list alone (not a timed test): what its view does once the model is built.

    python -m bench.access_list [--db PATH] [--events 1000000] [--seed 18]

Builds the model from the cached `bench/churn.py` store of `--events` events (read-only, as
`bench/model_build.py` does; not timed here), then times `model.process_accesses()` (every access
ranked) and the laying out of its first `tui.process_access.FIRST_LINES` lines, the work the view
does before its first screen, in wall and CPU time (the CPU time is the figure to compare on a
shared machine). `bench/correlation_views.py` measures the same inside the app.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import add_churn_args, churn_store  # noqa: E402
from core.correlate.model import model_from_store  # noqa: E402
from core.store.store import Store  # noqa: E402
from tui.process_access import FIRST_LINES, access_items  # noqa: E402


def run(db: Path) -> dict[str, float | int | None]:
    """Build the model from `db`, then its access list's first lines, with their figures."""
    with Store(db, readonly=True) as store:
        t0 = time.perf_counter()
        model = model_from_store(store)
        build = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        listing = model.process_accesses()
        ranked = time.process_time() - c0
        total, items = access_items(listing, FIRST_LINES)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"build_s": round(build, 2), "ranked_cpu_s": round(ranked, 2), "lines": len(items),
            "total_known": total, "first_lines_s": round(wall, 2), "first_lines_cpu_s": round(cpu, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_churn_args(parser)
    args = parser.parse_args()
    db = churn_store(args)
    print(json.dumps({"store": str(db), **run(db)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
