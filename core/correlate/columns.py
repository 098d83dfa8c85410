"""The unboxed storage of `core.correlate.facts.FactsTable`: int fields in `array` layouts (in a
side file, `core.correlate.disk_array`), with None and out-of-range values kept exactly, and
repeated strings numbered once."""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, Final, TypeVar, cast

from core.correlate.disk_array import DiskArray

_K = TypeVar("_K")


def _limits(typecode: str) -> tuple[int, int]:
    """The slot value that stands for None in arrays of `typecode` (their lowest), and their highest."""
    bits = array(typecode).itemsize * 8
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


#: Per typecode: its None slot, its highest value, and how a value becomes a slot (None to the
#: None slot; the None slot's own value to a text, which the array refuses: it goes aside).
_SLOTS: Final[dict[str, tuple[int, int, dict[Any, Any]]]] = {
    code: (*_limits(code), {None: _limits(code)[0], _limits(code)[0]: "aside"}) for code in "iq"}


#: The slot that stands for None, per typecode.
NONE_SLOT: Final = {code: none for code, (none, _, _) in _SLOTS.items()}


def pack_slots(ints: list[Any], typecode: str) -> tuple[array[int], dict[int, int]]:
    """`ints` (ints or None) as slots of `typecode` (at C speed: `ints_array`), with the values
    that go aside (not fitting, or equal to the None slot) by their index in `ints`, which is
    changed in place. The scan's reading child packs with it too (`core.correlate.fact_frames`)."""
    none, top, to_slot = _SLOTS[typecode]
    packed = ints_array(list(map(to_slot.get, ints, ints)), typecode)  # None: one does not fit
    if packed is not None:
        return packed, {}
    aside: dict[int, int] = {}
    for i, value in enumerate(ints):
        if value is not None and (value == none or not none < value <= top):
            aside[i] = value
            ints[i] = None
    packed = ints_array(list(map(to_slot.get, ints, ints)), typecode)
    assert packed is not None
    return packed, aside


def ints_array(ints: Sequence[Any], typecode: str) -> array[int] | None:
    """`array(typecode, ints)`, or None when a value is not an int of that size. Through
    `struct`, which converts an int in a quarter to a half of the time `array`'s own conversion
    takes (it parses a format per value)."""
    try:
        data = struct.pack(f"@{len(ints)}{typecode}", *ints)  # native: the sizes of `array`'s
    except struct.error:
        return None
    packed = array(typecode)
    packed.frombytes(data)
    return packed


class Columns:
    """Int fields of every event, one slot each in one array (row after row, in a side file:
    `slots` is its view, read again after each `pack`): None is the array's lowest value, a
    value that does not fit (or equals it) goes to `aside`."""

    def __init__(self, typecode: str, names: tuple[str, ...], first: int, directory: str | None = None) -> None:
        self.disk = DiskArray(typecode, directory)
        self.slots: memoryview[int] | array[int] = self.disk.view
        self.typecode = typecode
        self.stride = len(names)
        self.none = NONE_SLOT[typecode]
        self.from_slot: dict[int, int | None] = {self.none: None}
        self.aside: dict[int, int] = {}
        # One C call per event reads them all from its row (`ROW_FIELDS`, from `first` on): the
        # table packs its events a batch at a time, at C speed (packing them one by one in Python
        # cost as much as the rest of the scan).
        self.read = itemgetter(*range(first, first + len(names)))
        self.index = {name.removeprefix("ref."): i for i, name in enumerate(names)}

    def pack(self, batch: list[tuple[Any, ...]]) -> None:
        self.extend(*self.packed(list(chain.from_iterable(map(self.read, batch)))))

    def packed(self, ints: list[Any]) -> tuple[array[int], dict[int, int]]:
        return pack_slots(ints, self.typecode)

    def extend(self, packed: array[int], aside: dict[int, int]) -> None:
        """Append rows of slots made by `packed` (or equal to them), with their values aside."""
        start = len(self.disk)
        for i, value in aside.items():
            self.aside[start + i] = value
        self.disk.extend(packed)
        self.slots = self.disk.view

    def row(self, pos: int) -> list[int | None]:
        base = pos * self.stride
        row = self.slots[base:base + self.stride]
        if self.aside and self.none in row:
            return [self.aside.get(base + i) if value == self.none else value for i, value in enumerate(row)]
        return list(map(self.from_slot.get, row, row))

    def value(self, pos: int, name: str) -> int | None:
        at = pos * self.stride + self.index[name]
        value = self.slots[at]
        return self.aside.get(at) if value == self.none else value

    def column(self, name: str, lo: int, hi: int) -> list[int | None]:
        """The field `name` of the events lo..hi-1."""
        if self.aside:  # some value kept aside: one by one, exactly
            return [self.value(pos, name) for pos in range(lo, hi)]
        part = self.slots[lo * self.stride + self.index[name]:hi * self.stride:self.stride]
        return list(map(self.from_slot.get, part, part))


class Index(dict[_K, int]):
    """Distinct values numbered as they come (`table[value]` adds a new one); None is -1."""

    def __init__(self) -> None:
        super().__init__()
        self.distinct: list[_K] = []
        dict.__setitem__(self, cast(Any, None), -1)  # found without a call to `__missing__`

    def __missing__(self, key: _K) -> int:
        n = self[key] = len(self.distinct)
        self.distinct.append(key)
        return n
