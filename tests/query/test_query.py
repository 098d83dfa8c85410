"""The filter language, run against a real (small) store: which events does each query find?

Events are labelled by their EventRecordID (1..12) and every assertion names the exact set of
records a user would see, so a compiler that produces valid but wrong SQL fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event
from core.query.compile import compile_query
from core.store.filter import Filter
from core.store.store import Store
from tests.query.query_events import (
    ALL,
    events_store,  # noqa: F401 - the tests' `store` fixture
    found,
)
from tests.stores import indexed_store

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


def test_pid_alias_leaves_out_the_header_pid_of_the_security_log(store: Store) -> None:
    """Every Security event's Execution ProcessID is lsass (0x2cc here), which writes the audit:
    `pid:` of lsass must find the events about lsass, not the whole Security log. The System
    log's header pid (record 11) is the process that logged, and `processid:` (the header's own
    name) still reads the header everywhere."""
    assert found(store, "pid:0x2cc") == {11}
    assert found(store, "pid:716") == {11}
    assert found(store, "processid:0x2cc") == set(range(1, 12))
    assert found(store, "-pid:0x2cc") == ALL - {11}


def test_pid_alias_leaves_out_sysmons_own_pid(tmp_path: Path) -> None:
    """Sysmon's header pid is its own service on every event: `pid:` reads the EventData ones
    (ProcessId, ParentProcessId, SourceProcessId...), and the header of other channels."""
    sysmon = "Microsoft-Windows-Sysmon/Operational"

    def ev(rid: int, channel: str, pid: int, data: tuple[tuple[str, str], ...]) -> Event:
        return Event(source=0, record_number=rid, record_id=rid, filetime=133_500_000_000_000_000 + rid,
                     event_id=1, channel=channel, provider="p", computer="WS01", pid=pid, tid=1, data=data)

    events = [ev(1, sysmon, 2000, (("ProcessId", "300"), ("ParentProcessId", "2000"))),
              ev(2, sysmon, 2000, (("ProcessId", "301"),)),
              ev(3, "microsoft-windows-sysmon/operational", 2000, (("ProcessId", "302"),)),
              ev(4, "Microsoft-Windows-PowerShell/Operational", 2000, (("Path", ""),)),
              ev(5, "System", 300, ())]
    with indexed_store(tmp_path / "s.db", events) as st:
        assert found(st, "pid:2000") == {1, 4}  # a parent's pid, and PowerShell's own header
        assert found(st, "pid:300") == {1, 5}
        assert found(st, "processid:2000") == {1, 2, 3, 4}


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
