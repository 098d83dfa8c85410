"""The Spark engine against parts whose footer is intact but whose data is not (as
tests/fleet/test_fleet_hostile_parts.py for DuckDB): damaged pages failed the answer with a Py4J
traceback and Spark's Java chain, invalid UTF-8 with a UnicodeDecodeError when the rows were
turned into Python (Spark passes the bytes on to Arrow unchecked). Each part is named, left out,
and the answer is the local engine's without it. One test: one JVM for the run."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apputil import DEMO
from tests.cliutil import run_cli
from tests.fleetutil import require_spark

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One SparkSession (local[2]) for the test run: starting one costs 10-20 s."""
    require_spark()
    from core.fleet.engines import spark_session

    session = spark_session("local[2]", "evtx-explorer tests")
    session.sparkContext.setLogLevel("FATAL")  # (the failed reads are this test's, on purpose)
    yield session
    session.stop()


def _hostile(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The demo converted, its first part's pages overwritten (footer intact), and a part of
    another computer whose `computer` holds bytes that are not UTF-8: (dataset, the two)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = tmp_path / "ds"
    assert run_cli("convert", str(DEMO), "--to", str(ds), "--quiet")[0] == 0
    first, _ = sorted((ds / "events").glob("*/*/*.parquet"))
    table = pq.read_table(first)
    raw = pa.array([b"WS01\xff\xfe.contoso"] * table.num_rows, type=pa.binary())
    at = table.schema.get_field_index("computer")
    table = table.set_column(at, table.schema.field(at), pa.Array.from_buffers(pa.string(), len(raw), raw.buffers()))
    utf8 = ds / "events" / "host=badutf8-00000000" / "day=2024-03-14" / "bad.parquet"
    utf8.parent.mkdir(parents=True)
    pq.write_table(table, utf8)
    data = bytearray(first.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    rnd = random.Random(99)
    for i in range(4, len(data) - 8 - footer):
        data[i] = rnd.randrange(256)
    first.write_bytes(bytes(data))
    return ds, first, utf8


def test_spark_names_and_leaves_out_parts_whose_data_cannot_be_read(tmp_path: Path, spark: Any) -> None:
    from core.fleet import api
    from core.fleet.engines import LocalEngine, SparkEngine

    ds, pages, utf8 = _hostile(tmp_path)
    local = LocalEngine(ds)
    try:
        want_stack, want_processes = api.stack(local, "", "computer", limit=None), api.processes(local)
    finally:
        local.close()
    for answer, want in (("stack", want_stack), ("processes", want_processes)):
        lines: list[str] = []
        engine = SparkEngine(ds, session=spark, report=lines.append)
        try:
            got = api.stack(engine, "", "computer", limit=None) if answer == "stack" else api.processes(engine)
        finally:
            engine.close()
        assert got == want, answer
        assert sorted(line.split(": ", 1)[0] for line in lines) == sorted([str(pages), str(utf8)]), (answer, lines)
        assert any(line.startswith(f"{utf8}: invalid data, skipped") for line in lines), lines
