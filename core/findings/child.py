"""The findings of a big store, computed in a child process: `python -m core.findings.child DB`.

Over a million events the rules take some 13 s of CPU. In a thread of the app they share the
GIL with the UI, and every filter typed meanwhile answers up to twice as slowly (a common field
value at a million events: 127-153 ms instead of 90). A child process has a core of its own.
It runs at a lower CPU priority (`background_priority`): on a machine without an idle core the
UI, not the findings, comes first.
It opens the store read-only, runs the same rules (the user's rules.toml, else the built-in
ones) and keeps the findings with the store itself (`core.findings.stored.keep_findings`): it
answers KEPT on its stdout, and the parent reads them from the store a page at a time (at 10M
events, 350 MB as objects, which the parent unpickled whole before). When they cannot be kept (a
store still loading, a refused write) it writes the `core.findings.engine.FindingsData` there,
pickled. Only our own parent reads that, from a process it started itself.

`findings_in_child` is the parent's side: it starts the child, waits for its answer, and kills
it when `stop` is set (the app quits). It returns None when the child kept them (the caller
reads them with `core.findings.stored.stored_findings`). It raises ChildFailed when the child
did not answer, so that the caller can compute the findings itself instead.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from core.findings.engine import FindingsData, store_findings
from core.findings.rules import RulesError, load_rules
from core.findings.stored import keep_findings
from core.store.child_process import ChildFailed, background_priority, die_with_parent, run_child, write_all
from core.store.store import Store

#: Exit status of a child that refused the rules file (the parent reports it as for its own).
BAD_RULES = 3
#: The child's answer when it kept the findings with the store.
KEPT = b"evtx-findings-kept\n"
#: How long the child waits to write its findings while the app writes the correlation tables
#: (they commit every few thousand rows): nobody waits for the child meanwhile.
KEEP_BUSY_MS = 30_000


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    background_priority()  # the UI first: nobody waits for the findings
    parser = argparse.ArgumentParser(prog="python -m core.findings.child")
    parser.add_argument("db")
    args = parser.parse_args(argv)
    try:
        rules = load_rules(None)
    except RulesError as exc:
        print(f"rules not loaded: {exc}", file=sys.stderr)
        return BAD_RULES
    with Store(args.db, readonly=True) as store:
        data = store_findings(store, rules)
        kept = keep_findings(store, data, KEEP_BUSY_MS)
    write_all(sys.stdout.buffer, KEPT if kept else pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


def findings_in_child(db: Path, stop: threading.Event | None = None, poll: float = 0.1, *,
                      before_load: Callable[[], None] | None = None) -> FindingsData | None:
    """The findings of the store at `db`, computed by a child process (see the module doc), or
    None when the child kept them with the store. `before_load()` runs once the child has answered
    them, before its answer is read back (tens of thousands of findings: 0.1-0.2 s of the
    interpreter): the app waits there for a quiet UI."""
    out = run_child("core.findings.child", [str(db)], "findings", stop, poll)
    if out == KEPT:
        return None
    if before_load is not None:
        before_load()
    try:
        data = pickle.loads(out)  # noqa: S301 - written by our own child process, just started
    except Exception as exc:  # noqa: BLE001 - a cut or garbled answer: the caller computes them itself
        raise ChildFailed(f"findings process answered garbage: {type(exc).__name__}") from exc
    if not isinstance(data, FindingsData):
        raise ChildFailed("findings process answered something else")
    return data


if __name__ == "__main__":
    sys.exit(main())
