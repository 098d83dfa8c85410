"""A ~1 GB log end to end (issue 18): the app opening it, the store it makes, the Rust package.

    .venv/bin/python bench/big_log.py [--mb 1000] [--file X.evtx] [--skip-rust]

In one run, on one file (built by `bench/make_big_log.py` from the Security sample unless
`--file`): the app, headless in a child process with a fresh cache directory, timed from the
creation of its app object until the first rows are on screen, the log is loaded and indexed,
the findings are done, every correlation view (Processes, Handles, Sessions, Process access) is
shown, and the correlation results are stored with the log; meanwhile the resident memory of the
app and every process it starts (ingest child, decoder workers, findings child) is polled from
/proc, summed over the tree (forked workers share pages, so the sum overstates; RssAnon leaves
out mapped file pages) and per process: the largest per-process peaks with their command lines,
the second and phase of each, and the app's own peak per phase, to place the peak. Then the
size of the store on disk against the log's, the event table's reads of a few filters on that
store (`filters`; alone on a store: `--filters DB`), and the Rust-backed `evtx` package
decoding the same file (`records_json` + `json.loads`, one core). Targets: first rows
<= 0.5 s, all views ready <= 60 s, peak RSS <= 500 MB, store <= 1.5x the log.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.make_big_log import build  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "evtx" / "parsers" / "omerbenamram__samples__security.evtx"

#: The app in a child process: seconds from its creation to first rows, loaded, findings done,
#: all correlation views shown, correlation stored.
_APP = """
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[2])
from bench.view_ready import open_views
from tui.app import EvtxApp

async def main(path):
    start = time.perf_counter()
    app = EvtxApp([path])
    out = {"epoch": time.time() - (time.perf_counter() - start)}
    async with app.run_test(size=(160, 48)):
        while app.table.row_at(0) is None:
            await asyncio.sleep(0.002)
        out["first_rows_s"] = time.perf_counter() - start
        while not app.workspace.loaded and time.perf_counter() - start < 1800:
            await asyncio.sleep(0.02)
        out["loaded_s"] = time.perf_counter() - start
        while not app.workspace.findings_ready and time.perf_counter() - start < 1800:
            await asyncio.sleep(0.02)
        out["findings_s"] = time.perf_counter() - start
        if sys.argv[3] == "sigma":  # (the Sigma rules' matches merged: `--sigma`)
            while not app.workspace.sigma_ended and time.perf_counter() - start < 1800:
                await asyncio.sleep(0.02)
            out["sigma_s"] = time.perf_counter() - start
        while app.table.total is None and time.perf_counter() - start < 1800:
            await asyncio.sleep(0.02)
        out["events"] = app.table.total or 0
        out["views_s"] = await open_views(app)
        out["all_views_ready_s"] = time.perf_counter() - start
        models = app.workspace.models
        while getattr(models, "writing", False) and time.perf_counter() - start < 3600:
            await asyncio.sleep(0.05)
        out["correlation_stored_s"] = time.perf_counter() - start
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""


def _tree_rss(root: int, per_process: dict[int, tuple[int, float]] | None = None) -> tuple[int, int, int]:
    """Over `root` and its descendants: (sum of VmRSS, sum of RssAnon, the largest RssAnon),
    in bytes. RssAnon leaves out the pages of the log that the workers map (file pages the
    kernel drops under pressure) and of the store's files. `per_process` (pid -> its peak
    RssAnon and when) is raised in place, to name the process and the moment of the peak."""
    children: dict[int, list[int]] = {}
    rss: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = (int(fields.get("VmRSS", "0 kB").split()[0]) * 1024,
                    int(fields.get("RssAnon", "0 kB").split()[0]) * 1024)
    total, anon, largest, todo = 0, 0, 0, [root]
    seen: set[int] = set()
    while todo and len(seen) < 10_000:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        one, one_anon = rss.get(pid, (0, 0))
        total, anon, largest = total + one, anon + one_anon, max(largest, one_anon)
        todo.extend(children.get(pid, ()))
        if per_process is not None and one_anon > per_process.get(pid, (0, 0.0))[0]:
            per_process[pid] = (one_anon, time.time())
    return total, anon, largest


