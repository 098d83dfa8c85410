"""JSON records to Events: the four record layouts, and JSON values rendered as Windows does.
(About 615 lines: the layouts share one rendering of values and one reading of System fields.)

Four record layouts are recognised per record, so one file may mix them:

* **evtx_dump** (`{"Event": {"System": {...}, "EventData": {...}}}`, also without the `Event`
  wrapper), with the `#attributes` / `#text` forms (`"EventID": {"#attributes": {...},
  "#text": 4688}`, `"TimeCreated": {"#attributes": {"SystemTime": ...}}`) and the
  `--separate-json-attributes` form (`"TimeCreated_attributes": {...}`).
* **Winlogbeat** (`winlog.*`, nested or as dotted keys): `winlog.event_id`,
  `winlog.computer_name`, `winlog.channel`, `winlog.provider_name`, `winlog.record_id`,
  `winlog.process.pid`, `winlog.user.identifier`, `winlog.event_data` / `winlog.user_data`;
  time from `@timestamp` (the event time in Winlogbeat), else `event.created`.
* **flat** (NXLog `im_msvistalog`, the OTRF/Mordor datasets): System and EventData fields side by
  side in one object. A fixed list decides which keys are System (see `FLAT_SYSTEM_KEYS`,
  `FLAT_METADATA_KEYS` and `_flat_system`); every other key is EventData, in file order.
  Judgement calls, made on the real OTRF files:
  - `ProcessId` is always EventData (in 4688 it is the creator process). NXLog's own copy of the
    System pid is `ExecutionProcessID`; older NXLog called it `ProcessID`, which is also an
    EventData name (5156). NXLog writes System values as JSON numbers and EventData as strings,
    so `ProcessID`/`ThreadID` are System only when they are numbers.
  - `EventType` is NXLog's severity (`AUDIT_SUCCESS`, `INFO`...) and metadata, except when it
    holds anything else: Sysmon 12/13/14 carry an `EventType` EventData field (`SetValue`).
  - `AccountName`, `Domain`, `AccountType` are NXLog's resolution of the System UserID when
    `AccountType` is present; otherwise `AccountName` is EventData (7045 has one).
  - `Message` (the rendered text) is dropped from `data`: it is not a field, it would double
    the store and pollute free-text matches with boilerplate; the raw record (`event_json`)
    still shows it.
  - Time: `TimeCreated`, else NXLog's `EventTime` (local time of the NXLog host, no offset: it
    is shifted to UTC by the offset between `EventReceivedTime` and `@timestamp`, rounded to a
    quarter hour, when both are present), else `@timestamp`.
* **this tool's own** JSON lines (`export --format jsonl|json`, `query --format jsonl`:
  `core.report.export.event_document`): `event_id`, `record_id`, `time` (ISO, 100 ns, or
  `invalid FILETIME <ticks>`), `computer`, `channel`, `provider`, the other System fields under
  the model's names (`core.model.data_names.EXPORT_SYSTEM_KEYS`: `version`, `level`, `task`, `opcode`, `keywords`,
  `pid`, `tid`, `user_sid`) and `data` (an object: the EventData, a repeated name's later values
  as `Name[1]`..., which `data_repeats` maps back to the name), so that an exported set opens
  again as the same events. An export written before the System fields and `data_repeats` were
  is read as before: what it lacks stays unknown. Recognised by `event_id` beside a `data`
  object (`query`'s line without its `data` is no event); `file` (the input it came from) and
  keys of other tools are not fields (the raw record still shows them), as in the evtx_dump and
  Winlogbeat layouts.

Values become strings as Windows renders them: numbers in decimal, hex strings unchanged,
booleans `true`/`false`, null as empty; a negative 64-bit `Keywords` number (NXLog writes the
mask as a signed integer) becomes `0x8020000000000000`; a float, and a number Python cannot
hold exactly (an integer of thousands of digits), as written (`parsers.json_values`). A System
integer too long to hold is dropped and named for a parse issue (`event_from_json`).

Nothing a record holds is lost silently (README, "Inputs"); what a field cannot take is kept
where the analyst sees it and named in a parse issue (`event_from_json`'s `notes`):

* A key repeated in an object (`parsers.json_values.Repeated`) keeps every value where values
  are EventData: the name repeats, as a repeated `<Data Name=...>` does in the XML loader
  (outputs then show `D`, `D[1]`). A repeated System key takes its last value, as json does;
  its other values are named in a parse issue.
* A time text that reads as no time (`not a time`, year 10000, offset `+15:00`, before 1601)
  leaves the event without a time, as in the XML loader, and is kept as an EventData field
  under its key (`TimeCreated`, `@timestamp`...) and named in a parse issue. (A zero time,
  1601-01-01T00:00:00Z, is Windows' "no time" and is not reported.)
"""

