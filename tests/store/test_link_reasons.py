"""The links' reasons deduplicated as they are written (`correlation_links._write_links`):
looked up a chunk at a time, they get the ids one by one gave them, also when the reasons
remembered are forgotten part way through a chunk (REASONS_KEPT). A link's words (role, kind,
confidence) are stored as codes, and read back as they were written, a word without a code too."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.store import correlation_links, correlation_tables
from core.store.store import Store

Link = tuple[int, str, str, int | None, str, str]


def _one_by_one(links: list[Link], kept: int) -> tuple[list[object], list[object]]:
    """(reasons, links) as numbered one link at a time, forgetting every reason when `kept` are remembered."""
    reasons: dict[str, int] = {}
    texts: list[object] = []
    rows: list[object] = []
    for store_id, role, kind, instance, confidence, reason in links:
        rid = reasons.get(reason)
        if rid is None:
            if len(reasons) >= kept:
                reasons.clear()
            rid = reasons[reason] = len(texts) + 1
            texts.append((rid, reason))
        rows.append((store_id, correlation_links.ROLES.index(role), correlation_links.KINDS.index(kind), instance,
                     correlation_links.CONFIDENCES.index(confidence), rid))
    return texts, rows


@pytest.mark.parametrize("kept", [3, 8, 1000])
def test_reason_ids_are_those_one_by_one_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int) -> None:
    monkeypatch.setattr(correlation_links, "CHUNK", 7)
    monkeypatch.setattr(correlation_links, "REASONS_KEPT", kept)
    rng = random.Random(18)
    links = [(sid, *rng.choice([("session", "session"), ("source process", "process"), ("target handle", "handle")]),
              rng.choice([None, 1, 2]), rng.choice(correlation_links.CONFIDENCES), f"reason {rng.randrange(12)}")
             for sid in range(1, 400)]
    with Store(tmp_path / "s.sqlite") as store:
        assert correlation_tables.write_instances(store, correlation_tables.CorrelationTables())
        assert correlation_links.write_links(store, links)
        texts = store.conn.execute("SELECT id, text FROM corr_reason ORDER BY id").fetchall()
        rows = store.conn.execute("SELECT store_id, role, kind, instance, confidence, reason FROM corr_link"
                                  " ORDER BY rowid").fetchall()
        assert (texts, rows) == _one_by_one(links, kept)
        assert correlation_links.links_of(store, 5) == [links[4][1:]]


def test_a_word_without_a_code_is_stored_as_itself(tmp_path: Path) -> None:
    links = [(1, "source process", "process", 3, "exact", "a"), (1, "a new role", "a new kind", None, "unsure", "b"),
             (2, "session", "session", 0, "missing", "c")]
    with Store(tmp_path / "s.sqlite") as store:
        assert correlation_tables.write_instances(store, correlation_tables.CorrelationTables())
        assert correlation_links.write_links(store, links)
        assert correlation_links.links_of(store, 1) == [link[1:] for link in links[:2]]
        assert correlation_links.links_of(store, 2) == [links[2][1:]]
        stored = store.conn.execute("SELECT role, kind, confidence FROM corr_link ORDER BY rowid").fetchall()
        assert stored == [(0, 0, 0), ("a new role", "a new kind", "unsure"), (2, 2, 3)]
