"""Where the ingest's time goes, stage by stage, in one process (CPU seconds).

    .venv/bin/python bench/ingest_breakdown.py [--file bench/out/big-100mb.evtx] [--group 256]

Stages, each over the whole file in groups of `--group` chunks, as a worker does them:
decode only (field tuples), decode + row building (marshalled EventData, posting dicts), the
posting rows made from the dicts, the SQLite inserts (events, postings, strings) into a fresh
store, then each secondary index and ANALYZE, and the Rust `evtx` package for comparison.
The sum of the stages is what one core spends; with two workers the wall time is about half
of the parallel stages plus the index build (serial, SQLite sorts on helper threads).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model.rows import system_strings  # noqa: E402
from core.store import evtx_ingest, schema  # noqa: E402
from core.store.store import Store  # noqa: E402
from parsers import evtx  # noqa: E402
from parsers.evtx import _chunks, _mapped, release_mapped  # noqa: E402
from parsers.evtx import decoder as evtx_fast  # noqa: E402
from parsers.evtx.reference import CHUNK_SIZE, FILE_HEADER_SIZE  # noqa: E402


def _cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default=str(ROOT / "bench" / "out" / "big-100mb.evtx"))
    ap.add_argument("--group", type=int, default=evtx_ingest.GROUP_CHUNKS)
    args = ap.parse_args()
    path = args.file
    n_chunks = (os.path.getsize(path) - FILE_HEADER_SIZE) // CHUNK_SIZE
    groups = [(f, min(args.group, n_chunks - f)) for f in range(0, n_chunks, args.group)]
    buf = _mapped(path)
    out: dict[str, Any] = {}

    def decode_only() -> int:
        n = 0
        for first, count in groups:
            for index, ofs in _chunks(buf, first, count):
                for _ in evtx_fast.iter_chunk_tuples(buf, index, ofs, 0, path):
                    n += 1
        return n

    def encode() -> list[evtx.EncodedBatch]:
        return [evtx.encode_range(path, 0, first, count) for first, count in groups]

    _, cpu, records = _cpu(decode_only)
    out["records"] = records
    out["decode_tuples_s"] = round(cpu, 3)
    _, cpu, batches = _cpu(encode)
    out["decode_and_rows_s"] = round(cpu, 3)
    _, cpu, lists = _cpu(lambda: [evtx_ingest._posting_rows(b.postings) for b in batches])
    out["posting_rows_s"] = round(cpu, 3)
    out["posting_rows"] = sum(map(len, lists))
    with tempfile.TemporaryDirectory(prefix="evtx-breakdown-", dir=ROOT / "bench" / "out") as tmp:
        db = Path(tmp) / "b.sqlite"
        Store(db).close()
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")

        def insert(sql: str, rows_of: Callable[[int], list[Any]]) -> None:
            for i in range(len(batches)):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows_of(i))
                conn.execute("COMMIT")

        _, cpu, _ = _cpu(lambda: insert(schema.INSERT_EVENTS, lambda i: batches[i].rows))
        out["insert_events_s"] = round(cpu, 3)
        _, cpu, _ = _cpu(lambda: insert(schema.INSERT_POSTINGS, lambda i: lists[i]))
        out["insert_postings_s"] = round(cpu, 3)
        def strings(i: int) -> list[tuple[str]]:
            return [(v,) for v in system_strings(batches[i].rows)]

        _, cpu, _ = _cpu(lambda: insert(schema.INSERT_STRINGS, strings))
        out["insert_strings_s"] = round(cpu, 3)
        conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
        for statement in filter(None, (s.strip() for s in schema.INDEXES.split(";"))):
            name = statement.split()[5]
            wall, cpu, _ = _cpu(lambda s=statement: conn.execute(s))  # type: ignore[misc]
            out[f"index_{name}_wall_s"] = round(wall, 3)
        wall, cpu, _ = _cpu(lambda: conn.execute("ANALYZE"))
        out["analyze_wall_s"] = round(wall, 3)
        conn.close()
        out["store_mb"] = round(sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6, 1)
    release_mapped()
    try:
        from evtx import PyEvtxParser

        def rust() -> int:
            # evtx's stub types __next__ as Optional[Any], but a None from it ends the iteration
            records: Iterable[Any] = PyEvtxParser(path).records_json()
            return sum(1 for r in records if json.loads(r["data"]))

        wall, cpu, _ = _cpu(rust)
        out["rust_s"] = round(cpu, 3)
    except ImportError:
        pass
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
