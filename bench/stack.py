"""Stack and timeline at a million events (not a timed test): the engine calls the Events screen
runs in a worker when the user stacks a column or opens the histogram.

    python bench/stack.py [--events 1000000] [--runs 3]

Reuses (or builds) the synthetic store of `bench/table.py` and prints, per call, the median
wall time of `--runs` runs after a first call (`first_ms`: the one that makes the view's id
set, as the first stack of a new filter does; the table's fetcher has usually made it already).
Budget (issue 15): a stack or histogram of a 1M-event view <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import build_store  # noqa: E402
from core.query.compile import compile_query  # noqa: E402
from core.query.stack import Stack, stack  # noqa: E402
from core.query.timeline import HOUR, Timeline, timeline  # noqa: E402
from core.store import schema  # noqa: E402
from core.store.store import Store  # noqa: E402

#: (name, query, what): stacks of System columns and EventData fields, whole and filtered views.
STACKS = (
    ("stack_eventid", "", "id"),
    ("stack_computer", "", "computer"),
    ("stack_channel", "", "channel"),
    ("stack_pid_column", "", "processid"),
    ("stack_pid_alias", "", "pid"),
    ("stack_commandline", "", "CommandLine"),
    ("stack_image_alias", "", "image"),
    ("stack_commandline_of_4688", "4688", "CommandLine"),
    ("stack_image_of_4688_or_4689", "4688 OR 4689", "image"),
    ("stack_processid_of_handle", "handle:0x438", "ProcessId"),
    ("stack_user_of_two_ids", "id:(4624 OR 4688)", "user"),
    ("stack_rare_marker", "needle", "Marker"),
)
TIMELINES = (
    ("timeline_all_auto", "", None),
    ("timeline_all_1h", "", HOUR),
    ("timeline_4688_auto", "4688", None),
    ("timeline_field_auto", "handle:0x438", None),
)


T = TypeVar("T")


def timed(call: Callable[[], T], runs: int) -> tuple[float, float, T]:
    """(first call ms: the view's id set made then; median of the next `runs`; the result)."""
    t0 = time.perf_counter()
    result = call()
    first = round((time.perf_counter() - t0) * 1000, 1)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return first, round(statistics.median(times) * 1000, 1), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    db = args.db or Path(tempfile.gettempdir()) / f"evtx-explorer-bench-{args.events}-v{schema.SCHEMA_VERSION}.sqlite"
    build_store(db, args.events)
    results: dict[str, object] = {}
    for name, query, by in STACKS:
        store = Store(db, readonly=True)  # a fresh connection per call, as a new worker's

        def stack_call(s: Store = store, q: str = query, b: str = by) -> Stack:
            return stack(s, compile_query(q), b, limit=100)

        first, ms, st = timed(stack_call, args.runs)
        results[name] = {"first_ms": first, "ms": ms, "events": st.total, "distinct": st.distinct}
        store.close()
    for name, query, width in TIMELINES:
        store = Store(db, readonly=True)

        def timeline_call(s: Store = store, q: str = query, w: int | None = width) -> Timeline:
            return timeline(s, compile_query(q), w)

        first, ms, tl = timed(timeline_call, args.runs)
        results[name] = {"first_ms": first, "ms": ms, "events": tl.total, "buckets": len(tl.buckets)}
        store.close()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