from __future__ import annotations

import json
from typing import Any

from core.model.data_names import EXPORT_REPEATS_KEY
from core.model.event import FILETIME_END, INVALID_TIME, Event, parse_time
from parsers.integers import IntTooLong, read_int
from parsers.json_values import Repeated, dumps, items, needs_dumps, unkept_repeats
from parsers.time_text import time_or_note

#: Flat-layout keys that fill System fields of the Event (never EventData).
FLAT_SYSTEM_KEYS = frozenset(
    {
        "EventID", "Hostname", "Computer", "TimeCreated", "EventTime", "Channel", "SourceName",
        "ProviderName", "RecordNumber", "EventRecordID", "ExecutionProcessID", "ExecutionThreadID",
        "Task", "Level", "Keywords", "Version", "OpcodeValue",
    }
)  # fmt: skip
#: Flat-layout keys that are shipper metadata, dropped (Logstash, NXLog, rendered message).
FLAT_METADATA_KEYS = frozenset(
    {
        "@timestamp", "@version", "tags", "host", "port", "Message", "ProviderGuid", "ActivityID",
        "RelatedActivityID", "EventTypeOrignal", "EventTypeOriginal", "EventReceivedTime",
        "SourceModuleName", "SourceModuleType", "Severity", "SeverityValue",
    }
)  # fmt: skip
#: NXLog's rendering of the event level (under `EventType`) -> the System Level number, used
#: when the record has no `Level` of its own (NXLog writes none).
NXLOG_EVENT_TYPES = {
    "AUDIT_SUCCESS": 0, "AUDIT_FAILURE": 0, "CRITICAL": 1, "ERROR": 2, "WARNING": 3, "INFO": 4,
    "VERBOSE": 5, "DEBUG": 5,
}  # fmt: skip
_NXLOG_MARKERS = ("SourceModuleType", "EventReceivedTime", "SourceModuleName")
_LEVEL_NAMES = {"critical": 1, "error": 2, "warning": 3, "information": 4, "info": 4, "verbose": 5}
_KEYWORD_NAMES = {"audit success": 0x8020000000000000, "audit failure": 0x8010000000000000}
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------- values


def render(value: Any) -> str:
    """A JSON value as Windows would render it in event XML (a number json could not hold,
    `parsers.json_values.NumberText`, as written)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)  # a NumberText: a plain str, as the store's marshal takes no subclass
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # (a caller's own float: the loader keeps floats as written)
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    if isinstance(value, dict) and "#text" in value:
        return render(value["#text"])
    if needs_dumps(value):
        try:
            return dumps(value)
        except RecursionError:  # nested too deep for a Python walk: the numbers quoted, not lost
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _int(value: Any, dropped: list[str] | None = None, name: str = "") -> int | None:
    """An integer from a JSON number or a decimal / `0x` hex string, else None. One too long
    to hold (`parsers.integers`) is None too, and the field's `name` is noted in `dropped`
    (a parse issue: the record keeps its other values)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict) and "#text" in value:
        return _int(value["#text"], dropped, name)
    if isinstance(value, str):
        try:
            return read_int(value)
        except IntTooLong:
            if dropped is not None:
                dropped.append(name)
            return None
    return None


