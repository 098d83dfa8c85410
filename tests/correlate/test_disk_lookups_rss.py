"""Random look-ups in a model's side files (`DiskArray`) must not count whole files in the RSS.

The kernel caches a file in folios as large as each write (up to 2 MB on recent Linux), and a read
through a map maps the whole folio it falls in: with the columns written in big pieces, a few
hundred look-ups at random places (the Process access view's `FactsTable.keys`, the forest's walk)
mapped the whole file, 1.4 GB of "RSS" at ten million events. Written a page at a time, a look-up
maps what the fault-around maps (64 KB). Measured in this process's RssFile (Linux only)."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import pytest

from core.correlate.disk_array import DiskArray

SIZE_MB = 64
LOOKUPS = 200


def _rss_file_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssFile:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    pytest.skip("no /proc/self/status RssFile here")


def _looked_up(disk: DiskArray, seed: int) -> float:
    """RssFile (MB) gained by `LOOKUPS` reads of `disk` at random places."""
    disk.release()
    view, rnd = disk.view, random.Random(seed)
    before = _rss_file_mb()
    total = sum(view[rnd.randrange(len(view))] for _ in range(LOOKUPS))
    gained = _rss_file_mb() - before
    assert total >= 0
    disk.release()
    return gained


def _values(n: int) -> array[int]:
    return array("q", range(n))


@pytest.mark.parametrize("batch_mb", [1, 8])
def test_lookups_in_appended_values_map_little(batch_mb: int, tmp_path: Path) -> None:
    disk = DiskArray("q", tmp_path)
    if not disk.on_disk:
        pytest.skip("no side file on this system")
    per = batch_mb * 2**20 // 8
    for start in range(0, SIZE_MB * 2**20 // 8, per):  # as the model's columns: big batches
        disk.extend(array("q", range(start, start + per)))
    assert len(disk) == SIZE_MB * 2**20 // 8 and disk.view[12345] == 12345
    gained = _looked_up(disk, 1)
    # 200 look-ups of 64 KB each are 12.5 MB; whole 2 MB folios would map the whole 64 MB.
    assert gained < SIZE_MB / 2, f"{LOOKUPS} look-ups mapped {gained:.0f} MB of a {SIZE_MB} MB file"

