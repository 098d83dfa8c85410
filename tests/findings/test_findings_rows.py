"""The findings' rows are written a chunk per transaction (`core.store.findings_tables.save`):
the app's writer of the correlation tables never waits long for them, and a write stopped part
way leaves nothing that reads as a result (the rules run again, never a partial answer)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.findings import stored
from core.findings.engine import Finding, FindingsData
from core.store import findings_tables
from core.store.store import Store


def _data(n: int) -> FindingsData:
    return FindingsData([Finding("r", "high", i, i, 4688, "HOST", (1 << 56) - i, f"m{i}", (("F", "v"),), None)
                         for i in range(n)], {"r": "Rule"}, {"r": "high"}, ("built-in",), "digest")


def test_a_write_stopped_part_way_leaves_no_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings_tables, "WRITE_CHUNK", 3)
    meta, rows = stored._encode(_data(10))

    def cut() -> Iterator[findings_tables.Row]:
        for n, row in enumerate(rows):
            if n == 7:
                raise ValueError("not encodable")
            yield row

    with Store(tmp_path / "s.db") as store:
        with pytest.raises(ValueError):
            findings_tables.save(store, "k", meta, cut())
        assert findings_tables.load(store, "k") is None
        assert store.conn.execute("SELECT count(*) FROM findings_rows").fetchone()[0] == 0
        meta, rows = stored._encode(_data(10))
        assert findings_tables.save(store, "k", meta, rows)  # then whole
        found = findings_tables.load(store, "k")
        assert found is not None and found[1] == meta
        assert stored._rows_check(store, found[0], 10, None)


def test_a_result_whose_writer_died_reads_as_none(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        meta, rows = stored._encode(_data(4))
        assert findings_tables.save(store, "k", meta, rows)
        with sqlite3.connect(tmp_path / "s.db") as conn:  # as left by a writer killed before its last chunk
            conn.execute("UPDATE findings_results SET value = x''")
        conn.close()
        found = findings_tables.load(store, "k")
        assert found is not None and stored._decode_meta(found[1]) is None
