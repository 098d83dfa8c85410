"""The Sessions list's rows in time order, each made when it is read (`SessionRows`).

A busy server's log has hundreds of thousands of logon sessions and the Sessions view lists
every one (it listed the first 20,000): the rows are not made up front (a row holds its
session's processes: 20 MB at 36,000 sessions), only the sessions' order is kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from core.correlate.model import CorrelationModel, session_start
from core.correlate.process_table import ProcessesAt
from core.correlate.session_frozen import SessionsAt, session_computers
from core.correlate.sessions import Session
from tui.session_detail import SessionRow
from tui.words import plural


def session_order(s: Session) -> tuple[tuple[int, int], int]:
    """Where a session's row goes: by its start, then as the model numbered it."""
    return session_start(s), s.index


def sessions_in_order(model: CorrelationModel) -> SessionsAt:
    """The model's sessions sorted by `session_order`, each read when asked for (the model
    makes a session when read: made all at once, a list of them held 15 MB at ten million
    events). Their starts are read from the facts' side file in one pass
    (`CorrelationModel.session_starts`), the pages read given back as it goes: kept, they held
    100 MB at ten million events."""
    sessions = model.sessions
    starts = model.session_starts()
    model.release_pages()
    # A session's index is its place in `sessions`: the stable sort keeps equal starts by index.
    return SessionsAt(sessions, array("q", sorted(range(len(sessions)), key=starts.__getitem__)))


class SessionRows(Sequence[SessionRow]):
    """`session_rows(model)`, each row made when it is read (not kept): a busy server's log has
    hundreds of thousands of sessions, and the list shows every one of them; what is held is
    the sessions' order (an index each) and the rows of logon ids without a session."""

    def __init__(self, model: CorrelationModel) -> None:
        self._procs = model.processes
        self._orphans = orphan_rows(model)
        self._sessions = sessions_in_order(model)

    def __len__(self) -> int:
        return len(self._orphans) + len(self._sessions)

    @overload
    def __getitem__(self, index: int) -> SessionRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[SessionRow]: ...

    def __getitem__(self, index: int | slice) -> SessionRow | list[SessionRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if index < len(self._orphans):
            return self._orphans[index]
        s = self._sessions[index - len(self._orphans)]  # (IndexError past the last)
        return SessionRow(s, s.computer, s.logon_id, ProcessesAt(self._procs, s.processes))

    def __iter__(self) -> Iterator[SessionRow]:
        return (self[i] for i in range(len(self)))


def orphan_rows(model: CorrelationModel) -> list[SessionRow]:
    """The rows of logon ids with processes but no session (`session_rows`' first ones)."""
    _by_session, orphans = model.session_processes()
    return [SessionRow(None, computer, lid, tuple(items))
            for (computer, lid), items in sorted(orphans.items(), key=lambda kv: (kv[0][0].casefold(), kv[0][1]))]


def session_counts(model: CorrelationModel) -> tuple[int, int, int]:
    """How many rows `session_rows` has in all, on how many computers (none made), and how many
    logon, logoff or privilege events name a logon id that is no number (in no session: said)."""
    _by_session, orphans = model.session_processes()
    computers = {c.casefold() for c in (*(computer for computer, _ in orphans), *session_computers(model.sessions))}
    return len(orphans) + len(model.sessions), len(computers), model.unreadable_logons


def status_text(total: int, computers: int, lines: int | None = None, unreadable: int = 0) -> str:
    text = f"{plural(total, 'logon session')} on {plural(computers, 'computer')}"
    if lines is not None and lines != total:  # (a list stored by an older version was cut)
        text += f", {lines:,} shown"
    if unreadable:  # (as `evtx-explorer sessions` says: never lost silently)
        text += f"; {plural(unreadable, 'logon event')} in no session (a logon id that is no number)"
    return text