def _keywords(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value & _MASK64:016x}"
    if isinstance(value, list):
        mask = 0
        for name in value:
            bit = _KEYWORD_NAMES.get(str(name).lower())
            if bit is None:
                return ", ".join(str(v) for v in value)
            mask |= bit
        return f"0x{mask:016x}" if value else None
    return render(value)


def _event_id(value: Any) -> int:
    eid = _int(value)
    if eid is None or not 0 <= eid <= 0xFFFFFFFF:
        raise ValueError(f"no usable EventID ({render(value)[:40]!r})")
    return eid


def _str(value: Any) -> str:
    return "" if value is None else render(value)


def _time(value: Any, name: str, notes: list[str], kept: list[tuple[str, str]]) -> int | None:
    """The ticks of the time value of key `name` (`parsers.time_text`: a text no date holds is
    kept as the field `name` and noted)."""
    return time_or_note(_str(value), name, notes, kept)


def _repeats_note(found: list[tuple[str, list[Any]]]) -> str:
    """The parse issue text for keys repeated with other values where one value is used."""
    keys = "; ".join(f"{path} = " + ", ".join(repr(render(v)[:40]) for v in values) for path, values in found)
    return f"key repeated with other values, the last one used: {keys}"


# --------------------------------------------------------------------------- layouts


def _data_pairs(obj: dict[str, Any], unnamed: list[int] | None = None) -> list[tuple[str, str]]:
    """EventData-like dict -> ordered pairs: `#attributes` skipped, `#text` unwrapped, a list
    repeats its name (unnamed `Data` become `Data`, `Data[1]`, ... as in the XML loader)."""
    pairs: list[tuple[str, str]] = []
    counter = unnamed if unnamed is not None else [0]
    for key, value in items(obj):
        if key == "#attributes" or key.endswith("_attributes"):
            continue
        if isinstance(value, dict) and "#text" in value:
            value = value["#text"]
        for item in value if isinstance(value, list) else [value]:
            if key in ("Data", "#text"):
                pairs.append(("Data" if counter[0] == 0 else f"Data[{counter[0]}]", render(item)))
                counter[0] += 1
            else:
                pairs.append((key, render(item)))
    return pairs


def _attrs(system: dict[str, Any], name: str) -> dict[str, Any]:
    node = system.get(name)
    if isinstance(node, dict) and isinstance(node.get("#attributes"), dict):
        return node["#attributes"]  # type: ignore[no-any-return]
    sep = system.get(f"{name}_attributes")
    return sep if isinstance(sep, dict) else {}


def _from_evtx_dump(ev: dict[str, Any], source: int, position: int, dropped: list[str], notes: list[str]) -> Event:
    system = ev["System"]
    if not isinstance(system, dict):
        raise ValueError("System is not an object")
    provider = _attrs(system, "Provider")
    execution = _attrs(system, "Execution")
    security = _attrs(system, "Security")
    data: list[tuple[str, str]] = []
    if isinstance(ev.get("EventData"), dict):
        data = _data_pairs(ev["EventData"])
    elif isinstance(ev.get("UserData"), dict):
        inner = [v for k, v in ev["UserData"].items() if isinstance(v, dict) and not k.startswith("#")]
        data = _data_pairs(inner[0]) if inner else []
    filetime = _time(_attrs(system, "TimeCreated").get("SystemTime"), "TimeCreated", notes, data)
    return Event(
        source=source,
        record_number=position,
        record_id=_int(system.get("EventRecordID"), dropped, "record_id"),
        filetime=filetime,
        event_id=_event_id(system.get("EventID")),
        version=_int(system.get("Version"), dropped, "version"),
        level=_int(system.get("Level"), dropped, "level"),
        task=_int(system.get("Task"), dropped, "task"),
        opcode=_int(system.get("Opcode"), dropped, "opcode"),
        keywords=_keywords(system.get("Keywords")),
        channel=_str(system.get("Channel")),
        provider=_str(provider.get("Name") or provider.get("EventSourceName")),
        computer=_str(system.get("Computer")),
        pid=_int(execution.get("ProcessID"), dropped, "pid"),
        tid=_int(execution.get("ThreadID"), dropped, "tid"),
        user_sid=_str(security.get("UserID")) or None,
        data=tuple(data),
        locator=position,
    )


