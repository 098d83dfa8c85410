"""Loaders that turn bytes (EVTX, Event XML, JSON lines) into `core.model.Event` records.

Parsers stream: each loader yields events one at a time so memory stays bounded whatever the
log size. They never import `core.store`, `tui` or textual.
"""
