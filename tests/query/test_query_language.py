"""The less surprising query language (issue 15): dash-words are text, `image:` is the process's
own image, KQL value lists, unknown field names named, and the reference text."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model.event import Event
from core.query.compile import compile_query
from core.query.lexer import QueryError
from core.query.reference import query_reference
from core.store.store import Store
from tests.cliutil import run_cli

CMD = "C:\\Windows\\System32\\cmd.exe"
PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
EVENTS: list[tuple[int, dict[str, str]]] = [
    (4688, {"NewProcessName": PS, "ParentProcessName": CMD, "CommandLine": "powershell -enc SQBFAFgA",
            "SubjectUserName": "alice"}),
    (4688, {"NewProcessName": PS, "ParentProcessName": CMD, "CommandLine": "powershell -w hidden -nop",
            "SubjectUserName": "bob"}),
    (4688, {"NewProcessName": CMD, "ParentProcessName": "C:\\Windows\\explorer.exe", "CommandLine": "cmd.exe",
            "SubjectUserName": "carol"}),
    (4688, {"NewProcessName": "C:\\x\\chrome.exe", "ParentProcessName": "C:\\x\\chrome.exe",
            "CommandLine": "chrome.exe --headless --disable-gpu", "SubjectUserName": "alice"}),
    (4689, {"ProcessName": CMD, "SubjectUserName": "carol"}),
    (4624, {"TargetUserName": "bob", "LogonType": "3"}),
    (4625, {"TargetUserName": "eve*", "LogonType": "3"}),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(tmp_path_factory.mktemp("lang") / "l.db")
    s.add_source("x.xml", "xml")
    s.add_events([Event(source=0, record_number=i, record_id=i, filetime=None, event_id=eid, computer="WS01",
                        data=tuple(data.items())) for i, (eid, data) in enumerate(EVENTS, 1)])
    s.build_indexes()
    return s


def found(store: Store, query: str) -> set[int | None]:
    c = compile_query(query, store.field_names())
    return {se.event.record_id for se in store.select(c)}


def test_a_dash_before_a_plain_word_searches_for_the_flag(store: Store) -> None:
    assert found(store, "4688 -enc") == {1}  # was: every 4688 but one (a silent negation)
    assert found(store, "-w hidden") == {2}  # was: nothing
    assert found(store, "--headless") == {4}
    assert found(store, "-nop") == {2}


def test_a_dash_still_negates_fields_groups_quotes_and_event_ids(store: Store) -> None:
    assert found(store, "4688 -user:alice") == {2, 3}
    assert found(store, "-4688") == {5, 6, 7}
    assert found(store, "-(4688 OR 4689)") == {6, 7}
    assert found(store, '4688 -"hidden"') == {1, 3, 4}
    assert found(store, "4688 NOT enc") == {2, 3, 4}  # `NOT word` negates a plain word
    assert found(store, "--4689") == {5}  # double negation of an EventID


def test_image_is_the_process_itself_and_parent_its_parent(store: Store) -> None:
    assert found(store, "image:*cmd*") == {3, 5}  # not the powershell.exe that cmd.exe started
    assert found(store, "parent:*cmd*") == {1, 2}
    assert found(store, "image:*powershell* parent:*cmd.exe") == {1, 2}
    assert found(store, "cmd:*-enc*") == {1}


def test_value_lists(store: Store) -> None:
    assert found(store, "user:(alice OR bob)") == {1, 2, 4, 6}
    assert found(store, "id:(4624 OR 4625)") == {6, 7}
    assert found(store, 'SubjectUserName:(carol "alice")') == {1, 3, 4, 5}
    assert found(store, "-user:(alice OR bob) 4688") == {3}
    assert found(store, "user:(x OR eve[*])") == {7}  # `[*]`: a literal star, not a glob
    assert found(store, "user:eve*") == {7}


@pytest.mark.parametrize(("query", "message", "position"), [
    ("user:(", "unclosed value list 'user:('", 5),
    ("4688 user:(alice OR bob", "unclosed value list 'user:('", 10),
    ("user:()", "empty value list", 5),
    ("user:(a OR)", "nothing after 'OR'", 10),
    ("user:(OR a)", "'OR' without a value before it", 6),
    ("user:(a AND b)", "only OR may join the values of 'user:(...)'", 8),
])
def test_bad_value_lists_are_errors_with_position(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert (info.value.message, info.value.position) == (message, position)


def test_unknown_field_names_are_errors_with_the_nearest_names(store: Store) -> None:
    with pytest.raises(QueryError) as info:
        compile_query("4688 usr:alice", store.field_names())
    assert info.value.message == "unknown field 'usr' (did you mean user, usersid?)"
    assert info.value.position == 5
    with pytest.raises(QueryError, match="did you mean commandline"):
        compile_query("NOT CommandLin:x", store.field_names())
    with pytest.raises(QueryError, match="unknown field 'zzz'"):
        compile_query("zzz:1", store.field_names())
    assert found(store, "LogonType:3 host:WS01 level:0 channel:x") == set()  # known: no error
    compile_query("usr:alice")  # without the store's names nothing is known to be missing


def test_reference_text_lists_fields_aliases_operators_and_examples(store: Store) -> None:
    text = query_reference(store.field_names())
    for needle in ("name:(a OR b)", "-enc, -w hidden", "image:", "parent:", "ParentProcessName, ParentImage",
                   "after:, before:", "[*] [?] [[]", "Examples", "newprocessname"):
        assert needle in text, needle
    assert max(len(line) for line in text.splitlines()) < 100


def test_cli_help_query_and_exit_2_for_bad_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTX_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    status, out, _ = run_cli("query", "--help-query")
    assert status == 0 and out.startswith("QUERY LANGUAGE")
    status, out, err = run_cli("query", "demo", "--where", "user:(")
    assert status == 2 and out == ""
    assert err.splitlines()[1:] == ["  user:(", "       ^"]
    status, out, err = run_cli("query", "demo", "--where", "4688 usr:alice")
    assert status == 2 and "did you mean user" in err
    status, out, _ = run_cli("query", "demo", "--where", "4688 -enc", "--format", "jsonl")
    assert status == 0 and out and all("-enc" in line.lower() or "-EncodedCommand" in line for line in out.splitlines())
