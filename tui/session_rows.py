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
from core.correlate.session_frozen import SessionsAt
from core.correlate.sessions import Session
from tui.session_detail import SessionRow


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

