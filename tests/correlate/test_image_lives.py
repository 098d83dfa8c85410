"""An image's instances by the span of their lives (`core.correlate.image_lives`), the look-up
that names a 4656's target process: the same answers as a look at every instance, from bounds
held unboxed (as tuples in lists, the writer's look-ups held ~40 MB at ten million events)."""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

from core.correlate.image_lives import AFTER_LOG, BEFORE_LOG, Keys, Lives
from tests.correlate.heap import reachable


@dataclass
class _Instance:
    start_at: tuple[int, int] | None
    end_at: tuple[int, int] | None
    facts: None = None  # bounds given as keys: no facts table to read them from


def _instances(n: int, seed: int) -> list[_Instance]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = (rng.randrange(0, 50) * 1_000, rng.randrange(0, 1 << 20)) if rng.random() > 0.1 else None
        end = None
        if rng.random() > 0.2:
            end = ((start or (0, 0))[0] + rng.randrange(0, 20_000), rng.randrange(0, 1 << 20))
        out.append(_Instance(start, end))
    return out


def test_alive_is_every_instance_whose_life_holds_the_moment() -> None:
    instances = _instances(700, seed=3)
    indexes = list(range(0, 700, 2))  # one image's, among the others
    lives = Lives(instances, indexes)  # type: ignore[arg-type]
    rng = random.Random(4)
    moments = [(rng.randrange(-1_000, 75_000), rng.randrange(0, 1 << 20)) for _ in range(300)]
    for at in moments:
        expected = [i for i in indexes
                    if (instances[i].start_at or BEFORE_LOG) <= at <= (instances[i].end_at or AFTER_LOG)]
        assert lives.alive(at) == expected
    assert lives.first_alive(moments, 3) == [lives.alive(at)[:3] for at in moments]


def test_bounds_are_held_unboxed() -> None:
    instances = _instances(2_000, seed=5)
    lives = Lives(instances, range(2_000))  # type: ignore[arg-type]
    lives.alive((10_000, 5))  # the segment tree made
    held = reachable(lives)
    assert sum(type(o) is tuple for o in held) < 10  # ~4,000 before: a start and an end each
    assert sum(type(o) is int and o > 256 for o in held) < 10


def test_keys_read_back_as_the_tuples_they_were() -> None:
    keys = sorted((t, o) for t in (-(1 << 62), 0, 5, 1 << 62) for o in (0, 7, (1 << 63) - 1))
    held = Keys(keys)
    assert list(held) == keys and held[3] == keys[3] and held[2:5] == keys[2:5] and len(held) == len(keys)
    for at in [(5, 6), (5, 7), (-1, 0), (1 << 62, 1)]:
        assert bisect.bisect_right(held, at) == bisect.bisect_right(keys, at)
    wide = [(1, 2), (1 << 64, 0)]  # a time out of the 64-bit range (kept aside by the facts table)
    assert list(Keys(wide)) == wide and Keys(wide)[1] == (1 << 64, 0)
