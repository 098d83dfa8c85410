"""The filter language, run against a real (small) store: which events does each query find?

Events are labelled by their EventRecordID (1..12) and every assertion names the exact set of
records a user would see, so a compiler that produces valid but wrong SQL fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event, parse_time
from core.query.compile import MIRRORED_SYSTEM_FIELDS, QueryError, compile_query
from core.query.parser import MAX_DEPTH, MAX_TERMS
from core.query.term_sets import settled_terms
from core.store.filter import Filter, Order
from core.store.schema import SYSTEM_FIELDS
from core.store.store import Store

SEC = "Security"
AUDIT = "Microsoft-Windows-Security-Auditing"
RUNDLL = r"C:\Windows\System32\rundll32.exe"
MIMI_CMD = 'mimikatz.exe "privilege::debug" 100%_done'
INJECT_CMD = "cmd.exe /c echo x' OR 1=1 --"


def _t(text: str) -> int:
    ticks = parse_time(text)
    assert ticks is not None
    return ticks


def _ev(
    rid: int,
    eid: int,
    computer: str,
    time: str | None,
    data: dict[str, str],
    *,
    source: int = 0,
    channel: str = SEC,
    provider: str = AUDIT,
    pid: int | None = 0x2CC,
    level: int | None = 0,
    user_sid: str | None = None,
) -> Event:
    return Event(
        source=source,
        record_number=rid,
        record_id=rid,
        filetime=None if time is None else _t(time),
        event_id=eid,
        level=level,
        task=12544,
        channel=channel,
        provider=provider,
        computer=computer,
        pid=pid,
        tid=100,
        user_sid=user_sid,
        data=tuple(data.items()),
    )


WS01 = "WS01.corp.local"
DC01 = "DC01.corp.local"

EVENTS = [
    _ev(
        1,
        4624,
        WS01,
        "2015-11-11T23:59:59Z",
        {
            "SubjectUserSid": "S-1-5-18",
            "TargetUserName": "dadmin",
            "TargetLogonId": "0x3e7a1",
            "LogonType": "3",
            "TargetDomainName": "KÖLN",
        },
    ),
    _ev(
        2,
        4688,
        WS01,
        "2015-11-12T01:00:00Z",
        {
            "SubjectUserName": "DADMIN",
            "SubjectLogonId": "0x3e7a1",
            "NewProcessId": "0x0000000000000c8c",
            "NewProcessName": RUNDLL,
            "ProcessId": "0x0000000000000a10",
            "CommandLine": "rundll32.exe shell32.dll,Control_RunDLL",
        },
    ),
    _ev(
        3,
        4656,
        WS01,
        "2015-11-12T02:00:00Z",
        {
            "SubjectUserName": "dadmin",
            "ObjectName": r"C:\secret\passwords.txt",
            "HandleId": "0x11ac",
            "ProcessId": "0x00000c8c",
            "ProcessName": RUNDLL,
        },
    ),
    _ev(
        4,
        4663,
        WS01,
        "2015-11-12T02:00:00.5Z",
        {"ObjectName": r"C:\secret\passwords.txt", "HandleId": "0x11ac", "ProcessId": "0xc8c"},
    ),
    _ev(
        5,
        4658,
        WS01,
        "2015-11-12T02:30:00Z",
        {"HandleId": "0x11AC", "ProcessId": "3212", "ObjectServer": "Security\tAccount Manager"},
    ),
    _ev(
        6,
        4690,
        DC01,
        "2015-11-12T03:00:00Z",
        {"SourceHandleId": "0x11ac", "SourceProcessId": "0xc8c", "TargetHandleId": "0x2f0", "TargetProcessId": "0x4"},
    ),
    _ev(7, 4689, WS01, "2015-11-12T04:00:00Z", {"Status": "0x0", "ProcessId": "0xc8c", "ProcessName": RUNDLL}),
    _ev(
        8,
        4688,
        DC01,
        "2015-11-12T05:00:00Z",
        {
            "SubjectUserName": "bob",
            "NewProcessId": "0x1d4c",
            "NewProcessName": r"C:\Users\bob\AppData\Local\Temp\mimikatz.exe",
            "CommandLine": MIMI_CMD,
        },
    ),
    _ev(
        9,
        4688,
        "WS02",
        "2015-11-12T06:00:00Z",
        {
            "SubjectUserName": "alice",
            "NewProcessId": "0x1000",
            "NewProcessName": r"C:\Windows\System32\cmd.exe",
            "CommandLine": INJECT_CMD,
        },
    ),
    _ev(10, 1102, WS01, None, {}, provider="Microsoft-Windows-Eventlog", level=None),
    _ev(
        11,
        7045,
        "WS02",
        "2015-11-12T07:00:00Z",
        {"ServiceName": "PSEXESVC", "ImagePath": r"%SystemRoot%\PSEXESVC.exe", "StartType": "demand start"},
        source=1,
        channel="System",
        provider="Service Control Manager",
        level=4,
        user_sid="S-1-5-18",
    ),
    _ev(
        12,
        4104,
        "WS02",
        "2015-11-12T08:00:00Z",
        {"ScriptBlockText": "Invoke-Mimikatz -DumpCreds", "Path": ""},
        source=1,
        channel="Microsoft-Windows-PowerShell/Operational",
        provider="Microsoft-Windows-PowerShell",
        pid=5000,
        level=5,
    ),
]
ALL = {e.record_id for e in EVENTS}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = Path(tmp_path_factory.mktemp("query")) / "events.db"
    st = Store(path)
    assert st.add_source("/logs/Security.evtx", "evtx") == 0
    assert st.add_source(r"C:\cases\ws02\Sysmon-and-System.xml", "xml") == 1
    st.add_events(EVENTS)
    st.build_indexes()
    yield st
    st.close()


def found(store: Store, query: str) -> set[int | None]:
    """Record ids the query finds (also checking that count() agrees with select(), and that
    the table's reading of it, its terms' ids from sets (`settled_terms`), finds the same)."""
    compiled = compile_query(query)
    rows = store.select(compiled)
    assert store.count(compiled) == len(rows)
    if compiled.ids is not None:  # the table's count of a one-term view (core.query.view.count_view)
        assert store.count_ids(compiled) == len(rows), query
    settled = settled_terms(store, compiled)
    assert store.select(settled) == rows and store.count(settled) == len(rows), query
    return {row.event.record_id for row in rows}


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    return info.value


# -- basics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "one_id_set"),
    [
        ("handle:0x44", True),
        ("CommandLine:*mimikatz*", True),
        ('"lsass"', True),
        ("mimikatz", True),
        ("4688", False),
        ("-handle:0x44", False),
        ("handle:0x44 4658", False),
        ("handle:0x44 OR mimikatz", False),
        ("pid:0x1234", False),  # also the System pid column
        ("host:WS01", False),
    ],
)
def test_only_a_lone_id_set_term_offers_its_ids(store: Store, query: str, one_id_set: bool) -> None:
    """`Filter.ids` is what the table counts instead of `sql`: it must be offered only
    when `sql` is exactly `e.id IN (ids)`, and then count the same events."""
    compiled = compile_query(query)
    assert (compiled.ids is not None) == one_id_set
    if compiled.ids is not None:
        assert compiled.sql == f"e.id IN ({compiled.ids})"
        assert store.count_ids(compiled) == store.count(compiled)


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_matches_everything(store: Store, query: str) -> None:
    assert compile_query(query) == Filter.everything()
    assert found(store, query) == ALL


def test_bare_integers_are_event_ids(store: Store) -> None:
    assert found(store, "4688") == {2, 8, 9}
    assert found(store, "1102") == {10}
    assert found(store, "4656,4663") == {3, 4}
    assert found(store, "9999") == set()


def test_id_alias_and_lists(store: Store) -> None:
    assert found(store, "id:4690") == {6}
    assert found(store, "ID:4690") == {6}
    assert found(store, "EventID:4690") == {6}
    assert found(store, "id:4656,4663") == {3, 4}
    assert found(store, "id:0x1250") == {2, 8, 9}  # 0x1250 == 4688
    assert found(store, "id:46*") == {1, 2, 3, 4, 5, 6, 7, 8, 9}
    assert found(store, "record:8") == {8}
    assert found(store, "eventrecordid:8,9") == {8, 9}


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0x0000000000000c8c", "0x00000c8c", "0xc8c", "0XC8C", "3212"])
def test_pid_hex_and_decimal_are_the_same_number(store: Store, value: str) -> None:
    # NewProcessId (2), ProcessId in 4656/4663/4658/4689 (3, 4, 5 as decimal 3212, 7), SourceProcessId (6).
    assert found(store, f"pid:{value}") == {2, 3, 4, 5, 6, 7}
    assert found(store, f"processid:{value}") == {3, 4, 5, 7}
    assert found(store, f"NewProcessId:{value}") == {2}


def test_pid_alias_reaches_the_system_process_id(store: Store) -> None:
    assert found(store, "pid:5000") == {12}
    assert found(store, "pid:0x1388") == {12}
    assert found(store, "processid:0x0000000000001388") == {12}


def test_handle_and_logon_aliases(store: Store) -> None:
    assert found(store, "handle:0x11ac") == {3, 4, 5, 6}
    assert found(store, "handle:4524") == {3, 4, 5, 6}
    assert found(store, "logon:0x3E7A1") == {1, 2}


# -- strings and globs -----------------------------------------------------------------------


def test_values_are_whole_and_case_insensitive(store: Store) -> None:
    assert found(store, "user:dadmin") == {1, 2, 3}
    assert found(store, "USER:DadMin") == {1, 2, 3}
    assert found(store, "user:dad") == set()
    assert found(store, r"image:c:\windows\system32\RUNDLL32.EXE") == {2, 3, 7}
    assert found(store, "image:rundll32.exe") == set()
    assert found(store, "user:S-1-5-18") == {1, 11}


def test_field_names_are_case_insensitive_and_any_name_is_a_field(store: Store) -> None:
    assert found(store, r"ObjectName:C:\secret\passwords.txt") == {3, 4}
    assert found(store, r"OBJECTNAME:c:\SECRET\passwords.TXT") == {3, 4}
    assert found(store, "ServiceName:psexesvc") == {11}
    assert found(store, "nosuchfield:x") == set()
    assert found(store, "-nosuchfield:x") == ALL


def test_globs(store: Store) -> None:
    assert found(store, "image:*rundll32*") == {2, 3, 7}
    assert found(store, "image:*RunDll32.exe") == {2, 3, 7}
    assert found(store, "image:C:\\Windows\\System32\\*") == {2, 3, 7, 9}
    assert found(store, "cmd:*mimikatz*") == {8}
    assert found(store, "user:?lice") == {9}
    assert found(store, "user:?adm") == set()
    assert found(store, "ServiceName:*") == {11}


def test_like_metacharacters_in_user_text_are_literal(store: Store) -> None:
    assert found(store, "cmd:*100%_done") == {8}
    assert found(store, "cmd:*mimikatz%*") == set()  # '%' is a literal percent sign
    assert found(store, "cmd:*privilege_*") == set()  # '_' is a literal underscore
    assert found(store, "cmd:*privilege?*") == {8}
    assert found(store, r"ImagePath:%SystemRoot%\PSEXESVC.exe") == {11}
    assert found(store, r"ImagePath:\%SystemRoot%\PSEXESVC.exe") == set()


def test_quoted_values(store: Store) -> None:
    assert found(store, 'provider:"Service Control Manager"') == {11}
    assert found(store, 'cmd:"rundll32.exe shell32.dll,Control_RunDLL"') == {2}
    assert found(store, 'cmd:"mimikatz.exe \\"privilege::debug\\" 100%_done"') == {8}
    assert found(store, 'Path:""') == {12}  # an explicitly empty value


def test_host_channel_provider(store: Store) -> None:
    assert found(store, "host:DC01") == {6, 8}
    assert found(store, "host:dc01.CORP.local") == {6, 8}
    assert found(store, "computer:DC01") == {6, 8}
    assert found(store, "host:DC0") == set()
    assert found(store, "host:ws0?") == {9, 11, 12}
    assert found(store, "host:ws*.corp.local") == {1, 2, 3, 4, 5, 7, 10}
    assert found(store, "-computer:DC01") == ALL - {6, 8}
    assert found(store, "channel:system") == {11}
    assert found(store, "channel:*powershell*") == {12}
    assert found(store, "provider:microsoft-windows-eventlog") == {10}


def test_non_mirrored_system_fields_use_their_columns(store: Store) -> None:
    assert found(store, "level:5") == {12}
    assert found(store, "Level:4") == {11}
    assert found(store, "-level:5") == ALL - {12}  # includes record 10, which has no level at all
    assert found(store, "task:12544") == ALL
    assert found(store, "threadid:100") == ALL


def test_file_and_source(store: Store) -> None:
    assert found(store, "file:security.evtx") == ALL - {11, 12}
    assert found(store, "file:*.xml") == {11, 12}
    assert found(store, r"source:C:\cases\*") == {11, 12}
    assert found(store, "file:/logs/Security.evtx") == ALL - {11, 12}
    assert found(store, "file:Security") == set()


# -- time ------------------------------------------------------------------------------------


def test_after_and_before(store: Store) -> None:
    assert found(store, "after:2015-11-12") == {2, 3, 4, 5, 6, 7, 8, 9, 11, 12}
    assert found(store, "before:2015-11-12T02:00") == {1, 2}  # before is exclusive
    assert found(store, "after:2015-11-12T02:00:00") == {3, 4, 5, 6, 7, 8, 9, 11, 12}  # after inclusive
    assert found(store, "after:2015-11-12T02:00:00.1Z") == {4, 5, 6, 7, 8, 9, 11, 12}
    assert found(store, "after:2015-11-12T02:00 before:2015-11-12T03:00") == {3, 4, 5}
    assert found(store, "after:2015-11-12T03:00+01:00 before:2015-11-12T02:00:00.4Z") == {3}
    assert found(store, 'before:"2015-11-12 01:00:00.0000001"') == {1, 2}
    # NOT is the exact complement, so the event without a time is "not after".
    assert found(store, "-after:2015-11-12") == {1, 10}


# -- boolean structure -----------------------------------------------------------------------


def test_the_design_example(store: Store) -> None:
    query = '4688 user:dadmin image:*rundll32* -computer:DC01 after:2015-11-12T00:30 "shell32"'
    assert found(store, query) == {2}
    assert found(store, query.replace("-computer:DC01", "computer:DC01")) == set()
    assert found(store, query.replace("00:30", "01:30")) == set()


def test_and_or_not(store: Store) -> None:
    assert found(store, "4688 OR 4689") == {2, 7, 8, 9}
    assert found(store, "4688 or 4689") == {2, 7, 8, 9}
    assert found(store, "4688 host:DC01") == {8}
    assert found(store, "4688 AND host:DC01") == {8}
    assert found(store, "4688 and host:dc01") == {8}
    assert found(store, "-4688") == ALL - {2, 8, 9}
    assert found(store, "NOT 4688") == ALL - {2, 8, 9}
    assert found(store, "not not 4688") == {2, 8, 9}
    assert found(store, "-(4688 OR 4689)") == ALL - {2, 7, 8, 9}
    assert found(store, "4688 -host:DC01") == {2, 9}


def test_precedence_not_over_and_over_or(store: Store) -> None:
    assert found(store, "4689 OR 4688 host:DC01") == {7, 8}
    assert found(store, "4689 OR 4688 AND host:DC01") == {7, 8}
    assert found(store, "(4689 OR 4688) host:DC01") == {8}
    assert found(store, "host:DC01 4688 OR 4689") == {7, 8}
    assert found(store, "NOT 4688 AND host:DC01") == {6}
    assert found(store, "NOT (4688 AND host:DC01)") == ALL - {8}


def test_parentheses_inside_words_stay_in_the_word(store: Store) -> None:
    assert found(store, "(cmd:*Control_RunDLL)") == {2}
    assert found(store, "(image:*rundll32.exe OR cmd:*(x)*)") == {2, 3, 7}


# -- free text -------------------------------------------------------------------------------


def test_free_text(store: Store) -> None:
    assert found(store, "mimikatz") == {8, 12}
    assert found(store, "MIMIKATZ") == {8, 12}
    assert found(store, '"Invoke-Mimikatz"') == {12}
    assert found(store, '"passwords.txt"') == {3, 4}
    assert found(store, '"privilege::debug"') == {8}
    assert found(store, "corp.local") == ALL - {9, 11, 12}  # the computer
    assert found(store, '"PowerShell/Operational"') == {12}  # the channel
    assert found(store, '"control manager"') == {11}  # the provider
    assert found(store, '"S-1-5-18"') == {1, 11}  # EventData (1) and the System UserID (11)
    assert found(store, '-"corp.local"') == {9, 11, 12}  # the exact complement
    assert found(store, "mimi*creds") == {12}
    assert found(store, '"and"') == {11}  # quoted, a keyword is text: "demand start"


def test_free_text_finds_values_whatever_their_json_escaping(store: Store) -> None:
    # The store's `data` JSON escapes backslashes, quotes and control characters: the cheap
    # prefilter over it must not lose these values.
    assert found(store, r'"C:\secret\pass"') == {3, 4}
    assert found(store, r'"\"privilege::debug\" 100%_"') == {8}
    assert found(store, '"C:?secret"') == {3, 4}
    assert found(store, '"security\taccount"') == {5}  # a real tab, inside quotes
    assert found(store, r'"security\taccount"') == set()  # backslash-t is not a tab
    assert found(store, '"ÖL"') == {1}
    assert found(store, '"KÖLN"') == {1}


def test_an_unquoted_drive_path_is_free_text_not_a_field(store: Store) -> None:
    assert found(store, r"C:\secret\passwords.txt") == {3, 4}
    assert found(store, r"c:\users\bob -4688") == set()
    assert found(store, r"c:\users\bob") == {8}


def test_free_text_is_a_substring_of_a_value_not_of_a_field_name(store: Store) -> None:
    assert found(store, "ScriptBlockText") == set()
    assert found(store, "mimikatz -host:DC01") == {12}


def test_negated_free_text_keeps_events_without_a_user_sid(tmp_path: Path) -> None:
    """`-"evil"` is the exact complement of `"evil"`: an event with no System UserID (most
    Security events) that does not hold the text must still be listed."""
    with Store(tmp_path / "events.db") as store:
        store.add_source("/logs/a.xml", "xml")
        store.add_events(
            [
                Event(0, 1, 1, None, 4688, computer="WS1", data=(("CommandLine", "cmd.exe"),)),
                Event(0, 2, 2, None, 4688, computer="WS1", data=(("CommandLine", "evil.exe"),), user_sid="S-1-5-18"),
                Event(0, 3, 3, None, 4688, computer="WS1", data=(("CommandLine", "evil.exe"),)),
            ]
        )
        store.build_indexes()
        assert found(store, '"evil"') == {2, 3}
        assert found(store, '-"evil"') == {1}
        assert found(store, "NOT evil") == {1}
        assert found(store, '-"S-1-5-18"') == {1, 3}


# -- safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'user:"x\' OR 1=1 --"',
        "user:x'--",
        'cmd:"x\'); DROP TABLE events; --"',
        '"\'; DELETE FROM postings; --"',
        'image:"%"',
        'ObjectName:") OR 1=1 OR ("',
    ],
)
def test_injection_attempts_match_nothing_and_harm_nothing(store: Store, query: str) -> None:
    compiled = compile_query(query)
    assert found(store, query) == set()
    assert store.count() == len(EVENTS)
    assert "'" not in compiled.sql.replace("ESCAPE '\\'", "")  # user text is never in the SQL


def test_user_text_only_travels_as_parameters(store: Store) -> None:
    query = 'cmd:"x\' OR 1=1 --"'
    assert "1=1" not in compile_query(query).sql
    assert found(store, '"x\' OR 1=1 --"') == {9}  # the text is searched for, literally


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("4688 (user:x", "unclosed '('", 5),
        ("((4688)", "unclosed '('", 0),
        ("4688 user:x)", "unexpected ')'", 11),
        ("(4688))", "unexpected ')'", 6),
        (")", "unexpected ')'", 0),
        ("()", "empty parentheses", 0),
        ("4688 AND", "nothing after 'AND'", 5),
        ("4688 or", "nothing after 'or'", 5),
        ("NOT", "nothing after 'NOT'", 0),
        ("(4688 AND)", "nothing after 'AND'", 6),
        ("4688 AND OR 4689", "unexpected 'OR'", 9),
        ("OR 4688", "unexpected 'OR'", 0),
        ("and", "unexpected 'and'", 0),
        ("- 4688", "'-' must be followed by a term", 0),
        ("4688 -", "'-' must be followed by a term", 5),
        ("user:", "missing value after 'user:'", 5),
        ("4688 user: x", "missing value after 'user:'", 10),
        ("(pid:)", "missing value after 'pid:'", 5),
        (":x", "missing field name before ':'", 0),
        ('cmd:"abc', "unterminated quote", 4),
        ('4688 "abc', "unterminated quote", 5),
        ('""', "empty search text", 0),
        ("after:2015-13-45", "bad date '2015-13-45' (use 2015-11-12 or 2015-11-12T02:00:00)", 6),
        ("4688 before:yesterday", "bad date 'yesterday' (use 2015-11-12 or 2015-11-12T02:00:00)", 12),
        ("after:2015-11-12T25:00", "bad date '2015-11-12T25:00' (use 2015-11-12 or 2015-11-12T02:00:00)", 6),
        ("id:4688,x", "'x' is not a number", 8),
        ("id:4688,,4689", "empty list item", 8),
        ("9" * 45, f"'{'9' * 45}' is out of range", 0),
        ("user:ab\ud800", "invalid character", 7),
    ],
)
def test_errors_carry_message_and_position(query: str, message: str, position: int) -> None:
    err = error(query)
    assert (err.message, err.position) == (message, position)
    assert str(err) == f"{message} at position {position}"


def test_error_str_format() -> None:
    assert str(error("4688 user:x)")) == "unexpected ')' at position 11"


def test_hostile_sizes_are_query_errors_not_crashes() -> None:
    deep = "(" * (MAX_DEPTH + 5) + "4688" + ")" * (MAX_DEPTH + 5)
    assert "nested deeper" in error(deep).message
    assert "nested deeper" in error("-" * 5000 + "4688").message
    assert "terms" in error(" ".join(["4688"] * (MAX_TERMS + 1))).message
    assert "longer than" in error("a" * 20_000).message
    assert "values in a list" in error("id:" + ",".join(["1"] * 2000)).message
    # Just inside the limits still compiles.
    compile_query("(" * (MAX_DEPTH - 1) + "4688" + ")" * (MAX_DEPTH - 1))
    compile_query(" OR ".join(["4688"] * MAX_TERMS))


# -- the store contract and the query plans -------------------------------------------------


def test_mirrored_system_fields_match_what_the_store_writes(tmp_path: Path) -> None:
    full = Event(
        source=0,
        record_number=1,
        record_id=1,
        filetime=1,
        event_id=1,
        version=1,
        level=1,
        task=1,
        opcode=1,
        keywords="0x1",
        channel="c",
        provider="p",
        computer="h",
        pid=1,
        tid=1,
        user_sid="S-1-5-18",
    )
    with Store(tmp_path / "s.db") as st:
        st.add_events([full])
        written = {str(r[0]) for r in st.conn.execute("SELECT DISTINCT name FROM postings")}
    assert written & set(SYSTEM_FIELDS) == MIRRORED_SYSTEM_FIELDS


def _plan(store: Store, query: str) -> str:
    compiled = compile_query(query)
    rows = store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE {compiled.sql} ORDER BY e.ts, e.record_id LIMIT 100",
        compiled.params,
    ).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("pid:0xc8c", "postings_num"),
        ("user:dadmin", "postings_value"),
        (r"image:C:\Windows\*", "postings_value"),
        ("handle:0x11ac", "postings_num"),
        ("4688 user:dadmin", "postings_value"),
        ("4688", "events_eid"),
        ("after:2015-11-12T02:00 before:2015-11-12T03:00", "events_time"),
    ],
)
def test_queries_are_driven_by_an_index(store: Store, query: str, index: str) -> None:
    plan = _plan(store, query)
    assert index in plan, plan
    assert "SCAN p" not in plan, plan  # the posting lists are looked up, never scanned


def test_free_text_searches_distinct_values_not_events(store: Store) -> None:
    """EventData values are searched in `postings`, System values in `strings`, and events are
    only visited for a System value that matched (strings is the outer loop)."""
    lines = _plan(store, '"passwords.txt"').splitlines()
    # EventData values are matched in the index (no list read), and only matching rows fetched.
    assert any(line.startswith("SCAN postings USING COVERING INDEX postings_value") for line in lines), lines
    assert "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)" in lines, lines
    assert "SCAN p" not in lines, lines
    outer = next(i for i, line in enumerate(lines) if line.startswith("SCAN t"))
    inner = next(i for i, line in enumerate(lines) if line.startswith(("SCAN s", "SEARCH s")))
    assert outer < inner, lines


def test_time_ordered_reads_stream_instead_of_sorting(tmp_path: Path) -> None:
    """Findings and exports read every 4688/4689 in time order: the planner must scan the time
    index rather than sort the matching rows in memory (with sampled statistics it misjudged
    EventID selectivity and sorted a million rows: memory grew with the log)."""
    from core.store.store import SELECT_COLUMNS

    with Store(tmp_path / "s.db") as st:
        st.add_source("a.evtx", "evtx")
        st.add_events(
            Event(0, i, i, _t("2015-11-12T00:00:00Z") + i * 10_000_000, (4688, 4689, 4624, 4663)[i % 4],
                  computer=WS01, data=(("ProcessId", "0x2bc"),))
            for i in range(1, 40_000)
        )
        st.build_indexes()
        sql = f"SELECT {SELECT_COLUMNS} FROM events e WHERE e.event_id IN (?, ?) ORDER BY {Order.TIME.value}"
        plan = " / ".join(str(r[-1]) for r in st.conn.execute("EXPLAIN QUERY PLAN " + sql, (4688, 4689)))
        assert "events_time" in plan and "TEMP B-TREE" not in plan, plan
