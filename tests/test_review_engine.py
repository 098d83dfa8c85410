"""Engine defects found in review, each pinned by the behaviour an analyst would have seen."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.correlate.model import build_model
from core.model.decode import decode_value
from core.model.event import Event
from core.query.compile import compile_query
from core.report.export import write_rows
from core.store.store import Store
from tests.test_correlate import by_record, load, s4624, xml


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "events.db")
    st.add_source("/logs/a.xml", "xml")
    yield st
    st.close()


def _found(store: Store, query: str) -> set[int | None]:
    compiled = compile_query(query)
    return {se.event.record_id for se in store.select(compiled)}


# -- query language ---------------------------------------------------------------------------


def test_negated_free_text_keeps_events_without_a_user_sid(store: Store) -> None:
    """`-"evil"` is the exact complement of `"evil"`: an event with no System UserID (most
    Security events) that does not hold the text must still be listed."""
    store.add_events(
        [
            Event(0, 1, 1, None, 4688, computer="WS1", data=(("CommandLine", "cmd.exe"),)),
            Event(0, 2, 2, None, 4688, computer="WS1", data=(("CommandLine", "evil.exe"),), user_sid="S-1-5-18"),
            Event(0, 3, 3, None, 4688, computer="WS1", data=(("CommandLine", "evil.exe"),)),
        ]
    )
    store.build_indexes()
    assert _found(store, '"evil"') == {2, 3}
    assert _found(store, '-"evil"') == {1}
    assert _found(store, "NOT evil") == {1}
    assert _found(store, '-"S-1-5-18"') == {1, 3}


# -- logon sessions ---------------------------------------------------------------------------


def _p4672(rid: int, sec: float, lid: str) -> str:
    return xml(4672, rid, sec, SubjectUserSid="S-1-5-21-1-2-3-1104", SubjectUserName="alice",
               SubjectDomainName="DOM", SubjectLogonId=lid, PrivilegeList="SeDebugPrivilege")


def test_4672_logged_just_before_the_4624_of_a_reused_logon_id_marks_the_new_session() -> None:
    """Logon ids are reused after a reboot. Windows logs the 4672 of a logon just before its
    4624 (same time, lower record id); it belongs to that new logon, not to the old session with
    the same id that ended long before."""
    events = load(
        s4624(1, 1.0, "0x4a5af0"),
        xml(4634, 2, 2.0, TargetUserName="alice", TargetDomainName="DOM", TargetLogonId="0x4a5af0", LogonType="3"),
        _p4672(3, 30.0, "0x4a5af0"),
        s4624(4, 30.0, "0x4a5af0", user="bob"),
    )
    model = build_model(events)
    old, new = sorted(model.sessions, key=lambda s: s.logon.key if s.logon else (0, 0))
    assert old.logon is not None and old.logon.record_id == 1
    assert new.logon is not None and new.logon.record_id == 4
    assert not old.privileged
    assert new.privileged and new.privileges is not None and new.privileges.record_id == 3
    link = model.correlate(by_record(events, 3)).session
    assert link is not None and link.session is not None and link.session.logon is not None
    assert link.session.logon.record_id == 4


# -- decoding ---------------------------------------------------------------------------------


def test_logon_id_0x3e6_is_the_anonymous_logon_session() -> None:
    """winnt.h: ANONYMOUS_LOGON_LUID is 0x3e6; IUSER_LUID is 0x3e3."""
    text = decode_value("SubjectLogonId", "0x3e6", 4624)
    assert text is not None and "ANONYMOUS LOGON" in text.upper() and "IUSR" not in text
    iusr = decode_value("TargetLogonId", "0x3e3", 4624)
    assert iusr is not None and "IUSR" in iusr


# -- exports ----------------------------------------------------------------------------------


def test_exports_keep_every_value_of_repeated_eventdata_names(store: Store) -> None:
    """Some events repeat a Data name (and JSON exports give lists): an export must not drop
    the later values."""
    store.add_events([Event(0, 1, 1, None, 5136, computer="DC1",
                            data=(("AttributeValue", "first"), ("AttributeValue", "second"), ("X", "y")))])
    rows = store.select()
    for fmt in ("jsonl", "csv", "md", "table"):
        out = io.StringIO()
        assert write_rows(store, rows, fmt, out) == 1
        assert "first" in out.getvalue() and "second" in out.getvalue(), fmt
    out = io.StringIO()
    write_rows(store, rows, "jsonl", out)
    data = json.loads(out.getvalue())["data"]
    assert data == {"AttributeValue": "first", "AttributeValue[1]": "second", "X": "y"}
