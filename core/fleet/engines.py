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
from typing import Any, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from core.fleet import query_sql
from core.fleet.parts import FleetError as FleetError  # (where the CLI imports it from)
from core.fleet.parts import culprits, readable_parts
from core.fleet.per_host import INPUT_COLUMNS
from core.fleet.schema import TIME_MAX_US, TIME_MIN_US

GroupFn = Callable[[pd.DataFrame], pd.DataFrame]
Report = Callable[[str], None]
T = TypeVar("T")
R = TypeVar("R")
#: Rows per batch when a result is streamed (`Engine.stream`).
STREAM_ROWS = 10_000
#: How many times one answer is asked again after parts were left out (`_Dataset.attempt`): each
#: failure costs the parts it is blamed on, so the rounds are few; bounded all the same.
MAX_RETRIES = 3
#: What turning an engine's rows into Python raises on a value the engine passed through
#: unchecked (Spark hands invalid UTF-8 on to Arrow as is: `to_pylist`, `to_pandas` fail).
DECODE_ERRORS: tuple[type[Exception], ...] = (UnicodeDecodeError, pa.ArrowException)


def _check(root: str | Path) -> None:
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:  # (DuckDB and Spark open paths as UTF-8)
        raise FleetError(f"{root}: the dataset directory's name is not valid UTF-8, which the engines cannot "
                         "open: rename it") from None
    if not any(Path(root, "events").glob("*/*/*.parquet")):
        raise FleetError(f"{root}: no converted events (run 'evtx-explorer convert FILES --to {root}' first)")


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
    parts: list[str]  # the Parquet files read (`readable_parts`, less those left out since)
    skipped: list[str]  # the damaged parts left out, a line each (`readable_parts`, `attempt`)
    errors: tuple[type[Exception], ...]  # what the engine raises when data fails a query

    def attempt(self, work: Callable[[], T]) -> T: ...

    def attempt_stream(self, make: Callable[[], Iterator[R]]) -> Iterator[R]: ...

    def table(self, query: exp.Select) -> pa.Table: ...

    def stream(self, query: exp.Select) -> Iterator[dict[str, Any]]: ...

    def per_host(self, fn: GroupFn, schema: pa.Schema, event_ids: tuple[int, ...] | None,
                 where: str = "") -> pa.Table: ...

    def close(self) -> None: ...


def _message(exc: BaseException) -> str:
    """The text of `exc` and of what it wraps (Spark's Py4J error holds the Java chain, whose
    causes name the file that failed)."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(texts) < 8:
        try:
            texts.append(str(seen))
        except Exception:  # (a Py4J error asks the JVM for its text)
            texts.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


class _Dataset:
    """What both engines share: the parts they read, and `attempt`, which leaves out the parts an
    engine's failed read is to blame on and asks again. The footer check (`readable_parts`)
    cannot see damaged pages or invalid UTF-8; reading every part whole up front would cost
    healthy datasets a second read of everything, so a part is read whole only after a failure."""

    root: Path
    errors: tuple[type[Exception], ...]
    #: What an engine raises for a query it refuses (never the data's fault: no part is read).
    not_data: tuple[type[Exception], ...] = ()

    def _parts(self, root: str | Path, report: Report | None) -> list[str]:
        self.root = Path(root)
        self.report: Report = report or (lambda line: None)
        self.parts, self.skipped = readable_parts(root)
        for line in self.skipped:
            self.report(line)
        self._clean: set[str] = set()  # parts read whole without a fault (`culprits`)
        self._depth = 0
        return self.parts

    def _load(self, parts: list[str]) -> None:
        """The view (`query_sql.TABLE`) over `parts`."""
        raise NotImplementedError

    def attempt(self, work: Callable[[], T]) -> T:
        """`work()` (an answer: its queries and their rows in Python); when the engine fails to read
        the data, the parts to blame are named (`report`), left out, and the whole answer asked
        again on the rest (at most MAX_RETRIES times), so that its counts come from one set of
        parts. An attempt within an attempt is the outer one's to retry."""
        if self._depth:
            return work()
        retries = 0
        while True:
            self._depth += 1
            try:
                return work()
            except self.errors as exc:
                if retries >= MAX_RETRIES or not self._left_out(exc):
                    raise
                retries += 1
            finally:
                self._depth -= 1

    def attempt_stream(self, make: Callable[[], Iterator[R]]) -> Iterator[R]:
        """`make()`'s rows, as `attempt`: asked again without the parts to blame when the read fails
        before the first row (an ordered result is read whole before it gives one); after it,
        the rows given cannot be taken back and the error is the caller's."""
        retries = 0
        while True:
            given = False
            try:
                for row in make():
                    given = True
                    yield row
                return
            except self.errors as exc:
                if given or retries >= MAX_RETRIES or not self._left_out(exc):
                    raise
                retries += 1

    def _left_out(self, exc: Exception) -> bool:
        """Leave out the parts `exc` is to blame on (`culprits`) and load the view without them;
        False when none is (the error is not the data's)."""
        if isinstance(exc, self.not_data):
            return False
        bad = dict(culprits(self.parts, _message(exc), self._clean))
        if not bad:
            return False
        for part, why in bad.items():
            self.skipped.append(f"{part}: {why}")
            self.report(self.skipped[-1])
        self.parts = [p for p in self.parts if p not in bad]
        if not self.parts:
            raise FleetError(f"{self.root}: no readable converted events ({self.skipped[-1]})")
        self._load(self.parts)
        return True


