"""Instance indexes held unboxed, equal to the tuple of them.

A session's processes and a process's children and handles were tuples of ints: 40 bytes an
index (8 for the tuple's slot, 32 for the int), and a busy process's handles run to hundreds of
thousands. `Indexes` is an `array` of 64-bit ints (8 bytes an index) that compares equal to, and
hashes as, the tuple of its values, so that the frozen instances holding it are equal to those
made with tuples.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar, overload

_T = TypeVar("_T")


class Indexes(array):  # type: ignore[type-arg]
    """Indexes held unboxed (see the module doc): a session's processes as tuples were 25 MB at
    ten million events, the processes' handles made for the Handles list 33 MB."""

    __slots__ = ()

    def __new__(cls, values: Iterable[int] = ()) -> Indexes:
        view = memoryview(values) if isinstance(values, array) else values
        if isinstance(view, memoryview) and view.format == "q" and view.c_contiguous:
            # A column's slice: copied whole at C speed, no room to spare (an iterable's grows).
            out: Indexes = super().__new__(cls, "q")  # type: ignore[assignment]
            out.frombytes(view.cast("B"))
            return out
        return super().__new__(cls, "q", values)  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, list, array)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:  # type: ignore[override]  # array's is None: unhashable
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


class IndexesAt(Sequence[int]):
    """`Indexes` read in place: items `lo`..`hi`-1 of a shared array, not copied (the sessions'
    processes, `core.correlate.session_frozen`: a session made again when read would copy its
    processes each time, hundreds of thousands for a service's logon). Equal to, and hashed as,
    the tuple of its values, like `Indexes`."""

    __slots__ = ("_hi", "_lo", "_values")

    def __init__(self, values: array[int], lo: int, hi: int) -> None:
        self._values, self._lo, self._hi = values, lo, hi

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return tuple(self)[index]
        n = self._hi - self._lo
        if not -n <= index < n:
            raise IndexError(index)
        return self._values[self._lo + index % n]

    def __iter__(self) -> Iterator[int]:
        return iter(memoryview(self._values)[self._lo:self._hi])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, list, array, IndexesAt)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


class At(Sequence[_T]):
    """The items of `items` at `indexes`, each read when asked for (a Sessions row's processes,
    a session tree's network logons: made all at once, a busy log's rows held every instance in
    them as an object). Equal to any sequence of the same items; a slice is another `At` of the
    same class."""

    __slots__ = ("_indexes", "_items")

    def __init__(self, items: Sequence[_T], indexes: Sequence[int]) -> None:
        self._items = items
        self._indexes = indexes

    def __len__(self) -> int:
        return len(self._indexes)

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> At[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | At[_T]:
        if isinstance(index, slice):
            return type(self)(self._items, self._indexes[index])
        return self._items[self._indexes[index]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._indexes)!r})"