def run_app(path: str, env: dict[str, str]) -> dict[str, Any]:
    """The app's timings and its tree's peak memory (polled every 0.1 s)."""
    sigma = "sigma" if env.get("EVTX_EXPLORER_SIGMA") else "-"
    proc = subprocess.Popen([sys.executable, "-c", _APP, path, str(ROOT), sigma], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    peak = [0, 0, 0]
    per_process: dict[int, tuple[int, float]] = {}
    names: dict[int, str] = {}
    samples: list[tuple[float, int]] = []  # (when, the app's own RssAnon): its peak per phase

    def poll() -> None:
        while proc.poll() is None:
            peak[:] = [max(a, b) for a, b in zip(peak, _tree_rss(proc.pid, per_process), strict=True)]
            if proc.pid in per_process:
                samples.append((time.time(), _anon(proc.pid)))
            for pid in per_process.keys() - names.keys():
                names[pid] = _command(pid)
            time.sleep(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, _ = proc.communicate(timeout=3600)
    poller.join()
    if proc.returncode:
        raise SystemExit(f"app run failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(str(out).strip().splitlines()[-1])
    result["peak_rss_tree_mb"] = peak[0] / 1e6
    result["peak_anon_tree_mb"] = peak[1] / 1e6
    result["peak_anon_one_process_mb"] = peak[2] / 1e6
    result.update(peaks(result, per_process, names, samples))
    return result


def peaks(result: dict[str, Any], per_process: dict[int, tuple[int, float]], names: dict[int, str],
          samples: list[tuple[float, int]]) -> dict[str, Any]:
    """Which process peaked, when and in which phase of the app's run (`result`'s milestones,
    seconds from its `epoch`, which this takes out): the six largest per-process peaks of
    RssAnon with their command lines, and the app's own peak per phase (from `samples`)."""
    epoch = float(result.pop("epoch"))
    top = sorted(per_process.items(), key=lambda item: -item[1][0])[:6]
    by_process = [
        {"pid": pid, "mb": round(mb / 1e6, 1), "at_s": round(at - epoch, 1),
         "phase": _phase(result, at - epoch), "command": names.get(pid, "?")}
        for pid, (mb, at) in top]
    by_phase: dict[str, float] = {}
    for at, anon in samples:
        phase = _phase(result, at - epoch)
        by_phase[phase] = max(by_phase.get(phase, 0.0), round(anon / 1e6, 1))
    return {"peak_anon_by_process": by_process, "app_peak_anon_by_phase_mb": by_phase}


def _anon(pid: int) -> int:
    """A process's RssAnon in bytes (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def _command(pid: int) -> str:
    """A process's command line, shortened (the app's own is `python -c <script>`)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if len(words) > 2 and words[1] == "-c":
        words[2] = "<app>" if "EvtxApp" in words[2] else words[2][:60].replace("\n", " ")
    return " ".join(words)[:160]


#: The app's milestones in order: a moment before the first is in the phase named beside it.
_PHASES = (("first_rows_s", "until first rows"), ("loaded_s", "ingest and indexing"),
           ("findings_s", "findings"), ("all_views_ready_s", "correlation views"),
           ("correlation_stored_s", "storing the correlation"))


def _phase(result: dict[str, Any], at: float) -> str:
    """Which phase of the app's run a moment (seconds from its start) falls in."""
    for key, name in _PHASES:
        if at <= float(result.get(key, 0.0)):
            return name
    return "closing"


def rust(path: str) -> dict[str, float]:
    from evtx import PyEvtxParser

    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for record in PyEvtxParser(path).records_json():
        json.loads(record["data"])  # type: ignore[index]
        n += 1
    return {"records": n, "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}


def filters(db: Path) -> dict[str, dict[str, Any]]:
    """Milliseconds the event table waits for its reads of a few filters on the store the app
    made (`core.query.view`, as the table's fetcher calls it; median of 3, each on a fresh
    connection, so no id set is cached yet): the count and the first page, the next page
    scrolled beside the last row, a jump to the middle (OFFSET), and placing the middle event
    (`position_of`, as a jump to an event does), and for a filter of System fields its first page
    before the count (`first_page_within`, as the table shows it); then the view's marks made (`marks_made`, its
    longest step, `marks_steps` steps) and the same jump and placing read from them. Filters:
    the most and the least common EventData value, the most common one negated, free text, an
    EventID, and an EventID with an EventData value. The raw statements' time (`Store.count` + `Store.select`, what this
    measured until 2026-12-05) is `raw_count_and_page`."""
    from core.query import view
    from core.query.compile import compile_query
    from core.store.store import Store

    out: dict[str, dict[str, Any]] = {}
    with Store(db, readonly=True) as store:
        by_count = ("SELECT name, value FROM postings GROUP BY name, value "
                    "ORDER BY sum(json_array_length(ids)) {} LIMIT 1")
        common = store.conn.execute(by_count.format("DESC")).fetchone()
        rare = store.conn.execute(by_count.format("ASC")).fetchone()
    queries = {"common_value": f'{common[0]}:"{common[1]}"', "rare_value": f'{rare[0]}:"{rare[1]}"',
               "not_common_value": f'NOT {common[0]}:"{common[1]}"', "free_text": '"svchost"', "event_id": "4624",
               "event_id_and_value": "4624 LogonType:3"}
    for label, query in queries.items():
        runs: dict[str, list[float]] = {}
        for _ in range(3):
            with Store(db, readonly=True) as store:
                for key, ms in _table_reads(store, view, view.View(compile_query(query), by_time=True)).items():
                    runs.setdefault(key, []).append(ms)
            with Store(db, readonly=True) as store:
                which = compile_query(query)
                start = time.perf_counter()
                store.count(which)
                store.select(which, limit=100)
                runs.setdefault("raw_count_and_page", []).append((time.perf_counter() - start) * 1000)
        out[label] = {"query": query, **{key: sorted(times)[1] for key, times in runs.items()}}
    return out


def _table_reads(store: Any, view: Any, v: Any) -> dict[str, float]:
    times: dict[str, float] = {}
    steps = 0
    start = time.perf_counter()
    if view.first_page_within(store, v) is not None:  # System fields, one field term: shown before counted
        times["first_page_before_count"] = time.perf_counter() - start
    start = time.perf_counter()
    total = view.count_view(store, v)
    rows = view.fetch_page(store, v, 0, total)
    times["count_and_first_page"] = time.perf_counter() - start
    if rows:
        start = time.perf_counter()
        view.fetch_beside(store, v, rows[-1], True, view.PAGE, total)
        times["next_page"] = time.perf_counter() - start
        _jump_and_place(store, view, v, total, times, "")
        longest, start = 0.0, time.perf_counter()
        for _ in range(store.size() // 1000 + 2):  # the marks, as the table's reader makes them
            steps += 1
            at = time.perf_counter()
            more = view.fill_marks(store, v, total)
            longest = max(longest, time.perf_counter() - at)
            if not more:
                break
        times["marks_made"], times["marks_longest_step"] = time.perf_counter() - start, longest
        _jump_and_place(store, view, v, total, times, "_marked")
    return {**{key: seconds * 1000 for key, seconds in times.items()}, "marks_steps": steps}


def _jump_and_place(store: Any, view: Any, v: Any, total: int, times: dict[str, float], suffix: str) -> None:
    """A jump to the middle of `v`, then placing the event found there, timed into `times`."""
    start = time.perf_counter()
    middle = view.fetch_page(store, v, total // 2, total)
    times["middle_page" + suffix] = time.perf_counter() - start
    start = time.perf_counter()
    view.position_of(store, v, middle[0].id, total)
    times["place_an_event" + suffix] = time.perf_counter() - start


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", help="use this .evtx instead of building one")
    ap.add_argument("--mb", type=float, default=1000.0, help="size of the built log in MB (default 1000)")
    ap.add_argument("--skip-rust", action="store_true")
    ap.add_argument("--sigma", metavar="DIR", help="Sigma rules the app runs (e.g. ../shared/sigma/rules): "
                    "`sigma_s`, when their matches are merged")
    ap.add_argument("--filters", metavar="DB", help="only time the filters on this store (one the app made)")
    args = ap.parse_args()
    if args.filters:
        print(json.dumps({"store": args.filters, "filters_ms": _rounded(filters(Path(args.filters)))}, indent=2))
        return 0
    if args.file:
        path = Path(args.file)
    else:
        path = ROOT / "bench" / "out" / f"big-{args.mb:g}mb.evtx"
        if not path.is_file():
            chunks, records = build(SAMPLE, path, args.mb)
            print(f"built {path.name}: {chunks} chunks, {records} records", flush=True)
    log_mb = path.stat().st_size / 1e6
    results: dict[str, object] = {"file": str(path), "log_mb": round(log_mb, 1)}
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)  # absent in a clone given --file
    with tempfile.TemporaryDirectory(prefix="evtx-big-", dir=ROOT / "bench" / "out") as tmp:
        env = dict(os.environ)
        for name in ("CACHE", "DATA", "CONFIG"):
            env[f"EVTX_EXPLORER_{name}_DIR"] = str(Path(tmp) / name.lower())
        env.pop("EVTX_EXPLORER_SIGMA", None)
        if args.sigma:
            env["EVTX_EXPLORER_SIGMA"] = str(Path(args.sigma).resolve())
        app = run_app(str(path), env)
        results["app"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in app.items()}
        store_mb = _size(Path(tmp) / "cache") / 1e6
        results["store_mb"] = round(store_mb, 1)
        results["store_over_log"] = round(store_mb / log_mb, 2)
        stores = sorted(Path(tmp, "cache").rglob("*.sqlite"), key=lambda f: f.stat().st_size)
        if stores:
            results["filters_ms"] = _rounded(filters(stores[-1]))
    if not args.skip_rust:
        results["rust"] = {k: round(v, 3) for k, v in rust(str(path)).items()}
    print(json.dumps(results, indent=2))
    return 0


def _rounded(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {label: {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
            for label, row in figures.items()}


if __name__ == "__main__":
    raise SystemExit(main())