class LocalEngine(_Dataset):
    """DuckDB over the Parquet files, for data that fits one machine."""

    name = "local"

    def __init__(self, root: str | Path, *, report: Report | None = None) -> None:
        import duckdb

        _check(root)
        self.errors = (duckdb.Error, *DECODE_ERRORS)
        self.not_data = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException,
                         duckdb.InterruptException, duckdb.OutOfMemoryException)
        parts = self._parts(root, report)
        self.con = duckdb.connect()
        try:
            self._load(parts)
        except duckdb.Error as exc:
            self.con.close()
            raise FleetError(f"{root}: the dataset cannot be read: {str(exc).splitlines()[0][:300]}") from exc

    def _load(self, parts: list[str]) -> None:
        import duckdb

        frame = self.con.read_parquet(parts, hive_partitioning=True)
        micros = duckdb.FunctionExpression("epoch_us", duckdb.ColumnExpression("time"))
        frame.project(*(_safe_time(duckdb, micros) if name == "time" else duckdb.ColumnExpression(name)
                        for name in frame.columns)).create_view(query_sql.TABLE)

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


class SparkEngine(_Dataset):
    """Spark SQL over the dataset; per-host work is one applyInPandas task per computer."""

    name = "spark"

    def __init__(self, root: str | Path, *, master: str = "local[2]", session: Any = None,
                 report: Report | None = None) -> None:
        from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
        from pyspark.errors import AnalysisException, PySparkException

        _check(root)
        # (Java's errors come captured, or, those PySpark does not know, as Py4J's)
        self.errors = (PySparkException, Py4JJavaError, *DECODE_ERRORS)
        self.not_data = (AnalysisException,)
        parts = self._parts(root, report)
        self.spark = session if session is not None else spark_session(master)
        self.own = session is None
        if self.own:  # a failed read is reported here, a line a part: not as Spark's Java traces of each task
            self.spark.sparkContext.setLogLevel("FATAL")
        # pyarrow writes proleptic Gregorian times: a time before 1582 is no reason to fail the read
        self.spark.conf.set("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
        try:
            self._load(parts)
        except self.errors as exc:
            self.close()
            raise FleetError(f"{root}: the dataset cannot be read: {str(exc).splitlines()[0][:300]}") from exc

    def _load(self, parts: list[str]) -> None:
        from pyspark.sql import functions as F

        frame = self.spark.read.option("basePath", str(Path(self.root, "events"))).parquet(*parts)
        micros = F.unix_micros(F.col("time"))  # (as `_safe_time`)
        frame = frame.withColumn("time", F.when((micros >= TIME_MIN_US) & (micros <= TIME_MAX_US), F.col("time")))
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


def open_engine(root: str | Path, engine: str, master: str = "local[2]", report: Report | None = None) -> Engine:
    """The engine over the dataset; `report` is told each part left out, a line each, when it is."""
    if engine == "spark":
        return SparkEngine(root, master=master, report=report)
    return LocalEngine(root, report=report)
