"""The handle uses grouped by a child process while the build's last steps run
(`core.correlate.source_groups`): the answer is the in-process one, whatever the child does."""

from __future__ import annotations

import gc
import sys
import time
from array import array
from collections.abc import Iterator

import pytest

from core.correlate import facts as facts_module
from core.correlate import source_groups
from core.correlate.facts import Facts, FactsTable
from core.correlate.processes import Ref

USES = frozenset({4656, 4663, 4658})
EVENTS, HANDLES = 6_000, 300


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tables of a few thousand events count as big, on a machine of two cores; the parent's
    slices are small (the child reads its own: the answer does not depend on them)."""
    monkeypatch.setattr(source_groups, "MIN_EVENTS", 1_000)
    monkeypatch.setattr(source_groups, "SLICE", 512)
    monkeypatch.setattr(facts_module, "cores", lambda: 2)
    yield


def _table(aside_pid: bool = False) -> FactsTable:
    table = FactsTable()
    for i in range(EVENTS):
        eid = (4656, 4663, 4658, 4688, 4690)[i % 5]
        table.add(Facts(Ref(1 + i, i, eid, i, i, i), "pc", "PC",
                        source_pid=(1 << 40) if aside_pid and i == 17 else 4 * (i % 50),
                        source_handle=(i * 7919) % HANDLES if i % 7 else None))
    return table


def _expected(handles: int) -> list[list[int]]:
    grouped: dict[int, list[int]] = {}
    for pos in range(EVENTS):
        if pos % 5 < 3 and pos % 7:
            grouped.setdefault((pos * 7919) % HANDLES, []).append(pos)
    return [grouped.get(h, []) for h in range(handles)]


def _groups(table: FactsTable, handles: int) -> list[list[int]]:
    positions, starts = table.by_source_handle(USES, handles)
    assert len(starts) == handles + 1
    return [list(positions[starts[h]:starts[h + 1]]) for h in range(handles)]


def _no_group_here(*_: object, **__: object) -> tuple[object, object]:
    raise AssertionError("grouped in process, not by the child")


@pytest.mark.usefixtures("big")
def test_the_child_groups_the_uses_exactly_as_the_build_did(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handles made after the scan (its last steps may add some) have no use: their groups are
    empty, and the child's answer is extended to them."""
    table = _table()
    table.group_early(USES, HANDLES)
    assert USES in table._grouping  # noqa: SLF001 - a child was started
    monkeypatch.setattr(source_groups, "group", _no_group_here)
    assert _groups(table, HANDLES + 5) == _expected(HANDLES + 5)


