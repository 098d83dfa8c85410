"""Pausing Python's cyclic garbage collector while a big structure without cycles is built.

The correlation model of a large log holds millions of small objects that live as long as the
model. The collector cannot free any of them, yet each full collection walks them all, and it
runs more often as they pile up: 40% of the build time at 300,000 events. The pause is shared
between threads (the app builds the model and the findings in workers at once): the collector
comes back when the last pause ends, and only if it was on before the first.

A build may also ask for what it made to be frozen (`Pause.freeze`, `gc.freeze()`): otherwise
the first collection after the pause counts every object of the new model as pending and walks
them all, 1.7-3 s at a million events with the GIL held, a frozen screen. Frozen objects are
never collected as cycles again; the model has no cycles (its objects refer to each other by
index) and is freed by reference counting like any other when dropped. What else is alive at
that moment is frozen too: a screen open then and closed later keeps its reference cycles in
memory. Only builds over a big model freeze (`core.correlate.model.FREEZE_EVENTS`), a few times per
log, so that cost stays bounded; a collection over the model at every build would not.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_LOCK = threading.Lock()
_STATE = {"depth": 0, "was_enabled": True, "freeze": False}


@dataclass
class Pause:
    """Set `freeze` inside the block to freeze every object alive when the last pause ends."""

    freeze: bool = False


@contextmanager
def gc_paused() -> Iterator[Pause]:
    """No cyclic collection inside the block (nor in other threads meanwhile)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["was_enabled"] = gc.isenabled()
            gc.disable()
        _STATE["depth"] += 1
    pause = Pause()
    try:
        yield pause
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            _STATE["freeze"] = _STATE["freeze"] or pause.freeze
            if _STATE["depth"] == 0:
                if _STATE["freeze"]:
                    gc.freeze()
                    _STATE["freeze"] = False
                if _STATE["was_enabled"]:
                    gc.enable()
