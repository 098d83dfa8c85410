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
from core.correlate.processes import Process, Ref
from core.correlate.sessions import WELL_KNOWN, Session, logon_type_name
from core.model.event import iso_from_filetime
from core.model.values import hex_id

#: What `end` says of a session without a 4634 or 4647 in the log.
STILL_OPEN = "still open at end of log"
#: Why a listed logon id has no session (`before_log_record`): a well-known one (SYSTEM...) with
#: no 4624 in its boot, else a logon whose 4624 precedes the log (as the Sessions view says).
WELL_KNOWN_BEFORE_LOG = "well-known session of {}, begins at boot: Windows logs no 4624 for it"
LOGON_BEFORE_LOG = ("no 4624, 4672 or logoff for this logon id on this computer in this log "
                    "(its logon precedes the log)")


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


def process_item(p: Process) -> dict[str, Any]:
    """A process started in a session as the session listings name it: pid, image and the
    record it was created by (its 4688, else its Sysmon 1, else the first event naming it)."""
    ref = p.created or p.sysmon_created or p.first_seen  # (each made from the facts table: read once)
    return {"pid": p.pid, "pid_hex": _hex(p.pid), "image": p.image, "record_id": ref.record_id,
            "event_id": ref.event_id}


#: How many of a session's processes `correlate --json` lists per event (the first ones, in time
#: order; `processes_left_out` counts the rest, `correlate --sessions --json` lists every one):
#: a service account's session may start 100,000s, and `--where 4688` repeats the session of each.
SESSION_PROCESSES_LISTED = 50


def session_processes(model: CorrelationModel, session: Session | None,
                      limit: int = SESSION_PROCESSES_LISTED) -> dict[str, Any]:
    """`processes` (the first `limit` started in the session, `process_item`) and
    `processes_left_out` (how many more), both None without a session (as `session_fields`)."""
    if session is None:
        return {"processes": None, "processes_left_out": None}
    shown = session.processes[:limit]
    return {"processes": [process_item(model.processes[i]) for i in shown],
            "processes_left_out": len(session.processes) - len(shown)}


def session_record(model: CorrelationModel, session: Session) -> dict[str, Any]:
    """One session as a listing shows it: its logon id, account and 4624 record, its fields
    (`session_fields`), and every process started in it (`process_item`); `before_log` False
    and `reason` None (see `before_log_record`)."""
    return {
        "logon_id": session.logon_id,
        "logon_id_hex": _hex(session.logon_id),
        "user": session.user,
        "record_id": session.logon.record_id if session.logon is not None else None,
        **session_fields(session),
        "processes": [process_item(model.processes[i]) for i in session.processes],
        "before_log": False,
        "reason": None,
    }


def before_log_record(computer: str, logon_id: int, processes: list[Process]) -> dict[str, Any]:
    """A logon id with processes but no session in the log, as a listing shows it (the keys of
    `session_record`): a well-known one (SYSTEM 0x3e7...) without a 4624 in its boot, or a logon
    before the log. Its computer, account (a well-known one's), process count and processes are
    known; `before_log` is True and `reason` says why there is no session."""
    account = WELL_KNOWN.get(logon_id)
    fields = session_fields(None)
    fields.update(computer=computer, process_count=len(processes))
    return {
        "logon_id": logon_id,
        "logon_id_hex": _hex(logon_id),
        "user": account,
        "record_id": None,
        **fields,
        "processes": [process_item(p) for p in processes],
        "before_log": True,
        "reason": WELL_KNOWN_BEFORE_LOG.format(account) if account is not None else LOGON_BEFORE_LOG,
    }


def session_records(model: CorrelationModel) -> list[dict[str, Any]]:
    """Every row of the Sessions view as records, in its order: first the logon ids with processes
    but no session (they began before the log; by computer, then logon id: `before_log_record`),
    then every session by its start (`session_start`), equal starts as the model numbered them
    (`session_record`)."""
    _by_session, orphans = model.session_processes()
    records = [before_log_record(computer, lid, procs)
               for (computer, lid), procs in sorted(orphans.items(), key=lambda kv: (kv[0][0].casefold(), kv[0][1]))]
    sessions, starts = model.sessions, model.session_starts()  # (`session_start` of each, in one pass)
    records += [session_record(model, sessions[i]) for i in sorted(range(len(sessions)), key=starts.__getitem__)]
    return records
