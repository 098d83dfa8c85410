"""The 4656s on Process objects the scan saw, as columns: each made into an `Open` when read.

The access tracker (`core.correlate.access`) kept each as an object with its `Ref`: ~200 bytes
a 4656 with their boxed ints, for the model's life (~30 MB at ten million events, where a
busy host opens a process handle every few seconds). The facts table
(`core.correlate.facts`) already holds every model event's numbers, so an open keeps its
position there and its own few ints (its time and order, which the join and the Process access
list sort and search by, source, handle, mask, and its computer and target image as indexes of
their distinct strings), ~64 bytes; `OpenColumns[i]` makes the same `Open` the
tracker held, its `Ref` read back from the facts table (`FactsTable.ref`: equal, field for
field, to the one the scan made).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from core.correlate.columns import Index
from core.correlate.evidence import Ref
from core.correlate.refcolumn import RefSource

#: `mask` of an open whose 4656 logs none; masks from MASK_LIMIT on (or negative) are kept aside.
NO_MASK = -1
MASK_LIMIT = 1 << 63
#: Times and orders outside -SLOT_LIMIT..SLOT_LIMIT-1 (a hostile log's) are kept aside.
SLOT_LIMIT = 1 << 63


@dataclass(slots=True)
class Open:
    """A 4656 on a Process object: its record, computer, source instance, handle instance,
    target image file name (case-folded) and access mask."""

    ref: Ref
    host: str
    source: int
    handle: int
    target_image: str
    mask: int | None


class OpenColumns(Sequence[Open]):
    """The opens in scan order (see the module doc): `source` and `handle` are arrays read as
    they are; `host`, `image`, `mask`, `ref`, `key` and `store_id` read one open's value."""

    def __init__(self, refs: RefSource) -> None:
        self._refs = refs
        self.position = array("q")
        self._ts = array("q")
        self._order = array("q")
        self.source = array("q")
        self.handle = array("q")
        self._masks = array("q")
        self._host_at = array("i")
        self._image_at = array("i")
        self._hosts: Index[str] = Index()
        self._images: Index[str] = Index()
        self._odd_masks: dict[int, int] = {}
        self._odd_keys: dict[int, tuple[int, int]] = {}

    def append(self, position: int, key: tuple[int, int], host: str, source: int, handle: int, target_image: str,
               mask: int | None) -> None:
        """One more open: the event at `position` of the facts table, its `Ref.key` `key`
        (`target_image` folded)."""
        self.position.append(position)
        if not (-SLOT_LIMIT <= key[0] < SLOT_LIMIT and -SLOT_LIMIT <= key[1] < SLOT_LIMIT):
            self._odd_keys[len(self._ts)] = key  # a log's time that fits no slot: kept aside
            key = (0, 0)
        self._ts.append(key[0])
        self._order.append(key[1])
        self.source.append(source)
        self.handle.append(handle)
        if mask is not None and not 0 <= mask < MASK_LIMIT:  # a log's value that fits no slot: kept aside
            self._odd_masks[len(self._masks)] = mask
            mask = None
        self._masks.append(NO_MASK if mask is None else mask)
        self._host_at.append(self._hosts[host])
        self._image_at.append(self._images[target_image])

    def __len__(self) -> int:
        return len(self.position)

    @overload
    def __getitem__(self, index: int) -> Open: ...

    @overload
    def __getitem__(self, index: slice) -> list[Open]: ...

    def __getitem__(self, index: int | slice) -> Open | list[Open]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return Open(self.ref(index), self.host(index), self.source[index], self.handle[index], self.image(index),
                    self.mask(index))

    def __iter__(self) -> Iterator[Open]:
        return (self[i] for i in range(len(self)))

    def host(self, i: int) -> str:
        return self._hosts.distinct[self._host_at[i]]

    def image(self, i: int) -> str:
        return self._images.distinct[self._image_at[i]]

    def places(self, indexes: Iterable[int]) -> list[int]:
        """Each of `indexes`' computer and target image as one int (`place` reads it back): the
        Process access list files its 4656s by them, no string read per open."""
        host_at, image_at = self._host_at, self._image_at
        return [(host_at[i] << 32) | image_at[i] for i in indexes]

    def place(self, key: int) -> tuple[str, str]:
        """The (computer, target image) of a `places` key."""
        return self._hosts.distinct[key >> 32], self._images.distinct[key & 0xFFFFFFFF]

    def masks(self, indexes: Iterable[int]) -> list[int | None]:
        """`mask` of each of `indexes`."""
        if self._odd_masks:
            return [self.mask(i) for i in indexes]
        masks = self._masks
        return [None if mask == NO_MASK else mask for mask in (masks[i] for i in indexes)]

    def mask(self, i: int) -> int | None:
        mask = self._masks[i]
        if mask == NO_MASK:
            return self._odd_masks.get(i) if self._odd_masks else None
        return mask

    def ref(self, i: int) -> Ref:
        return self._refs.ref(self.position[i])

    def key(self, i: int) -> tuple[int, int]:
        if self._odd_keys and i in self._odd_keys:
            return self._odd_keys[i]
        return self._ts[i], self._order[i]

    def keys(self, indexes: Iterable[int]) -> list[tuple[int, int]]:
        """`key` of each of `indexes` (the Process access list's sweeps and sorts)."""
        if self._odd_keys:
            return [self.key(i) for i in indexes]
        ts, order = self._ts, self._order
        return [(ts[i], order[i]) for i in indexes]

    def store_id(self, i: int) -> int:
        return self._refs.store_id(self.position[i])
