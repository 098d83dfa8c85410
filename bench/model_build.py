"""Benchmark of the correlation model's build (not a timed test): `model_from_store` on a store.

    python -m bench.model_build [--db PATH] [--events 1000000] [--seed 18] [--repeat 1] [--profile 30] [--untuned]

By default the store is the cached `bench/churn.py` store of `--events` events under /tmp (built
once, like `bench/correlation_views.py` does), opened read-only: the build writes nothing. Prints,
per run, the correlation events scanned, events per second (the project's figure for the
budget), the log's events and their rate, wall and CPU time (the machine is
shared: CPU time says what the work costs whatever else runs), the process's peak RSS, and the
CPU time and peak RSS of the child processes it waited for (the build's reader and the handle
uses' grouping, where the code has them; the peak is the largest child's as the kernel counts it,
which keeps across `exec` the RSS of the build at the moment it started that child: the grouping
child, started after the scan, reports at least the build's RSS then), and what Python's
small-object allocator holds with the model alive (`bench/small_objects.py`: arenas, bytes in
use, free blocks and empty pools). With `--profile N`, the N functions of most own time
(cProfile: slows the run about twofold, so its figures are not the run's).
The C allocator is tuned as the app and the CLI tune it (`core.store.heap.tune_allocator`) unless
`--untuned` (the figures before 2026-12-05 morning).
Read the figures as comparisons of runs alternated on one machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import add_churn_args, churn_store  # noqa: E402
from bench.small_objects import small_objects  # noqa: E402
from core.correlate.model import model_from_store  # noqa: E402
from core.store.heap import tune_allocator  # noqa: E402
from core.store.store import Store  # noqa: E402


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _rss() -> dict[str, float]:
    """The process's resident memory now (MB), anonymous and file-backed apart."""
    with open("/proc/self/status", encoding="ascii") as f:
        return {f"{line.split(':')[0]}_mb": round(int(line.split()[1]) / 1024)
                for line in f if line.startswith(("VmRSS:", "RssAnon:", "RssFile:"))}


def run(db: Path, profile: int = 0) -> dict[str, Any]:
    """One build of the model from `db` (read-only), with its figures."""
    with Store(db, readonly=True) as store:
        prof = cProfile.Profile() if profile else None
        t0, c0, k0 = time.perf_counter(), _cpu(), _cpu(resource.RUSAGE_CHILDREN)
        if prof is not None:
            prof.enable()
        model = model_from_store(store)
        if prof is not None:
            prof.disable()
        wall, cpu, child = time.perf_counter() - t0, _cpu() - c0, _cpu(resource.RUSAGE_CHILDREN) - k0
        events = model.size
        log_events = int(store.conn.execute("SELECT count(*) FROM events").fetchone()[0])
    if prof is not None:
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
    return {
        "events": events,
        "events_per_s": round(events / wall),
        # The log's events (those outside the model too: the build reads the ones it attaches):
        # the rate per event of the log the analyst opened, beside the stricter one above.
        "log_events": log_events,
        "log_events_per_s": round(log_events / wall),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "child_cpu_s": round(child, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **_rss(),  # with the model alive: anonymous memory, and the mapped side files (page cache)
        "child_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "processes": len(model.processes),
        "handles": len(model.handles),
        "sessions": len(model.sessions),
        # The small-object allocator with the model alive: arenas kept by a few long-lived objects show here.
        "small_objects": small_objects(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_churn_args(parser)
    parser.add_argument("--repeat", type=int, default=1, help="builds in this process (RSS is the peak of all)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N top functions")
    parser.add_argument("--untuned", action="store_true", help="glibc's allocator as it comes (not as the app's)")
    args = parser.parse_args()
    if not args.untuned:
        tune_allocator()
    db = churn_store(args)
    for _ in range(max(1, args.repeat)):
        print(json.dumps({"store": str(db), **run(db, args.profile)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
