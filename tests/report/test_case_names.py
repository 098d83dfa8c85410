"""Marks on the events of a log whose file name is not UTF-8 (a POSIX name may be any bytes;
Python holds the others as lone surrogates). Saving such a mark ended the app with a
UnicodeEncodeError: the case file is UTF-8 JSON. The name is now written as JSON's `\\udcff`
escape and reads back as the same path; and whatever makes a save fail, the app's case keys
say so in a notification instead of raising into the UI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from core.report.case import Case
from core.store.store import StoredEvent
from tests.report.case_logs import build_store, write_input
from tui import case_actions

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")

ODD = os.fsdecode(b"Security-\xff\x1b]0;T\x07.xml")


def test_a_mark_on_a_log_whose_name_is_not_utf8_saves_and_reads_back(tmp_path: Path) -> None:
    log = write_input(tmp_path, ODD)
    store = build_store(tmp_path / "a.sqlite", log)
    case = Case.for_inputs([str(log)], tmp_path / "case.json")
    case.bind(store)
    event = store.select()[1]
    case.mark(event)
    case.set_note(event, "seen")
    raw = (tmp_path / "case.json").read_bytes()
    raw.decode("utf-8")  # (strict UTF-8, no raw control character: the escapes stand for them)
    assert b"\\udcff" in raw and b"\x1b" not in raw

    again = Case.for_inputs([str(log)], tmp_path / "case.json")
    assert again.warnings == []
    [mark] = again.marks()
    assert mark.source_path == os.path.realpath(log) and mark.note == "seen"
    assert again.inputs == [os.path.realpath(log)]
    again.bind(store)
    assert again.is_marked(event) and list(again.resolve(store)) == [event.id]


class _Workspace:
    def __init__(self, case: Case, event: StoredEvent, store_path: Path) -> None:
        self.case, self.event, self.store_path = case, event, store_path

    def selection(self) -> StoredEvent:
        return self.event


class _App:
    """What the case keys use of the app: notifications, messages, the screens."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.screen_stack: list[Any] = []

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notes.append((message, kwargs))

    def post_message(self, message: Any) -> None:
        pass


def _key_setup(tmp_path: Path) -> tuple[_App, _Workspace, Case]:
    log = write_input(tmp_path, ODD)
    build_store(tmp_path / "a.sqlite", log).close()
    from core.store.store import Store

    with Store(tmp_path / "a.sqlite", readonly=True) as store:
        event = store.select()[0]
    case = Case.for_inputs([str(log)], tmp_path / "case.json")
    return _App(), _Workspace(case, event, tmp_path / "a.sqlite"), case


def test_the_mark_key_saves_such_a_mark(tmp_path: Path) -> None:
    app, ws, case = _key_setup(tmp_path)
    case_actions.toggle_mark(app, ws)  # type: ignore[arg-type]  # (the parts of App/Workspace it uses)
    assert [n for n, kw in app.notes if kw.get("severity") == "error"] == []
    assert len(Case.for_inputs(case.inputs, tmp_path / "case.json")) == 1


def test_a_failed_save_is_a_notification_never_an_exception(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only OSError: any failure to write the case is said, escaped, and the app goes on."""
    app, ws, case = _key_setup(tmp_path)

    def broken() -> bytes:
        raise ValueError(f"cannot write {ODD}")  # (no OSError, and its text is hostile)

    monkeypatch.setattr(case, "to_bytes", broken)
    case_actions.toggle_mark(app, ws)  # type: ignore[arg-type]
    [(message, kwargs)] = app.notes
    assert message.startswith("could not save the case") and kwargs["severity"] == "error"
    assert "\x1b" not in message and "\\x1b" in message and kwargs.get("markup") is False
