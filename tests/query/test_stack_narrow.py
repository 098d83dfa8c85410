"""Every stack row narrows to its count: the app's `enter` on a row (`core.query.pivot.add_filter`:
the view's query AND `name:value`) finds exactly the events the row counts, one value is one
row, the rows cover what the field holds, and `missing` is the view's events in no row.

The breaks this guards, each found by the randomised check below:
- `level`, `task`, `opcode`, `version`, `keywords`, `tid`/`threadid` and `usersid` stacked their
  System column only, while `level:4` also matches an EventData field named Level (a UserSid
  field: the samples' `S-1-5-19` row said 389 and narrowed to 1,389);
- an EventData field holding numbers was grouped by text while the filter compares numbers:
  `AccessMask` rows `0x1` (30) and `0x00000001` (627) each narrowed to 657;
- `computer:DC1` also finds `DC1.insecurebank.local` (a name matches its first labels), so the
  samples' `DC1` row said 1 and narrowed to 4,279;
- `user` rows (account names) narrowed to more: `user:` also reads the SID fields and the
  System UserID, where the same text may stand;
- a field the language reads otherwise (`record:` is the EventRecordID) was stacked as the
  EventData field of that name, and `threadid` (what a pivot on the System ThreadID names)
  was no stack at all.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from core.model.event import Event
from core.model.values import PID_FIELDS, USER_FIELDS, as_int
from core.query.compile import ALIAS_FIELDS, compile_query
from core.query.lexer import QueryError
from core.query.pivot import add_filter
from core.query.stack import Stack, resolve_field, stack
from core.store.store import Store
from tests.stores import indexed_store

T = TypeVar("T")
SYSMON = "Microsoft-Windows-Sysmon/Operational"
LOGGERS = {"security", SYSMON.lower()}
PATHS = ("/logs/a.xml", "/logs/b.xml", "/logs/A.XML")
#: A stack's name -> the System column it reads beside the EventData field of its query name.
COLUMNS = {"level": "level", "task": "task", "opcode": "opcode", "version": "version", "keywords": "keywords",
           "tid": "tid", "threadid": "tid", "usersid": "user_sid", "sid": "user_sid"}
#: The stacks whose rows a filter compares as text (a number too): the columns so compared.
TEXT_STACKS = {"computer", "host", "channel", "provider", "file", "keywords", "usersid", "sid"}
QUERY_NAMES = {"tid": "threadid", "sid": "usersid", "host": "computer"}
DATA_NAMES = ["Level", "level", "Task", "Opcode", "Version", "Keywords", "ThreadID", "UserSid", "ProcessId",
              "NewProcessId", "SubjectUserName", "TargetUserName", "User", "SubjectUserSid", "TargetUserSid",
              "NewProcessName", "Image", "ParentImage", "CommandLine", "ParentCommandLine", "SubjectLogonId",
              "TargetLogonId", "HandleId", "Status", "Other"]
BYS = ["level", "task", "opcode", "version", "keywords", "tid", "threadid", "usersid", "sid", "computer", "host",
       "channel", "provider", "id", "file", "pid", "processid", "user", "image", "parent", "cmd", "parentcmd",
       "logon", "handle", "NewProcessId", "Status", "Other", "CommandLine", "SubjectUserName"]
QUERIES = ["", "4688", "-4688", "channel:System", "level:4", "user:dadmin", "NOT Other:*", "handle:0x10 OR 1"]


def _fold(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def _number(rnd: random.Random, n: int) -> str:
    """`n` as Windows logs may render it: hex (any width or case) or decimal."""
    return rnd.choice([hex(n), f"0x{n:08x}", f"0x{n:X}", str(n), f"0x{n:016x}", f" {n}"])


def _value(rnd: random.Random) -> str:
    """A value from a small pool, so values meet across names, events, spellings and columns:
    numbers in every rendering (past 64 bits too), text in two cases (and a non-ASCII letter,
    which the filter does not fold), glob characters, account names, SIDs and the text of the
    columns' own values (a number of the keywords column, a SID)."""
    kind = rnd.random()
    if kind < 0.45:
        return _number(rnd, rnd.choice([0, 4, 16, 0x2A8, 7692, 0x8020000000000000]))
    return rnd.choice(["abc", "ABC", "-", "", "N/A", "n/a", "dadmin", "DAdmin", "S-1-5-18", "s-1-5-18",
                       "C:\\Windows\\cmd.exe", "c:\\windows\\CMD.EXE", "0x8020000000000000", "0X8020000000000000",
                       "9232379236109516800", "Information", "a*b?", "[*]", "x[y", "KÖLN", "kÖln", "köln", "abc ",
                       "-1", "0xffffffffffffffff", "18446744073709551615", "99999999999999999999999"])


def _some(rnd: random.Random, values: list[T]) -> T | None:
    return None if rnd.random() < 0.2 else rnd.choice(values)


