"""Tests of core/store: the store, ingest (workers, child process), the cache and its faults, temp files."""
