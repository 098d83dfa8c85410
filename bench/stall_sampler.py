"""What the UI thread was doing while it stalled, by sampling its stack from another thread.

`bench/correlation_views.py --stall-profile FILE` starts a `StallSampler` beside the headless app:
every `period` seconds a Python thread reads the UI thread's frame (`sys._current_frames`) and
keeps its stack, innermost `depth` frames, with the time. The app's beat tells it each gap of the
UI thread (`gap`); at the end of each view, `report` writes the gaps over `threshold` seconds with
the stacks sampled inside them, the commonest first.

It replaces faulthandler's watchdog (`--stall-dump`) for short stalls: that one reads the other
threads' frames without the GIL, and at a 120 ms threshold ended a run with a segmentation fault.
This one reads them with the GIL, which a stalled UI thread running Python gives up at every
switch interval (5 ms) and a C call like SQLite's step gives up while it runs; a stall inside C
code that keeps the GIL shows as no samples (the report says so). The sampler's own wakes over
`HELD_S` late are reported too, with every other thread's stack as it woke: the thread that kept
it waiting, when one did (on a busy virtual machine the host's own pauses look the same:
`bench/wake_latency.py`). Sampling every 5 ms costs the UI thread a few percent: compare figures
of runs made with it only with each other.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path
from types import FrameType
from typing import TextIO

#: How many samples are kept (at 5 ms: the last ~100 s).
KEPT = 20_000
#: A wake of the sampler this much later than asked counts as the GIL held by another thread.
HELD_S = 0.05


def _stack(frame: FrameType | None, depth: int) -> tuple[str, ...]:
    """The innermost `depth` frames of `frame`'s stack as "file:line function", innermost first."""
    out: list[str] = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(out)


class StallSampler(threading.Thread):
    """Samples the stack of the thread `ident` every `period` seconds until `stop`."""

    def __init__(self, ident: int, period: float = 0.005, depth: int = 12) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.ident_sampled = ident
        self.period = period
        self.depth = depth
        self.samples: deque[tuple[float, tuple[str, ...]]] = deque(maxlen=KEPT)
        self.gaps: list[tuple[float, float]] = []  # (start, end) of each beat gap over the threshold
        #: The sampler's own wakes `late` s late, with every other thread's stack as it woke: a
        #: thread that kept the GIL shows where it was (just past a long C call, if one did); a
        #: host's pause of the machine looks the same (`bench/wake_latency.py`).
        self.holds: list[tuple[float, dict[str, tuple[str, ...]]]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = threading.get_ident()
        names = {t.ident: t.name for t in threading.enumerate()}
        last = time.perf_counter()
        while not self._stop_event.wait(self.period):
            frames = sys._current_frames()
            now = time.perf_counter()
            self.samples.append((now, _stack(frames.get(self.ident_sampled), self.depth)))
            if now - last > HELD_S:
                if any(ident not in names for ident in frames):
                    names = {t.ident: t.name for t in threading.enumerate()}
                others = {names.get(ident, str(ident)): _stack(frame, self.depth)
                          for ident, frame in frames.items() if ident not in (me, self.ident_sampled)}
                self.holds.append((now - last - self.period, others))
            last = now

    def stop(self) -> None:
        self._stop_event.set()

    def gap(self, start: float, end: float, threshold: float) -> None:
        """The UI thread's beat came at `end` after `start`: kept when longer than `threshold`."""
        if end - start > threshold:
            self.gaps.append((start, end))

    def report(self, out: TextIO, title: str, top: int = 6) -> None:
        """Each gap kept since the last report, longest first, with its commonest stacks."""
        gaps, self.gaps = sorted(self.gaps, key=lambda g: g[0] - g[1]), []
        out.write(f"== {title}: {len(gaps)} stall(s)\n")
        for start, end in gaps:
            inside = [stack for t, stack in list(self.samples) if start <= t <= end]
            out.write(f"-- {1000 * (end - start):.0f} ms, {len(inside)} samples\n")
            for stack, count in Counter(inside).most_common(top):
                out.write(f"   {count:4d}x  " + "  <  ".join(stack) + "\n")
            if not inside:
                out.write("   (no sample: the GIL was held in C code the whole time)\n")
        holds, self.holds = sorted(self.holds, key=lambda h: -h[0]), []
        out.write(f"== {title}: the sampler kept from the GIL over {HELD_S * 1000:.0f} ms {len(holds)} time(s)\n")
        for late, others in holds[:top * 2]:
            out.write(f"-- {1000 * late:.0f} ms late; the other threads then:\n")
            for name, stack in sorted(others.items()):
                out.write(f"   {name}: " + "  <  ".join(stack[:6]) + "\n")
        out.flush()
