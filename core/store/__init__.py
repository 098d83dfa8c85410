"""The embedded SQLite store: schema, the `Store`, the on-disk cache, and ingest.

`store.Store` is the one place besides `core.query.compile` that runs SQL. `ingest` decides each input's
format once (through `parsers`) and streams its rows in batches; `evtx_ingest` lets decoder
worker processes write their own rows; `ingest_child` runs an ingest in a child process;
`cache` keys databases by the identity of their inputs.
"""
