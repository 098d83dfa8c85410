"""`bench/small_objects.py` reads what CPython's small-object allocator holds, the figures that
placed the 10M build's kept memory (arenas pinned by a few long-lived ints among freed ones)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.small_objects import parse

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not hasattr(sys, "_debugmallocstats") or os.environ.get("PYTHONMALLOC", "pymalloc").startswith("malloc"),
    reason="no small-object allocator here")


#: Run in a fresh interpreter: in one that has held and freed much already, new objects fill the
#: free blocks of pools other objects keep, and nothing comes back whatever the test does.
_KEPT_FEW = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench.small_objects import small_objects
before = small_objects()
many = [n + (1 << 40) for n in range(600_000)]  # ~18 MB of small ints
held = small_objects()
kept = many[::500]  # one in 500 outlives the rest: about one in each pool
del many
pinned = small_objects()
del kept
print(json.dumps([before, held, pinned, small_objects()]))
"""


def test_a_few_kept_objects_keep_the_arenas_of_many_freed_ones() -> None:
    out = subprocess.run([sys.executable, "-c", _KEPT_FEW, str(ROOT)], capture_output=True, text=True, check=True,
                         timeout=60)
    before, held, pinned, freed = json.loads(out.stdout)
    assert held["in_use_mb"] - before["in_use_mb"] > 15
    assert pinned["in_use_mb"] - before["in_use_mb"] < 3
    assert pinned["arenas"] >= held["arenas"] > before["arenas"] + 10  # kept by the few...
    assert pinned["free_blocks_mb"] - held["free_blocks_mb"] > 10  # ...mostly free
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
