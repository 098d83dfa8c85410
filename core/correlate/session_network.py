"""The type-3 (network) logons of a model grouped by source address and computer, for the
"other network logons from this address" of a session's tree (`core.correlate.tree`)."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import islice
from typing import TYPE_CHECKING

from core.correlate.session_frozen import SessionsAt

if TYPE_CHECKING:
    from core.correlate.sessions import Session

#: The type-3 (network) logons by (IP address, computer casefolded): their indexes, in the
#: sessions' order (not the sessions: a model makes its sessions when read, `session_frozen`).
NetworkIndex = dict[tuple[str | None, str], "array[int]"]


def network_index(sessions: Sequence[Session]) -> NetworkIndex:
    """The type-3 logons grouped for `network_logons`: without it each call scans every session
    (9 ms at 5,000 sessions; the event trees of the Handles view, 20,000 of them, spent a third
    of their time there)."""
    index: NetworkIndex = {}
    for s in sessions:
        if s.logon_type == "3":
            index.setdefault((s.ip, s.computer.casefold()), array("q")).append(s.index)
    return index


def network_logons(sessions: Sequence[Session], session: Session,
                   index: NetworkIndex | None = None) -> Sequence[Session]:
    """The other type-3 (network) logons to the same computer from the same (remote) IP address
    (from `index`, `network_index(sessions)`, when given: each read when asked for), the first 1,000."""
    if not session.remote_ip:
        return []
    host = session.computer.casefold()
    if index is not None:
        found = index.get((session.ip, host), ())
        return SessionsAt(sessions, list(islice((i for i in found if i != session.index), 1000)))
    return list(islice((s for s in sessions if s.index != session.index and s.ip == session.ip
                        and s.computer.casefold() == host and s.logon_type == "3"), 1000))
