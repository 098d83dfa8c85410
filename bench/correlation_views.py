"""Benchmark of the correlation views on a big store (not a timed test): first open, reopen.

    python -m bench.correlation_views [--events 1000000] [--db PATH [--keep-db]] [--uniform] [--rss-limit-mb 16000]

By default the store is `bench/churn.py`'s: a few computers with logon sessions, process creations
and exits with pids reused, handles opened, used, closed and duplicated with their values reused
(at a million events: about 5,000 sessions, 50,000 processes, 170,000 handle instances).
`--uniform` takes `bench/table.py`'s four repeated events instead (one pid, one handle, no session:
the figures of the earlier runs). The store is built once under /tmp and copied to `--db` (default
under /tmp), so that the correlation tables written into it never touch the store other runs
share. Two runs, each a fresh process with the app headless on the store:

* `first`: the store has no correlation tables: the Processes view builds the model (and, with
  stored views, writes them), then the Handles, Sessions and Process access views are opened;
* `reopen`: the same store opened again: every view as a reopened log shows it.

For each view: the wall time until it is on screen, the CPU time of the process meanwhile (the
machine is shared: CPU time says what the work costs whatever else runs), the longest UI stall,
and the process's peak RSS; where the code has them, the time spent building the model and writing
the tables, and how long after the first view was asked for every view was stored
(`views_stored_s_after_first_view`: from then on a reopen shows them all without a build) and the
tables were written (`tables_written_s_after_first_view`). Per run: its wall and CPU time, the
load average before and after (the machine is shared), its peak RSS as polled from /proc; a run
whose RSS passes `--rss-limit-mb` is killed and the output says how far it got; `notes` lists the
run's progress lines, each with the peak RSS so far (where the peak was reached). Then the model's
sizes (instances as built, rows of the correlation tables) and the store's size. `--stall-dump
FILE` appends every thread's stack to FILE whenever the UI's beat stops for STALL_S (how the
Process access freeze of 2026-12-04 was found: a line drawn waiting for a lock a worker held).
Read figures as comparisons within one run. `--stall-profile FILE` appends, per view, each UI
stall over `--stall-ms` with the UI thread's stacks sampled every 5 ms meanwhile
(`bench/stall_sampler.py`: safe at short stalls, where the faulthandler dumps crashed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import view_ready  # noqa: E402
from bench.churn import build_churn_store  # noqa: E402
from bench.stall_sampler import StallSampler  # noqa: E402
from bench.table import build_store  # noqa: E402
from core.store import schema  # noqa: E402

VIEWS = view_ready.VIEWS
#: With `--stall-dump`: a UI beat missing this long dumps every thread's stack.
STALL_S = 0.8
#: The correlation tables counted after the runs (absent when the code writes none).
TABLES = ("corr_process", "corr_handle", "corr_session", "corr_link", "corr_node", "corr_row")


def _note(text: str) -> None:
    """A progress line for the parent (stderr): the last one says how far a killed run got."""
    print(f"{time.strftime('%H:%M:%S')} {text} (rss {_rss_mb():.0f} MB, cpu {_cpu():.0f} s)", file=sys.stderr,
          flush=True)


def _cpu(children: bool = False) -> float:
    """CPU seconds of this process (and, with `children`, of its ended children: the findings')."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    if children:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _on_disk_mb(db: Path) -> float:
    """A store's size on disk with its write-ahead log (a reader left open keeps pages in it)."""
    wal = Path(str(db) + "-wal")
    return round((db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6, 1)


def sqlite_mb(reset_peak: bool = False) -> dict[str, float]:
    """SQLite's own heap (page caches of every connection, sorters, statements) now and at its
    peak, from the library the stdlib module loaded (dlopen of a loaded soname shares it)."""
    import ctypes

    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return {}
    lib.sqlite3_memory_used.restype = lib.sqlite3_memory_highwater.restype = ctypes.c_int64
    return {"sqlite_mb": round(lib.sqlite3_memory_used() / 2**20, 1),
            "sqlite_peak_mb": round(lib.sqlite3_memory_highwater(int(reset_peak)) / 2**20, 1)}


def _timers() -> dict[str, float]:
    """Wrap the model build and the tables' writes (where this code has them) with timers."""
    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, key: str) -> None:
        real = getattr(owner, name, None)
        if real is None:
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spent[key] = round(spent.get(key, 0.0) + time.perf_counter() - t0, 2)

        setattr(owner, name, wrapper)

    import tui.model_cache as mc

    timed(mc, "build_model", "model_build_s")
    timed(mc.correlation_tables if hasattr(mc, "correlation_tables") else None, "write_instances",
          "write_instances_s")
    timed(mc, "write_views", "write_views_s")
    timed(getattr(mc, "correlation_links", None), "write_links", "write_links_s")
    timed(mc, "findings_in_child", "findings_child_s")  # started to answered (the child is niced)
    timed(mc, "keep_findings", "keep_findings_s")  # kept with the store for a reopen
    return spent


def _views_stored(db: Path) -> Callable[[], bool] | None:
    """Whether every view is stored in `db` (None where this code tags no view apart)."""
    from core.store import correlation_tables
    from core.store.store import Store
    from tui.view_builders import all_view_builders

    if not hasattr(correlation_tables, "view_ready"):
        return None
    names = tuple(all_view_builders())

    def stored() -> bool:
        with Store(db, readonly=True) as store:
            return all(correlation_tables.view_ready(store, name) for name in names)
    return stored


async def _run(db: Path, skip: frozenset[str] = frozenset(), timeout: float = 600,
               stall_dump: Path | None = None, stall_profile: Path | None = None,
               stall_ms: float = 100) -> dict[str, Any]:
    import faulthandler

    from textual.widgets import Static

    from tui.app import EvtxApp

    spent = _timers()
    app = EvtxApp(["bench/Security.evtx"], store_path=db)
    builders = app.workspace.view_builders
    if skip and builders is not None:  # nor written into the tables (their names are the views')
        every = builders
        app.workspace.view_builders = lambda: {k: v for k, v in every().items() if k not in skip}
    gaps: list[float] = []
    last = [time.perf_counter()]

    started = time.perf_counter()
    results: dict[str, Any] = {}

    dump = stall_dump.open("a") if stall_dump is not None else None
    profile = stall_profile.open("a") if stall_profile is not None else None
    sampler = StallSampler(threading.get_ident()) if profile is not None else None
    if sampler is not None:
        sampler.start()

    def beat() -> None:
        if dump is not None:  # every thread's stack, by faulthandler's C thread, if the UI stops
            faulthandler.dump_traceback_later(STALL_S, repeat=True, file=dump)
        now = time.perf_counter()
        if sampler is not None:
            sampler.gap(last[0], now, stall_ms / 1000)
        gaps.append(now - last[0])
        last[0] = now
        if "findings_shown_s" not in results and app.workspace.findings_ready:  # the table's markers
            results["findings_shown_s"] = round(now - started, 2)
            results["cpu_s_until_findings"] = round(_cpu(children=True), 2)
            _note("findings shown")

    def shown() -> bool:
        return view_ready.shown(app)

    asked = ["opening"]

    def report() -> None:
        building = app.workspace.models.model_progress
        _note(asked[0] + (f", model read {building[0]:,} of {building[1]:,} events" if building else ""))

    async with app.run_test(size=(160, 48)) as pilot:
        app.set_interval(0.005, beat)
        app.set_interval(10, report)
        while app.table.row_at(0) is None or app.table.total is None:
            await asyncio.sleep(0.01)
        results["rss_before_views_mb"] = round(_rss_mb(), 1)
        first_asked = time.perf_counter()
        for key, name in VIEWS:
            if name in skip:
                continue
            await pilot.pause(0.2)
            asked[0] = f"{name} view asked"
            _note(asked[0])
            gaps.clear()
            last[0] = t0 = time.perf_counter()
            cpu0 = _cpu()
            app.action_view(key)
            while not shown():
                await asyncio.sleep(0.005)
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"the {name} view was not shown within {timeout:.0f} s")
            results[name] = {
                "shown_s": round(time.perf_counter() - t0, 2),
                "cpu_s": round(_cpu() - cpu0, 2),
                "max_ui_stall_ms": round(max(gaps, default=0) * 1000, 1),
                "peak_rss_mb": round(_rss_mb(), 1),
                **sqlite_mb(),
            }
            status = app.screen.query("#view-status")
            results[name]["status"] = str(status.first(Static).render())[:90] if status else ""
            _note(f"{name} view shown: {json.dumps(results[name])}")
            if sampler is not None and profile is not None:
                sampler.report(profile, f"{name} view ({db.name})")
        # The tables are written in the background once the model is built: how long after the
        # first view was asked for they are complete (a run that quits before has none).
        models = app.workspace.models
        model = models.peek_model()
        if model is not None:
            results["model"] = {"events": model.size, "processes": len(model.processes),
                                "handles": len(model.handles), "sessions": len(model.sessions)}
        asked[0] = "views shown, tables being written"
        if getattr(models, "writing", False):
            views_stored = _views_stored(db)
            checked = time.perf_counter()
            while models.writing:
                await asyncio.sleep(0.05)
                if views_stored is not None and time.perf_counter() - checked >= 1.0:
                    checked = time.perf_counter()
                    if views_stored():  # what a reopen needs to show every view from the store
                        results["views_stored_s_after_first_view"] = round(checked - first_asked, 1)
                        _note("every view stored")
                        views_stored = None
            results["tables_written_s_after_first_view"] = round(time.perf_counter() - first_asked, 1)
        while not app.workspace.findings_ready and time.perf_counter() - started < timeout:
            await asyncio.sleep(0.05)  # the findings too (a child's CPU counts once it has ended)
        if dump is not None:  # the beat stops with the app: no dumps of its teardown
            faulthandler.cancel_dump_traceback_later()
        if sampler is not None and profile is not None:
            sampler.report(profile, "after the views (the tables' writing, the findings)")
            sampler.stop()
    results.update(spent)
    results["cpu_children_s"] = round(_cpu(children=True) - _cpu(), 1)
    results["peak_rss_mb"] = round(_rss_mb(), 1)
    results.update(sqlite_mb())
    results["cpu_total_s"] = round(_cpu(), 1)
    return results


