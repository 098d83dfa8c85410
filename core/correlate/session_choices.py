"""The session answers of a model's events, held in columns and made again when read.

The facts table gives each event with a logon id one of the distinct answers `SessionTracker`
made (`SessionChoice`): about two per session, each with its reason worded ("logon 4624 record
81234"). Held as objects they were 8 MB of the model at ten million events (107,000 answers, a
string each) and stayed for the model's life. Here an answer is a row of five numbers: its logon
id and session index (`Ints`: exact whatever their size), its confidence and user by number among
the distinct ones, and its reason as a `NoteCodes` code (the tracker's templates: a number in the
code, an odd text kept as text). A row read back is equal to the answer appended.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Final

from core.correlate.columns import Index
from core.correlate.note_codes import NoteCodes
from core.correlate.session_columns import Ints
from core.correlate.sessions import REASONS, SessionChoice

#: Answers `Choices.__getitem__` keeps made (emptied when full): an event's neighbours in a chunk
#: mostly share its session.
MADE: Final = 4096


class Choices:
    """Distinct `SessionChoice`s numbered as appended (see the module doc)."""

    __slots__ = ("_confidence", "_confidences", "_lid", "_made", "_reason", "_reasons", "_session", "_user",
                 "_users")

    def __init__(self) -> None:
        self._lid = Ints()
        self._session = Ints()
        self._confidences: Index[str] = Index()
        self._confidence = array("b")
        self._reasons = NoteCodes(REASONS)
        self._reason = array("q")
        self._users: Index[str | None] = Index()
        self._user = array("i")
        self._made: dict[int, SessionChoice] = {}

    def __len__(self) -> int:
        return len(self._reason)

    def append(self, choice: SessionChoice) -> int:
        """Keep `choice`; its number."""
        at = len(self._reason)
        self._lid.append(choice.logon_id)
        self._session.append(choice.session)
        self._confidence.append(self._confidences[choice.confidence])
        self._reason.append(self._reasons.code(choice.reason))
        self._user.append(self._users[choice.user])
        return at

    def __getitem__(self, at: int) -> SessionChoice:
        """The answer numbered `at` (a new object, equal to the one appended)."""
        made = self._made.get(at)
        if made is not None:
            return made
        if not 0 <= at < len(self._reason):
            raise IndexError(at)
        lid = self._lid[at]
        reason = self._reasons.text(self._reason[at])
        assert lid is not None and reason is not None  # (appended from a `SessionChoice`)
        user = self._user[at]
        made = SessionChoice(lid, self._session[at], self._confidences.distinct[self._confidence[at]], reason,
                             self._users.distinct[user] if user >= 0 else None)
        if len(self._made) >= MADE:
            self._made.clear()
        self._made[at] = made
        return made

    def lookup(self, numbers: Iterable[int]) -> dict[int, SessionChoice | None]:
        """The answers of `numbers` by number (-1: None): a chunk's, looked up at C speed."""
        out: dict[int, SessionChoice | None] = {-1: None}
        for at in set(numbers):
            if at >= 0:
                out[at] = self[at]
        return out
