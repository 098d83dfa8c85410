"""Pieces the headless commands share: input options, naming and opening the inputs, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.exit_codes import Exit
from cli.output import is_terminal
from core.model.text import json_safe, printable
from core.store.store import Store

if TYPE_CHECKING:
    from core.store.ingest import ProgressFn

#: Inside a directory given as input, the files loaded (a folder of logs, `winevt\Logs`, a
#: collection): by extension, so notes and scripts beside the logs are not reported unreadable.
LOG_SUFFIXES = (".evtx", ".xml", ".json", ".jsonl", ".ndjson", ".zip")
#: How many folders below a directory given as input its logs are looked for. Collections keep
#: them 9-12 folders down (Velociraptor: `<case>/<host>/uploads/auto/C%3A/Windows/System32/
#: winevt/Logs`; KAPE: `<host>/<time>/C/Windows/System32/winevt/Logs`), more when collections are
#: gathered into cases: 8 missed them. A bound stays: a mount point may hold trees nested without
#: end (generated, bind-mounted), and Python 3.11's `os.walk` recurses once per level.
MAX_DEPTH = 32
#: Entries and logs at most in a directory given as input (it may be a whole disk's mount point):
#: past them nothing is loaded from it, and the user is told to name the folders of logs.
MAX_ENTRIES = 200_000
MAX_FILES = 10_000


def add_input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help=".evtx, Event XML, JSON lines or .zip; a directory loads the logs inside it; "
                        "'demo' is the bundled demo log")
    parser.add_argument("--no-cache", action="store_true", help="parse again, do not read or write the cache")
    parser.add_argument("--jobs", type=jobs_value, default=None,
                        help="EVTX decoding processes (default: one per core; at most 4 per core)")


def jobs_value(text: str) -> int:
    """`--jobs N`, refused (status 2) outside 1 to 4 per core: the decoder would quietly take
    `0` or `-3` as 1 and `1000` as its own maximum, where the user asked for something else."""
    from parsers.evtx import MAX_JOBS_PER_CORE, default_jobs

    most = MAX_JOBS_PER_CORE * default_jobs()
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= jobs <= most:
        raise argparse.ArgumentTypeError(f"{jobs} is not between 1 and {most} (at most {MAX_JOBS_PER_CORE} per core)")
    return jobs


def counted(count: int, word: str, many: str | None = None) -> str:
    """`1 record`, `2 records`, `1,234 parse issues`: "1 records" reads as a typo. (The app's
    `tui.words.plural`; the headless commands do not import the app's package.)"""
    return f"{count:,} " + (word if count == 1 else many if many is not None else word + "s")


def _logs_in(directory: Path) -> tuple[list[str], list[str]]:
    """The log files under `directory` (sorted, recursive, bounded), and one line for each way
    the search fell short, saying where (the input is then incomplete: exit status 1): folders
    it could not read and folders past MAX_DEPTH (the logs found elsewhere still load), too many
    entries or logs (none load: a disk's mount point is no collection)."""
    found: list[str] = []
    entries = 0
    unreadable: list[OSError] = []
    too_deep: list[str] = []  # folders whose subfolders were not searched
    root_depth = len(directory.parts)
    for current, dirs, names in os.walk(directory, onerror=unreadable.append):
        depth = len(Path(current).parts) - root_depth
        dirs.sort()
        if depth >= MAX_DEPTH and dirs:
            too_deep.append(current)
            dirs.clear()
        entries += len(dirs) + len(names)
        found.extend(os.path.join(current, n) for n in sorted(names) if n.lower().endswith(LOG_SUFFIXES))
        if entries > MAX_ENTRIES or len(found) > MAX_FILES:
            what = f"{MAX_ENTRIES:,} entries" if entries > MAX_ENTRIES else f"{MAX_FILES:,} logs"
            return [], [f"{directory}: more than {what}; the search stopped in {current} and no log was loaded "
                        "from it (name the folders of logs instead)"]
    problems: list[str] = []
    if unreadable and unreadable[0].filename == str(directory):
        return [], [f"{directory}: cannot read it ({unreadable[0].strerror or unreadable[0]})"]
    if unreadable:
        first = unreadable[0]
        problems.append(f"{directory}: {len(unreadable)} folder(s) in it could not be read, their logs not "
                        f"loaded (first: {first.filename}: {first.strerror or first})")
    if too_deep:
        problems.append(f"{directory}: the search for logs stopped {MAX_DEPTH} folders down, in {len(too_deep)} "
                        f"folder(s) (first: {too_deep[0]}): name the folders below to load their logs")
    if not found and not problems:
        kinds = ", ".join(LOG_SUFFIXES)
        problems.append(f"{directory}: a directory with no event logs in it (looked for {kinds})")
    return sorted(found), problems


def resolve_inputs(files: list[str]) -> tuple[list[str], list[str]]:
    """The input paths the command line names, and a one-line problem per input that names none
    and per way a directory's search fell short (`_logs_in`). `demo` is the bundled demo log
    (generated under the user data dir on first use; `./demo` names a path called demo); a
    directory stands for the event logs inside it. A file named
    more than once (again, by another path or link, or inside a directory also named) is kept
    once, where first named: loaded twice, each of its events would be counted twice and the
    correlation would find two of every process creation (every link ambiguous)."""
    paths: list[str] = []
    problems: list[str] = []
    seen: set[object] = set()

    def add(path: str) -> None:
        try:
            st = os.stat(path)
            key: object = (st.st_dev, st.st_ino)
        except (OSError, ValueError):  # (not there: said when it is opened)
            key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for name in files:
        if name == "demo":
            from cli.demo_log import demo_log

            add(str(demo_log()))
        elif os.path.isdir(name):
            found, short = _logs_in(Path(name))
            for path in found:
                add(path)
            problems.extend(short)
        else:
            add(name)
    return paths, problems


def open_store(args: argparse.Namespace, progress: ProgressFn | None = None) -> Store:
    """Load (or reuse from the cache) the inputs named by the command line (`progress` told how
    far each is). An input naming no log (an empty directory) or not all of them (a directory
    searched in part) is kept in `args.input_problems` for `report_input_errors`."""
    from core.store.cache import open_inputs

    paths, args.input_problems = resolve_inputs(list(args.files))
    return open_inputs(paths, use_cache=not args.no_cache, jobs=args.jobs, progress=progress)


#: Inputs whose parse issues get a line of their own on stderr (then one line for the rest).
ISSUE_LINES = 10


def report_input_errors(store: Store, args: argparse.Namespace | None = None, *, issues: bool = True) -> Exit:
    """Print each unreadable input's one-line error on stderr (escaped on a terminal, like all
    output: `cli.output`, file names there as fields, a newline included); INPUT_UNREADABLE if
    there was any, else OK. With `issues` also a line per input with parse issues (damaged
    records skipped, bad values replaced): the answer printed on stdout then lacks them, and an
    analyst must not take it for the whole log's (`stats`, which shows the counts itself,
    passes False). They do not change the status."""
    status = Exit.OK
    sources = store.sources()
    problems = list(getattr(args, "input_problems", None) or [])
    problems += [src.error for src in sources if src.error]
    # On a terminal a file name is escaped as a field, as `stats` prints it: the stream's own
    # escaping keeps line breaks, and a newline in a name would start a forged line. A pipe or
    # file gets the exact name.
    field = printable if is_terminal(sys.stderr) else str
    for problem in problems:
        print(f"evtx-explorer: {field(problem)}", file=sys.stderr)
        status = Exit.INPUT_UNREADABLE
    damaged = [src for src in sources if src.parse_issues] if issues else []
    for src in damaged[:ISSUE_LINES]:
        print(f"evtx-explorer: {field(src.path)}: {src.parse_issues:,} parse issue(s), damaged records skipped or "
              "bad values replaced (`evtx-explorer stats --issues` lists them)", file=sys.stderr)
    if len(damaged) > ISSUE_LINES:
        rest = damaged[ISSUE_LINES:]
        print(f"evtx-explorer: {len(rest):,} more input(s) with parse issues "
              f"({sum(src.parse_issues for src in rest):,} in all)", file=sys.stderr)
    return status


def dump_json(value: Any, indent: int | None = 2) -> str:
    """JSON that is the exact data and safe anywhere (`core.model.text.json_safe`)."""
    return json_safe(json.dumps(value, ensure_ascii=False, indent=indent))


def os_message(exc: OSError) -> str:
    """One line for a failed write: our own messages already name the file."""
    text = exc.strerror or str(exc)
    if exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text
