"""Ingest benchmark: python-evtx vs our fast path vs the full store ingest vs the Rust parser.

In one run, on the same file, median of `--runs` runs each:

  (a) python-evtx `record.xml()` + lxml parse, on a fixed slice of records (it is slow);
  (b) our fast path, one process             (`parsers.evtx.iter_events(jobs=1)`);
  (c) our fast path, all cores               (`parsers.evtx.iter_events()`);
  (d) full ingest into a fresh store         (`core.store.ingest.load_paths`, index build included);
  (e) the Rust-backed `evtx` package         (`PyEvtxParser(path).records_json()` + `json.loads`);

then the ratios the project's budgets name (ingest / rust >= 1.0, fast / python-evtx >= 300) and
the time to the first event. Without `--file` it first builds a ~100 MB log by replicating the
chunks of a real Security.evtx from ../shared/samples (see bench/make_big_log.py) under
bench/out/ (git-ignored).

Usage: .venv/bin/python bench/ingest.py [--file X.evtx] [--runs 3] [--mb 100] [--slice 2000] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import mmap
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.make_big_log import build  # noqa: E402
from core.model.event import Event  # noqa: E402
from parsers import evtx  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "evtx" / "parsers" / "omerbenamram__samples__security.evtx"


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the decoder's workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _median(runs: int, fn: Callable[[], int]) -> tuple[float, float, int]:
    """Median wall time and median CPU time (every process) of `runs` calls of `fn`, and the
    count it returned."""
    times = []
    cpus = []
    count = 0
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        count = fn()
        times.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(times), statistics.median(cpus), count


def python_evtx_slice(path: str, limit: int) -> int:
    """(a) python-evtx's own walk, record.xml() + lxml, on the first `limit` records."""
    from Evtx.Evtx import ChunkHeader, Record
    from lxml import etree

    from parsers.evtx.reference import chunk_offsets, record_offsets
    from parsers.xml_to_event import safe_parser

    parser = safe_parser()
    n = 0
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in chunk_offsets(buf):
            chunk = ChunkHeader(buf, chunk_ofs)
            for ofs in record_offsets(buf, chunk_ofs, 0, path, index):
                if not isinstance(ofs, int):
                    continue
                etree.fromstring(Record(buf, ofs, chunk).xml().encode("utf-8"), parser)
                n += 1
                if n >= limit:
                    return n
    return n


def fast(path: str, jobs: int | None) -> int:
    """(b)/(c) our loader, events materialised in the calling process."""
    return sum(1 for item in evtx.iter_events(path, 0, jobs=jobs) if isinstance(item, Event))


def ingest(path: str, jobs: int | None) -> int:
    """(d) the full ingest into a fresh store, indexes included."""
    from core.store.ingest import load_paths
    from core.store.store import Store

    with tempfile.TemporaryDirectory(prefix="evtx-bench-") as tmp:
        store = Store(Path(tmp) / "bench.db")
        try:
            infos = load_paths([path], store, jobs=jobs)
            if infos[0].error:
                raise SystemExit(infos[0].error)
            return infos[0].records
        finally:
            store.close()


def rust(path: str) -> int:
    """(e) the Rust-backed parser, each record turned into Python dicts."""
    from evtx import PyEvtxParser

    n = 0
    # evtx's stub types __next__ as Optional[Any], but a None from it ends the iteration
    records: Iterable[Any] = PyEvtxParser(path).records_json()
    for record in records:
        json.loads(record["data"])
        n += 1
    return n


#: Run in a fresh interpreter (nothing compiled or cached yet, as when the app opens a log):
#: seconds from opening the file to the first decoded event, and to the first event committed
#: to a new store.
_FIRST = """
import sys, tempfile, threading, time
from pathlib import Path
from parsers import evtx
from core.store.ingest import load_paths
from core.store.store import Store
path, jobs, what = sys.argv[1], (int(sys.argv[2]) if sys.argv[2] != "0" else None), sys.argv[3]
if what == "decoded":
    start = time.perf_counter()
    it = evtx.iter_events(path, 0, jobs=jobs)
    next(it)
    print(time.perf_counter() - start)
    it.close()
else:
    stop = threading.Event()
    stored = []
    def progress(p):
        if not stored and p.records:
            stored.append(time.perf_counter() - start)
            stop.set()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "first.db") as store:
        start = time.perf_counter()
        load_paths([path], store, jobs=jobs, progress=progress, stop=stop)
    print(stored[0])
"""


