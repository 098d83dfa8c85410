"""Fleet benchmark: `convert` of the ~100 MB log, then query / stack / process instances on Spark
(`local[2]`) vs the local engine (DuckDB) vs the SQLite store.

Steps, each timed once (a benchmark of minutes on a shared 2-core machine, not a median):

  1. build the ~100 MB log (bench/make_big_log.py) under bench/out/, unless `--file`;
  2. `convert` it (one host);
  3. ten hosts: the converted files copied ten times with the computer renamed HOST01..HOST10 and
     the source path made distinct (what converting ten copies from ten machines would write:
     the same bytes, by another host; converting them again would only time `convert` ten times);
  4. the same work on each engine, one host and ten hosts: a count (`4688 image:*cmd*`), a free-text
     count (`"powershell"`), a stack (`SubjectUserName`), and the process instances of every host;
     the SQLite store on the one-host log only (ten copies of 100 MB in one SQLite store is what the
     fleet is for), its stack by Python over its rows (the store has no stack of its own yet).

Usage: .venv/bin/python bench/fleet.py [--file X.evtx] [--mb 100] [--copies 10] [--skip spark,sqlite]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.make_big_log import build  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "evtx" / "parsers" / "omerbenamram__samples__security.evtx"
COUNT_QUERY = "4624 LogonType:3"
TEXT_QUERY = '"powershell"'
STACK_BY = "SubjectUserName"


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    size = len(result) if isinstance(result, list) else result
    print(f"  {label:<34} {time.perf_counter() - start:8.2f} s   ({size})", flush=True)
    return result


def replicate(one: Path, many: Path, copies: int) -> None:
    """`copies` hosts from one converted host (see the module docstring, step 3)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from core.fleet.schema import host_dir

    shutil.rmtree(many, ignore_errors=True)
    for n in range(1, copies + 1):
        host = f"HOST{n:02d}.corp.local"
        for path in sorted((one / "events").glob("*/*/*.parquet")):
            table = pq.read_table(path)
            table = table.set_column(table.schema.get_field_index("computer"), "computer",
                                     pa.array([host] * table.num_rows, pa.string()))
            source = pc.binary_join_element_wise(table.column("source"), pa.scalar(f"#{host}"), "")
            table = table.set_column(table.schema.get_field_index("source"), "source", source)
            target = many / "events" / f"host={host_dir(host)}" / path.parent.name
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, target / path.name, compression="zstd")


def engine_work(engine: Any, name: str) -> None:
    from core.fleet import api

    timed(f"{name}: count {COUNT_QUERY}", lambda: api.count(engine, COUNT_QUERY))
    timed(f"{name}: count {TEXT_QUERY}", lambda: api.count(engine, TEXT_QUERY))
    timed(f"{name}: stack {STACK_BY}", lambda: api.stack(engine, "", STACK_BY))
    timed(f"{name}: process instances", lambda: api.processes(engine))


def sqlite_work(path: str, db: Path) -> None:
    from core.correlate.model import model_from_store
    from core.query.compile import compile_query
    from core.store.ingest import load_paths
    from core.store.store import Store

    db.unlink(missing_ok=True)
    store = Store(db)
    timed("sqlite: ingest (parse + index)", lambda: load_paths([path], store) and store.size())

    def count(q: str) -> int:
        c = compile_query(q)
        return store.count(c)

    def stack() -> list[tuple[str | None, int]]:
        counts = Counter(se.event.get(STACK_BY) for se in store.iter_events())
        return sorted(counts.items(), key=lambda kv: kv[1])

    timed(f"sqlite: count {COUNT_QUERY}", lambda: count(COUNT_QUERY))
    timed(f"sqlite: count {TEXT_QUERY}", lambda: count(TEXT_QUERY))
    timed(f"sqlite: stack {STACK_BY} (Python)", stack)
    timed("sqlite: process instances", lambda: len(model_from_store(store).processes))
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description="fleet benchmark (see module docstring)")
    ap.add_argument("--file", help="benchmark this .evtx instead of building a ~100 MB one")
    ap.add_argument("--mb", type=float, default=100.0, help="size of the generated log in MB (default 100)")
    ap.add_argument("--copies", type=int, default=10, help="hosts in the many-host dataset (default 10)")
    ap.add_argument("--skip", default="", help="comma-separated: spark, local, sqlite")
    args = ap.parse_args()
    skip = set(args.skip.split(",")) - {""}
    out = ROOT / "bench" / "out"
    if args.file:
        path = args.file
    else:
        if not SAMPLE.is_file():
            raise SystemExit(f"sample missing: {SAMPLE}; give --file")
        big = out / f"big-{args.mb:g}mb.evtx"
        if not big.exists():
            chunks, records = build(SAMPLE, big, args.mb)
            print(f"built {big.relative_to(ROOT)}: {chunks} chunks, {records} records")
        path = str(big)
    print(f"file: {path} ({Path(path).stat().st_size / 1e6:.1f} MB)")

    from core.fleet.convert import convert

    one, many = out / "fleet-1host", out / f"fleet-{args.copies}hosts"
    shutil.rmtree(one, ignore_errors=True)
    results = timed("convert (1 host)", lambda: convert([path], one))
    size = sum(f.stat().st_size for f in one.rglob("*.parquet")) / 1e6
    print(f"  {results[0].records:,} events; dataset {size:.1f} MB")
    timed(f"replicate as {args.copies} hosts", lambda: replicate(one, many, args.copies))

    from core.fleet.engines import LocalEngine, SparkEngine, spark_session

    if "local" not in skip:
        for label, root in (("local 1 host", one), (f"local {args.copies} hosts", many)):
            engine = LocalEngine(root)
            engine_work(engine, label)
            engine.close()
    if "spark" not in skip:
        start = time.perf_counter()
        session = spark_session("local[2]")
        print(f"  {'spark: start local[2]':<34} {time.perf_counter() - start:8.2f} s")
        session.sparkContext.setLogLevel("ERROR")
        for label, root in (("spark 1 host", one), (f"spark {args.copies} hosts", many)):
            engine_work(SparkEngine(root, session=session), label)
        session.stop()
    if "sqlite" not in skip:
        sqlite_work(path, out / "fleet-bench.sqlite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