def _loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def _proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a running process, from /proc."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _phase(phase: str, db: Path, limit_mb: float, extra: list[str]) -> dict[str, Any]:
    """One run in a fresh process, its RSS polled every 0.2 s (killed past `limit_mb`)."""
    errors = Path(tempfile.mkstemp(prefix=f"evtx-bench-{phase}-", suffix=".log")[1])
    load0, t0, before = _loadavg(), time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kb, killed = 0, False
    with errors.open("w") as err:
        child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--db", str(db),
                                  *extra],
                                 stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
        while child.poll() is None:
            status = _proc_status(child.pid)
            peak_kb = max(peak_kb, status.get("VmHWM", 0), status.get("VmRSS", 0))
            if peak_kb > limit_mb * 1024 and not killed:
                child.kill()
                killed = True
            time.sleep(0.2)
        stdout = child.stdout.read() if child.stdout is not None else ""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "peak_rss_mb_polled": round(peak_kb / 1024, 1),  # VmHWM: this child's own peak
        "loadavg_before": load0,
        "loadavg_after": _loadavg(),
    }
    log = errors.read_text(errors="replace")
    errors.unlink(missing_ok=True)
    # The run's own notes, each with its peak RSS so far: where the peak was reached.
    run["notes"] = notes = [line for line in log.splitlines() if line[:2].isdigit()]
    if killed or child.returncode:
        run["failed"] = f"killed: RSS passed {limit_mb:.0f} MB" if killed else f"exit status {child.returncode}"
        run["progress"] = [line for line in notes if "shown" in line]
        run["last_progress"] = notes[-3:]
        run["stderr_tail"] = log[-1500:] if not killed else ""
        return run
    run.update(json.loads(stdout.strip().splitlines()[-1]))
    return run


