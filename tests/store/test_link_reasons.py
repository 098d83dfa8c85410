"""The links' reasons deduplicated as they are written (`correlation_links._write_links`):
looked up a chunk at a time, they get the ids one by one gave them, also when the reasons
remembered are forgotten part way through a chunk (REASONS_KEPT)."""

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
        rows.append((store_id, role, kind, instance, confidence, rid))
    return texts, rows


@pytest.mark.parametrize("kept", [3, 8, 1000])
def test_reason_ids_are_those_one_by_one_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int) -> None:
    monkeypatch.setattr(correlation_tables, "CHUNK", 7)
    monkeypatch.setattr(correlation_links, "REASONS_KEPT", kept)
    rng = random.Random(18)
    links = [(sid, "session", "session", rng.choice([None, 1, 2]), "exact", f"reason {rng.randrange(12)}")
             for sid in range(1, 400)]
    with Store(tmp_path / "s.sqlite") as store:
        assert correlation_tables.write_instances(store, correlation_tables.CorrelationTables(links=links))
        texts = store.conn.execute("SELECT id, text FROM corr_reason ORDER BY id").fetchall()
        rows = store.conn.execute("SELECT store_id, role, kind, instance, confidence, reason FROM corr_link"
                                  " ORDER BY rowid").fetchall()
        assert (texts, rows) == _one_by_one(links, kept)
        assert correlation_links.links_of(store, 5) == [links[4][1:]]
