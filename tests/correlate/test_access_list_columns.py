"""The Process access list ranks every access before its first line and lays out its first
lines: each source's risk, each target's name, each lone 4656's handle object and duplications
are read from the tables' columns, not from a `Process` or `Handle` made one by one (87,000
sources and 160,000 handles at ten million events), and every line is the one the objects give."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from core.correlate.access import ImageIndex
from core.correlate.access_list import AccessList
from core.correlate.handle_table import HandleTable
from core.correlate.model import CorrelationModel, build_model, model_from_store
from core.correlate.open_columns import OpenColumns
from core.correlate.process_table import ProcessTable
from core.store.store import Store
from tests.correlate.samples import COBALT, load_json

#: The lines the Process access view lays out before its first screen, as in the app before
#: 2026-12-06 (20,000; `tui.process_access.FIRST_LINES` now): every line of these logs.
FIRST_LINES = 20_000


@pytest.fixture(scope="module")
def cobalt_model() -> CorrelationModel:
    """A real log with 1,094 Sysmon 10s and lone 4656s (needs ../shared/samples)."""
    return build_model(load_json(COBALT))


def _lines(listing: AccessList) -> list[object]:
    out: list[object] = []
    while True:
        try:
            out.append(listing.item(len(out)))
        except IndexError:
            return out


def _made_while_ranked(model: CorrelationModel, monkeypatch: pytest.MonkeyPatch) -> tuple[AccessList, int, int]:
    """The list of `model`, and how many processes and handles its ranking and first lines made."""
    made = {"process": 0, "handle": 0}
    make_process, make_handle = ProcessTable._make, HandleTable._make  # noqa: SLF001 - counted

    def process(self: ProcessTable, i: int) -> object:
        made["process"] += 1
        return make_process(self, i)

    def handle(self: HandleTable, i: int) -> object:
        made["handle"] += 1
        return make_handle(self, i)

    with monkeypatch.context() as patch:
        patch.setattr(ProcessTable, "_make", process)
        patch.setattr(HandleTable, "_make", handle)
        listing = model.process_accesses()
        listing.line_count(FIRST_LINES)
    return listing, made["process"], made["handle"]


def _as_objects(model: CorrelationModel) -> CorrelationModel:
    """`model` with its processes and handles as tuples of objects (the list reads them one by one)."""
    objects = copy.copy(model)
    objects.processes = tuple(model.processes)
    objects.handles = tuple(model.handles)
    objects.by_image = None
    return objects


def _check(model: CorrelationModel, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(model.processes, ProcessTable) and isinstance(model.handles, HandleTable)
    listing, processes, handles = _made_while_ranked(model, monkeypatch)
    assert (processes, handles) == (0, 0)
    lines = _lines(listing)
    assert len(lines) > 10
    assert _lines(AccessList(_as_objects(model))) == lines


def test_sysmon_accesses_are_ranked_from_the_columns(cobalt_model: CorrelationModel,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(cobalt_model.access_tracker.sysmon) > 1000
    _check(cobalt_model, monkeypatch)


def test_lone_4656s_are_ranked_from_the_columns(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    assert len(model.access_tracker.opens) > 100
    _check(model, monkeypatch)


def test_the_list_and_the_image_index_hold_no_boxed_int_per_row_or_process(churn_db: Path) -> None:
    """What the list keeps per access (its risk, bucket, group, the instances alive) and the
    image index per process are arrays and shared tuples, not an int object each (with a dict
    entry per swept 4656: ~35 MB at ten million events)."""
    from tests.correlate.heap import deep_size, reachable

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    listing = model.process_accesses()
    assert len(listing) > 10
    rows = len(listing._sysmon) + len(listing._lone)  # noqa: SLF001 - what it keeps per row
    seen: set[int] = set()
    for alive in listing._alive:  # noqa: SLF001 - shared by the 4656s seeing the same alive
        if alive is not None:
            deep_size(alive, seen)
    kept = (listing._risk, listing._alive, listing._b_rows, listing._b_of, listing._g_rows)  # noqa: SLF001
    buckets_and_groups = len(listing._b_rows) + len(listing._g_rows)  # noqa: SLF001
    assert deep_size(kept, seen)[0] <= 40 * rows + 120 * buckets_and_groups
    index = model.by_image
    assert index is not None
    assert not [o for o in reachable(index, skip=(model, model.processes)) if type(o) is int]


def test_the_targets_named_are_remembered_a_bounded_number(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each lone 4656's target reason (the instances alive, listed) is made when its line is and
    only the last `REASONS_KEPT` are kept (all of them: 32 MB at ten million events once every
    line was read), the lines the same."""
    from core.correlate import access_list

    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    every = [str(group) for group in model.process_accesses()]
    model.release_lists()
    monkeypatch.setattr(access_list, "REASONS_KEPT", 4)
    listing = model.process_accesses()
    assert [str(group) for group in listing] == every
    assert 0 < len(listing._reasons) <= 4  # noqa: SLF001 - what it keeps


def test_the_image_index_files_most_instances_a_group_at_a_time(churn_db: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The instances with one image path and no other name are grouped by the text columns'
    numbers (`ProcessTable.path_groups`) and filed a group at a time: no column is read as
    strings, only the other instances' fields are (reading the columns for every instance
    was 0.44 s of the view's first screen at ten million events); the index is the objects'."""
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    table = model.processes
    assert isinstance(table, ProcessTable)
    groups, others = table.path_groups()
    assert sorted([i for group in groups.values() for i in group] + others) == list(range(len(table)))
    for (computer, image), group in groups.items():
        assert {(table[i].computer, table[i].image, table[i].names_at) for i in group} == {(computer, image, None)}
    read: list[int] = []
    real_values = ProcessTable.values

    def values(self: ProcessTable, name: str, indexes: list[int]) -> list[object]:
        read.append(len(indexes))
        return real_values(self, name, indexes)

    def column(self: ProcessTable, name: str) -> list[object]:
        raise AssertionError(f"column {name} read whole")

    with monkeypatch.context() as patch:
        patch.setattr(ProcessTable, "values", values)
        patch.setattr(ProcessTable, "column", column)
        index = ImageIndex(table)
    assert len(table) > 1000 and read and set(read) == {len(others)}
    objects = ImageIndex(tuple(table))
    assert index._called == objects._called  # noqa: SLF001 - the index itself
    assert ({key: sorted(filed) for key, filed in index._by_name.items()}  # noqa: SLF001
            == {key: sorted(filed) for key, filed in objects._by_name.items()})  # noqa: SLF001


def test_the_list_files_its_4656s_a_column_at_a_time(churn_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranking the list reads each lone 4656's computer, target image, mask and handle object a
    column at a time (`OpenColumns.places`, `HandleTable.object_names`), none by a call per 4656
    (0.3 s at ten million events); the lines are the objects' (`_check`)."""
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    calls: list[str] = []
    with monkeypatch.context() as patch:
        for cls, name in ((OpenColumns, "host"), (OpenColumns, "image"), (OpenColumns, "mask"),
                          (HandleTable, "object_name")):
            real = getattr(cls, name)

            def counted(
                self: object, i: int, real: Callable[[object, int], object] = real, name: str = name
            ) -> object:
                calls.append(name)
                return real(self, i)

            patch.setattr(cls, name, counted)
        listing = AccessList(model)
    assert len(listing._lone) > 100  # noqa: SLF001 - the 4656s ranked
    assert calls == []
    _check(model, monkeypatch)
