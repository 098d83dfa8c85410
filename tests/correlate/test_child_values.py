"""A cached row whose EventData values are not text is noticed by the build's reading child.

Why: the child (`core.correlate.scan_reader`) decodes the store's rows without the table's checks
(`core.model.rows.child_pairs`: they cost it a sixth of its time), so a crafted row whose values
are ints, bytes or None went into the correlation model silently while the table, the exports
and Sigma called it damaged. The child now refuses such a value where it hands it on (one C pass a
batch), says which row on its way out, and the build reads in its own process, checked: the cache
is damaged.
"""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from core.correlate import scan_reader
from core.correlate.model import model_from_store
from core.correlate.roles import scanned_event_ids
from core.store import cache_damage
from core.store.child_process import ChildFailed
from core.store.store import Store

#: Values that are not text, by name (marshal loads each as written).
NOT_TEXT: dict[str, object] = {"an int": 12345, "bytes": b"C:\\x.exe", "a float": 1.5, "None": None, "a tuple": ("a",)}
#: (EventID, field) of the values the child hands on: a process creation's fields as they are, a
#: handle event's as its reader reads them (its account, its object's name, its handle value).
FIELDS = [(4688, "NewProcessName"), (4688, "SubjectLogonId"), (4656, "SubjectUserName"), (4663, "ObjectName"),
          (4658, "HandleId")]


def _crafted_copy(churn: Path, tmp_path: Path, event_id: int, change: Any) -> tuple[Path, int]:
    """A copy of the churn store whose first row of `event_id` holds the pairs `change` makes of
    its own."""
    path = tmp_path / "crafted.sqlite"
    with closing(sqlite3.connect(churn)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
    with closing(sqlite3.connect(path)) as conn, conn:
        sid, blob = conn.execute("SELECT id, data FROM events WHERE event_id = ? ORDER BY ts LIMIT 1",
                                 (event_id,)).fetchone()
        conn.execute("UPDATE events SET data = ? WHERE id = ?", (marshal.dumps(change(marshal.loads(blob))), sid))
    return path, sid


def _with(field: str, value: object) -> Any:
    def change(pairs: tuple[tuple[str, str], ...]) -> tuple[object, ...]:
        assert field in dict(pairs)
        return tuple((name, value if name == field else text) for name, text in pairs)

    return change


def _refused(path: Path) -> str:
    with Store(path, readonly=True) as store, pytest.raises(scan_reader.DamagedRow) as raised:
        for _ in scan_reader.frames(store, scanned_event_ids(), child=True):
            pass
    return str(raised.value)


#: A handle event's reader reads a None as an absent value: not refused (see `_all_text`).
@pytest.mark.parametrize(("event_id", "field", "what"), [
    (event_id, field, what) for event_id, field in FIELDS for what in sorted(NOT_TEXT)
    if what != "None" or event_id == 4688])
def test_the_child_refuses_a_value_it_hands_on_that_is_not_text(
        churn: Path, tmp_path: Path, event_id: int, field: str, what: str) -> None:
    path, sid = _crafted_copy(churn, tmp_path, event_id, _with(field, NOT_TEXT[what]))
    said = _refused(path)
    assert said.startswith("damaged event data in the store: ")
    assert f"(store id {sid})" in said or "(store ids " in said  # (an account: its batch)


def test_the_child_refuses_a_pair_of_one_value(churn: Path, tmp_path: Path) -> None:
    path, sid = _crafted_copy(churn, tmp_path, 4688, lambda pairs: ((pairs[0][0],), *pairs[1:]))
    said = _refused(path)
    assert said.startswith("damaged event data in the store: ValueError: ") and f"(store id {sid})" in said


def test_the_intact_store_is_read_by_the_child_as_before(churn: Path) -> None:
    with Store(churn, readonly=True) as store:
        assert sum(1 for _ in scan_reader.frames(store, scanned_event_ids(), child=True)) > 0


@pytest.mark.parametrize("name", ["an int", "bytes"])
def test_the_build_then_reads_in_process_and_says_the_cache_is_damaged(
        churn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    path, sid = _crafted_copy(churn, tmp_path, 4688, _with("NewProcessName", NOT_TEXT[name]))
    failed: list[str] = []
    real = scan_reader.child_rows

    def watched(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from real(*args, **kwargs)
        except ChildFailed as exc:
            failed.append(str(exc))
            raise

    monkeypatch.setattr(scan_reader, "CHILD_EVENTS", 0)  # (the child for any build)
    monkeypatch.setattr(scan_reader, "cores", lambda: 2)
    monkeypatch.setattr(scan_reader, "child_rows", watched)
    with Store(path, readonly=True) as store:
        assert scan_reader.usable(store, 10**6)
        with pytest.raises(ValueError) as raised:
            model_from_store(store)
    assert cache_damage.is_damage(raised.value)
    [said] = failed
    assert f"(status {scan_reader.DAMAGED_STATUS})" in said
    assert "the reading process met a damaged row: damaged event data in the store: a value that is not text" in said
    assert f"(store id {sid})" in said
