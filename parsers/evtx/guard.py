"""python-evtx made safe to run on hostile chunks: cycles broken, every run on a step budget.

Why: python-evtx (third-party, not ours to edit) walks each chunk's string and template hash
chains with `while ofs > 0: ofs = node.next_offset()`, so one entry whose next offset points
back at itself (or any cycle) loops forever, and a damaged node stream can make its child
loop (`itertools.count()`) append nodes until memory runs out. Both were seen in mutated real
logs: the loader never finished and the app's raw XML tab spun forever.

Two guards, both needed:

* `BoundedChunk` replaces the two chain walks with ours: each offset visited once, inside the
  chunk, at most `MAX_CHAIN_ENTRIES` entries. A cycle just ends its chain (the names and
  templates themselves sit at their own offsets; the chains are only an index).
* `run_bounded` runs a python-evtx call with a profile hook that counts Python and C calls and
  raises `StepBudgetExceeded` past `MAX_STEPS`. It is per thread (works in the app's worker
  threads, where signals cannot be used), deterministic (a step count, not a clock: the same
  file always gives the same events and issues), and its cost (about 2x on python-evtx, which
  only sees the rare records our decoder rejects) never touches the fast path. `steps_taken`
  sums what its runs counted in the thread, for budgets over many runs (a chunk's records).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

#: Calls one python-evtx record may make: a record takes 15k-45k (the first of a chunk the
#: most, it loads the chunk's tables); a full 64 KiB record a few hundred thousand.
MAX_STEPS = 2_000_000
#: String (64 buckets) and template (32) chain entries walked per chunk: a 64 KiB chunk cannot
#: hold more than ~6,500 of the smallest (10-byte) name strings.
MAX_CHAIN_ENTRIES = 8192
CHUNK_SIZE = 0x10000

T = TypeVar("T")


class StepBudgetExceeded(Exception):
    """python-evtx made more than `MAX_STEPS` calls on one record: it is looping."""


_TAKEN = threading.local()  # .steps: what run_bounded counted in this thread so far


def steps_taken() -> int:
    """Steps `run_bounded` counted in this thread so far: the cost of a run is the difference
    of two readings (per thread, like the hook: the app's worker threads do not mix)."""
    taken: int = getattr(_TAKEN, "steps", 0)
    return taken


def run_bounded(fn: Callable[..., T], *args: Any, steps: int = MAX_STEPS) -> T:
    """`fn(*args)` with at most `steps` function calls (Python and C) made inside it; raises
    StepBudgetExceeded past that. A profiler already installed keeps receiving its events."""
    previous: Any = sys.getprofile()
    left = [steps]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if previous is not None:
            previous(frame, event, arg)
        if event == "call" or event == "c_call":
            left[0] -= 1
            if left[0] < 0:
                raise StepBudgetExceeded(f"python-evtx gave up after {steps:,} steps (a loop in the record or chunk)")

    sys.setprofile(hook)
    try:
        return fn(*args)
    finally:
        sys.setprofile(previous)
        _TAKEN.steps = steps_taken() + steps - max(left[0], 0)


def _chain(chunk: Any, table: int, buckets: int, accept: Callable[[int], bool] | None = None) -> list[int]:
    """Offsets along the hash chains of the table at chunk offset `table` (`buckets` dwords),
    each visited once, in python-evtx's order; a chain stops at an offset seen before, outside
    the chunk, or that `accept` refuses."""
    out: list[int] = []
    seen: set[int] = set()
    for i in range(buckets):
        ofs: int = chunk.unpack_dword(table + i * 4)
        while 0 < ofs <= CHUNK_SIZE - 8 and ofs not in seen and len(seen) < MAX_CHAIN_ENTRIES:
            if accept is not None and not accept(ofs):
                break
            seen.add(ofs)
            out.append(ofs)
            ofs = chunk.unpack_dword(ofs)  # next_offset: the entry's first dword
    return out


@functools.cache
def bounded_chunk_class() -> type:
    """python-evtx's ChunkHeader with bounded string and template chain walks (built on first
    use: python-evtx is imported only when a record needs it)."""
    from Evtx.Evtx import ChunkHeader

    class BoundedChunk(ChunkHeader):  # type: ignore[misc]
        """ChunkHeader whose chain walks visit each offset once (see the module docstring)."""

        _strings: dict[int, Any] | None
        _templates: dict[int, Any] | None

        def _load_strings(self) -> None:
            if self._strings is None:
                self._strings = {}
            for ofs in _chain(self, 0x80, 64):
                self.add_string(ofs)

        def _load_templates(self) -> None:
            if self._templates is None:
                self._templates = {}
            for ofs in _chain(self, 0x180, 32, self._preceded_by_instance):
                self.add_template(ofs)

        def _preceded_by_instance(self, ofs: int) -> bool:
            """python-evtx's own check (its chain stops where it fails): a template definition
            follows the instance that declared it."""
            return ofs >= 10 and self.unpack_byte(ofs - 10) == 0x0C and self.unpack_dword(ofs - 4) == ofs

    return BoundedChunk