class _Node:
    """An object `_expand_dotted` is building: its pairs in order (a key set again is one pair
    more, not a value lost) and where each key's last pair is. An object of the record is
    opened (made a `_Node`) only when a dotted key goes into it, as before, merging."""

    __slots__ = ("last", "pairs")

    def __init__(self, pairs: Any = ()) -> None:
        self.pairs: list[tuple[str, Any]] = list(pairs)
        self.last = {key: i for i, (key, _) in enumerate(self.pairs)}

    def _open(self, key: str) -> _Node | None:
        i = self.last.get(key)
        if i is None:
            return None
        value = self.pairs[i][1]
        if isinstance(value, dict):
            value = _Node(items(value))
            self.pairs[i] = (key, value)
        return value if isinstance(value, _Node) else None

    def _add(self, key: str, value: Any) -> None:
        self.last[key] = len(self.pairs)
        self.pairs.append((key, value))

    def child(self, key: str) -> _Node:
        node = self._open(key)
        if node is None:  # (a value there stays, beside the new object)
            node = _Node()
            self._add(key, node)
        return node

    def set(self, key: str, value: Any) -> None:
        node = self._open(key) if isinstance(value, dict) else None
        if node is None:
            self._add(key, value)
        else:  # `{"winlog": {...}, "winlog": {...}}` or `"winlog.x": {...}` twice: one object
            for pair in items(value):
                node._add(*pair)

    def done(self) -> dict[str, Any]:
        pairs = [(k, v.done() if isinstance(v, _Node) else v) for k, v in self.pairs]
        obj = dict(pairs)
        return obj if len(obj) == len(pairs) else Repeated(pairs)


def _expand_dotted(obj: dict[str, Any]) -> dict[str, Any]:
    """`{"winlog.event_id": 1}` -> `{"winlog": {"event_id": 1}}` (flattened Beats exports). A
    key met twice keeps both values (a `Repeated` object), as in a decoded record."""
    out = _Node()
    for key, value in items(obj):
        parts = key.split(".") if "." in key and not key.startswith("@") else [key]
        node = out
        for part in parts[:-1]:
            node = node.child(part)
        node.set(parts[-1], value)
    return out.done()


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _from_winlogbeat(obj: dict[str, Any], source: int, position: int, dropped: list[str], notes: list[str]) -> Event:
    w = obj.get("winlog") or {}
    data: list[tuple[str, str]] = []
    for part in ("event_data", "user_data"):
        if isinstance(w.get(part), dict):
            data.extend(_data_pairs(w[part]))
    level = _get(obj, "log", "level")
    task = w.get("task")
    opcode = w.get("opcode")
    filetime = _time(obj.get("@timestamp"), "@timestamp", notes, data)
    if filetime is None:
        filetime = _time(_get(obj, "event", "created"), "event.created", notes, data)
    return Event(
        source=source,
        record_number=position,
        record_id=_int(w.get("record_id"), dropped, "record_id"),
        filetime=filetime,
        event_id=_event_id(w.get("event_id") if w.get("event_id") is not None else _get(obj, "event", "code")),
        version=_int(w.get("version"), dropped, "version"),
        level=_LEVEL_NAMES.get(level.lower()) if type(level) is str else _int(level, dropped, "level"),
        task=_int(task, dropped, "task") if not isinstance(task, str) or task.strip().isdigit() else None,
        opcode=_int(opcode, dropped, "opcode") if not isinstance(opcode, str) or opcode.strip().isdigit() else None,
        keywords=_keywords(w.get("keywords")),
        channel=_str(w.get("channel")),
        provider=_str(w.get("provider_name")),
        computer=_str(w.get("computer_name") or _get(obj, "host", "name") or _get(obj, "host", "hostname")),
        pid=_int(_get(w, "process", "pid"), dropped, "pid"),
        tid=_int(_get(w, "process", "thread", "id"), dropped, "tid"),
        user_sid=_str(_get(w, "user", "identifier")) or None,
        data=tuple(data),
        locator=position,
    )


