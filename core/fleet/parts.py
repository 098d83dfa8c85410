"""The dataset's parts: which Parquet files the engines may read (`readable_parts`, a footer read
each, before any query), and which of them an engine's failed read is to blame on (`culprits`, a
full read, only once a read has failed): a part whose footer is intact can still hold pages that
do not decode or text that is not UTF-8, and neither shows before its data is read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from core.fleet.schema import schema_problem


class FleetError(Exception):
    """A dataset or engine that cannot answer (no dataset, no Java for Spark, ...)."""


#: The partition folders `convert` writes (`core.fleet.schema.host_dir`, `day_dir`): a file
#: elsewhere makes DuckDB refuse the whole dataset ("Hive partition mismatch").
_HOST_DIR = re.compile(r"host=[a-z0-9._-]+")
_DAY_DIR = re.compile(r"day=(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|none)")


def _first_line(exc: BaseException, width: int = 200) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:width] if text else type(exc).__name__


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
        return "damaged Parquet file", _first_line(exc)
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


def data_problem(part: str) -> str | None:
    """Why the data of `part` cannot be read whole (pages that do not decode, text that is not
    UTF-8, a file gone since the footer check), or None. Every row group is read and every
    column validated in full, one row group at a time (memory bounded by one): the cost of a
    whole read, paid only when an engine has failed (`culprits`)."""
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(part) as parquet:
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                for name, column in zip(table.column_names, table.columns, strict=True):
                    try:
                        column.validate(full=True)
                    except pa.ArrowException as exc:
                        return f"invalid data, skipped (row group {group}, column {name}: {_first_line(exc)})"
    except (OSError, pa.ArrowException) as exc:
        return f"damaged Parquet file, skipped ({_first_line(exc)})"
    return None


def culprits(parts: list[str], message: str, clean: set[str]) -> list[tuple[str, str]]:
    """The parts to blame for an engine's failed read, each with a line saying why (`data_problem`):
    first those the engine's error `message` names (DuckDB and Spark name the file in most
    read errors: one part read, not the dataset); else every part not yet found whole. A part
    found whole is added to `clean` and never read again. Empty: the data is not to blame."""
    named = [p for p in parts if p not in clean and p in message]
    rest = [p for p in parts if p not in clean and p not in named]
    for group in (named, rest):
        bad: list[tuple[str, str]] = []
        for part in group:
            problem = data_problem(part)
            if problem is None:
                clean.add(part)
            else:
                bad.append((part, problem))
        if bad:
            return bad
    return []
