"""The layers of DESIGN.md hold: contracts in pyproject.toml, no cycles, SQL only where it lives.

`core` and `parsers` never import textual, `tui` or `cli`; a module imports only layers below
it (import-linter's contracts in pyproject.toml); no two files import each other, even through
others; only `core.store.store` and `core.query.compile` hold SQL.
"""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "parsers", "tui", "cli")


def _modules(package: str) -> list[str]:
    return [m.name for m in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}.")]


def test_core_and_parsers_never_import_textual() -> None:
    modules = _modules("core") + _modules("parsers") + ["cli.cmd_stats", "cli.cmd_query"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(n for n in sys.modules if n == 'textual' or n.startswith(('textual.', 'tui', 'rich')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(modules) > 30
    assert out.stdout.strip() == "", f"core/parsers pulled in: {out.stdout}"


def test_import_linter_contracts_are_kept() -> None:
    """The layers contract of pyproject.toml (model < parsers < store < engines < report < tui <
    cli), and the forbidden imports: widgets never parse or run SQL, the engine never a screen."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert out.stdout.count(" KEPT") >= 3, out.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(d for d in graph.find_modules_directly_imported_by(m) if d in graph.modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    group = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        group.append(top)
                        if top == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycles_between_files() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for m in ("a", "b", "c"):
        graph.add_module(m)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _cycles(graph) == [["a", "b", "c"]]


_SQL = re.compile(
    r"\bSELECT\b.+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(TABLE|INDEX|VIEW|TEMP)\b|\bDROP\s+(TABLE|INDEX|VIEW)\b|\bPRAGMA\s+\w+|\bWHERE\b"
    r"|\b(AND|OR)\s+e\.\w+|\be\.(event_id|computer|ts|id|source|record_id)\s*(=|IN\b|<|>)",
    re.S,
)


def _sql_sites(path: Path) -> list[str]:
    sites = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                for v in node.values
            )
        if text is not None and isinstance(node, ast.expr) and _SQL.search(text):
            sites.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("execute", "executemany", "executescript"):
                sites.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.func.attr}()")
    return sites


def test_sql_only_in_the_store_and_query_layers() -> None:
    """Only `core.store.store` and `core.query.compile` write SQL; everything else asks them by typed calls."""
    sites = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(("core/store/", "core/query/")):
                continue
            sites += _sql_sites(path)
    assert sites == []


def test_sql_finder_sees_sql(tmp_path: Path) -> None:
    probe = ROOT / "tests" / "_sql_probe.py"
    probe.write_text('Q = f"SELECT id FROM events e WHERE e.event_id IN ({1})"\n', encoding="utf-8")
    try:
        assert len(_sql_sites(probe)) >= 1
    finally:
        probe.unlink()


def test_fast_path_loads_clean_evtx_without_python_evtx_or_lxml() -> None:
    """python-evtx and lxml cost ~70 ms of imports before a cold start's first event: the fast
    path imports them only when a record falls back (they are the reference, not the route)."""
    from tests.shared import sample

    path = sample("evtx/parsers/omerbenamram__samples__security.evtx")
    code = (
        "import sys\n"
        "from parsers import evtx\n"
        "from core.model.event import Event\n"
        f"n = sum(1 for e in evtx.iter_events({str(path)!r}, 0, jobs=1) if isinstance(e, Event))\n"
        "print(n, sorted({m.split('.')[0] for m in sys.modules if m.startswith(('Evtx', 'lxml'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    count, loaded = out.stdout.split(" ", 1)
    assert int(count) > 1000
    assert loaded.strip() == "[]", f"imported on the fast path: {loaded}"