def _table_rows(db: Path) -> dict[str, int]:
    """Rows of each correlation table in the store (reopen reads those)."""
    out: dict[str, int] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for table in TABLES:
            try:
                out[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.OperationalError:  # the code under test writes no such table
                pass
    return out


def _base(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The synthetic store (built once, reused), and what was asked of it / what it holds."""
    tmp = Path(tempfile.gettempdir())
    v = schema.SCHEMA_VERSION
    if args.uniform:
        shared = args.base or tmp / f"evtx-explorer-bench-{args.events}-v{v}.sqlite"
        t0 = time.perf_counter()
        fresh = not shared.exists()
        build_store(shared, args.events)
        info: dict[str, Any] = {"store": "uniform (bench/table.py)", "events": args.events}
        if fresh:
            info["store_build_s"] = round(time.perf_counter() - t0, 1)
        return shared, info
    shared = args.base or tmp / f"evtx-explorer-bench-churn-{args.events}-s{args.seed}-v{v}.sqlite"
    truth_file = shared.with_suffix(".truth.json")
    if args.base is not None and shared.exists() and not truth_file.exists():
        raise SystemExit(f"{shared}: not a bench/churn.py store (no {truth_file.name} beside it); "
                         "not overwritten (to reopen a store that has its tables, use --db with --keep-db)")
    if not shared.exists() or not truth_file.exists():
        t0 = time.perf_counter()
        truth = build_churn_store(shared, args.events, seed=args.seed, progress=True).as_dict()
        truth["store_build_s"] = round(time.perf_counter() - t0, 1)
        truth_file.write_text(json.dumps(truth))
    truth = json.loads(truth_file.read_text())
    return shared, {"store": f"churn (bench/churn.py, seed {args.seed})", "generated": truth}

def add_churn_args(parser: argparse.ArgumentParser) -> None:
    """`--db`, `--events`, `--seed`: the store a model benchmark builds from (`churn_store`)."""
    parser.add_argument("--db", type=Path, help="a store to build from (default: the cached churn store)")
    parser.add_argument("--events", type=int, default=1_000_000, help="the churn store's size")
    parser.add_argument("--seed", type=int, default=18, help="the churn store's seed")


def churn_store(args: argparse.Namespace) -> Path:
    """`args.db`, else the cached `bench/churn.py` store of `args.events` events (built once)."""
    if args.db is not None:
        return Path(args.db)
    db, _ = _base(argparse.Namespace(uniform=False, base=None, events=args.events, seed=args.seed))
    return db



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="copy of the store to use (default: under /tmp)")
    parser.add_argument("--base", type=Path, default=None, help="the synthetic store to build/reuse (default: "
                        "under /tmp, named by its kind, size and seed)")
    parser.add_argument("--uniform", action="store_true", help="bench/table.py's store (four repeated events) "
                        "instead of bench/churn.py's")
    parser.add_argument("--seed", type=int, default=18, help="the churn store's seed")
    parser.add_argument("--rss-limit-mb", type=float, default=16_000, help="kill a run whose RSS passes this")
    parser.add_argument("--phases", default="first,reopen", help="which runs, in order (default: first,reopen)")
    parser.add_argument("--skip-views", default="", help="views neither opened nor written into the tables "
                        "(comma-separated: processes, handles, sessions, process_access)")
    parser.add_argument("--view-timeout", type=float, default=600, help="give up on a view after this many s")
    parser.add_argument("--keep-db", action="store_true", help="use --db as it is (e.g. a store that already "
                        "has its tables, for `--phases reopen`) instead of a fresh copy of the base store")
    parser.add_argument("--stall-dump", type=Path, default=None, help="append every thread's stack to this file "
                        f"whenever the UI stops for {STALL_S} s (faulthandler's watchdog: it needs no GIL)")
    parser.add_argument("--stall-profile", type=Path, default=None, help="append each UI stall over --stall-ms "
                        "with the UI thread's stacks sampled meanwhile (bench/stall_sampler.py)")
    parser.add_argument("--stall-ms", type=float, default=100, help="the stalls --stall-profile reports")
    parser.add_argument("--phase", choices=("first", "reopen"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        skip = frozenset(v for v in args.skip_views.split(",") if v)
        print(json.dumps(asyncio.run(_run(args.db, skip, args.view_timeout, args.stall_dump, args.stall_profile,
                                          args.stall_ms))))
        return 0
    t_start = time.perf_counter()
    if args.keep_db and (args.db is None or not args.db.exists()):
        parser.error("--keep-db needs --db naming an existing store")
    shared, out = _base(args)
    db = args.db or Path(tempfile.gettempdir()) / f"evtx-explorer-bench-views-{os.getpid()}.sqlite"
    if not args.keep_db:
        for suffix in ("-wal", "-shm"):  # an earlier run's: SQLite would read them with the fresh copy
            Path(str(db) + suffix).unlink(missing_ok=True)
        shutil.copyfile(shared, db)
    os.environ.setdefault("EVTX_EXPLORER_DATA_DIR", tempfile.mkdtemp(prefix="evtx-bench-data-"))
    out["machine"] = {"cpus": os.cpu_count(), "loadavg_at_start": _loadavg()}
    if args.skip_views:
        out["skipped_views"] = args.skip_views
    try:
        for phase in args.phases.split(","):
            print(f"{time.strftime('%H:%M:%S')} {phase} run ...", file=sys.stderr, flush=True)
            out[phase] = _phase(phase, db, args.rss_limit_mb,
                                ["--skip-views", args.skip_views, "--view-timeout", str(args.view_timeout),
                                 *(["--stall-dump", str(args.stall_dump.resolve())] if args.stall_dump else []),
                                 *(["--stall-profile", str(args.stall_profile.resolve()), "--stall-ms",
                                    str(args.stall_ms)] if args.stall_profile else [])])
            if "failed" in out[phase]:
                break
        out["tables"] = _table_rows(db)
        out["store_mb"] = _on_disk_mb(db)
        out["store_mb_without_tables"] = _on_disk_mb(shared)
    finally:
        if args.db is None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
    out["bench_wall_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(out, indent=2))
    return 1 if any("failed" in out.get(p, {}) for p in ("first", "reopen")) else 0


if __name__ == "__main__":
    raise SystemExit(main())
