"""The machine's own floor under the app's UI stalls: how late a thread sleeping 5 ms wakes while
other processes keep the cores busy (not a timed test).

    python bench/wake_latency.py [--seconds 6] [--busy 0,1,2]

For each count of busy processes (`--busy`: plain `while True: pass` loops, as the app's reading,
findings and ingest children are while they work), one run of `--seconds`: a thread of this
process sleeps 5 ms in a loop beside a thread of this process that computes (the app's builder or
writer), with the app's GIL switch interval (`tui.app.SWITCH_INTERVAL`). Prints the wake's
lateness (median, 99th percentile, worst) and how many wakes were over 50 ms. On the 2-core
machine of 2026-12-06 a wake was up to ~100 ms late, a few times in six seconds, as soon as one
busy process ran beside the two threads (none without); so was a lone sleeping process beside two
busy loops run as `SCHED_IDLE` (which the guest's scheduler never prefers to it): the virtual
machine's cores, both busy, are taken away by its host for ~100 ms at a time (steal time in
/proc/stat). The longest UI stalls measured there (`bench/correlation_views.py`,
`max_ui_stall_ms` ~100-200 ms while the model is built or the tables written) start from that
floor; no priority given to the app's children would lower it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tui.app import SWITCH_INTERVAL  # noqa: E402

NAP = 0.005


def run(busy: int, seconds: float) -> dict[str, float]:
    """One run with `busy` busy processes beside: the sleeping thread's lateness, in ms."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    done = threading.Event()

    def compute() -> None:
        n = 0
        while not done.is_set():
            n += 1

    worker = threading.Thread(target=compute)
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    worker.start()
    late: list[float] = []
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            time.sleep(NAP)
            late.append((time.perf_counter() - start - NAP) * 1000)
    finally:
        done.set()
        worker.join()
        sys.setswitchinterval(before)
        for loop in loops:
            loop.kill()
            loop.wait()
    late.sort()
    return {"busy_processes": busy, "wakes": len(late), "median_ms": round(statistics.median(late), 1),
            "p99_ms": round(late[int(len(late) * 0.99)], 1), "worst_ms": round(late[-1], 1),
            "over_50_ms": sum(1 for x in late if x > 50)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--busy", default="0,1,2", help="counts of busy processes, one run each")
    args = parser.parse_args()
    for busy in (int(b) for b in args.busy.split(",")):
        print(run(busy, args.seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
