"""`stack --by pid` stacks what `pid:` matches, and `--by processid` what `processid:` matches, so
a row narrows (`enter`, `pid:value`) to exactly its count. `--by pid` stacked the System header's
ProcessID, which in the Security log is the logging lsass on every event: `stack demo --by pid
--where 4688` printed "22 100.00% 4" and `4688 pid:4` found none of them. Numbers are grouped as
the query compares them (`0x1e0c`, `0x00001E0C` and `7692` are one row, shown in hex)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from core.model.event import Event
from core.model.values import PID_FIELDS, as_int
from core.query.compile import compile_query
from core.query.pivot import add_filter
from core.query.stack import Stack, stack
from core.store.store import Store
from tests.cliutil import run_cli
from tests.stores import indexed_store

Key = tuple[str, object]  # ("n", number) or ("t", ASCII-folded text): one value as the query compares them

SYSMON = "Microsoft-Windows-Sysmon/Operational"
#: Channels whose header ProcessID is the logging service (`pid:` leaves it out there), any case.
LOGGERS = {"security", SYSMON.lower()}
PIDS = {n.lower() for n in PID_FIELDS}


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _key(value: str) -> Key:
    number = as_int(value)
    return ("n", number) if number is not None else ("t", value.translate(str.maketrans(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")))


def _held(event: Event, by: str) -> set[Key]:
    """The values `by:` finds `event` by, worked out from the event itself."""
    names = PIDS if by == "pid" else {"processid"}
    keys = {_key(v) for n, v in event.data if n.lower() in names}
    if event.pid is not None and (by == "processid" or event.channel.lower() not in LOGGERS):
        keys.add(("n", event.pid))
    return keys


def _check(store: Store, query: str, by: str) -> Stack:
    """The stack of `by` over `query` is what counting the events gives, and every row's
    narrowing filter finds exactly its count."""
    compiled = compile_query(query)
    events = [se.event for se in store.select(compiled)]
    want: Counter[Key] = Counter()
    holding = 0
    for event in events:
        keys = _held(event, by)
        want.update(keys)
        holding += bool(keys)
    result = stack(store, compiled, by, limit=None)
    assert result.field == by
    assert Counter({_key(r.value): r.count for r in result.rows}) == want, (query, by)
    assert (result.total, result.missing, result.distinct) == (len(events), len(events) - holding, len(want))
    for row in result.rows:
        number = as_int(row.value)
        if number is not None:  # one rendering: hex, as Windows logs ids (a negative one: decimal)
            assert row.value == (hex(number) if number >= 0 else str(number)), row
        narrowed = store.count(compile_query(add_filter(query, result.field, row.value)))
        assert narrowed == row.count, (query, by, row)
    return result


def _event(i: int, channel: str, pid: int | None, data: tuple[tuple[str, str], ...], event_id: int = 4688) -> Event:
    return Event(source=0, record_number=i, record_id=i, filetime=133_500_000_000_000_000 + i, event_id=event_id,
                 channel=channel, pid=pid, data=data)


def test_the_demos_4688_pids_narrow_to_their_counts() -> None:
    """The report: every row of `stack demo --by pid --where 4688` is what `4688 pid:<row>` finds,
    and lsass's header pid is no row (the 22 events are about processes, not the logger)."""
    status, out, err = run_cli("stack", "demo", "--by", "pid", "--where", "4688", "--format", "json", "--limit", "0")
    assert status == 0, err
    doc = json.loads(out)
    status, out, err = run_cli("query", "demo", "--where", "4688", "--format", "jsonl")
    assert status == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    want: Counter[Key] = Counter()
    for event in events:
        want.update({_key(v) for k, v in event["data"].items() if k.lower() in PIDS})
    assert Counter({_key(v["value"]): v["count"] for v in doc["values"]}) == want and len(want) > 10
    assert doc["field"] == "pid" and doc["events"] == len(events) == 22 and doc["missing"] == 0
    assert ("n", 4) not in want and all(v["count"] < 22 for v in doc["values"])
    for value in doc["values"][:3] + doc["values"][-3:]:
        status, out, _ = run_cli("query", "demo", "--where", f"4688 pid:{value['value']}", "--format", "jsonl")
        assert len(out.splitlines()) == value["count"], value


