"""The fleet's two engines over one converted dataset: Apache Spark (a cluster, or `local[N]`) and
DuckDB on this machine. Both run the same plans: the SQL of `core.fleet.query_sql` rendered in
their dialect, and the per-computer functions of `core.fleet.per_host` (Spark:
`groupBy(...).applyInPandas`, one task per computer; local: pandas groups), so their answers are
the same by construction.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from core.fleet import query_sql
from core.fleet.per_host import INPUT_COLUMNS
from core.fleet.schema import TIME_MAX_US, TIME_MIN_US, schema_problem

GroupFn = Callable[[pd.DataFrame], pd.DataFrame]
#: Rows per batch when a result is streamed (`Engine.stream`).
STREAM_ROWS = 10_000


class FleetError(Exception):
    """A dataset or engine that cannot answer (no dataset, no Java for Spark, ...)."""


def _check(root: str | Path) -> None:
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:  # (DuckDB and Spark open paths as UTF-8)
        raise FleetError(f"{root}: the dataset directory's name is not valid UTF-8, which the engines cannot "
                         "open: rename it") from None
    if not any(Path(root, "events").glob("*/*/*.parquet")):
        raise FleetError(f"{root}: no converted events (run 'evtx-explorer convert FILES --to {root}' first)")


#: The partition folders `convert` writes (`core.fleet.schema.host_dir`, `day_dir`): a file
#: elsewhere makes DuckDB refuse the whole dataset ("Hive partition mismatch").
_HOST_DIR = re.compile(r"host=[a-z0-9._-]+")
_DAY_DIR = re.compile(r"day=(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|none)")


def _part_problem(part: Path) -> tuple[str, str] | None:
    """Why `part` cannot be read as a part of the dataset (what it is, the detail), or None. A
    footer read (a few KB)."""
    import pyarrow.parquet as pq

    try:
        str(part).encode("utf-8")
    except UnicodeEncodeError:
        return "a name that is not valid UTF-8", "the engines cannot open it"
    if not (_HOST_DIR.fullmatch(part.parent.parent.name) and _DAY_DIR.fullmatch(part.parent.name)):
        return "not in a partition folder of the dataset", "host=<name>/day=<YYYY-MM-DD>"
    try:
        if not part.is_file():
            raise OSError("not a regular file")
        schema = pq.read_metadata(part).schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as exc:
        return "damaged Parquet file", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    problem = schema_problem(schema)
    return None if problem is None else ("not the dataset's schema", problem[:300])


def readable_parts(root: str | Path) -> tuple[list[str], list[str]]:
    """The dataset's Parquet files that can be read as its parts, and a line naming each that
    cannot, with why (cut short, overwritten, not Parquet, not the schema `convert` writes, out
    of the partition folders, a name that is not UTF-8): such a file costs only its own events,
    where it failed every query with the engine's traceback."""
    good: list[str] = []
    bad: list[str] = []
    for part in sorted(Path(root, "events").glob("*/*/*.parquet")):
        problem = _part_problem(part)
        if problem is None:
            good.append(str(part))
        else:
            bad.append(f"{part}: {problem[0]}, skipped ({problem[1]})")
    if not good:
        raise FleetError(f"{root}: no readable converted events" + (f" ({bad[0]})" if bad else ""))
    return good, bad


#: What per-host work reads in place of a null (pandas would make a nullable int64 column
#: float64, and FILETIME ticks do not survive a float; a null in a key column failed the
#: group's model): ts -1 is no time (`per_host.group_events`).
_NULL_AS: dict[str, exp.Expr] = {
    "ts": exp.Literal.number(-1), "record_number": exp.Literal.number(-1), "record_id": exp.Literal.number(-1),
    "place": exp.Literal.number(-1), "event_id": exp.Literal.number(-1), "computer": exp.Literal.string(""),
    "source": exp.Literal.string(""),
}


def _group_select(event_ids: tuple[int, ...] | None, where: str) -> exp.Select:
    """The columns per-host work reads (`per_host.INPUT_COLUMNS`), without nulls (`_NULL_AS`)."""
    cols: list[exp.Expr] = []
    for name in INPUT_COLUMNS:
        col = exp.column(name)
        cols.append(exp.Coalesce(this=col, expressions=[_NULL_AS[name]]).as_(name) if name in _NULL_AS else col)
    cond = query_sql.where_expr(where)
    if event_ids is not None:
        cond = exp.and_(cond, exp.In(this=exp.column("event_id"), expressions=[exp.Literal.number(i)
                                                                               for i in event_ids]))
    return exp.select(*cols).from_(query_sql.TABLE).where(cond)


def _safe_time(duckdb: Any, micros: Any) -> Any:
    """`time` within what a datetime holds, else null (`core.fleet.schema`): the engines give rows
    as Python objects, and one time past year 9999 (a hostile part, or a dataset converted
    before `convert` wrote such a time null) failed the whole answer."""
    fits = (micros >= duckdb.ConstantExpression(TIME_MIN_US)) & (micros <= duckdb.ConstantExpression(TIME_MAX_US))
    return duckdb.CaseExpression(fits, duckdb.ColumnExpression("time")).otherwise(
        duckdb.ConstantExpression(None)).alias("time")


class Engine(Protocol):
    name: str
    root: Path  # the dataset (its inputs' markers: `core.fleet.markers.inputs`)
    skipped: list[str]  # the damaged parts left out, a line each (`readable_parts`)
    errors: tuple[type[Exception], ...]  # what the engine raises when data fails a query

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
        self.errors: tuple[type[Exception], ...] = (duckdb.Error,)
        parts, self.skipped = readable_parts(root)
        self.con = duckdb.connect()
        try:
            frame = self.con.read_parquet(parts, hive_partitioning=True)
            micros = duckdb.FunctionExpression("epoch_us", duckdb.ColumnExpression("time"))
            frame.project(*(_safe_time(duckdb, micros) if name == "time" else duckdb.ColumnExpression(name)
                            for name in frame.columns)).create_view(query_sql.TABLE)
        except duckdb.Error as exc:
            self.con.close()
            raise FleetError(f"{root}: the dataset cannot be read: {str(exc).splitlines()[0][:300]}") from exc

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
        .config("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
        .getOrCreate()
    )


class SparkEngine:
    """Spark SQL over the dataset; per-host work is one applyInPandas task per computer."""

    name = "spark"

    def __init__(self, root: str | Path, *, master: str = "local[2]", session: Any = None) -> None:
        from pyspark.errors import PySparkException
        from pyspark.sql import functions as F

        _check(root)
        self.root = Path(root)
        self.errors: tuple[type[Exception], ...] = (PySparkException,)  # (Java's errors come captured)
        parts, self.skipped = readable_parts(root)
        self.spark = session if session is not None else spark_session(master)
        self.own = session is None
        # pyarrow writes proleptic Gregorian times: a time before 1582 is no reason to fail the read
        self.spark.conf.set("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
        try:
            frame = self.spark.read.option("basePath", str(Path(root, "events"))).parquet(*parts)
            micros = F.unix_micros(F.col("time"))  # (as `_safe_time`)
            frame = frame.withColumn("time", F.when((micros >= TIME_MIN_US) & (micros <= TIME_MAX_US), F.col("time")))
            frame.createOrReplaceTempView(query_sql.TABLE)
        except self.errors as exc:
            self.close()
            raise FleetError(f"{root}: the dataset cannot be read: {str(exc).splitlines()[0][:300]}") from exc

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
