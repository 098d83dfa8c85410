"""Values SQLite cannot bind as they are, made storable without losing the event.

sqlite3 raises OverflowError for an integer outside the signed 64-bit range and
UnicodeEncodeError for a str holding a lone UTF-16 surrogate. Both come from event data (an
EVTX UInt64 substitution or FILETIME with a flipped bit, a JSON number, a JSON `"\\ud800"`
escape), and either one failed a whole batch: the input was marked unreadable and everything
after its first batch dropped. The store binds a batch as it is (the fast path, free) and only
when that fails passes it through `storable_rows`, which

* stores an out-of-range integer exactly, as text in `0x` hex (`int_text`): SQLite turns a
  decimal string in an INTEGER column into a lossy REAL, but keeps hex text as text; readers
  turn it back into the same int (`column_int`), and the query compiler compares such values
  in the same form (`core.model.values.column_param`);
* replaces each lone surrogate with U+FFFD (`clean_text`, a valid pair becomes its character)
  and reports the value as a parse issue naming the record and the field: a bad value costs
  that value, never the record, never the input.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from core.model.event import ParseIssue
from core.model.rows import data_pairs

#: The `meta` key set once a store holds an integer as text: readers then convert (the check
#: would otherwise cost every row read a sixth of its decoding time).
TEXT_INTS = "text_ints"
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: Columns of a `core.model.rows.EventRow`, by position (see `core.model.rows.EVENT_COLUMNS`).
ROW_COLUMNS = (
    "id", "source", "record_number", "record_id", "ts", "event_id", "version", "level", "task", "opcode",
    "keywords", "channel", "provider", "computer", "pid", "tid", "user_sid", "locator", "data",
)  # fmt: skip
_INT_AT = tuple(i for i, c in enumerate(ROW_COLUMNS) if c not in ("keywords", "channel", "provider", "computer",
                                                                  "user_sid", "data"))  # fmt: skip
_TEXT_AT = tuple(ROW_COLUMNS.index(c) for c in ("keywords", "channel", "provider", "computer", "user_sid"))
_DATA_AT = ROW_COLUMNS.index("data")
_TEXT_OR_DATA = frozenset((*_TEXT_AT, _DATA_AT))
_NUMBER_AT = ROW_COLUMNS.index("record_number")
_LOCATOR_AT = ROW_COLUMNS.index("locator")


def exact_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """An `events` row as selected (`core.model.rows.decode_row`'s input: no id) with integers
    stored as text turned back into ints."""
    return tuple(value if i in _TEXT_OR_DATA else column_int(value) for i, value in enumerate(row, 1))


def int_text(n: int) -> str:
    """How an integer outside the signed 64-bit range is stored: `0x...` (`-0x...`)."""
    return f"-0x{-n:x}" if n < 0 else f"0x{n:x}"


def column_int(value: Any) -> Any:
    """A value read from an integer column: the int `int_text` stored as text, else as is."""
    if type(value) is str:
        try:
            return int(value, 16)
        except ValueError:
            return value
    return value


def bindable(params: Iterable[object]) -> tuple[object, ...]:
    """Query parameters with out-of-range integers in their stored form (an event's own
    record id or time, used as a paging anchor or to find a mark again, may be one)."""
    return tuple(int_text(p) if type(p) is int and not INT64_MIN <= p <= INT64_MAX else p for p in params)


def path_value(path: str) -> str | bytes:
    """How an input's path is stored: as text, or when it holds bytes that are not UTF-8 (a
    POSIX file name, decoded with surrogate escapes) as those bytes, so it still opens."""
    if not has_surrogate(path):
        return path
    try:
        return os.fsencode(path)
    except UnicodeError:
        return clean_text(path)


def path_text(value: str | bytes) -> str:
    """A stored path (`path_value`) back as the str the file opens by."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def has_surrogate(text: str) -> bool:
    """Whether `text` holds a UTF-16 surrogate code point (which UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a high/low pair becomes the
    character it encodes)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _int_ok(value: Any) -> Any:
    if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
        return int_text(value)
    return value


def storable_row(row: Sequence[Any]) -> tuple[tuple[Any, ...], list[str]]:
    """(the row with every value SQLite can bind, names of the fields whose text was replaced)."""
    out = list(row)
    repaired: list[str] = []
    for i in _INT_AT:
        out[i] = _int_ok(out[i])
    for i in _TEXT_AT:
        value = out[i]
        if type(value) is str and has_surrogate(value):
            out[i] = clean_text(value)
            repaired.append(ROW_COLUMNS[i])
    blob = out[_DATA_AT]
    if blob:
        pairs = data_pairs(blob)  # (bounded, and checked: ValueError for a blob not ours)
        if any(has_surrogate(k) or has_surrogate(v) for k, v in pairs):
            fixed = []
            for key, value in pairs:
                if has_surrogate(key) or has_surrogate(value):
                    repaired.append(clean_text(key))
                fixed.append((clean_text(key), clean_text(value)))
            out[_DATA_AT] = marshal.dumps(tuple(fixed), 4)
    return tuple(out), repaired


class Storable(NamedTuple):
    """`storable_rows`' answer: the rows, one ParseIssue per row whose text was replaced, and
    whether some integer is now stored as text (the store then notes `TEXT_INTS` in `meta`)."""

    rows: list[tuple[Any, ...]]
    issues: list[ParseIssue]
    text_ints: bool


def storable_rows(rows: Iterable[Sequence[Any]], path: str = "") -> Storable:
    """Every row made bindable (see the module docstring)."""
    fixed: list[tuple[Any, ...]] = []
    issues: list[ParseIssue] = []
    text_ints = False
    for row in rows:
        new, repaired = storable_row(row)
        fixed.append(new)
        text_ints = text_ints or any(type(new[i]) is str for i in _INT_AT)
        if repaired:
            reason = f"record {row[_NUMBER_AT]}: invalid text (lone UTF-16 surrogate) in {', '.join(repaired)}"
            issues.append(ParseIssue(row[1], path, reason[:260] + "; replaced with U+FFFD", None, row[_LOCATOR_AT]))
    return Storable(fixed, issues, text_ints)


def storable_postings(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """`postings` rows (name, value, num, ids) with lone surrogates replaced."""
    return [tuple(clean_text(v) if type(v) is str else v for v in row) for row in rows]


def storable_texts(values: Iterable[str]) -> set[str]:
    return {clean_text(v) for v in values}
