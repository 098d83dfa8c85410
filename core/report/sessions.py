"""Logon sessions as flat records: the one shape the CLI's JSON and any export of sessions use.

A session's fields are what an analyst reads off a 4624 and its companions (logon type with its
name, source address and workstation, packages, logon process, privileged by a 4672 or an
elevated token, start, end or "still open", duration, account, linked logon) plus how many
processes were started in it. Values are exact log text (JSON escapes it; a terminal writer
must escape it with `printable`); ids are integers beside their Windows hex form.
"""

from __future__ import annotations

from typing import Any

from core.correlate.model import CorrelationModel
from core.correlate.processes import Ref
from core.correlate.sessions import Session, logon_type_name
from core.model.event import iso_from_filetime
from core.model.values import hex_id

#: What `end` says of a session without a 4634 or 4647 in the log.
STILL_OPEN = "still open at end of log"


def _hex(value: int | None) -> str | None:
    return None if value is None else hex_id(value)


def _time(ref: Ref | None) -> str | None:
    return iso_from_filetime(ref.filetime) if ref is not None else None


def session_fields(session: Session | None) -> dict[str, Any]:
    """The session's own fields (every key present, None when there is no session: a
    well-known or missing logon), in a stable order for scripts."""
    s = session
    end = s.end if s is not None else None
    return {
        "computer": s.computer if s is not None else None,
        "user_sid": s.user_sid if s is not None else None,
        "logon_type": s.logon_type if s is not None else None,
        "logon_type_name": (logon_type_name(s.logon_type) or None) if s is not None else None,
        "ip": s.ip if s is not None else None,
        "workstation": s.workstation if s is not None else None,
        "auth_package": s.auth_package if s is not None else None,
        "lm_package": s.lm_package if s is not None else None,
        "logon_process": s.logon_process if s is not None else None,
        "privileged": s.privileged if s is not None else None,
        "privileges_record_id": s.privileges.record_id if s is not None and s.privileges is not None else None,
        "elevated_token": s.elevated_token if s is not None else None,
        "start": _time(s.logon) if s is not None else None,
        "end": _time(end),
        "end_event_id": end.event_id if end is not None else None,
        "end_record_id": end.record_id if end is not None else None,
        "still_open": (end is None) if s is not None else None,
        "duration_seconds": s.duration if s is not None else None,
        "linked_logon_id": s.linked_logon_id if s is not None else None,
        "linked_logon_id_hex": _hex(s.linked_logon_id) if s is not None else None,
        "process_count": len(s.processes) if s is not None else None,
    }


def session_record(model: CorrelationModel, session: Session) -> dict[str, Any]:
    """One session as a listing shows it: its logon id, account and 4624 record, its fields
    (`session_fields`), and the processes started in it (pid, image, creation record)."""
    procs = [model.processes[i] for i in session.processes]
    return {
        "logon_id": session.logon_id,
        "logon_id_hex": _hex(session.logon_id),
        "user": session.user,
        "record_id": session.logon.record_id if session.logon is not None else None,
        **session_fields(session),
        "processes": [
            {
                "pid": p.pid,
                "pid_hex": _hex(p.pid),
                "image": p.image,
                "record_id": (p.created or p.sysmon_created or p.first_seen).record_id,
                "event_id": (p.created or p.sysmon_created or p.first_seen).event_id,
            }
            for p in procs
        ],
    }
