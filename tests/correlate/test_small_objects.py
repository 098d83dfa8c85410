"""`bench/small_objects.py` reads what CPython's small-object allocator holds, the figures that
placed the 10M build's kept memory (arenas pinned by a few long-lived ints among freed ones)."""

from __future__ import annotations

import sys

import pytest

from bench.small_objects import parse, small_objects

pytestmark = pytest.mark.skipif(not hasattr(sys, "_debugmallocstats"), reason="no allocator report here")


def test_a_few_kept_objects_hold_the_arenas_of_many_freed_ones() -> None:
    before = small_objects()
    many = [n + (1 << 40) for n in range(600_000)]  # ~19 MB of 32-byte ints, in arenas of their own
    held = small_objects()
    kept = many[::500]  # one in 500 outlives the rest
    del many
    pinned = small_objects()
    del kept
    freed = small_objects()
    assert held["in_use_mb"] - before["in_use_mb"] > 15
    assert pinned["arenas"] > before["arenas"] + 10  # the kept ints hold on to the arenas...
    assert pinned["free_blocks_mb"] - before["free_blocks_mb"] > 10  # ...mostly free
    assert pinned["most_free"][0]["free_mb"] > 10  # in one size class (the ints')
    assert freed["arenas"] < pinned["arenas"] - 10  # every block of an arena free: given back


def test_a_report_is_read_as_its_figures() -> None:
    report = """Small block threshold = 512, in 32 size classes.

class   size   num pools   blocks in use  avail blocks
-----   ----   ---------   -------------  ------------
    1     32         877          236449        210821
    3     64         534           32060        104110

# arenas allocated current         =                   80
# bytes in allocated blocks        =           42,647,264
# bytes in available blocks        =           20,071,440
1216 unused pools * 16384 bytes    =           19,922,944
"""
    assert parse(report, worst=1) == {
        "arenas": 80, "in_use_mb": 40.7, "free_blocks_mb": 19.1, "empty_pools_mb": 19.0,
        "most_free": [{"size": 32, "pools": 877, "in_use_mb": 7.2, "free_mb": 6.4}]}
