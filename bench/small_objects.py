"""What CPython's small-object allocator holds, from `sys._debugmallocstats()` (not a timed test).

Objects of up to 512 bytes (ints, tuples, short strings) come from pools of 16 KB in arenas of
1 MB, and an arena goes back to the system only once every block in it is free: a few long-lived
objects among many freed ones keep whole arenas. This was how the 10M build's process held 120 MB
of arenas for 55 MB of objects (the processes' handle lists of int objects: `bench/README.md`,
"2026-12-06, night"). `small_objects()` says, at any moment: the arenas held, the bytes in use,
the free blocks and empty pools inside them, and the size classes wasting the most.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import Any

#: A size class's line: class, size, pools, blocks in use, blocks free.
_CLASS = re.compile(r"^\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", re.M)
_ARENAS = re.compile(r"# arenas allocated current\s+=\s+([\d,]+)")
_IN_USE = re.compile(r"# bytes in allocated blocks\s+=\s+([\d,]+)")
_FREE = re.compile(r"# bytes in available blocks\s+=\s+([\d,]+)")
_EMPTY = re.compile(r"(\d+) unused pools \* (\d+) bytes")


def _report() -> str:
    """`sys._debugmallocstats()`'s text (it writes to the C stderr: caught through a file)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
            os.dup2(out.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
            out.seek(0)
            return out.read()
    finally:
        os.close(saved)


def _number(pattern: re.Pattern[str], text: str) -> int:
    found = pattern.search(text)
    return int(found.group(1).replace(",", "")) if found else 0


def parse(text: str, worst: int = 3) -> dict[str, Any]:
    """The figures of one `sys._debugmallocstats()` report (MB), `worst` size classes by free bytes."""
    classes = [tuple(map(int, m.groups())) for m in _CLASS.finditer(text)]
    empty = _EMPTY.search(text)
    mb = 1 / 2**20
    return {
        "arenas": _number(_ARENAS, text),
        "in_use_mb": round(_number(_IN_USE, text) * mb, 1),
        "free_blocks_mb": round(_number(_FREE, text) * mb, 1),
        "empty_pools_mb": round(int(empty.group(1)) * int(empty.group(2)) * mb, 1) if empty else 0.0,
        "most_free": [{"size": size, "pools": pools, "in_use_mb": round(used * size * mb, 1),
                       "free_mb": round(free * size * mb, 1)}
                      for size, pools, used, free in sorted(classes, key=lambda c: -c[0] * c[3])[:worst]],
    }


def small_objects(worst: int = 3) -> dict[str, Any]:
    """`parse` of this process's allocator now ({} where the interpreter gives no report)."""
    if not hasattr(sys, "_debugmallocstats"):
        return {}
    return parse(_report(), worst)
