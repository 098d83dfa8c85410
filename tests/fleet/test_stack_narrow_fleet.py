"""`fleet stack` keeps the one-machine stack's promise (`core.query.stack`: a row's count is what its
narrowing filter finds) on the same events: a System field read in its column and in an EventData
field so named (`level:4` finds both), numbers grouped as numbers in every field (`0x1`,
`0x00000001` and `1` are one row), a computer row counting the names it is the first labels of
(`computer:DC1` finds `DC1.corp.local`), and `user` rows counting the SIDs `user:` reads too. A
randomised XML log converted to Parquet (DuckDB engine) against its SQLite store."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest

from core.model.values import as_int
from core.query.compile import compile_query
from core.query.pivot import add_filter
from core.query.stack import Stack
from core.query.stack import stack as store_stack
from tests.fleetutil import build_store, require_fleet, require_spark

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
BYS = ["level", "task", "opcode", "version", "keywords", "tid", "usersid", "computer", "channel", "id", "pid",
       "processid", "user", "image", "logon", "handle", "NewProcessId", "Status", "Other"]
#: The stacks Spark renders, one per kind of SQL `query_sql` writes (a System column with the field
#: so named, by number and by text, the computer's names, the pid alias and header, the user alias
#: with its SIDs, a field of numbers, one of text); every one took 78 s of the suite on one JVM.
SPARK_BYS = ["level", "keywords", "computer", "pid", "processid", "user", "NewProcessId", "Status"]
SPARK_FILTERED = {"level", "pid", "user"}
QUERIES = ["", "4688", "-4688", "channel:System", "level:4", "user:dadmin", "NOT Other:*"]
NAMES = ["Level", "Task", "Opcode", "Version", "Keywords", "ThreadID", "UserSid", "ProcessId", "NewProcessId",
         "SubjectUserName", "TargetUserName", "SubjectUserSid", "NewProcessName", "Image", "SubjectLogonId",
         "HandleId", "Status", "Other"]


def _number(rnd: random.Random, n: int) -> str:
    return rnd.choice([hex(n), f"0x{n:08x}", f"0x{n:X}", str(n), f"0x{n:016x}"])


def _value(rnd: random.Random, name: str) -> str:
    """A value from small pools, so values meet across names, spellings and columns. A Keywords
    field spells a number of the keywords column as the column does (the fleet links a text
    column's number to the fields through such a spelling: `core.fleet.query_sql._linked`)."""
    if name == "Keywords":
        return rnd.choice(["0x8020000000000000", "0x10", "0X10", "5", "abc"])
    if rnd.random() < 0.5:
        return _number(rnd, rnd.choice([0, 1, 4, 16, 0x2A8, 7692]))
    return rnd.choice(["abc", "ABC", "-", "N/A", "n/a", "dadmin", "DAdmin", "S-1-5-18", "s-1-5-18",
                       "C:\\Windows\\cmd.exe", "c:\\windows\\CMD.EXE", "Information"])


def _event(rnd: random.Random, record: int) -> str:
    """One `<Event>` with random System fields (some left out) and EventData (a name twice too)."""
    def some(values: list[str]) -> str | None:
        return None if rnd.random() < 0.2 else rnd.choice(values)

    system = [f"<EventID>{rnd.choice([4688, 4689, 1, 7036])}</EventID>"]
    for tag, pool in (("Version", ["0", "2"]), ("Level", ["0", "4", "16"]), ("Task", ["0", "16", "13312"]),
                      ("Opcode", ["0", "4"]),
                      ("Keywords", ["0x8020000000000000", "0X8020000000000000", "0x10"])):
        value = some(pool)
        if value is not None:
            system.append(f"<{tag}>{value}</{tag}>")
    system.append(f'<TimeCreated SystemTime="2024-03-14T08:{record // 60 % 60:02d}:{record % 60:02d}Z" />')
    system.append(f"<EventRecordID>{record}</EventRecordID>")
    execution = "".join(f' {attr}="{value}"' for attr, value in (("ProcessID", some(["4", "680", "7692", "0"])),
                                                                   ("ThreadID", some(["4", "16", "100"])))
                        if value is not None)
    system.append(f"<Execution{execution} />")
    system.append(f"<Channel>{rnd.choice(['Security', 'SECURITY', 'System', SYSMON, 'Application'])}</Channel>")
    computer = rnd.choice(["DC1", "dc1", "DC1.corp.local", "DC1.CORP.local", "dc1.corp", "DC10.corp.local", "ws01"])
    system.append(f"<Computer>{computer}</Computer>")
    sid = some(["S-1-5-18", "s-1-5-18", "S-1-5-19", "dadmin", "-"])
    system.append("<Security />" if sid is None else f'<Security UserID="{sid}" />')
    data = []
    for _ in range(rnd.randrange(5)):
        name = rnd.choice(NAMES)
        data.append(f"<Data Name={quoteattr(name)}>{escape(_value(rnd, name))}</Data>")
    provider = '<Provider Name="Microsoft-Windows-Security-Auditing" />'
    return (f'<Event xmlns="{NS}"><System>{provider}{"".join(system)}</System>'
            f'<EventData>{"".join(data)}</EventData></Event>')


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """The SQLite store of the log, and its converted dataset."""
    require_fleet()
    from core.fleet.convert import convert

    tmp = tmp_path_factory.mktemp("narrow")
    rnd = random.Random(20261208)
    log = tmp / "mixed.xml"
    body = "\n".join(_event(rnd, i) for i in range(1, 301))
    log.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<Events>{body}</Events>\n', encoding="utf-8")
    assert [r.error for r in convert([str(log)], tmp / "ds", jobs=1)] == [None]
    store = build_store([str(log)], tmp / "store.db")
    yield store, tmp / "ds"
    store.close()


@pytest.fixture(scope="module")
def both(dataset: tuple[Any, Path]) -> Iterator[tuple[Any, Any]]:
    from core.fleet.engines import LocalEngine

    engine = LocalEngine(dataset[1])
    yield dataset[0], engine
    engine.close()


def _fold(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def _rows(result: Stack) -> Counter[tuple[object, int]]:
    """The rows by value (a number as a number, text folded: what may differ is the spelling),
    with their counts."""
    def compared(value: str) -> object:
        number = as_int(value)
        return _fold(value) if number is None else number

    return Counter((compared(r.value), r.count) for r in result.rows)


@pytest.mark.parametrize("by", BYS)
def test_fleet_stacks_are_the_stores(both: tuple[Any, Any], by: str) -> None:
    """The same rows, counts and `missing` under every filter; over the whole view the same
    spellings in the same order too (a filtered view may show another spelling of a value: the
    store's is the first written in the load batch, `core.fleet.query_sql.stack_pairs`)."""
    from core.fleet import api

    store, engine = both
    for where in QUERIES:
        expected = store_stack(store, compile_query(where), by, limit=None)
        got = api.stack(engine, where, by, limit=None)
        assert (got.field, got.total, got.distinct, got.missing) == \
            (expected.field, expected.total, expected.distinct, expected.missing), (where, by)
        assert _rows(got) == _rows(expected), (where, by)
        if where == "":
            assert got == expected, by
            assert api.stack(engine, where, by, limit=3, descending=True) == \
                store_stack(store, compile_query(where), by, limit=3, descending=True)


@pytest.mark.parametrize("by", ["level", "keywords", "usersid", "computer", "user", "Status", "handle"])
def test_fleet_rows_narrow_to_their_counts(both: tuple[Any, Any], by: str) -> None:
    """The fleet's own promise: `fleet query --where "<where> name:value"` counts each row."""
    from core.fleet import api

    _, engine = both
    for where in ("", "-4688"):
        result = api.stack(engine, where, by, limit=None)
        assert result.rows
        for row in result.rows:
            assert api.count(engine, add_filter(where, result.field, row.value)) == row.count, (where, by, row)


@pytest.mark.slow
@pytest.mark.spark
def test_spark_stacks_are_the_stores(dataset: tuple[Any, Path]) -> None:
    """The same SQL rendered for Spark (`local[2]`): each kind of stack (`SPARK_BYS`) over the whole
    view row for row, and some under a filter the same rows and counts. One test: one JVM."""
    require_spark()
    from pyspark.sql import SparkSession

    from core.fleet import api
    from core.fleet.engines import SparkEngine, spark_session

    store, root = dataset
    shared = SparkSession.getActiveSession()  # (tests/fleet/test_fleet_spark.py's, when it ran first: kept)
    session = spark_session("local[2]", "evtx-explorer tests")
    session.sparkContext.setLogLevel("ERROR")
    engine = SparkEngine(root, session=session)
    try:
        for by in SPARK_BYS:
            assert api.stack(engine, "", by, limit=None) == store_stack(store, compile_query(""), by, limit=None), by
            if by in SPARK_FILTERED:
                got = api.stack(engine, "-4688", by, limit=None)
                assert _rows(got) == _rows(store_stack(store, compile_query("-4688"), by, limit=None)), by
    finally:
        if shared is None:
            session.stop()
