"""A handle's accesses as positions in the model's facts table, made into `Ref`s when read.

A handle instance keeps every 4663/4660 on it. As a tuple of `Ref`s that was ~200 bytes per
access (the `Ref`, its store id, record id, time and order ints), kept for the model's life:
real logs have handles used hundreds of thousands of times, and the synthetic store of
`bench/table.py` one handle used a quarter of a million times (~50 MB at a million events).
The facts table (`core.correlate.facts`) already holds every model event's numbers, so a handle
keeps only where its accesses are in it (8 bytes each) and `RefColumn` makes each `Ref` again
as it is read: equal, field for field, to the one the scan made, so that every answer built
from them (related events, trees, the stored views) is unchanged.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, overload

from core.correlate.processes import Ref


class RefSource(Protocol):
    """What can make the `Ref` of a model event from its position (`FactsTable.ref`)."""

    def ref(self, pos: int) -> Ref: ...

    def key(self, pos: int) -> tuple[int, int]: ...

    def store_id(self, pos: int) -> int: ...


def event_record(source: RefSource, pos: int) -> tuple[int, int | None]:
    """(EventID, record id) of the event at `pos`: without making its `Ref` where `source` can
    (`FactsTable.event_record`: the tables' writer words millions of reasons naming them)."""
    quick: Callable[[int], tuple[int, int | None]] | None = getattr(source, "event_record", None)
    if quick is not None:
        return quick(pos)
    ref = source.ref(pos)
    return ref.event_id, ref.record_id


class RefColumn(Sequence[Ref]):
    """A read-only sequence of `Ref`s held as positions in a `RefSource`: it reads, slices,
    compares and hashes as the tuple of those `Ref`s would (a slice is another column, so
    that cutting a long list for a tree makes no `Ref` it does not show)."""

    __slots__ = ("_positions", "_source")

    def __init__(self, source: RefSource, positions: array[int]) -> None:
        self._source = source
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> Ref: ...

    @overload
    def __getitem__(self, index: slice) -> RefColumn: ...

    def __getitem__(self, index: int | slice) -> Ref | RefColumn:
        if isinstance(index, slice):
            return RefColumn(self._source, self._positions[index])
        return self._source.ref(self._positions[index])

    def __iter__(self) -> Iterator[Ref]:
        return map(self._source.ref, self._positions)

    def __reversed__(self) -> Iterator[Ref]:
        return map(self._source.ref, reversed(self._positions))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RefColumn):
            if other._source is self._source:
                return self._positions == other._positions
            return tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))
