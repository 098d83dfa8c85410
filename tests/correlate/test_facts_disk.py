"""The facts table's columns off the Python heap (issue 18: 0.8 GB of the model at ten million
events): kept in an unnamed side file read through `mmap` (`core.correlate.disk_array`), every
value read back exactly, and the file gone with the model."""

from __future__ import annotations

import errno
import gc
import os
import time
import tracemalloc
from array import array
from pathlib import Path

import pytest

from bench.churn import build_churn_store
from core.correlate import disk_array
from core.correlate.facts import NONE, Facts, FactsTable, row_of
from core.correlate.model import model_from_store
from core.correlate.processes import Ref
from core.correlate.sessions import SessionChoice
from core.store.store import Store

ROWS = 40_000


def _facts(i: int) -> Facts:
    ts = 133_500_000_000_000_000 + 10 * i
    return Facts(Ref(1000 + i, 7 + i, 4663 if i % 3 else 4656, ts, ts, i), f"ws{i % 4}.corp", f"WS{i % 4}.corp",
                 source_pid=400 + i % 50, source_proc=i % 700, target_pid=None, source_hid=0x1000 + i % 90,
                 source_handle=i % 5000, logon_id=0x3e7 if i % 2 else 0x5000 + i % 7, user=f"CORP\\u{i % 9}")


def _edge_cases() -> list[Facts]:
    """Values the slots cannot hold, kept aside: the empty mark itself, beyond 32 or 64 bits,
    notes, an event without its own time."""
    wide = 1 << 70
    edge = [_facts(ROWS + i) for i in range(5)]
    edge[0].source_pid, edge[0].target_hid, edge[0].source_note = NONE, (1 << 63) - 1, "logged after it exited"
    edge[1].target_pid, edge[1].source_handle, edge[1].target_note = -(1 << 31), 1 << 40, "t"
    edge[2] = Facts(Ref(wide, None, 4688, None, edge[2].ref.ts, edge[2].ref.order), "ws1.corp", "WS1.corp",
                    source_pid=wide)
    edge[3].user, edge[3].logon_id = None, 0
    return edge


def _side_files() -> list[str]:
    """The files this process has open that have no name (unlinked or `O_TMPFILE`)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            out.append(target)
    return out


def test_the_columns_are_not_on_the_python_heap_and_read_back_exactly(tmp_path: Path) -> None:
    where = tmp_path / "side"
    where.mkdir()
    made = [_facts(i) for i in range(ROWS)]
    made[ROWS // 2:ROWS // 2] = _edge_cases()
    choice = SessionChoice(0x3e7, None, "exact", "well-known", "SYSTEM")
    rows = list(map(row_of, made))  # as the scan hands them over (made before: not the table's)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        table = FactsTable(str(where))
        for row in rows:
            table.add_row(row)
        table.assign_sessions(lambda f: choice if f.logon_id == 0x3e7 else None)
        table.finish()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # In `array`s on the heap: 96 bytes an event (3.8 MB here); what stays is the distinct
    # hosts and users, the side dicts, the views and the pager thread.
    assert held < 16 * len(made), held
    assert os.listdir(where) == []  # the side files have no name
    for found in made:
        if found.logon_id == 0x3e7:
            found.session = choice
    assert list(table) == made
    assert all(table.get(f.ref.store_id) == f for f in made)
    assert table.get(999_999_999) is None
    assert list(table.rows()) == [
        (pos, f.ref.store_id, f.ref.event_id, f.source_pid, f.source_proc, f.source_note, f.target_pid,
         f.target_proc, f.target_note, f.session) for pos, f in enumerate(made)]
    assert table.keys(range(0, len(made), 97)) == [made[p].ref.key for p in range(0, len(made), 97)]
    table.release()  # the pages given back are read again from the page cache
    assert [table.ref(p) for p in range(0, len(made), 101)] == [made[p].ref for p in range(0, len(made), 101)]


def test_a_disk_that_fills_up_keeps_the_values_on_the_heap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made = [_facts(i) for i in range(10_000)]
    made[5_000:5_000] = _edge_cases()
    real, writes = os.pwrite, [0]

    def filling(fd: int, data: bytes, offset: int) -> int:
        writes[0] += 1
        if writes[0] > 6:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", filling)
    table = FactsTable(str(tmp_path))
    for found in made:
        table.add(found)
    table.finish()
    assert list(table) == made
    assert all(table.get(f.ref.store_id) == f for f in made)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd")
def test_the_side_files_go_with_the_model(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    db = tmp_path / "store" / "churn.sqlite"
    build_churn_store(db, 3_000, seed=3)
    gc.collect()
    before = len(_side_files())
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
    assert model.size > 0
    assert len(_side_files()) > before  # beside the store, without a name
    assert [p.name for p in db.parent.iterdir() if not p.name.startswith("churn.sqlite")] == []
    del model
    gc.collect()
    assert len(_side_files()) == before


def test_the_pager_gives_back_the_pages_of_big_columns_and_ends_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Earlier tests' models in this worker process go first: an ended app is garbage in cycles,
    # frozen with everything else when a big model was built (`core.store.gc_pause`).
    gc.unfreeze()
    gc.collect()
    monkeypatch.setattr(disk_array, "PAGER_EVERY", 0.01)
    released: list[int] = []
    real = disk_array.DiskArray.release

    def counted(self: disk_array.DiskArray, lo: int = 0, hi: int | None = None) -> None:
        released.append(id(self))
        real(self, lo, hi)

    monkeypatch.setattr(disk_array.DiskArray, "release", counted)
    big = disk_array.on_disk("q", array("q", range(disk_array.PAGED_MIN // 8)))
    small = disk_array.on_disk("q", array("q", range(10)))
    assert big.on_disk and sum(big.view[::512]) == sum(range(0, disk_array.PAGED_MIN // 8, 512))
    disk_array.keep_paged(big, small)
    for _ in range(500):  # bounded wait
        if released:
            break
        time.sleep(0.01)
    assert id(big) in released and id(small) not in released  # the small one starts no work
    assert sum(big.view[::512]) == sum(range(0, disk_array.PAGED_MIN // 8, 512))  # read again from the cache
    del big, small
    gc.collect()
    for _ in range(500):
        if disk_array.PAGER._thread is None:  # noqa: SLF001 - the thread ends with the arrays
            break
        time.sleep(0.01)
    assert disk_array.PAGER._thread is None  # noqa: SLF001