def _flat_time(obj: dict[str, Any], notes: list[str], kept: list[tuple[str, str]]) -> int | None:
    ticks = _time(obj.get("TimeCreated"), "TimeCreated", notes, kept)
    if ticks is not None:
        return ticks
    local = _time(obj.get("EventTime"), "EventTime", notes, kept)
    if local is not None:
        stamp = parse_time(_str(obj.get("@timestamp")) or None)
        received = parse_time(_str(obj.get("EventReceivedTime")) or None)
        if stamp is not None and received is not None and _str(obj.get("EventTime"))[-1:] not in "Zz":
            quarter = 15 * 60 * 10_000_000
            offset = round((stamp - received) / quarter) * quarter
            if abs(offset) <= 14 * 3600 * 10_000_000 and 0 < local + offset < FILETIME_END:
                local += offset  # (not past the date range: the time as logged then, a date still)
        return local
    return _time(obj.get("@timestamp"), "@timestamp", notes, kept)


def _flat_system(key: str, value: Any, obj: dict[str, Any]) -> bool:
    """Whether a flat-layout key is System/metadata rather than EventData (see module doc)."""
    if key in FLAT_SYSTEM_KEYS or key in FLAT_METADATA_KEYS:
        return True
    if key == "ProcessID" or key == "ThreadID":
        return isinstance(value, int) and not isinstance(value, bool)
    if key == "EventType":
        return isinstance(value, str) and value.upper() in NXLOG_EVENT_TYPES
    if key == "UserID":
        return isinstance(value, str) and value.upper().startswith("S-1-")
    if key in ("AccountName", "Domain", "AccountType"):
        return "AccountType" in obj
    if key == "Opcode":
        return True  # NXLog's opcode name ("Info"); the number is OpcodeValue
    if key == "Category":
        return any(m in obj for m in _NXLOG_MARKERS)  # NXLog's task name
    return False


def _flat_repeats(obj: Repeated) -> list[tuple[str, list[Any]]]:
    """Keys repeated with other values whose earlier values are System ones (the last is used;
    EventData ones are all kept, metadata is dropped anyway)."""
    lost: dict[str, list[Any]] = {}
    for key, value in obj.pairs:
        last = obj[key]
        if value is not last and key not in FLAT_METADATA_KEYS and _flat_system(key, value, obj):
            if type(value) is not type(last) or value != last:
                lost.setdefault(key, []).append(value)
    return [(key, [*values, obj[key]]) for key, values in lost.items()]


def _from_flat(obj: dict[str, Any], source: int, position: int, dropped: list[str], notes: list[str]) -> Event:
    event_id = _event_id(obj.get("EventID"))  # first: a record without one costs no more
    pid = obj.get("ExecutionProcessID")
    if pid is None and isinstance(obj.get("ProcessID"), int):
        pid = obj.get("ProcessID")
    tid = obj.get("ExecutionThreadID")
    if tid is None and isinstance(obj.get("ThreadID"), int):
        tid = obj.get("ThreadID")
    user = obj.get("UserID")
    opcode = obj.get("OpcodeValue")
    if opcode is None and isinstance(obj.get("Opcode"), int):
        opcode = obj.get("Opcode")
    record_id = obj.get("RecordNumber")
    if record_id is None:
        record_id = obj.get("EventRecordID")
    level = _int(obj.get("Level"), dropped, "level")
    for kind in (obj.get("EventType"), obj.get("EventTypeOrignal"), obj.get("EventTypeOriginal")):
        if level is None and isinstance(kind, str):
            level = NXLOG_EVENT_TYPES.get(kind.upper())
    bad_times: list[tuple[str, str]] = []  # kept as EventData where they stand
    filetime = _flat_time(obj, notes, bad_times)
    if type(obj) is Repeated:
        found = _flat_repeats(obj)
        if found:
            notes.append(_repeats_note(found))
    kept = {name for name, _ in bad_times}
    data = tuple((k, render(v)) for k, v in items(obj) if not _flat_system(k, v, obj) or (k in kept and v is obj[k]))
    return Event(
        source=source,
        record_number=position,
        record_id=_int(record_id, dropped, "record_id"),
        filetime=filetime,
        event_id=event_id,
        version=_int(obj.get("Version"), dropped, "version"),
        level=level,
        task=_int(obj.get("Task"), dropped, "task"),
        opcode=_int(opcode, dropped, "opcode"),
        keywords=_keywords(obj.get("Keywords")),
        channel=_str(obj.get("Channel")),
        provider=_str(obj.get("SourceName") or obj.get("ProviderName")),
        computer=_str(obj.get("Hostname") or obj.get("Computer")),
        pid=_int(pid, dropped, "pid"),
        tid=_int(tid, dropped, "tid"),
        user_sid=user if isinstance(user, str) and user.upper().startswith("S-1-") else None,
        data=data,
        locator=position,
    )


