"""Shared by the fleet tests: a converted dataset and the SQLite store of the same inputs, and the
store's answers in the fleet's row shapes (the reference every engine must give row for row)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.model.rows import ID_SHIFT, MAX_PLACE
from core.query.compile import compile_query
from core.store.ingest import load_paths
from core.store.store import Store
from tests.apputil import DEMO
from tests.shared import sample

NIGHTMARE = "evtx/attack/TA0004-Privilege Escalation__T1574-DLL side-loading__ID4688,6416,4648-SystemNightMare.evtx"
MIMIKATZ = (
    "evtx/attack/TA0006-Credential Access__T1003-Credential dumping__ID4656-4663-4658 Mimikatz sekurlsa "
    "password dump.evtx"
)
SHARPVIEW = "json/otrf/execution__host__cmd_sharpview_pcre_net.zip"
#: A computer name and values an attacker chose: path traversal, quotes, backslashes, LIKE wildcards.
HOSTILE_HOST = "../../evil'\\host%_"
HOSTILE_CMD = "it's \\ a %_ value"




def require_fleet() -> None:
    """Skip without the fleet extra, except under CI=true (the dev install has it)."""
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the fleet extra is required under CI=true: {exc}")
        pytest.skip(f"the fleet extra is not installed ({exc}): pip install -e '.[fleet]'")


def require_spark() -> None:
    """Skip without PySpark or a Java runtime, except under CI=true (Java 17 is there)."""
    require_fleet()
    problem = None
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        problem = f"pyspark is not installed ({exc})"
    if problem is None and not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        problem = "no Java runtime (Spark needs Java 17+; install one or set JAVA_HOME)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark is required under CI=true: {problem}")
        pytest.skip(problem)


def build_store(paths: list[str], db: Path) -> Store:
    store = Store(db)
    load_paths(paths, store, jobs=1)
    return store


def key_of(store: Store) -> Callable[[int], tuple[str, int]]:
    """Store id -> (input path, place), the fleet's name for an event."""
    paths = {s.id: s.path for s in store.sources()}
    return lambda sid: (paths[sid >> ID_SHIFT], sid & MAX_PLACE)


def store_query(store: Store, where: str) -> list[tuple[str, int]]:
    compiled = compile_query(where)
    name = key_of(store)
    return [name(se.id) for se in store.iter_events(compiled)]


def store_stack(store: Store, where: str, by: str) -> Any:
    """The one-machine stack (`core.query.stack`) of the same query: what `api.stack` must give."""
    from core.query.stack import stack

    return stack(store, compile_query(where), by, limit=None)


def store_timeline(store: Store, where: str, width: int | None) -> Any:
    """The one-machine timeline (`core.query.timeline`): what `api.timeline` must give."""
    from core.query.timeline import timeline

    return timeline(store, compile_query(where), width)


#: Queries over every kind of term: ids and lists, aliases (numbers in hex), globs, free text,
#: hosts, dates, negation, OR and groups, System columns, a quote and a backslash in a value.
QUERIES = [
    "",
    "4688",
    "4624,4625,4672",
    "id:46*",
    "image:*cmd*",
    "pid:0x1b58",
    "pid:680",  # the Security log's header pid (lsass) in 13 events: left out
    "pid:4 OR processid:0x2a8",
    "user:S-1-5-18",
    '"powershell"',
    "psexesvc",
    "host:dc01",
    "-host:dc01 4688",
    "NOT 4624 OR 4672",
    "(4688 OR 4689) user:adm-bob",
    "after:2024-03-14T08:20 before:2024-03-14T08:30",
    "channel:security level:0",
    "file:intrusion.xml",
    "LogonType:3",
    "TargetUserName:adm*",
    "record:4826?",
    "processid:4",
    'cmd:"it\'s \\\\ a %_ value"',
    "provider:*security*",
]


def hostile_log(path: Path) -> Path:
    lines = []
    for n in range(1, 6):
        lines.append({"EventID": 4688, "Computer": HOSTILE_HOST, "TimeCreated": f"2024-03-15T10:0{n}:00Z",
                      "Channel": "Security", "EventRecordID": n, "NewProcessId": hex(0x100 + n),
                      "ProcessId": "0x4", "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                      "CommandLine": HOSTILE_CMD if n % 2 else "'; DROP TABLE events; --",
                      "SubjectUserName": "x'y"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def fleet_inputs(tmp: Path) -> list[str]:
    """The demo, the hostile log and, when ../shared is there (always under CI=true), three samples."""
    paths = [str(DEMO), str(hostile_log(tmp / "hostile.jsonl"))]
    try:
        paths += [str(sample(rel)) for rel in (NIGHTMARE, MIMIKATZ, SHARPVIEW)]
    except pytest.skip.Exception:
        pass
    return sorted(paths)  # the store orders ties across inputs by input, the fleet by path


def fleet_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, list[str]]]:
    """(dataset dir, the SQLite store, inputs) for the same inputs: a session fixture's body."""
    require_fleet()
    from core.fleet.convert import convert

    tmp = tmp_path_factory.mktemp("fleet")
    paths = fleet_inputs(tmp)
    results = convert(paths, tmp / "ds", jobs=1)
    assert [r.error for r in results] == [None] * len(paths)
    store = build_store(paths, tmp / "store.db")
    yield tmp / "ds", store, paths
    store.close()


def store_processes(store: Any) -> list[dict[str, Any]]:
    from core.correlate.model import model_from_store
    from core.fleet.api import _sorted
    from core.fleet.per_host import process_rows

    rows = list(process_rows(model_from_store(store), key_of(store)))
    return _sorted(rows, "computer", "start_time", "start_record_id", "source", "place", "pid")


def store_handles(store: Any) -> list[dict[str, Any]]:
    from core.correlate.model import model_from_store
    from core.fleet.api import _sorted
    from core.fleet.per_host import handle_rows

    rows = list(handle_rows(model_from_store(store), key_of(store)))
    return _sorted(rows, "computer", "source", "place", "pid", "handle_id")


def store_findings_rows(store: Any) -> list[dict[str, Any]]:
    from core.findings.engine import load_rules, store_findings
    from core.fleet.api import _sorted
    from core.fleet.per_host import finding_rows

    rows = list(finding_rows(store_findings(store, load_rules()).findings, key_of(store)))
    return _sorted(rows, "computer", "time", "record_id", "source", "place", "rule")
