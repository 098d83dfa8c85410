"""Loaders that turn bytes (EVTX, Event XML, JSON lines) into `core.model.event.Event` records.

Parsers stream: each loader yields events one at a time so memory stays bounded whatever the
log size. They never import `core.store.store`, `tui` or textual.
"""
