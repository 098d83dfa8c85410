"""Beyond one machine: events as a Parquet dataset (`convert`), and the same queries, stacks,
timelines, findings and process instances over it on Apache Spark or DuckDB (`engines`).

Optional: needs the `fleet` extra (pyarrow, pyspark, duckdb, sqlglot). Nothing else in the
project imports this package, so the app and the other commands never load those libraries.
"""