def _events(rnd: random.Random, first: int, n: int) -> list[Event]:
    out = []
    for i in range(first, first + n):
        data = tuple((rnd.choice(DATA_NAMES), _value(rnd)) for _ in range(rnd.randrange(5)))
        some = functools.partial(_some, rnd)
        out.append(Event(
            source=0, record_number=i, record_id=i, filetime=133_500_000_000_000_000 + i,
            event_id=rnd.choice([4688, 4689, 1, 7036]),
            version=some([0, 2]), level=some([0, 4, 16]), task=some([0, 16, 13312]), opcode=some([0, 4]),
            keywords=some(["0x8020000000000000", "0X8020000000000000", "0x10", "16", "9232379236109516800"]),
            channel=rnd.choice(["Security", "SECURITY", "System", SYSMON, "Application"]),
            provider=rnd.choice(["Microsoft-Windows-Security-Auditing", "microsoft-windows-security-auditing",
                                 "Service Control Manager"]),
            computer=rnd.choice(["DC1", "dc1", "DC1.corp.local", "DC1.CORP.local", "dc1.corp", "DC10.corp.local",
                                 "WS01.corp.local", "ws01", "10.0.0.1", "10.0.0"]),
            pid=some([4, 680, 7692, 0x2A8, 0]), tid=some([4, 16, 100, 7692]),
            user_sid=some(["S-1-5-18", "s-1-5-18", "S-1-5-19", "dadmin", "16"]),
            data=data))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Three inputs (two of one path in two cases), six load batches of mixed events."""
    rnd = random.Random(20261208)
    db = Store(tmp_path_factory.mktemp("narrow") / "s.db")
    for path in PATHS:
        db.add_source(path, "xml")
    for batch in range(6):
        events = _events(rnd, batch * 100, 70)
        db.add_events([dataclasses.replace(e, source=rnd.randrange(len(PATHS))) for e in events])
    db.build_indexes()
    yield db
    db.close()


def _ids(store: Store, query: str) -> frozenset[int]:
    return frozenset(se.id for se in store.select(compile_query(query)))


def _held(store: Store, event: Event, by: str) -> set[str]:
    """The values of `by` an event holds, worked out from the event: what the rows must cover."""
    key = by.lower()
    name = QUERY_NAMES.get(key, key)
    paths = {s.id: s.path for s in store.sources()}
    if key in COLUMNS:
        column = getattr(event, COLUMNS[key])
        held = {str(column)} if column is not None else set()
        return held | {v for n, v in event.data if n.lower() == name}
    columns: dict[str, object] = {"computer": event.computer, "host": event.computer, "channel": event.channel,
                                  "provider": event.provider, "id": event.event_id, "file": paths[event.source]}
    if key in columns:
        return {str(columns[key])}
    if key == "pid":
        held = {v for n, v in event.data if n.lower() in {p.lower() for p in PID_FIELDS}}
        own = event.pid is not None and event.channel.lower() not in LOGGERS
        return held | ({str(event.pid)} if own else set())
    if key == "processid":
        return {v for n, v in event.data if n.lower() == key} | ({str(event.pid)} if event.pid is not None else set())
    names = USER_FIELDS if key == "user" else ALIAS_FIELDS.get(key, (by,))
    return {v for n, v in event.data if n.lower() in {m.lower() for m in names}}


def _compared(by: str, value: str) -> object:
    """A row's value as its filter compares it: text whole and ASCII-case-insensitively, and but
    in the columns compared as text, a number as a number."""
    number = None if by.lower() in TEXT_STACKS else as_int(value)
    return _fold(value) if number is None else number


def _check(store: Store, query: str, by: str, events: dict[int, Event]) -> Stack:
    """The promise, for one stack: see the module docstring."""
    result = stack(store, compile_query(query), by, limit=None)
    view = _ids(store, query)
    narrowed: dict[str, frozenset[int]] = {}
    for row in result.rows:
        found = narrowed[row.value] = _ids(store, add_filter(query, result.field, row.value))
        assert len(found) == row.count, (query, by, row)
    assert len({_compared(by, r.value) for r in result.rows}) == len(result.rows), (query, by, "a value twice")
    covered = frozenset().union(*narrowed.values())
    assert (result.total, result.distinct, result.more) == (len(view), len(result.rows), 0), (query, by)
    assert result.missing == len(view - covered), (query, by)
    holders: dict[str, set[int]] = {}
    for i in view:
        for value in _held(store, events[i], by):
            holders.setdefault(value, set()).add(i)
    for value, ids in holders.items():  # every value held has its row (alike, or its number), its events in it
        assert any(_alike(value, row) and ids <= found for row, found in narrowed.items()), (query, by, value)
    return result


def _alike(value: str, row: str) -> bool:
    """Whether a row shows `value`: in another case, or as another rendering of its number (a
    text column's row counts the field's renderings of its number)."""
    number = as_int(value)
    return _fold(value) == _fold(row) or (number is not None and number == as_int(row))


@pytest.mark.parametrize("by", BYS)
def test_every_row_narrows_to_its_count(store: Store, by: str) -> None:
    """Mixed events in six batches: every stackable kind of field, under filters that take the
    whole store and the id-set paths."""
    events = {se.id: se.event for se in store.select()}
    for query in QUERIES:
        _check(store, query, by, events)


def test_a_number_is_one_row_shown_as_first_written(tmp_path: Path) -> None:
    """`NewProcessId` holding `0x1e0c`, `7692` and `0x00001E0C`: one row, its first spelling;
    `ABC` and `abc` one row too (the filter compares text whole and case-insensitively)."""
    events = [_plain(1, (("NewProcessId", "0x1e0c"), ("Name", "ABC"))), _plain(2, (("NewProcessId", "7692"),)),
              _plain(3, (("NewProcessId", "0x00001E0C"), ("Name", "abc"))), _plain(4, (("NewProcessId", "0x4"),))]
    with indexed_store(tmp_path / "s.db", events) as store:
        by_event = {se.id: se.event for se in store.select()}
        assert {r.value: r.count for r in _check(store, "", "NewProcessId", by_event).rows} == {"0x1e0c": 3, "0x4": 1}
        assert {r.value: r.count for r in _check(store, "", "Name", by_event).rows} == {"ABC": 2}


def test_level_counts_the_column_and_the_field_so_named(tmp_path: Path) -> None:
    """`level:4` finds the System Level and an EventData Level: the row counts both, an event
    holding 4 in both once; a level only the field holds is a row of its own."""
    events = [_plain(1, (("Level", "4"),), level=4), _plain(2, (("Level", "0x4"),), level=0), _plain(3, (), level=4),
              _plain(4, (("level", "Warning"),), level=None)]
    with indexed_store(tmp_path / "s.db", events) as store:
        by_event = {se.id: se.event for se in store.select()}
        result = _check(store, "", "level", by_event)
        assert {r.value: r.count for r in result.rows} == {"4": 3, "0": 1, "Warning": 1}
        assert result.missing == 0


def test_a_computer_row_counts_the_names_it_is_the_first_labels_of(tmp_path: Path) -> None:
    """`computer:DC1` finds `DC1.corp.local` (and `dc1.x`), not `DC10.corp.local`."""
    computers = ["DC1", "DC1.corp.local", "dc1.x", "DC10.corp.local", "DC1.corp.local"]
    events = [Event(source=0, record_number=i, record_id=i, filetime=None, event_id=1, computer=c)
              for i, c in enumerate(computers, 1)]
    with indexed_store(tmp_path / "s.db", events) as store:
        by_event = {se.id: se.event for se in store.select()}
        result = _check(store, "", "computer", by_event)
        assert {r.value: r.count for r in result.rows} == {"DC1": 4, "DC1.corp.local": 2, "dc1.x": 1,
                                                           "DC10.corp.local": 1}


def test_a_user_row_counts_the_sids_the_user_filter_reads(tmp_path: Path) -> None:
    """`user:` reads the SID fields and the System UserID too: a name row counts an event holding
    its text there (the rows stay the account names)."""
    events = [_plain(1, (("SubjectUserName", "-"),)), _plain(2, (("TargetUserSid", "-"),)),
              _plain(3, (("TargetUserName", "dadmin"),)), _plain(4, (), user_sid="DADMIN"),
              _plain(5, (("SubjectUserName", "-"), ("SubjectUserSid", "-")), user_sid="-"),
              _plain(6, (("SubjectUserSid", "S-1-5-18"),), user_sid="S-1-5-18")]
    with indexed_store(tmp_path / "s.db", events) as store:
        by_event = {se.id: se.event for se in store.select()}
        result = _check(store, "", "user", by_event)
        assert {r.value: r.count for r in result.rows} == {"-": 3, "dadmin": 2}
        assert result.missing == 1


def test_names_the_language_reads_otherwise_are_refused_or_mapped(tmp_path: Path) -> None:
    """`record:` is the EventRecordID whatever the EventData holds: no stack of a field so named
    could narrow to its counts. `threadid` is the System ThreadID's query name: it stacks as `tid`."""
    events = [_plain(1, (("Record", "1"), ("After", "x")), tid=5)]
    with indexed_store(tmp_path / "s.db", events) as store:
        for name in ("Record", "eventrecordid", "after", "BEFORE"):
            with pytest.raises(QueryError):
                stack(store, compile_query(""), name)
        assert resolve_field("ThreadID", store.field_names()).query_name == "threadid"
        assert [(r.value, r.count) for r in stack(store, compile_query(""), "threadid").rows] == [("5", 1)]


def _plain(i: int, data: tuple[tuple[str, str], ...], **columns: object) -> Event:
    fields: dict[str, object] = {"source": 0, "record_number": i, "record_id": i, "filetime": None,
                                 "event_id": 4688, "channel": "Application", "data": data, **columns}
    return Event(**fields)  # type: ignore[arg-type]
