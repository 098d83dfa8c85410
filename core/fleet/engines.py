"""The fleet's two engines over one converted dataset: Apache Spark (a cluster, or `local[N]`) and
DuckDB on this machine. Both run the same plans: the SQL of `core.fleet.query_sql` rendered in
their dialect, and the per-computer functions of `core.fleet.per_host` (Spark:
`groupBy(...).applyInPandas`, one task per computer; local: pandas groups), so their answers are
the same by construction.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from core.fleet import query_sql
from core.fleet.per_host import INPUT_COLUMNS

GroupFn = Callable[[pd.DataFrame], pd.DataFrame]
#: Rows per batch when a result is streamed (`Engine.stream`).
STREAM_ROWS = 10_000


class FleetError(Exception):
    """A dataset or engine that cannot answer (no dataset, no Java for Spark, ...)."""


def _check(root: str | Path) -> None:
    if not any(Path(root, "events").glob("*/*/*.parquet")):
        raise FleetError(f"{root}: no converted events (run 'evtx-explorer convert FILES --to {root}' first)")


def readable_parts(root: str | Path) -> tuple[list[str], list[str]]:
    """The dataset's Parquet files whose footer reads, and a line naming each that does not
    (cut short, overwritten, not Parquet): a damaged part costs only its own events, where it
    failed every query with the engine's traceback. A footer read each (a few KB)."""
    import pyarrow.parquet as pq

    good: list[str] = []
    bad: list[str] = []
    for part in sorted(Path(root, "events").glob("*/*/*.parquet")):
        try:
            if not part.is_file():
                raise OSError("not a regular file")
            pq.read_metadata(part)
        except (OSError, pa.ArrowException) as exc:
            bad.append(f"{part}: damaged Parquet file, skipped ({str(exc).splitlines()[0][:200]})")
            continue
        good.append(str(part))
    if not good:
        raise FleetError(f"{root}: no readable converted events" + (f" ({bad[0]})" if bad else ""))
    return good, bad


def _group_select(event_ids: tuple[int, ...] | None, where: str) -> exp.Select:
    """The columns per-host work reads, ts and pid coalesced (see `per_host.INPUT_COLUMNS`)."""
    cols: list[exp.Expr] = []
    for name in INPUT_COLUMNS:
        col = exp.column(name)
        cols.append(exp.Coalesce(this=col, expressions=[exp.Literal.number(-1)]).as_(name) if name == "ts" else col)
    cond = query_sql.where_expr(where)
    if event_ids is not None:
        cond = exp.and_(cond, exp.In(this=exp.column("event_id"), expressions=[exp.Literal.number(i)
                                                                               for i in event_ids]))
    return exp.select(*cols).from_(query_sql.TABLE).where(cond)


class Engine(Protocol):
    name: str
    root: Path  # the dataset (its inputs' markers: `core.fleet.convert.inputs`)
    skipped: list[str]  # the damaged parts left out, a line each (`readable_parts`)

    def table(self, query: exp.Select) -> pa.Table: ...

    def stream(self, query: exp.Select) -> Iterator[dict[str, Any]]: ...

    def per_host(self, fn: GroupFn, schema: pa.Schema, event_ids: tuple[int, ...] | None,
                 where: str = "") -> pa.Table: ...

    def close(self) -> None: ...


class LocalEngine:
    """DuckDB over the Parquet files, for data that fits one machine."""

    name = "local"

    def __init__(self, root: str | Path) -> None:
        import duckdb

        _check(root)
        self.root = Path(root)
        parts, self.skipped = readable_parts(root)
        self.con = duckdb.connect()
        self.con.read_parquet(parts, hive_partitioning=True).create_view(query_sql.TABLE)

    def table(self, query: exp.Select) -> pa.Table:
        return self.con.sql(query_sql.to_sql(query, "duckdb")).to_arrow_table()

    def stream(self, query: exp.Select) -> Iterator[dict[str, Any]]:
        """The rows a batch at a time (a result of millions of events is never held whole)."""
        reader = self.con.sql(query_sql.to_sql(query, "duckdb")).to_arrow_reader(STREAM_ROWS)
        for batch in reader:
            yield from batch.to_pylist()

    def per_host(self, fn: GroupFn, schema: pa.Schema, event_ids: tuple[int, ...] | None,
                 where: str = "") -> pa.Table:
        rows = self.table(_group_select(event_ids, where)).to_pandas()  # no nulls in the integer columns
        parts = [fn(group) for _, group in rows.groupby(rows["computer"].str.lower(), sort=True)]
        frames = [pa.Table.from_pandas(p, schema=schema, preserve_index=False) for p in parts]
        return pa.concat_tables(frames) if frames else schema.empty_table()

    def close(self) -> None:
        self.con.close()


def spark_session(master: str = "local[2]", app: str = "evtx-explorer fleet") -> Any:
    """A SparkSession for `master`; Python workers run this interpreter (the one with the extra)."""
    import shutil

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise FleetError("Spark needs a Java runtime (17 or newer): install one or set JAVA_HOME")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app)
    if master.startswith("local"):  # few cores: Spark's 200 shuffle partitions are 200 tiny tasks each
        builder = builder.config("spark.sql.shuffle.partitions", "4")
    return (
        builder
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


class SparkEngine:
    """Spark SQL over the dataset; per-host work is one applyInPandas task per computer."""

    name = "spark"

    def __init__(self, root: str | Path, *, master: str = "local[2]", session: Any = None) -> None:
        _check(root)
        self.root = Path(root)
        parts, self.skipped = readable_parts(root)
        self.spark = session if session is not None else spark_session(master)
        self.own = session is None
        frame = self.spark.read.option("basePath", str(Path(root, "events"))).parquet(*parts)
        frame.createOrReplaceTempView(query_sql.TABLE)

    def table(self, query: exp.Select) -> pa.Table:
        result: pa.Table = self.spark.sql(query_sql.to_sql(query, "spark")).toArrow()
        return result

    def stream(self, query: exp.Select) -> Iterator[dict[str, Any]]:
        """The rows a partition at a time, in order (the driver never holds the whole result)."""
        for row in self.spark.sql(query_sql.to_sql(query, "spark")).toLocalIterator():
            yield row.asDict(recursive=False)

    def per_host(self, fn: GroupFn, schema: pa.Schema, event_ids: tuple[int, ...] | None,
                 where: str = "") -> pa.Table:
        from pyspark.sql import functions as F

        frame = self.spark.sql(query_sql.to_sql(_group_select(event_ids, where), "spark"))
        ddl = ", ".join(f"`{f.name}` {_ddl(f.type)}" for f in schema)
        grouped = frame.groupBy(F.lower(F.col("computer"))).applyInPandas(fn, ddl)
        result: pa.Table = grouped.toArrow()
        return result.cast(schema)

    def close(self) -> None:
        if self.own:
            self.spark.stop()


def _ddl(dtype: pa.DataType) -> str:
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype):
        return "bigint"
    return "string"


def open_engine(root: str | Path, engine: str, master: str = "local[2]") -> Engine:
    if engine == "spark":
        return SparkEngine(root, master=master)
    return LocalEngine(root)