def test_one_number_in_every_rendering_is_one_row(tmp_path: Path) -> None:
    """Security hex, Sysmon decimal, a padded or upper-case hex, and a System log's header: one
    process, one row (`pid:0x1e0c` finds all four), shown as Windows logs ids."""
    events = [
        _event(1, "Security", 680, (("NewProcessId", "0x1e0c"), ("ProcessId", "0x2a8"))),
        _event(2, SYSMON, 2000, (("ProcessId", "7692"), ("ParentProcessId", "680")), event_id=1),
        _event(3, "System", 7692, (("ProcessId", "0x00001E0C"),), event_id=7036),  # the same id twice: once
        _event(4, "System", 7692, (), event_id=7036),
        _event(5, "Application", None, (("ProcessId", "-"),), event_id=1000),
    ]
    with indexed_store(tmp_path / "s.db", events) as store:
        result = _check(store, "", "pid")
        assert {r.value: r.count for r in result.rows} == {"0x1e0c": 4, "0x2a8": 2, "-": 1}
        assert result.missing == 0  # (lsass 680 and Sysmon's 2000 are the loggers: not rows)
        header = _check(store, "", "processid")
        assert {r.value: r.count for r in header.rows} == {"0x2a8": 1, "0x7d0": 1, "0x1e0c": 3, "-": 1}


def test_processid_stacks_the_header_itself_where_no_field_is_named_so(tmp_path: Path) -> None:
    """`--by processid` keeps stacking the System ProcessID (what `processid:` reads), in every
    channel, Security's logger too: on events without an EventData ProcessId it is the header."""
    events = [_event(i, channel, pid, (("NewProcessId", hex(100 + i)),))
              for i, (channel, pid) in enumerate([("Security", 680), ("Security", 680), ("System", 4),
                                                  ("System", None), (SYSMON, 2000)], 1)]
    with indexed_store(tmp_path / "s.db", events) as store:
        result = _check(store, "", "processid")
        assert {r.value: r.count for r in result.rows} == {"0x2a8": 2, "0x4": 1, "0x7d0": 1}
        assert result.missing == 1
        by_pid = _check(store, "", "pid")  # the header outside Security and Sysmon only
        assert {r.value: r.count for r in by_pid.rows} == {hex(101 + i): 1 for i in range(5)} | {"0x4": 1}
        status, out, err = run_cli("stack", "--help")
        assert status == 0 and "processid" in " ".join(out.split()), err


def test_a_negative_number_is_one_row_in_the_field_and_the_header(tmp_path: Path) -> None:
    """A crafted `0xffffffffffffffff` field and a header pid of -1 are the number `pid:` reads
    as one: its row says `-1`, the text that finds both (the hex finds only the field)."""
    events = [_event(1, "System", -1, (("ProcessId", "0xffffffffffffffff"),)),
              _event(2, "System", -1, ()), _event(3, "Security", 5, (("ProcessId", "0xFFFFFFFFFFFFFFFF"),))]
    with indexed_store(tmp_path / "s.db", events) as store:
        assert {r.value: r.count for r in _check(store, "", "pid").rows} == {"-1": 3}
        assert {r.value: r.count for r in _check(store, "", "processid").rows} == {"-1": 3, "0x5": 1}


@pytest.mark.parametrize("by", ["pid", "processid", "ProcessId"])
def test_mixed_logs_in_many_batches_count_distinct_events_per_number(tmp_path: Path, by: str) -> None:
    """Channels where the header is and is not the event's own process, pids in several
    renderings under several names (a name twice, two spellings), events holding a number in a
    field and the header both, across load batches (the lists read a batch's group at a time):
    every row the events holding it, every row's filter its count, `missing` the rest."""
    rnd = random.Random(7)
    numbers = [4, 680, 7692, 0x2a8, 0]
    names = ["NewProcessId", "ProcessId", "processid", "ParentProcessId", "TargetProcessId", "Other"]
    channels = ["Security", "SECURITY", "System", SYSMON, "Application", "Microsoft-Windows-PowerShell/Operational"]

    def rendered(n: int) -> str:
        return rnd.choice([hex(n), f"0x{n:08x}", f"0x{n:X}", str(n), f"0x{n:016x}"])

    def value() -> str:
        return rnd.choice(["-", "", "N/A", "n/a"]) if rnd.random() < 0.1 else rendered(rnd.choice(numbers))

    store = Store(tmp_path / "s.db")
    store.add_source("x.xml", "xml")
    for batch in range(6):
        store.add_events([_event(batch * 100 + i, rnd.choice(channels),
                                 None if rnd.random() < 0.2 else rnd.choice(numbers),
                                 tuple((rnd.choice(names), value()) for _ in range(rnd.randrange(4))),
                                 event_id=rnd.choice([4688, 4689, 1, 7036]))
                          for i in range(80)])
    store.build_indexes()
    for query in ("", "4688", "-4688", "channel:System", "pid:0x2a8", "processid:680 OR 1", "NOT Other:*"):
        result = _check(store, query, by.lower())
        assert query != "" or (result.distinct >= len(numbers) and result.missing > 0)