@pytest.mark.usefixtures("big")
@pytest.mark.parametrize("code", [
    "import sys; sys.exit(3)",
    "import sys; sys.stdout.buffer.write(bytes(16)); sys.stdout.flush()",  # no uses, no handles: wrong
    "import sys, struct; sys.stdout.buffer.write(struct.pack('<QQ', 10, 301)); sys.exit(0)",  # stops mid-way
    "import time; time.sleep(60)",  # hangs: killed after its time is up
    # Its header, then stopped for good (as a child stopped and never resumed): killed after its time.
    "import sys, struct, time; sys.stdout.buffer.write(struct.pack('<QQ', 10, 301)); sys.stdout.flush(); "
    "time.sleep(60)",
])
def test_a_child_that_fails_leaves_the_answer_to_the_build(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    monkeypatch.setattr(source_groups, "WAIT", 1.0)
    monkeypatch.setattr(source_groups, "module_command",
                        lambda *_: ([sys.executable, "-c", code], None))
    table = _table()
    table.group_early(USES, HANDLES)
    assert USES in table._grouping  # noqa: SLF001
    begun = time.monotonic()
    assert _groups(table, HANDLES) == _expected(HANDLES)
    assert time.monotonic() - begun < 30  # the child's time (1 s here), not the minute it would take


@pytest.mark.usefixtures("big")
def test_a_value_kept_aside_or_a_small_table_starts_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child reads the slots, not the values kept aside beside them (a pid beyond 32 bits)."""
    table = _table(aside_pid=True)
    table.group_early(USES, HANDLES)
    assert not table._grouping  # noqa: SLF001
    assert _groups(table, HANDLES) == _expected(HANDLES)
    monkeypatch.setattr(source_groups, "MIN_EVENTS", EVENTS + 1)
    table = _table()
    table.group_early(USES, HANDLES)
    assert not table._grouping  # noqa: SLF001


@pytest.mark.usefixtures("big")
def test_a_build_that_stops_first_leaves_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child still at work (here: one that would sleep a minute) is killed with the table."""
    monkeypatch.setattr(source_groups, "module_command",
                        lambda *_: ([sys.executable, "-c", "import time; time.sleep(60)"], None))
    table = _table()
    table.group_early(USES, HANDLES)
    proc = table._grouping[USES]._proc  # noqa: SLF001
    assert proc.poll() is None
    del table
    gc.collect()
    assert proc.poll() == -9  # killed, not ended by itself


def _found_in(column: list[int], stride: int, at: int, none: int, event_ids: frozenset[int],
              aside: dict[int, int]) -> list[int]:
    n = len(column) // stride
    return [pos for pos in range(n) if column[pos * stride + at] in event_ids
            or (column[pos * stride + at] == none and aside.get(pos) in event_ids)]


@pytest.mark.parametrize("seed", range(6))
def test_positions_are_found_by_their_bytes_exactly(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`positions` searches each slice's EventID column for each EventID's bytes when hits are
    few (the Handles list's 4690s: 0.7 -> 0.3 s at ten million events): the same positions as
    the pass over every slot, in order, for rare and common EventIDs, several at once, values
    kept aside (`none`, read by `event_id_of`), EventIDs no slot can hold, and bytes that spell
    an EventID across two slots (found, not taken), from an array and from a memoryview."""
    import random

    monkeypatch.setattr(source_groups, "SLICE", 1000)
    rng = random.Random(seed)
    none, stride, at = -(1 << 31), 3, 1
    n = 5_000
    common = [4663, 4656, 4658]
    column: list[int] = []
    aside: dict[int, int] = {}
    for pos in range(n):
        roll = rng.random()
        eid = (4690 if roll < 0.02 else 0x52000000 if roll < 0.04 else 0x12 if roll < 0.06
               else rng.choice(common) if roll < 0.9 else rng.randrange(1, 6000))
        if seed % 2 and roll > 0.995:
            aside[pos] = rng.choice([4690, 4663, 1 << 40])
            eid = none
        column += [rng.randrange(-(1 << 31), 1 << 31), eid, 4690]
    sparse_calls: list[int] = []
    real_sparse = source_groups._sparse  # noqa: SLF001 - counted

    def counted(
        part: memoryview | array[int], none: bytes, patterns: list[bytes], event_ids: frozenset[int], lo: int
    ) -> Iterator[int] | None:
        sparse_calls.append(1)
        return real_sparse(part, none, patterns, event_ids, lo)

    monkeypatch.setattr(source_groups, "_sparse", counted)
    ids: set[int]
    for ids in ({4690}, {4663}, {4656, 4663, 4658}, {4690, 0x12}, {0x12}, {1 << 40, 4690}, {7}, set()):
        event_ids = frozenset(ids)
        want = _found_in(column, stride, at, none, event_ids, aside)
        for slots in (array("i", column), memoryview(array("i", column)).cast("B").cast("i")):
            got = [pos for part in source_groups.positions(slots, stride, at, none, n, event_ids, aside.get)
                   for pos in part]
            assert got == want, sorted(event_ids)
    assert sparse_calls
    assert source_groups._aligned(array("i", [0x52000000, 0x12]).tobytes(),  # noqa: SLF001
                                  array("i", [4690]).tobytes(), 4) == []
