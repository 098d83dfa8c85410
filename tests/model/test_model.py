"""`Event.get`: the first value of a field, whatever the case of its name (fast path included)."""

from __future__ import annotations

import pytest

from core.model.event import Event


def _event(*pairs: tuple[str, str]) -> Event:
    return Event(source=0, record_number=1, record_id=1, filetime=None, event_id=4688, data=pairs)


@pytest.mark.parametrize(
    ("pairs", "name", "expected"),
    [
        ((("CommandLine", "a"), ("Other", "b")), "CommandLine", "a"),
        ((("CommandLine", "a"),), "commandline", "a"),
        ((("commandline", "first"), ("CommandLine", "second")), "CommandLine", "first"),  # first, any case
        ((("X", "1"), ("COMMANDLINE", "first"), ("CommandLine", "second")), "CommandLine", "first"),
        ((("CommandLine", "first"), ("commandline", "second")), "commandline", "first"),
        ((("Data", "1"), ("Data", "2")), "Data", "1"),
        ((("Other", "b"),), "CommandLine", None),
        ((), "CommandLine", None),
        ((("STRASSE", "x"), ("Straße", "y")), "Straße", "y"),  # non-ASCII names keep exact rules
        ((("İd", "dotted"), ("id", "plain")), "id", "plain"),
        ((("NewProcessName", "a"), ("ParentProcessName", "b")), "MandatoryLabel", None),  # miss
        ((("Sub", "a"), ("SUBJECTUSERNAME", "b")), "SubjectUserName", "b"),  # only another case
        ((("k", "ascii"),), "\u212a", "ascii"),  # KELVIN SIGN lower-cases to an ASCII k
        ((("\u212a", "kelvin"),), "K", "kelvin"),
        ((("i\u0307d", "combining"),), "İd", "combining"),  # lower-cases longer than itself
        ((("İD", "upper"),), "i\u0307d", "upper"),
    ],
)
def test_get_returns_the_first_value_of_any_spelling(
    pairs: tuple[tuple[str, str], ...], name: str, expected: str | None
) -> None:
    event = _event(*pairs)
    assert event.get(name) == expected
    # The reference: a plain case-insensitive scan.
    low = name.lower()
    assert expected == next((v for k, v in pairs if k.lower() == low), None)