_EXPORT_INTS = ("version", "level", "task", "opcode", "pid", "tid")


def is_exported(obj: dict[str, Any]) -> bool:
    """Whether a record is in this tool's own layout (`core.report.export.event_document`)."""
    return "event_id" in obj and isinstance(obj.get("data"), dict)


def _export_time(value: Any, notes: list[str], kept: list[tuple[str, str]]) -> int | None:
    """The ticks of an exported `time`: our ISO text, or a time no date can show as the export
    words it (`invalid FILETIME <ticks>`: `core.model.event.invalid_time_text`), exactly."""
    if isinstance(value, str) and value.startswith(INVALID_TIME):
        digits = value[len(INVALID_TIME):]
        if digits.isascii() and digits.isdigit() and len(digits) <= 20 and 0 < int(digits) < 1 << 64:
            return int(digits)
    return _time(value, "time", notes, kept)


def _export_int(obj: dict[str, Any], name: str, dropped: list[str], bad: list[tuple[str, str]]) -> int | None:
    """An exported System integer (`record_id`, `pid`...): a number, or text of one. A value that
    is none (`"x"`, `1.5`, an object: a hand-edited line) goes to `bad` as it reads, to be kept as
    the EventData field `name`, as a time no date holds is; one too long to hold is dropped and
    named (`_int`)."""
    value = obj.get(name)
    if value is None:
        return None
    number = _int(value, dropped, name)
    if number is None and name not in dropped:
        bad.append((name, render(value)))
    return number


def _export_text(value: Any, *, mask: bool = False) -> str | None:
    """An exported System text (`keywords`, `user_sid`): null is unknown, text is kept exactly
    (an empty one too); another JSON value is rendered (a `mask`'s number as Keywords are)."""
    if value is None or type(value) is str:
        return value
    return _keywords(value) if mask else render(value)


def _export_data(obj: dict[str, Any], notes: list[str]) -> list[tuple[str, str]]:
    """The `data` pairs in order, each numbered name that `EXPORT_REPEATS_KEY` says is a repeat
    (`"S[2]": "S"`) named again as the log named it. An entry that names no such numbered name
    of the data is not applied (its name stays as written, nothing is lost) and is noted."""
    data = [(str(k), render(v)) for k, v in items(obj["data"])]
    repeats = obj.get(EXPORT_REPEATS_KEY)
    if repeats is None:
        return data
    if not isinstance(repeats, dict):
        notes.append(f"{EXPORT_REPEATS_KEY} is a JSON {type(repeats).__name__}, not an object: not applied")
        return data
    held = {key for key, _ in data}
    names: dict[str, str] = {}
    bad: list[str] = []
    for key, name in items(repeats):
        number = key[len(name) + 1 : -1] if type(name) is str and key.startswith(f"{name}[") else ""
        if key in held and key.endswith("]") and number.isascii() and number.isdigit():
            names[key] = name
        else:
            bad.append(f"{key}: {render(name)[:40]!r}")
    if bad:
        notes.append(f"{EXPORT_REPEATS_KEY} entries naming no numbered repeat in data, not applied: " + "; ".join(bad))
    return [(names.get(key, key), value) for key, value in data]


