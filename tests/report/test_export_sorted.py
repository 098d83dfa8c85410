"""An export of the view follows the table's column sort (`o`), not only time order: what the
analyst sorted and sees is what the file lists, row for row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.query.compile import compile_query
from core.query.sort import Sort, iter_sorted, page_sorted
from core.query.view import View
from core.report.export import export_view
from core.store.store import Store
from tests.report.case_logs import build_store, write_input


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "s.sqlite", write_input(tmp_path))


@pytest.mark.parametrize("sort", [Sort("eid"), Sort("computer", descending=True), Sort("record", descending=True)])
def test_export_lists_the_rows_in_the_tables_sort_order(store: Store, tmp_path: Path, sort: Sort) -> None:
    compiled = compile_query("")
    view = View(compiled)
    shown = [se.id for se in page_sorted(store, view, sort, 0, 10_000)]  # the table's order
    timed = [se.id for se in store.iter_events(compiled)]
    assert sorted(shown) == sorted(timed) and shown != timed  # the sort changes the order

    n = export_view(store, compiled, "jsonl", tmp_path / "v.jsonl", sort=sort)
    docs = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {se.id: se.event.record_id for se in store.iter_events(compiled)}
    assert n == len(shown)
    assert [d["record_id"] for d in docs] == [by_id[i] for i in shown]
    # Without a sort: time order, as before.
    export_view(store, compiled, "jsonl", tmp_path / "t.jsonl")
    docs = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [d["record_id"] for d in docs] == [by_id[i] for i in timed]


def test_sorted_export_reads_past_one_page(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.query.sort.EXPORT_PAGE", 2)
    view, sort = View(compile_query("")), Sort("eid", descending=True)
    whole = [se.id for se in page_sorted(store, view, sort, 0, 10_000)]
    assert [se.id for se in iter_sorted(store, view, sort)] == whole