def first_event(path: str, jobs: int | None) -> tuple[float, float]:
    """(to the first decoded event, to the first event in the store), in a fresh process."""
    def run(what: str) -> float:
        argv = [sys.executable, "-c", _FIRST, path, str(jobs or 0), what]
        return float(subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout)

    return run("decoded"), run("stored")


def main() -> int:
    ap = argparse.ArgumentParser(description="EVTX ingest benchmark (see module docstring)")
    ap.add_argument("--file", help="benchmark this .evtx instead of building a ~100 MB one")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is kept (default 3)")
    ap.add_argument("--mb", type=float, default=100.0, help="size of the generated log in MB (default 100)")
    ap.add_argument("--slice", type=int, default=2000, help="records for the python-evtx slice (default 2000)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for (c)/(d) (default: one per core)")
    ap.add_argument("--skip", default="", help="comma-separated measurements to skip: a,b,c,d,e")
    args = ap.parse_args()
    skip = set(args.skip.split(",")) - {""}

    if args.file:
        path = args.file
    else:
        if not SAMPLE.is_file():
            raise SystemExit(f"sample missing: {SAMPLE}; give --file")
        out = ROOT / "bench" / "out" / f"big-{args.mb:g}mb.evtx"
        start = time.perf_counter()
        chunks, records = build(SAMPLE, out, args.mb)
        print(
            f"built {out.relative_to(ROOT)}: {out.stat().st_size / 1e6:.1f} MB, {chunks} chunks, "
            f"{records} records in {time.perf_counter() - start:.1f} s"
        )
        path = str(out)
    jobs = args.jobs or evtx.default_jobs()
    print(f"file: {path} ({Path(path).stat().st_size / 1e6:.1f} MB), runs: {args.runs}, cores used: {jobs}")

    rates: dict[str, float] = {}
    cpu_rates: dict[str, float] = {}

    def measure(key: str, label: str, fn: Callable[[], int]) -> None:
        if key in skip:
            return
        seconds, cpu, count = _median(args.runs, fn)
        rates[key] = count / seconds if seconds else float("inf")
        cpu_rates[key] = count / cpu if cpu else float("inf")
        per_record = cpu / count * 1e6 if count else 0.0
        print(f"({key}) {label:<44} {count:>8} records  {seconds:7.2f} s  {rates[key]:>10,.0f} rec/s"
              f"  CPU {per_record:5.1f} us/record", flush=True)

    measure("a", f"python-evtx xml()+lxml, first {args.slice}", lambda: python_evtx_slice(path, args.slice))
    measure("b", "fast path, 1 process", lambda: fast(path, 1))
    measure("c", f"fast path, {jobs} workers", lambda: fast(path, jobs))
    measure("d", f"full ingest into the store ({jobs} workers)", lambda: ingest(path, jobs))
    measure("e", "Rust evtx records_json + json.loads", lambda: rust(path))

    firsts = [first_event(path, jobs) for _ in range(max(3, args.runs))]
    for i, what in enumerate(("first event decoded", "first event in the store")):
        times = sorted(f[i] for f in firsts)
        print(
            f"{what + ' (fresh process):':<44} {statistics.median(times) * 1000:7.1f} ms (median), "
            f"worst {times[-1] * 1000:.1f} ms (target < 200 ms)"
        )

    def ratio(num: str, den: str, target: float, label: str) -> None:
        if num in rates and den in rates:
            value = rates[num] / rates[den]
            verdict = "OK" if value >= target else "BELOW TARGET"
            print(f"{label:<38} {value:8.2f}x  (target >= {target:g}x: {verdict})")

    ratio("d", "e", 1.0, "ingest / rust")
    if "d" in cpu_rates and "e" in cpu_rates:
        # What the wall-time ratio tends to when every core is busy with other work (each
        # process then gets its share of a core, whatever the number of workers).
        value = cpu_rates["d"] / cpu_rates["e"]
        print(f"{'ingest / rust in CPU time':<38} {value:8.2f}x  (the ratio on a fully loaded machine)")
    ratio("b", "a", 300.0, "fast 1 process / python-evtx")
    ratio("c", "a", 300.0, "fast all cores / python-evtx")
    ratio("c", "b", 1.0, "fast all cores / fast 1 process")
    ratio("c", "e", 1.0, "fast all cores / rust")
    return 0


if __name__ == "__main__":
    sys.exit(main())
