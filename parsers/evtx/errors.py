"""The two errors the fast EVTX decoder raises: each sends one record elsewhere.

Why a module of its own: every stage (values, templates, plans, builders, the chunk decoder)
raises them and `parsers.evtx.decoder` catches them, so they sit below all of those.
"""

from __future__ import annotations


class BinXmlError(Exception):
    """The fast decoder cannot (or will not) decode this structure; use the reference path."""


class HopelessRecord(BinXmlError):
    """Garbage no decoder can read, and asking python-evtx would be costly: it walks a garbage
    substitution count (billions exist in real files) through the rest of the file."""
