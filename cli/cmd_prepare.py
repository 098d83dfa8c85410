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

Prints what the store holds and how long each step took (`--json`: one object). Exits 1 when an
input could not be read (the others are still prepared), 5 when the cache cannot be written
(`--no-cache`, or no writable cache directory: nothing would be kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from cli.cmd_findings import add_sigma_args, sigma_for
from cli.common import add_input_args, dump_json, open_store, report_input_errors
from cli.exit_codes import Exit, worst
from core.findings.rules import RulesError, load_rules
from core.findings.stored import findings_of
from core.model.text import printable
from core.store import correlation_tables
from core.store.store import Store


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "prepare",
        help="work out the findings, Sigma matches and correlation views now, kept with the cache",
        description="Load the inputs into the cache and work out what the app shows after a first open "
        "(findings, Sigma matches, the correlation model and every correlation view's tables), so that "
        "opening them later shows everything at once. Steps already kept with the store are skipped.",
    )
    add_input_args(parser)
    add_sigma_args(parser)
    parser.add_argument("--json", action="store_true", help="print what was prepared as one JSON object")
    parser.set_defaults(func=run)


def _progress() -> tuple[Callable[[str], None], Callable[[], None]]:
    """(show a step's progress, clear it): on a terminal only, on one line of stderr."""
    err = sys.stderr
    shown = err.isatty()

    def show(text: str) -> None:  # digits and fixed words only: nothing to escape
        if shown:
            err.write("\r\x1b[K" + text)
            err.flush()

    def clear() -> None:
        if shown:
            err.write("\r\x1b[K")
            err.flush()

    return show, clear


def _correlation(store: Store, show: Callable[[str], None]) -> bool:
    """Every correlation view's tables and the links written into `store` (the model built for
    them unless they are there); whether the store holds them all."""
    from tui.model_cache import ModelCache  # the views' builders: imported when used
    from tui.view_builders import all_view_builders

    def progress(read: int, total: int) -> None:
        if read < total:
            show(f"correlating: {read * 100 // max(total, 1)}% of {total:,} events read")
        else:
            show("correlating: writing the views' tables and the links")

    show("correlating")
    return ModelCache().store_now(store.path, all_view_builders(), progress)


def run(args: argparse.Namespace) -> Exit:
    if args.no_cache:
        print("evtx-explorer prepare: --no-cache keeps nothing to prepare", file=sys.stderr)
        return Exit.OUTPUT_FAILED
    try:
        rules = load_rules(None)
    except RulesError as exc:
        print(f"evtx-explorer prepare: bad rules file: {printable(str(exc))}", file=sys.stderr)
        return Exit.USAGE
    show, clear = _progress()
    spent: dict[str, float] = {}
    started = time.perf_counter()
    show("loading")
    store = open_store(args)
    try:
        spent["load"] = time.perf_counter() - started
        clear()
        status = report_input_errors(store, args)
        if not store.shareable:
            print("evtx-explorer prepare: the inputs could not be kept in the cache (is its directory "
                  "writable?): nothing to prepare", file=sys.stderr)
            return worst(status, Exit.OUTPUT_FAILED)
        began = time.perf_counter()
        show("findings")
        findings = len(findings_of(store, rules).findings)
        spent["findings"] = time.perf_counter() - began
        clear()
        began = time.perf_counter()
        sigma = sigma_for(args, store)  # (its own progress line; the hint without rules)
        spent["sigma"] = time.perf_counter() - began
        began = time.perf_counter()
        stored = _correlation(store, show)
        spent["correlation"] = time.perf_counter() - began
        clear()
        summary: dict[str, Any] = {
            "store": str(store.path),
            "files": len(store.sources()),
            "events": store.count(),
            "findings": findings,
            "sigma_matches": None if sigma is None else len(sigma.matches),
            "correlation_stored": stored,
            "processes": correlation_tables.instance_count(store, "process") if stored else None,
            "handles": correlation_tables.instance_count(store, "handle") if stored else None,
            "sessions": correlation_tables.instance_count(store, "session") if stored else None,
            "seconds": {step: round(s, 2) for step, s in spent.items()},
        }
    finally:
        clear()
        store.close()
    if args.json:
        print(dump_json(summary))
    else:
        print(_text(summary))
    if not stored:
        print("evtx-explorer prepare: the correlation tables could not be kept with the store "
              "(the app builds the model when a view asks)", file=sys.stderr)
        return worst(status, Exit.OUTPUT_FAILED)
    return status


def _text(s: dict[str, Any]) -> str:
    """The summary as lines (the store's path escaped: `cli.output` escapes all of it on a terminal)."""
    took = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in s["seconds"].items())
    sigma = "no Sigma rules" if s["sigma_matches"] is None else f"{s['sigma_matches']:,} Sigma matches"
    lines = [
        f"prepared {s['events']:,} events from {s['files']} file(s) in {s['store']}",
        f"findings: {s['findings']:,}; {sigma}",
    ]
    if s["correlation_stored"]:
        lines.append(f"correlation: {s['processes']:,} processes, {s['handles']:,} handles, {s['sessions']:,} "
                     "sessions; every view and the links stored")
    lines.append(f"took: {took}")
    return "\n".join(lines)
