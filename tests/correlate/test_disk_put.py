"""Rows written out of order (`DiskArray.put`, `HandleTable.put`): the streaming handle tracker
writes each instance when it is final, not in index order; what is read after `seal` is what was
put, whether through the side file's writable map or, where the disk is full, on the heap."""

from __future__ import annotations

import errno
import os
import random
from array import array
from pathlib import Path
from typing import Any

import pytest

from core.correlate import disk_array
from core.correlate.disk_array import DiskArray
from core.correlate.handle_table import HandleTable
from core.correlate.handles import Handle


def _shuffled(n: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


@pytest.mark.parametrize("full", [False, True])
def test_values_put_in_any_order_read_back_in_theirs(full: bool, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if full:  # the disk fills up after a few growths: the heap from there on
        real, calls = os.posix_fallocate, [0]

        def filling(fd: int, offset: int, length: int) -> None:
            calls[0] += 1
            if calls[0] > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(fd, offset, length)

        monkeypatch.setattr(os, "posix_fallocate", filling)
    disk = DiskArray("q", tmp_path)
    n = 3 * disk_array.MIN_CAPACITY // 8 // 4 + 5  # rows of 4: past a few growths of the file
    order = _shuffled(n, 1)
    if full:  # a map of the first rows first: they are copied to the heap
        order = [*range(1000), *(r for r in order if r >= 1000)]
    for row in order:
        disk.put(4 * row, array("q", [row, -row, row << 40, 7]))
    disk.settle()
    assert disk.on_disk is not full and len(disk) == 4 * n
    assert list(disk.view) == [v for row in range(n) for v in (row, -row, row << 40, 7)]
    disk.release()
    assert disk.view[4 * (n - 1)] == n - 1  # read back after the pages were given back


def test_a_handle_table_put_out_of_order_reads_as_appended() -> None:
    class Facts:
        def ref(self, pos: int) -> Any:
            raise AssertionError

        def key(self, pos: int) -> tuple[int, int]:
            raise AssertionError

        def store_id(self, pos: int) -> int:
            raise AssertionError

    facts = Facts()

    def row(i: int) -> tuple[str, int, int, int, int, int, int | None, str | None, str | None, str | None, int,
                             str | None, list[int] | None, int]:
        return (f"PC{i % 3}", i, 0x40 + i, i // 2, i if i % 2 else -1, -1 if i % 2 else i, i - 1 if i % 4 else None,
                "File" if i % 5 else None, f"C:\\{i}", None, i + 7 if i % 3 else -1,
                "a note" if i % 7 == 0 else None, [i, i + 1] if i % 6 == 0 else None, i)

    n = 3 * 4096 + 10  # more than a batch of rows between the pages given back
    appended, put = HandleTable(facts), HandleTable(facts)
    used, starts = array("q"), array("q", [0])
    for i in range(n):
        accesses = [i * 10 + k for k in range(i % 3)]
        fields = row(i)  # its accesses go between its first ten fields and the rest
        appended.append(*fields[:10], accesses, *fields[10:])
        used.extend(accesses)
        starts.append(len(used))
    for i in _shuffled(n, 2):
        put.put(i, *row(i))
    put.resize(n)
    put.fill_accesses(used, starts)
    assert len(put) == len(appended) == n
    assert list(put) == list(appended)
    h = put[n - 2]  # (n - 2) % 3 == 2: two accesses
    assert isinstance(h, Handle) and h.index == n - 2 and list(h.accesses_at or ()) == [(n - 2) * 10, (n - 2) * 10 + 1]
