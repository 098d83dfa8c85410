"""JSON values Python's json would lose or refuse, kept; and text no string should hold, replaced.

A bad value costs only itself (README, "Inputs"), never its record:

* An integer literal longer than Python converts (`parsers.integers`) made `json.loads` raise
  ValueError, and the record was lost. It is kept as its digits (`NumberText`), exactly: an
  EventData value shows it as written; a System integer field cannot hold it and drops it
  with a parse issue (`parsers.json_layouts`).
* A float literal beyond the float range (`1e999`) became `inf`, one too small (`1e-999`)
  became 0, both silently: such a literal is kept as written. So are `NaN` and `Infinity`
  (which JSON does not allow but Python's json reads).
* NUL (`\\u0000`), a lone UTF-16 surrogate (`\\ud800`) and bytes the input's encoding cannot
  decode (`parsers.textio.UNDECODABLE`) become U+FFFD, and the record's fields that held one
  are named in a parse issue (`repair`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from core.model.event import Event
from core.model.storable import clean_text, has_surrogate
from parsers.integers import digits_limit
from parsers.textio import UNDECODABLE

#: An escape that decodes to text no string should hold: NUL or a UTF-16 surrogate (a valid
#: pair is kept as the character it encodes). Searched only in records holding `\\u`.
BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_NONZERO = re.compile(r"[1-9]")


class NumberText(str):
    """A JSON number literal kept as written, where a Python number would lose or refuse it
    (a str, so that rendering shows it as it is)."""

    __slots__ = ()


def _float(text: str) -> float | NumberText:
    value = float(text)
    if not math.isfinite(value):
        return NumberText(text)  # overflow: inf would stand for a number the log holds
    if value == 0.0 and _NONZERO.search(text.split("e", 1)[0].split("E", 1)[0]):
        return NumberText(text)  # underflow: not zero
    return value


def _int(text: str) -> int | NumberText:
    limit = digits_limit()
    if limit and len(text) - text.startswith("-") > limit:
        return NumberText(text)
    return int(text)


#: The usual decoder: ints take json's own fast path; floats and constants go through hooks
#: (rare in event logs). `_LONG` also hooks ints: used only for a record that holds a long one.
_DECODER = json.JSONDecoder(parse_float=_float, parse_constant=NumberText)
_LONG = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=NumberText)


def loads(text: str) -> Any:
    """`json.loads` keeping the numbers it would lose or refuse (`NumberText`).

    Raises json.JSONDecodeError for text that is not JSON, RecursionError when too deep."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer longer than int() converts: rare, decoded again with a hook
        return _LONG.decode(text)


def raw_decode(text: str, pos: int) -> tuple[Any, int]:
    """`json.JSONDecoder.raw_decode` at `pos`, with `loads`' numbers (for the array walk)."""
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return _LONG.raw_decode(text, pos)


def has_number_text(value: Any) -> bool:
    """Whether a decoded list or object holds a `NumberText` anywhere (bounded: what json
    decoded, walked once without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, NumberText):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def dumps(value: Any) -> str:
    """Compact JSON text of a decoded value, `NumberText` written as the literal it was (json
    would quote it). Recursive like json's own encoder: depth is what json decoded."""
    if isinstance(value, NumberText):
        return str(value)
    if isinstance(value, dict):
        items = (json.dumps(str(k), ensure_ascii=False) + ":" + dumps(v) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- text repair

_EVENT_TEXT = ("keywords", "channel", "provider", "computer", "user_sid")


def _kinds(text: str) -> set[str]:
    """What `text` holds that no string should (empty for good text)."""
    found = set()
    if "\x00" in text:
        found.add("NUL")
    if UNDECODABLE in text:
        found.add("undecodable bytes")
    if has_surrogate(text):
        found.add("lone UTF-16 surrogate")
    return found


def _clean(text: str) -> str:
    return clean_text(text).replace("\x00", "\ufffd").replace(UNDECODABLE, "\ufffd")


def repair(event: Event) -> tuple[Event, list[str], list[str]]:
    """(the event with NUL, lone surrogates and undecodable bytes replaced by U+FFFD, names of
    the fields that held one: EventData fields by their name, System ones by column, and what
    they held: `NUL`, `lone UTF-16 surrogate`, `undecodable bytes`)."""
    bad: list[str] = []
    kinds: set[str] = set()
    changes: dict[str, Any] = {}
    for name in _EVENT_TEXT:
        value = getattr(event, name)
        found = _kinds(value) if value is not None else set()
        if found:
            changes[name] = _clean(value)
            bad.append(name)
            kinds |= found
    if any(_kinds(k) or _kinds(v) for k, v in event.data):
        data = []
        for key, value in event.data:
            found = _kinds(key) | _kinds(value)
            pair = (_clean(key), _clean(value))
            if found:
                bad.append(pair[0])
                kinds |= found
            data.append(pair)
        changes["data"] = tuple(data)
    order = ("NUL", "lone UTF-16 surrogate", "undecodable bytes")
    event = dataclasses.replace(event, **changes) if changes else event
    return event, list(dict.fromkeys(bad)), [k for k in order if k in kinds]