def _from_export(obj: dict[str, Any], source: int, position: int, dropped: list[str], notes: list[str]) -> Event:
    """One event as this tool exports it: its System fields (those an older export did not
    write stay unknown) and the `data` pairs in order, a repeated name as the log repeated it,
    values rendered as in the other layouts."""
    event_id = _event_id(obj.get("event_id"))
    data = _export_data(obj, notes)
    filetime = _export_time(obj.get("time"), notes, data)
    bad: list[tuple[str, str]] = []
    ints = {name: _export_int(obj, name, dropped, bad) for name in ("record_id", *_EXPORT_INTS)}
    if bad:
        data.extend(bad)
        notes.append("no integer, kept as fields of their names: " + ", ".join(f"{k} {v[:40]!r}" for k, v in bad))
    return Event(
        source=source,
        record_number=position,
        record_id=ints["record_id"],
        filetime=filetime,
        event_id=event_id,
        version=ints["version"],
        level=ints["level"],
        task=ints["task"],
        opcode=ints["opcode"],
        keywords=_export_text(obj.get("keywords"), mask=True),
        channel=_str(obj.get("channel")),
        provider=_str(obj.get("provider")),
        computer=_str(obj.get("computer")),
        pid=ints["pid"],
        tid=ints["tid"],
        user_sid=_export_text(obj.get("user_sid")),
        data=tuple(data),
        locator=position,
    )


#: The keys one of which a JSON record needs to be a Windows event in any layout: the evtx_dump
#: wrapper or its `System`, Winlogbeat's `winlog` (nested, or as `winlog.` dotted keys), the flat
#: layout's `EventID` (`event_from_json` refuses a record that has none of them: it has no EventID);
#: or this tool's own `event_id` beside a `data` object (`is_exported`).
EVENT_KEYS = frozenset({"Event", "System", "winlog", "EventID"})


def carries_event_fields(obj: Any) -> bool:
    """Whether a decoded JSON record holds any of `EVENT_KEYS`: one that does but does not read
    as an event is a damaged event; one that does not is no event at all (a file of them is no
    event log: `parsers.jsonlines`)."""
    return isinstance(obj, dict) and (any(k in EVENT_KEYS or k.startswith("winlog.") for k in obj)
                                      or is_exported(obj))


def event_from_json(
    obj: Any,
    source: int,
    position: int,
    dropped: list[str] | None = None,
    notes: list[str] | None = None,
    *,
    repeated: bool = True,
) -> Event:
    """Build an Event from one decoded JSON record, whatever its layout.

    Raises ValueError when the record is not a Windows event (no object, no EventID). The
    System integer fields whose value was too long to hold are named in `dropped`; what else
    no field could take (see the module doc) is worded in `notes`, one parse issue each.
    `repeated=False` says the record holds no `Repeated` object (its decode made none), which
    saves looking for one.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"record is a JSON {type(obj).__name__}, not an object")
    if dropped is None:
        dropped = []
    if notes is None:
        notes = []
    ev = obj.get("Event")
    if isinstance(ev, dict) and isinstance(ev.get("System"), dict):
        event = _from_evtx_dump(ev, source, position, dropped, notes)
    elif isinstance(obj.get("System"), dict):
        event = _from_evtx_dump(obj, source, position, dropped, notes)
    elif isinstance(obj.get("winlog"), dict) or any(k.startswith("winlog.") for k in obj):
        if any("." in k for k in obj):
            obj, repeated = _expand_dotted(obj), True
        event = _from_winlogbeat(obj, source, position, dropped, notes)
    elif "EventID" not in obj and is_exported(obj):
        event = _from_export(obj, source, position, dropped, notes)
    else:
        event = _from_flat(obj, source, position, dropped, notes)
    if repeated:
        found = unkept_repeats(obj)
        if found:
            notes.append(_repeats_note(found))
    return event
