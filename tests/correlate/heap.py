"""Walks over what an object holds on the heap, for the memory tests of this folder: they assert
that the model keeps columns, not an object per instance, so they count what is reachable."""

from __future__ import annotations

import gc
import sys
import types
from typing import Any

import pytest


def reachable(root: object, skip: tuple[object, ...] = (), limit: int = 1_000_000) -> list[object]:
    """The objects `root` holds, directly or not, at most `limit` of them (its own data: classes,
    modules, functions and the objects in `skip` are not followed)."""
    seen = {id(root), *map(id, skip)}
    todo: list[object] = [root]
    found: list[object] = []
    while todo and len(found) < limit:
        for held in gc.get_referents(todo.pop()):
            if id(held) not in seen and not isinstance(held, (type, types.ModuleType, types.FunctionType)):
                seen.add(id(held))
                found.append(held)
                todo.append(held)
    return found


def deep_size(obj: Any, seen: set[int], kind: type | None = None) -> tuple[int, int]:
    """Bytes of `obj` and of everything it refers to that is not in `seen` (which grows), and how
    many of those objects are of `kind`."""
    total, count, stack = 0, 0, [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type) or (callable(o) and not hasattr(o, "__slots__")):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        count += kind is not None and isinstance(o, kind)
        stack.extend(gc.get_referents(o))
    return total, count


class Calls:
    """How many times `owner.name` was called since made (monkeypatched to count, still calling
    it): the memory tests count the gives-back of mapped pages."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self.count = 0
        called = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return called(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def given_back(monkeypatch: pytest.MonkeyPatch, budget: int) -> Calls:
    """Counts the gives-back of every side file's pages (`disk_array.PAGER.release_all`) that
    readers make once `budget` reads at random add up (`disk_array.touched`), from none, whatever
    the file pages mapped then."""
    from core.correlate import disk_array

    monkeypatch.setattr(disk_array, "TOUCH_BUDGET", budget)
    monkeypatch.setattr(disk_array, "TOUCHED_MB", float("-inf"))
    monkeypatch.setattr(disk_array.PAGER, "_touches", 0)
    return Calls(monkeypatch, disk_array.PAGER, "release_all")
