"""An event's EventData pairs as one JSON object, no value lost.

An event may repeat a name (`<Data Name="S">` twice; a JSON key twice) and a JSON object holds
a name once. A repeat gets the loaders' numbering for unnamed `Data` (`Name`, `Name[1]`,
`Name[2]`, ...), skipping a number the event holds as a field of its own: every field keeps its
own name, which is what `stack --by` and queries read. With fields `S`, `S`, `S[1]` the second
`S` is `S[2]` (numbering `S[1]` first pushed the field named `S[1]` to `S[1][1]`). A query reads
every value of a repeated name under the name itself: `S[2]` exists in such objects only.
Used by every writer of that shape: `export`/`query` (`core.report.export`) and the fleet's
(`core.fleet.documents`), which dropped a repeat's values.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EXPORT_REPEATS_KEY", "EXPORT_SYSTEM_KEYS", "data_object", "repeats_of"]

#: The System fields the tool's own JSON shape holds beyond `record_id`, `time`, `event_id`,
#: `computer`, `channel` and `provider`, under the event model's names (`core.model.event.Event`):
#: `export`/`query` and the fleet write them (null when unknown), `parsers.json_layouts` reads
#: them back; a file written before they were is read with them unknown, as it was.
EXPORT_SYSTEM_KEYS = ("version", "level", "task", "opcode", "keywords", "pid", "tid", "user_sid")
#: The key naming the `data` names that stand for a repeat of another name (`{"S[2]": "S"}`):
#: without it a reopened export held `S[2]` where the log held `S`, and none could tell it from
#: a field of its own named `S[2]`. Written only for an event that repeats a name.
EXPORT_REPEATS_KEY = "data_repeats"


def data_object(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The pairs as an object, a repeated name's later values numbered (see the module)."""
    items = list(pairs)
    held = {name for name, _ in items}  # (the event's own names: never given to a repeat)
    data: dict[str, str] = {}
    repeats: dict[str, int] = {}
    for name, value in items:
        key = name
        while key in data or (key != name and key in held):
            repeats[name] = n = repeats.get(name, 0) + 1
            key = f"{name}[{n}]"
        data[key] = value
    return data


def repeats_of(pairs: Iterable[tuple[str, str]], data: dict[str, str]) -> dict[str, str]:
    """Which keys of `data` (`data_object(pairs)`, one key per pair, in order) stand for a
    repeat of their pair's name: the keys that are not that name."""
    return {key: name for (name, _), key in zip(pairs, data, strict=True) if key != name}
