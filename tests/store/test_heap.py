"""`core.store.heap.give_back`: free memory kept by the C heaps goes back to the system."""

from __future__ import annotations

import sys
import threading

import pytest

from core.store.heap import give_back


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no RssAnon here")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_objects_of_a_thread_go_back_to_the_system() -> None:
    if not give_back():
        pytest.skip("not glibc")
    kept: list[bytes] = []

    def allocate() -> None:
        # 80 MB of 2 KB objects (the C heap, not Python's small-object arenas), one in 64 kept:
        # the free memory is between live blocks, which a heap's top trim cannot return.
        made = [bytes(2048) + bytes([i % 251]) for i in range(40_000)]
        kept.extend(made[::64])
        del made

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    held = _rss_anon_mb()
    assert give_back()
    given = held - _rss_anon_mb()
    assert given > 40, f"only {given:.0f} MB of ~78 MB freed went back"
    assert len(kept) == 625
