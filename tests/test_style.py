"""House rules, checked where CI sees them: ruff-clean; `mypy --strict` on every Python file of
the project (core/, parsers/, tui/, cli/, tests/, bench/, dev.py: configured in pyproject.toml);
a module of more than 500 lines says at its top why it stays whole; a test module never imports
another test module (a folder's helpers sit in its helper modules)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed in this environment")
    return found


def test_ruff_is_clean() -> None:
    out = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_is_clean() -> None:
    out = subprocess.run([_tool("mypy"), "--no-incremental"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


#: The folders of the project's own Python files (its .venv and build output are outside them).
_FOLDERS = ("core", "parsers", "tui", "cli", "tests", "bench")
#: Past this many lines a module must say why it is not split (the house style: ~500).
LONG = 500
#: How a module says it, near the top of its docstring: "About 550 lines: ...", "(Over 500 lines: ...".
_WHY_LONG = re.compile(r"(?i)\b(?:about|over|slightly over)\s+[\d,]+\s+lines\s*:")


def _python_files() -> list[Path]:
    return sorted(p for folder in _FOLDERS for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def long_modules_without_a_reason(files: list[Path]) -> list[str]:
    """The files over LONG lines whose first 30 lines do not say why they stay whole."""
    bad = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > LONG and not _WHY_LONG.search("\n".join(lines[:30])):
            bad.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(lines)} lines")
    return bad


def test_long_modules_say_why_they_stay_whole() -> None:
    assert long_modules_without_a_reason(_python_files()) == []


def test_the_long_module_finder_finds_one(tmp_path: Path) -> None:
    body = "x = 1\n" * LONG
    plain = tmp_path / "plain.py"
    plain.write_text('"""A module."""\n' + body, encoding="utf-8")
    said = tmp_path / "said.py"
    said.write_text('"""A module.\n\n(About 501 lines: one table and its readers.)"""\n' + body, encoding="utf-8")
    short = tmp_path / "short.py"
    short.write_text('"""A module."""\n' + "x = 1\n" * (LONG - 1), encoding="utf-8")
    assert [line.split(":")[0] for line in long_modules_without_a_reason([plain, said, short])] == [str(plain)]


def test_imports_of_test_modules(tmp_path: Path) -> None:
    """The finder below sees both spellings of an import of a test module, and nothing else."""
    src = tmp_path / "test_x.py"
    src.write_text("import tests.a.test_b\nfrom tests.a.test_c import f\nfrom tests.a import test_d\n"
                   "from tests.a.events import g\nimport tests.stores\n", encoding="utf-8")
    assert imported_test_modules(src) == ["tests.a.test_b", "tests.a.test_c", "tests.a.test_d"]


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (`test_*`) that `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.rsplit(".", 1)[-1].startswith("test_")]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.rsplit(".", 1)[-1].startswith("test_"):
                found.append(node.module)
            else:
                found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("test_")]
    return found


def test_no_test_module_imports_another() -> None:
    found = {str(p.relative_to(ROOT)): imported_test_modules(p) for p in _python_files()}
    assert {path: names for path, names in found.items() if names} == {}
