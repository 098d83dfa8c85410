"""`evtx-explorer prepare FILE... [--sigma DIR]... [--json]`: what the app works out on a first
open, worked out now and kept with the cached store.

A first open of a big log keeps the machine busy for minutes after the rows show: the findings,
the Sigma matches, the correlation model (80 s at ten million events) and the correlation
tables every view reads on a reopen (four more minutes there). Analysts who collect logs in the
evening, or on a server, prepare them headlessly instead: the next `evtx-explorer FILE...` (the
same inputs, the same cache) shows the findings, the Sigma matches and every correlation view
from the store at once. Each step that the store already holds is skipped, so a second run
takes seconds. It writes the same tables the app's background writer writes
(`tui.model_cache.ModelCache.store_now`, the views' own builders), with the user's rules as the
app loads them (the built-in ones or rules.toml; Sigma from `--sigma` or the user's folder).

Once the model is built, the findings and the Sigma rules run beside the tables' writers, in
child processes on a big store as in the app (`tui.model_cache.build_findings`,
`core.findings.sigma.child`), and a forked child writes part of the tables (`tui.side_writer`):
the writing is Python, a core per process.

Prints what the store holds and how long each step took (`--json`: one object); its sessions are
the rows the Sessions view and `correlate --sessions` list, those begun before the log included
(`_sessions`). Exits 1 when an input could not be read (the others are still prepared), 5 when
the cache cannot be written (`--no-cache`, or no writable cache directory: nothing would be kept).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.cmd_findings import sigma_folder_missing
from cli.common import add_input_args, counted, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit, worst
from cli.output import ProgressLine
from core.findings.rules import RulesError, load_rules
from core.findings.sigma import HINT, SigmaResult, rule_dirs, run_sigma
from core.findings.sigma.child import CHILD_SIGMA_EVENTS, sigma_in_child
from core.model.text import printable
from core.store import correlation_tables
from core.store.child_process import ChildFailed
from core.store.ingest import Progress
from core.store.store import Store

if TYPE_CHECKING:
    from tui.stored_views import ViewBuilder


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "prepare",
        help="work out the findings, Sigma matches and correlation views now, kept with the cache",
        description="Load the inputs into the cache and work out what the app shows after a first open "
        "(findings, Sigma matches, the correlation model and every correlation view's tables), so that "
        "opening them later shows everything at once. Steps already kept with the store are skipped.",
    )
    add_input_args(parser)
    parser.add_argument("--sigma", metavar="DIR", action="append", default=None,
                        help="a folder of Sigma rules, as `open --sigma` (repeatable; default: the user config "
                        "dir's sigma folder)")
    parser.add_argument("--json", action="store_true", help="print what was prepared as one JSON object")
    parser.set_defaults(func=run)


@dataclass
class _Detections:
    """The findings and Sigma matches worked out beside the correlation (`_detect`)."""

    findings: int | None = None
    sigma: SigmaResult | None = None
    spent: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None


def _detect(path: Path, dirs: list[Path], stop: threading.Event, out: _Detections) -> None:
    """The findings, then the Sigma matches, of the store at `path`, kept with it: in child
    processes on a big store (the app's thresholds), else here. Run in a thread: its own
    connections; `stop` kills a child (Ctrl-C in the main thread). The app's modules it uses are
    imported by `run` first: two threads importing Textual at once broke its import cycle."""
    from tui.model_cache import build_findings

    try:
        began = time.perf_counter()
        with Store(path, readonly=True) as reader:
            out.findings = len(build_findings(reader, stop).findings)
        out.spent["findings"] = time.perf_counter() - began
        if dirs:
            began = time.perf_counter()
            with Store(path) as store:
                if store.size() >= CHILD_SIGMA_EVENTS:
                    with contextlib.suppress(ChildFailed):  # run here then
                        sigma_in_child(path, dirs, stop)
                if not stop.is_set():
                    out.sigma = run_sigma(store, dirs)  # a child's result: read back from the store
            out.spent["sigma"] = time.perf_counter() - began
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        out.error = exc


#: What prepare says while another process writes the same log's correlation tables.
WAITING = "waiting for another evtx-explorer writing this log's correlation (an app open on it?)"


def _correlation(store: Store, builders: dict[str, ViewBuilder], show: Callable[[str], None],
                 built: Callable[[], None], waited: list[bool]) -> bool:
    """Every correlation view's tables (`builders`) and the links written into `store` (the
    model built for them unless they are there), by two processes on a big model
    (`tui.side_writer`: no thread of ours may run while it forks, so `built()` starts the
    rules' thread once it has); whether the store holds them all."""
    from tui.model_cache import ModelCache

    def progress(read: int, total: int) -> None:
        if read < total:
            show(f"correlating: {read * 100 // max(total, 1)}% of {counted(total, 'event')} read")
        else:
            show("correlating: writing the views' tables and the links")

    def waiting() -> None:
        waited[:] = [True]
        show(WAITING)

    show("correlating")
    return ModelCache().store_now(store.path, builders, progress, built=built, split=True, waiting=waiting)


def _sessions(store: Store, stored: bool) -> dict[str, int | None]:
    """`sessions`: the rows the Sessions view lists (and `correlate --sessions`), as its stored
    list counts them (`tui.sessions.stored_sessions`): every logon session, and every logon id
    with processes but no session in the log (SYSTEM's, begun at boot; a logon before the log);
    `sessions_before_log`: those. The sessions alone (`corr_session`) said 6 where the view
    listed 8 on the demo log. Both None when the views are not stored."""
    if not stored:
        return {"sessions": None, "sessions_before_log": None}
    from tui.sessions import STORED

    listed, _lines = correlation_tables.list_size(store, STORED)
    return {"sessions": listed, "sessions_before_log": listed - correlation_tables.instance_count(store, "session")}


def _in_cache(store: Store) -> bool:
    from core.store.cache import cache_dir

    return Path(store.path).resolve().parent == cache_dir().resolve()


def run(args: argparse.Namespace) -> Exit:
    if args.no_cache:
        print("evtx-explorer prepare: --no-cache keeps nothing to prepare", file=sys.stderr)
        return Exit.OUTPUT_FAILED
    try:
        load_rules(None)  # a bad rules file: said before anything loads
    except RulesError as exc:
        print(f"evtx-explorer prepare: bad rules file: {printable(str(exc))}", file=sys.stderr)
        return Exit.USAGE
    if sigma_folder_missing(args, "prepare"):
        return Exit.USAGE
    dirs = rule_dirs(args.sigma)  # (made absolute: the matches are kept under the rule files' paths)
    import tui.findings_view  # noqa: F401 - see `_detect`: the app's modules, in this thread first
    from tui.view_builders import all_view_builders

    builders = all_view_builders()
    line = ProgressLine()  # on a terminal only
    show, clear = line.show, line.clear
    spent: dict[str, float] = {}
    started = time.perf_counter()
    show("loading")

    def loading(p: Progress) -> None:  # (the file's name is not shown: the line stays short)
        percent = p.bytes_done * 100 // p.bytes_total if p.bytes_total else 0
        show(f"loading input {p.source + 1}: {percent}%, {counted(p.records, 'event')}")

    store = open_store(args, loading)
    stop = threading.Event()
    try:
        spent["load"] = time.perf_counter() - started
        clear()
        status = report_input_errors(store, args)
        if not store.shareable or not _in_cache(store):
            # (not in the cache: it is unusable, or another evtx-explorer was loading these logs into
            # it: a private store, gone when this command ends, would be prepared for nothing)
            print("evtx-explorer prepare: the inputs could not be kept in the cache (is its directory "
                  "writable? another evtx-explorer loading the same logs? then run prepare again once it "
                  "has ended): nothing to prepare", file=sys.stderr)
            return worst(status, Exit.OUTPUT_FAILED)
        if not dirs:
            print(f"evtx-explorer: {HINT}", file=sys.stderr)
        found = _Detections()
        beside = threading.Thread(target=_detect, args=(store.path, dirs, stop, found), name="evtx-prepare-rules",
                                  daemon=True)
        began = time.perf_counter()
        waited: list[bool] = []
        stored = _correlation(store, builders, show, beside.start, waited)
        spent["correlation"] = time.perf_counter() - began
        show("findings and Sigma rules")
        if beside.ident is None:  # (else started by the correlation, once its model was built)
            beside.start()
        beside.join()
        if found.error is not None:
            raise found.error
        spent.update(found.spent)
        spent["all"] = time.perf_counter() - started
        summary: dict[str, Any] = {
            "store": str(store.path),
            "files": len(store.sources()),
            "events": store.count(),
            "parse_issues": sum(src.parse_issues for src in store.sources()),
            "findings": found.findings,
            "sigma_matches": None if found.sigma is None else len(found.sigma.matches),
            "correlation_stored": stored,
            "processes": correlation_tables.instance_count(store, "process") if stored else None,
            "handles": correlation_tables.instance_count(store, "handle") if stored else None,
            **_sessions(store, stored),
            "seconds": {step: round(s, 2) for step, s in spent.items()},
        }
    finally:
        stop.set()  # (Ctrl-C: a rules child is killed at its next look)
        clear()
        store.close()
    if args.json:
        print(dump_json(summary))
    else:
        print(_text(summary))
    if not stored:
        why = ("another evtx-explorer kept writing them: run prepare again once it has ended" if waited else
               "the app builds the model when a view asks")
        print(f"evtx-explorer prepare: the correlation tables could not be kept with the store ({why})",
              file=sys.stderr)
        return worst(status, Exit.OUTPUT_FAILED)
    return status


def _text(s: dict[str, Any]) -> str:
    """The summary as lines (the store's path escaped: `cli.output` escapes all of it on a terminal)."""
    took = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in s["seconds"].items())
    matches = s["sigma_matches"]
    sigma = "no Sigma rules" if matches is None else counted(matches, "Sigma match", "Sigma matches")
    lines = [
        f"prepared {counted(s['events'], 'event')} from {counted(s['files'], 'file')}"
        + (f" ({counted(s['parse_issues'], 'parse issue')})" if s["parse_issues"] else "") + f" in {s['store']}",
        f"findings: {s['findings']:,}; {sigma}",
    ]
    if s["correlation_stored"]:
        early = s.get("sessions_before_log") or 0  # (the Sessions view's rows: some began before the log)
        before = f" ({early:,} begun before the log)" if early else ""
        lines.append(f"correlation: {counted(s['processes'], 'process', 'processes')}, "
                     f"{counted(s['handles'], 'handle')}, {counted(s['sessions'], 'session')}{before}; "
                     "every view and the links stored")
    lines.append(f"took: {took} (findings and Sigma beside the correlation)")
    return "\n".join(lines)
