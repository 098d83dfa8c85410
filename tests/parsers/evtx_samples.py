"""The EVTX samples the decoder tests read (`EVTX_SAMPLES` of the shared manifest, `BIG`: the
largest Security log), what a decoder yields keyed by record offset (`by_offset`), the events'
locators (`locators`), the fast decoder alone without python-evtx's fallback (`fast_only`), and
two events' differences said field by field (`explain`)."""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator

from core.model.event import Event, ParseIssue
from parsers.evtx import decoder as evtx_fast
from parsers.evtx import reference as ref
from tests.shared import manifest_paths

EVTX_SAMPLES = [p for p in manifest_paths() if p.lower().endswith(".evtx")]
BIG = "evtx/parsers/omerbenamram__samples__security.evtx"


def by_offset(items: Iterator[Event | ParseIssue]) -> dict[int, Event | ParseIssue]:
    out: dict[int, Event | ParseIssue] = {}
    for item in items:
        key = item.offset if isinstance(item, ParseIssue) else item.locator
        assert key is not None
        assert key not in out or isinstance(out[key], ParseIssue), f"record at {key} yielded twice"
        out[key] = item
    return out


def locators(items: Iterable[Event | ParseIssue]) -> list[int]:
    """The events' locators (an event read from a file always has one)."""
    out: list[int] = []
    for item in items:
        if isinstance(item, Event):
            assert item.locator is not None
            out.append(item.locator)
    return out


def fast_only(path: str) -> Iterator[Event | ParseIssue]:
    """The fast decoder alone (no python-evtx fallback), over every chunk slot."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in ref.chunk_offsets(buf):
            yield from evtx_fast.iter_chunk(buf, index, chunk_ofs, 3, path, fallback=False)


def explain(a: Event, b: Event) -> str:
    diffs = [
        f"{name}: {getattr(a, name)!r} != {getattr(b, name)!r}"
        for name in Event.__dataclass_fields__
        if getattr(a, name) != getattr(b, name)
    ]
    return "; ".join(diffs)[:2000]
