"""The model's session answers held in columns (`core.correlate.session_choices`): read back equal
to the answers given, their reasons kept as codes, not strings."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.correlate.model import model_from_store
from core.correlate.processes import EXACT, INFERRED, MISSING
from core.correlate.session_choices import MADE, Choices
from core.correlate.sessions import (
    LOGON_BEFORE_LOG,
    LOGON_JUST_AFTER,
    LOGON_RECORD,
    NO_LOGON_KNOWN,
    USED_AFTER_LOGOFF,
    SessionChoice,
)
from core.store.store import Store
from tests.correlate.heap import reachable


def _answers(rng: random.Random, n: int) -> list[SessionChoice]:
    """Answers as the tracker words them, and odd ones: no record id, ids beyond 64 bits,
    reasons no template words, no session, no user."""
    out = []
    for i in range(n):
        lid = rng.choice([rng.randrange(1 << 32), 0x3E7, (1 << 64) - 1, 1 << 70, -5])
        record = rng.choice([rng.randrange(1 << 40), None, 0])
        reason = rng.choice([
            NO_LOGON_KNOWN.format(lid), LOGON_JUST_AFTER.format(record), USED_AFTER_LOGOFF.format(4634, record),
            LOGON_RECORD.format(record), LOGON_BEFORE_LOG.format(lid), "logon 4624 record 007",
            f"no 4624 for logon 0x{lid:x}: there is no 4624 at all for WS{i}\x1b[31m in this log", ""])
        out.append(SessionChoice(lid, rng.choice([None, i, 1 << 65]), rng.choice([EXACT, INFERRED, MISSING]),
                                 reason, rng.choice([None, f"CORP\\u{i % 7}", ""])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_answers_read_back_equal_to_those_appended(seed: int) -> None:
    answers = _answers(random.Random(seed), 3 * MADE)  # more than it keeps made
    choices = Choices()
    numbers = [choices.append(a) for a in answers]
    assert numbers == list(range(len(answers))) and len(choices) == len(answers)
    assert [choices[n] for n in numbers] == answers
    assert [choices[n] for n in reversed(numbers)] == answers[::-1]
    looked = choices.lookup([5, -1, 5, 7])
    assert looked == {-1: None, 5: answers[5], 7: answers[7]}
    with pytest.raises(IndexError):
        choices[len(answers)]


def test_a_worded_reason_is_held_as_a_number_not_a_string() -> None:
    choices = Choices()
    for record in range(10_000):
        choices.append(SessionChoice(0x1234 + record, record, EXACT, LOGON_RECORD.format(81_000 + record), None))
        choices.append(SessionChoice(0x99, None, MISSING, LOGON_BEFORE_LOG.format(0x99 + record), None))
    assert not choices._reasons._texts.distinct  # noqa: SLF001 - what it holds
    assert choices[2 * 4321].reason == "logon 4624 record 85321"
    assert choices[2 * 4321 + 1].reason == LOGON_BEFORE_LOG.format(0x99 + 4321)


def test_a_model_holds_its_session_answers_without_a_reason_string_each(churn_db: Path) -> None:
    with Store(churn_db, readonly=True) as store:
        model = model_from_store(store)
    choices = model._facts._choices  # noqa: SLF001 - what the model keeps of them
    assert len(choices) > 100
    # Reasons kept as texts (those no template words: the well-known sessions'), and no string
    # but the users the facts table shares and the confidences' words.
    assert len(choices._reasons._texts.distinct) < len(choices) // 20  # noqa: SLF001
    users = set(map(id, model._facts._users.distinct))  # noqa: SLF001
    codes = choices._reasons  # noqa: SLF001
    held = [o for o in reachable(choices, skip=(codes._templates, codes._patterns, choices._confidences))  # noqa: SLF001
            if isinstance(o, str)]
    assert len([o for o in held if id(o) not in users]) < len(choices) // 20
    # Every event's answer as the tracker gave it: read again through the facts, equal.
    answered = [f.session for f in model._facts if f.session is not None]  # noqa: SLF001
    assert len(answered) > 1000
    assert all(type(c) is SessionChoice and c.reason for c in answered)
    assert {c.confidence for c in answered} >= {EXACT}
