"""A built model holds each session once: the scan's working copies are dropped when the sessions
are frozen (the model keeps the session tracker to link events outside the scan, and it used to
keep every session twice with it), and the answers given afterwards are the scan's own."""

from __future__ import annotations

import gc

from core.correlate.model import build_model
from core.correlate.processes import Ref
from core.correlate.session_columns import SessionColumns
from tests.correlate.events import by_record, load, s4624, xml
from tests.correlate.heap import reachable

SESSIONS = 40


def _log() -> list[str]:
    docs = []
    for i in range(SESSIONS):
        lid = f"0x{0x4a5000 + i:x}"
        docs.append(s4624(2 * i + 1, float(i), lid, user=f"user{i}"))
        docs.append(xml(4672, 2 * i + 2, i + 0.001, SubjectLogonId=lid, SubjectUserName=f"user{i}",
                        SubjectDomainName="DOM"))
    # An event outside the scan (a 4648), linked to its session after the model is built.
    docs.append(xml(4648, 1000, 7.5, SubjectLogonId=f"0x{0x4a5000 + 7:x}", SubjectUserName="user7",
                    SubjectDomainName="DOM", TargetServerName="srv"))
    return docs


def test_the_model_keeps_no_working_copy_of_its_sessions() -> None:
    events = load(*_log())
    model = build_model(events)
    gc.collect()
    assert len(model.sessions) == SESSIONS
    assert not [o for o in reachable(model) if isinstance(o, SessionColumns)]
    assert all(s.privileged for s in model.sessions)
    c = model.correlate(by_record(events, 1000))
    assert c.session is not None and c.session.session is model.sessions[7]
    assert (c.session.confidence, c.session.reason, c.session.user) == ("exact", "logon 4624 record 15", "DOM\\user7")
    privileges = model.correlate(by_record(events, 16)).session
    assert privileges is not None and privileges.session is model.sessions[7]


def test_a_session_keeps_its_events_as_positions() -> None:
    events = load(*_log(), xml(4634, 1001, 8.0, TargetLogonId=f"0x{0x4a5000 + 3:x}", TargetUserName="user3",
                               TargetDomainName="DOM"))
    model = build_model(events)
    refs = {f.ref.record_id: f.ref for f in model._facts}
    session = model.sessions[3]
    assert not [held for held in gc.get_referents(session) if isinstance(held, Ref)]
    assert session.logon == refs[7] and session.privileges == refs[8] and session.privileged
    assert list(session.logoffs) == [refs[1001]] and session.end == refs[1001]
    assert session.duration == 5.0
    assert model.sessions[4].logoffs == () and model.sessions[4].end is None
