"""Tests of core/fleet: convert to Parquet, the DuckDB and Spark engines."""
