"""The Store's reads take typed filters, never SQL text, and only the query and store layers can
make a filter out of SQL: no caller (the UI, the CLI, the engines, a test) can hand the store a
string to splice into a statement."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from pathlib import Path

import pytest

from core.query.compile import compile_query
from core.store.filter import Filter, Order
from core.store.store import Store

ROOT = Path(__file__).resolve().parents[2]

#: The Store's text parameters that are not SQL: paths, formats, meta, error text, values to store.
TEXT_PARAMETERS = {
    ("__init__", "path"),
    ("get_meta", "key"),
    ("set_meta", "key"),
    ("set_meta", "value"),
    ("add_source", "path"),
    ("add_source", "fmt"),
    ("add_source", "identity"),
    ("set_source_format", "fmt"),
    ("add_rows", "strings"),
    ("add_rows", "postings"),  # posting lists: (name, value) -> ids, data bound as parameters
    ("add_postings", "postings"),
    ("add_rows", "path"),
    ("finish_source", "error"),
}
#: The reads that say which events, and in what order.
FILTERED_READS = ("select", "count", "count_ids", "id_set", "iter_events", "iter_keys")


def _mentions_str(hint: object) -> bool:
    return hint is str or any(_mentions_str(arg) for arg in typing.get_args(hint))


def test_no_store_method_takes_sql_text() -> None:
    text: set[tuple[str, str]] = set()
    for name, method in inspect.getmembers(Store, inspect.isfunction):
        if name.startswith("_") and name != "__init__":
            continue
        hints = typing.get_type_hints(method)
        text |= {(name, p) for p, hint in hints.items() if p != "return" and _mentions_str(hint)}
    assert text == TEXT_PARAMETERS
    for name in FILTERED_READS:
        hints = typing.get_type_hints(getattr(Store, name))
        first = list(inspect.signature(getattr(Store, name)).parameters)[1]  # after self
        assert Filter in (hints[first], *typing.get_args(hints[first])), name
        if "order" in hints:
            assert hints["order"] is Order, name


def test_a_filter_cannot_be_made_from_text_by_hand() -> None:
    with pytest.raises(TypeError):
        Filter("1 OR 1=1")
    with pytest.raises(TypeError):
        dataclasses.replace(compile_query("4688"), sql="1 OR 1=1")
    # What may be made: the named constructors, the compiler's output, their conjunction.
    assert (Filter.everything() & compile_query("4688")) == compile_query("4688")
    assert Filter.event_ids([]).matches_none and Filter.everything().matches_all


def _from_sql_sites(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "from_sql":
            sites.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.alias) and node.name == "_KEY":
            sites.append(f"{path.relative_to(ROOT)}:{node.name}")
    return sites


def test_only_the_query_and_store_layers_make_filters_from_sql() -> None:
    sites = []
    for folder in ("core", "parsers", "tui", "cli", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(("core/store/", "core/query/")) or rel == "tests/store/test_store_api.py":
                continue
            sites += _from_sql_sites(path)
    assert sites == []


def test_the_finder_sees_a_filter_made_from_sql() -> None:
    probe = ROOT / "tests" / "_filter_probe.py"
    probe.write_text("from core.store.filter import Filter\nF = Filter.from_sql('1')\n", encoding="utf-8")
    try:
        assert _from_sql_sites(probe) == ["tests/_filter_probe.py:2"]
    finally:
        probe.unlink()
