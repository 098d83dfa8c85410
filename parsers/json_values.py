"""JSON values as the file writes them, where Python's json would change, lose or refuse them;
and text no string should hold, replaced.

A value reads back as written, and a bad value costs only itself (README, "Inputs"), never its
record:

* Every float literal is kept as its text (`NumberText`): json made `-0.0` 0, `1.10` 1.1, `1e5`
  100000 and `1.0000000000000001` 1, `1e999` inf and `1e-999` 0 (silently). So are `NaN` and
  `Infinity` (which JSON does not allow but Python's json reads), and the integer `-0`.
* An integer literal longer than Python converts (`parsers.integers`) made `json.loads` raise
  ValueError, and the record was lost. It is kept as its digits (`NumberText`), exactly: an
  EventData value shows it as written; a System integer field cannot hold it and drops it
  with a parse issue (`parsers.json_layouts`). Other integers stay ints (System fields read
  them; rendered in decimal, they read back as written).
* A key an object holds more than once (`"D": "a", "D": "b"`; NXLog writes repeated EventData
  names so) kept only the last value. Such an object is a `Repeated`: a dict of the last values
  (what json gives, so System fields read as before) that also holds every pair in file order,
  which EventData and rendered values use (`parsers.json_layouts`; `unkept_repeats` finds the
  ones whose other values no field took, for a parse issue).
* NUL (`\\u0000`), a lone UTF-16 surrogate (`\\ud800`) and bytes the input's encoding cannot
  decode (`parsers.textio.UNDECODABLE`) become U+FFFD, and the record's fields that held one
  are named in a parse issue (`repair`).

Cost (50,000 OTRF / evtx_dump JSON lines): the pairs hook adds 1-3 us a record to json's
6-11 us; floats as text cost nothing (no float() call); `-0` is looked for by one regex search.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from typing import Any

from core.model.event import Event
from core.model.storable import clean_text, has_surrogate
from parsers.integers import digits_limit
from parsers.textio import UNDECODABLE

#: An escape that decodes to text no string should hold: NUL or a UTF-16 surrogate (a valid
#: pair is kept as the character it encodes). Searched only in records holding `\\u`.
BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
#: What may be the integer `-0` (json makes it 0): searched for in every record, as it is
#: cheaper (1 us) than an int hook; a match in a string only costs the slower decode.
_NEG_ZERO = re.compile(r"-0[,}\]\s]")


class NumberText(str):
    """A JSON number literal kept as written, where a Python number would change, lose or
    refuse it (a str, so that rendering shows it as it is)."""

    __slots__ = ()


class Repeated(dict[str, Any]):
    """A JSON object that holds a key more than once: as a dict, the last value of each key
    (what `json.loads` gives); `pairs`, every key and value in file order. `kept` is set by
    whoever kept every pair (as EventData, or in a rendered value)."""

    __slots__ = ("kept", "pairs")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        self.kept = False


def items(obj: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """Every key and value of a decoded object in file order, a repeated key each time; the
    object counts as kept (its pairs all go where the caller puts them)."""
    if type(obj) is Repeated:
        obj.kept = True
        return obj.pairs
    return obj.items()


#: How many `Repeated` the decoders made: compared before and after a record's decode, it says
#: whether the record holds one (another thread's decode can only cause a needless look).
_made = [0]


def repeats_made() -> int:
    """The count of `Repeated` objects decoded so far (see `_made`)."""
    return _made[0]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's `object_pairs_hook`: a plain dict, or a `Repeated` for an object with a repeat."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    _made[0] += 1
    return Repeated(pairs)


def _int(text: str) -> int | NumberText:
    limit = digits_limit()
    if text == "-0" or (limit and len(text) - text.startswith("-") > limit):
        return NumberText(text)
    return int(text)


#: The usual decoder: ints take json's own fast path; floats, constants and objects go through
#: hooks. `_LONG` also hooks ints: used only for a record that may hold `-0` or holds a long one.
_DECODER = json.JSONDecoder(parse_float=NumberText, parse_constant=NumberText, object_pairs_hook=_object)
_LONG = json.JSONDecoder(parse_float=NumberText, parse_int=_int, parse_constant=NumberText, object_pairs_hook=_object)
#: For `raw_decode`, which only looks for where an element ends: no hooks it can do without.
_SCAN = json.JSONDecoder(parse_float=NumberText, parse_constant=NumberText)
_SCAN_LONG = json.JSONDecoder(parse_float=NumberText, parse_int=NumberText, parse_constant=NumberText)


def loads(text: str) -> Any:
    """`json.loads` keeping numbers as written where json would change them (`NumberText`) and
    every value of a repeated key (`Repeated`).

    Raises json.JSONDecodeError for text that is not JSON, RecursionError when too deep."""
    if _NEG_ZERO.search(text):
        return _LONG.decode(text)
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer longer than int() converts: rare, decoded again with a hook
        return _LONG.decode(text)


def raw_decode(text: str, pos: int) -> tuple[Any, int]:
    """`json.JSONDecoder.raw_decode` at `pos`, not refusing a long integer (the array walk
    only needs where the element ends: `loads` decodes it)."""
    try:
        return _SCAN.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return _SCAN_LONG.raw_decode(text, pos)


def needs_dumps(value: Any) -> bool:
    """Whether a decoded list or object holds a `NumberText` or a `Repeated` anywhere, which
    json.dumps would misrender (bounded: what json decoded, walked once without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, NumberText) or type(item) is Repeated:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def dumps(value: Any) -> str:
    """Compact JSON text of a decoded value, `NumberText` written as the literal it was (json
    would quote it), a `Repeated` with every pair (json would write the last of each key).
    Recursive like json's own encoder: depth is what json decoded."""
    if isinstance(value, NumberText):
        return str(value)
    if isinstance(value, dict):
        pairs = items(value)
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + dumps(v) for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def unkept_repeats(root: Any) -> list[tuple[str, list[Any]]]:
    """(the dotted path of each key repeated with different values in an object no one kept
    whole (`Repeated.kept`), its values in file order): values a System field could not take
    all of. Walked without recursion, only for a record that holds a `Repeated`."""
    found: list[tuple[str, list[Any]]] = []
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, list):
            stack.extend((v, path) for v in reversed(item))
            continue
        if not isinstance(item, dict) or (type(item) is Repeated and item.kept):
            continue
        pairs = item.pairs if type(item) is Repeated else item.items()
        if type(item) is Repeated:
            values: dict[str, list[Any]] = {}
            for key, value in pairs:
                values.setdefault(key, []).append(value)
            found.extend((path + key, v) for key, v in values.items() if len(v) > 1 and _differ(v))
        stack.extend((v, f"{path}{k}.") for k, v in reversed(list(pairs)) if isinstance(v, (dict, list)))
    return found


def _differ(values: list[Any]) -> bool:
    first = values[0]
    return any(type(v) is not type(first) or v != first for v in values[1:])


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
