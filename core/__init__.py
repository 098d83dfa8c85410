"""The engine: event model, SQLite store, query language, correlation, findings.

Nothing in this package imports textual (a test checks it): the CLI and the tests use the
engine without a screen.
"""
