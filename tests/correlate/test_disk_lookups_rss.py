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



def test_readers_counting_their_reads_keep_few_pages_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers count their reads at random (`touched`); once `TOUCH_BUDGET` add up and
    `TOUCHED_MB` are found mapped, every kept array's pages are given back by the reader itself,
    whatever the pager thread does (at ten million events four readers by turns and the pager's
    lag behind busy threads let 82 MB be mapped at once). Here 4,000 reads of a 128 MB column
    would map most of it; counted, no more than ~24 MB at any time."""
    from core.correlate import disk_array

    disk = DiskArray("q", tmp_path)
    if not disk.on_disk:
        pytest.skip("no side file on this system")
    per = 2**20
    for start in range(0, 128 * 2**20 // 8, per):
        disk.extend(array("q", range(start, start + per)))
    assert disk in disk_array.PAGER._arrays  # noqa: SLF001 - kept: big enough
    monkeypatch.setattr(disk_array.PAGER, "_touches", 0)
    view, rnd = disk.view, random.Random(3)
    disk_array.PAGER.release_all()
    before = _rss_file_mb()
    most = 0.0
    for n in range(4000):
        assert view[at := rnd.randrange(len(view))] == at
        disk_array.touched()
        if n % 25 == 0:
            most = max(most, _rss_file_mb() - before)
    assert most < disk_array.TOUCHED_MB + 16, f"{most:.0f} MB mapped at once"


def test_counted_reads_give_back_only_when_pages_are_found_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A give-back makes the next reads fault their pages in again (the tables' writer took 14%
    longer given back at every budget): at each budget the mapped pages are looked at, and given
    back only from `TOUCHED_MB` above what the last give-back left (the least seen before one)."""
    from core.correlate import disk_array

    pager = disk_array._Pager()  # noqa: SLF001 - one of its own, no array kept
    # MB mapped at each budget's look, and (after a give-back) what it left
    readings = iter([100.0, 95.0, 102.0, 103.0, 96.0, 104.0, 103.0, 112.0, 104.0])
    seen: list[float] = []
    released: list[float] = []

    def reading() -> float:
        seen.append(next(readings))
        return seen[-1]

    monkeypatch.setattr(disk_array, "file_pages_mb", reading)
    monkeypatch.setattr(pager, "release_all", lambda: released.append(seen[-1]))
    for _ in range(5):
        pager.touched(disk_array.TOUCH_BUDGET)
    # 103 is 8 above 95 (the least seen): given back, 96 left; 104 is 8 above it, 103 left
    assert released == [103.0, 104.0]
    pager.touched(disk_array.TOUCH_BUDGET)  # 112: 9 above
    assert released == [103.0, 104.0, 112.0]
    monkeypatch.setattr(disk_array, "file_pages_mb", lambda: None)  # no /proc: at every budget
    pager.touched(disk_array.TOUCH_BUDGET - 1)
    assert len(released) == 3
    pager.touched(1)
    assert len(released) == 4
