"""The store's vocabulary for "which events, in what order": `Filter` and `Order`.

The store's reads take these typed objects, never SQL text: a caller cannot hand the store a
string to splice into a statement. A `Filter` is made only by the query compiler
(`core.query.compile`, from the filter bar's language), by the query layer's positional reads
(`core.query.view`) and by the store itself, through `Filter.from_sql`; everyone else uses the
named constructors (`everything`, `store_ids`, `event_ids`) or combines filters with `&`.
tests/store/test_store_api.py holds that `from_sql` is called nowhere else, and a direct
`Filter(...)` (or `dataclasses.replace` of one) raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import InitVar, dataclass
from enum import Enum

#: The key `from_sql` passes to the constructor: a `Filter(...)` built without it raises.
_KEY = object()


class EventIndex(Enum):
    """The events' indexes a read may go through (`core.store.schema.INDEXES` names them)."""

    TIME = "events_time"
    EVENT_ID = "events_eid"


class Order(Enum):
    """The orders events are read in (SQL over the events table aliased `e`)."""

    #: Time, then EventRecordID (a wrapped log is not in time order by file position), then
    #: insertion order: the default display order.
    TIME = "e.ts, e.record_id, e.id"
    TIME_DESC = "e.ts DESC, e.record_id DESC, e.id DESC"
    #: File (insertion) order: needs no index, so the table uses it while a log loads.
    FILE = "e.id"
    FILE_DESC = "e.id DESC"
    #: Grouped by EventID (through the EventID index, no walk of the time index): for readers
    #: that do not need time order, e.g. a few thousand events among millions.
    EVENT_ID = "e.event_id, e.id"
    #: Grouped by EventID, in time order within (the same index): a record loaded twice from two
    #: inputs comes as two rows next to each other (`core.correlate.attach`).
    EVENT_TIME = "e.event_id, e.ts, e.record_id, e.id"


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events: an SQL boolean expression over the events table aliased `e` (`sql`) and
    its bound parameters (user text only ever reaches SQLite as those).

    `ids`, when set, is SQL listing the ids of the matching events (possibly with repeats; `sql`
    is then `e.id IN (ids)`): counting those is cheaper than looking up every event.
    `id_table`, when set, names a temporary table holding them once each (`Store.id_set`)."""

    sql: str
    params: tuple[object, ...] = ()
    ids: str | None = None
    id_table: str | None = None
    _key: InitVar[object] = None  # not stored: `dataclasses.replace` cannot carry it over either

    def __post_init__(self, _key: object) -> None:
        if _key is not _KEY:
            raise TypeError("a Filter comes from core.query.compile.compile_query or Filter's named constructors")

    @classmethod
    def from_sql(
        cls, sql: str, params: Iterable[object] = (), ids: str | None = None, id_table: str | None = None
    ) -> Filter:
        """A filter from SQL text: for the query compiler and the store only (see the module)."""
        return cls(sql, tuple(params), ids, id_table, _KEY)

    @classmethod
    def everything(cls) -> Filter:
        return cls.from_sql("1")

    @classmethod
    def nothing(cls) -> Filter:
        return cls.from_sql("0")

    @classmethod
    def store_ids(cls, *store_ids: int) -> Filter:
        """The events with these store ids."""
        if len(store_ids) == 1:
            return cls.from_sql("e.id = ?", store_ids)
        return cls.from_sql(f"e.id IN ({', '.join('?' * len(store_ids))})", store_ids) if store_ids else cls.nothing()

    @classmethod
    def event_ids(cls, event_ids: Iterable[int]) -> Filter:
        """The events with one of these EventIDs (`nothing` for none). The ids are written into
        the SQL as integers (not bound): the planner then weighs the EventID index by its
        statistics."""
        ids = sorted({int(i) for i in event_ids})
        return cls.from_sql(f"e.event_id IN ({', '.join(map(str, ids))})") if ids else cls.nothing()

    @property
    def matches_all(self) -> bool:
        """Whether the filter keeps every event (an empty query): callers ask this, never the SQL."""
        return self.sql == "1"

    @property
    def matches_none(self) -> bool:
        return self.sql == "0"

    def __and__(self, other: Filter) -> Filter:
        """The events both filters keep."""
        if self.matches_all:
            return other
        if other.matches_all:
            return self
        return Filter.from_sql(f"({self.sql}) AND ({other.sql})", (*self.params, *other.params))
