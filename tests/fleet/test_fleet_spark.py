"""The Spark engine (PySpark, `local[2]`, one session for the whole run) gives the SQLite store's
answers row for row, on the same inputs as tests/fleet/test_fleet.py: queries, stacks, timeline, process
instances, handle chains and findings. Skips without PySpark or Java, except under CI=true."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleetutil import (
    HOSTILE_CMD,
    HOSTILE_HOST,
    QUERIES,
    fleet_dataset,
    require_spark,
    store_findings_rows,
    store_handles,
    store_processes,
    store_query,
    store_stack,
    store_timeline,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, list[str]]]:
    yield from fleet_dataset(tmp_path_factory)


@pytest.fixture(scope="session")
def spark_engine(fleet: tuple[Path, Any, list[str]]) -> Iterator[Any]:
    """One SparkSession (local[2]) for the test run: starting one costs 10-20 s."""
    require_spark()
    from core.fleet.engines import SparkEngine, spark_session

    session = spark_session("local[2]", "evtx-explorer tests")
    session.sparkContext.setLogLevel("ERROR")
    yield SparkEngine(fleet[0], session=session)
    session.stop()


def test_spark_answers_are_the_stores(fleet: tuple[Path, Any, list[str]], spark_engine: Any) -> None:
    """One test, so that pytest-xdist never starts a second JVM for a second worker."""
    from core.findings.engine import load_rules
    from core.fleet import api
    from core.query.timeline import DAY

    store = fleet[1]
    for where in QUERIES:
        rows = api.query(spark_engine, where)
        assert [(r["source"], r["place"]) for r in rows] == store_query(store, where), where
    streamed = [(r["source"], r["place"]) for r in api.stream(spark_engine, "4688 OR 4624")]
    assert streamed == store_query(store, "4688 OR 4624")
    assert api.count(spark_engine, f'host:"{HOSTILE_HOST}"') == 5
    assert api.count(spark_engine, f'cmd:"{HOSTILE_CMD}"') == 3
    assert api.count(spark_engine, "cmd:*%_*") == 3
    for where, by in (("", "EventID"), ("4688", "NewProcessName"), ("", "SubjectUserName"), ("", "computer")):
        assert api.stack(spark_engine, where, by, limit=None) == store_stack(store, where, by), by
    assert api.stack(spark_engine, "", "user", limit=None) == store_stack(store, "", "user")  # an alias
    for width in (None, 30 * DAY):
        assert api.timeline(spark_engine, "4688 OR 4624", width) == store_timeline(store, "4688 OR 4624", width)
    assert api.processes(spark_engine) == store_processes(store)
    assert api.handles(spark_engine) == store_handles(store)
    assert api.findings(spark_engine, load_rules()) == store_findings_rows(store)
