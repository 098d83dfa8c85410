"""The fast EVTX path against the python-evtx oracle (the parallel loader: test_evtx_parallel.py;
the compiled shapes and value decoders: test_evtx_shapes.py).

The oracle runs at a few hundred records a second, so every sample is one test (pytest-xdist
spreads them with `-n 2`) and the big ones are marked slow. A file of more than ORACLE_CHUNKS
chunks is compared with the oracle on that many chunks spread over it, first and last included
(every chunk still goes through the fast path and the loader): the seven 2 MB samples took
75-165 s each in full, half the suite's time. `EVTX_ORACLE=full` compares every chunk.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.event import Event, InputError, ParseIssue
from parsers import evtx
from parsers.evtx import reference as ref
from tests.parsers.evtx_samples import EVTX_SAMPLES, by_offset, explain, fast_only
from tests.shared import SAMPLES, sample

#: Files above this size take seconds through the oracle: marked slow.
SLOW_BYTES = 300_000
#: Chunks of one file compared with the oracle (unless EVTX_ORACLE=full): python-evtx takes
#: 1-2 s a chunk on the biggest samples (half of it `guard.run_bounded`'s step count); with 16
#: the suite reached 9m44s of its 10 minutes, with 10 these tests were a fifth of the suite's time
#: and CI 10m04s on a slow machine, with 5 still 182 s of its 947 (`bench/decode_digest.py`
#: covers every chunk of every sample, both outputs, in seconds).
ORACLE_CHUNKS = 3
RDP = "evtx/parsers/omerbenamram__samples__2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx"


def _param(rel: str) -> object:
    path = SAMPLES / rel
    slow = path.is_file() and path.stat().st_size > SLOW_BYTES
    return pytest.param(rel, id=Path(rel).name[:80], marks=[pytest.mark.slow] if slow else [])


def _oracle_chunks(path: str) -> set[int] | None:
    """The chunk indexes compared with the oracle: ORACLE_CHUNKS of them evenly spread, first
    and last included, or None (all) for a small file or under EVTX_ORACLE=full."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        count = sum(1 for _ in ref.chunk_offsets(buf))
    if count <= ORACLE_CHUNKS or os.environ.get("EVTX_ORACLE") == "full":
        return None
    return {round(i * (count - 1) / (ORACLE_CHUNKS - 1)) for i in range(ORACLE_CHUNKS)}


def _reference(path: str, chunks: set[int] | None) -> Iterator[Event | ParseIssue]:
    """python-evtx's events of `chunks` (all: None), raising InputError like `ref.iter_events`."""
    if chunks is None:
        yield from ref.iter_events(path, 3)
        return
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in ref.chunk_offsets(buf):
            if index in chunks:
                yield from ref.iter_chunk(buf, index, chunk_ofs, 3, path)


def _chunk_of(ofs: int) -> int:
    return (ofs - ref.FILE_HEADER_SIZE) // ref.CHUNK_SIZE


@pytest.mark.parametrize("rel", [_param(p) for p in EVTX_SAMPLES])
def test_fast_path_matches_python_evtx(rel: str) -> None:
    """Every record python-evtx decodes, the fast decoder alone decodes identically (all
    fields, values, order, exact ticks); the loader loses no record either decoder can read."""
    path = str(sample(rel))
    try:
        next(ref.iter_events(path, 3), None)  # a file python-evtx refuses: InputError here
    except InputError:
        with pytest.raises(InputError):
            list(evtx.iter_events(path, 3, jobs=1))
        return
    chunks = _oracle_chunks(path)
    reference = by_offset(_reference(path, chunks))
    fast = by_offset(fast_only(path))
    loaded = by_offset(evtx.iter_events(path, 3, jobs=1))
    for ofs, want in reference.items():
        if isinstance(want, Event):
            got = fast.get(ofs)
            assert isinstance(got, Event), f"{rel} @ {ofs}: fast path lost the record: {got}"
            assert got == want, f"{rel} @ {ofs}: {explain(want, got)}"
            assert loaded.get(ofs) == want, f"{rel} @ {ofs}: loader differs"
    for ofs, got in fast.items():
        if isinstance(got, Event):
            assert loaded.get(ofs) == got, f"{rel} @ {ofs}: loader dropped a fast-path event"
    if chunks is None:
        assert set(loaded) == set(reference) | set(fast), f"{rel}: records appear or vanish"
    else:  # in the chunks the oracle skipped, the loop above checked the fast path's events
        sampled = chunks

        def inside(ofs: int) -> bool:
            return _chunk_of(ofs) in sampled

        assert {ofs for ofs in loaded if inside(ofs)} == set(reference) | {ofs for ofs in fast if inside(ofs)}, \
            f"{rel}: records appear or vanish"
    for ofs, item in loaded.items():
        if isinstance(item, ParseIssue):
            assert not isinstance(reference.get(ofs), Event) and not isinstance(fast.get(ofs), Event)
            assert item.path == path and item.chunk is not None and item.offset == ofs and item.reason


@pytest.mark.parametrize(
    ("rel", "minimum", "event_id", "field", "value", "chunks"),
    [
        # records stored as plain BinXML, no template (python-evtx: NullTypeNode AttributeError)
        ("evtx/attack/Antivirus__ID1151-Defender health status.evtx", 455, 1151, "Platform version", "4.18.2005.5",
         None),
        # a WEC-forwarded event
        ("evtx/parsers/omerbenamram__samples__MSExchange_Management_wec.evtx", 1, 1, "Data", "Set-Mailbox", None),
        # CAPI2: UserData is a nested plain fragment
        ("evtx/parsers/Velocidex__testdata__Microsoft-Windows-CAPI2_Operational_EventID70.evtx", 1, 70, None, None,
         None),
        # ANSI strings, bad UTF-16 and the like: all 17 in its first chunk (of 16: 15 s of oracle)
        (RDP, 10, None, None, None, {0}),
    ],
    ids=["template-less", "wec-forwarded", "capi2", "bad-strings"],
)
def test_fast_path_recovers_records_python_evtx_loses(
    rel: str, minimum: int, event_id: int | None, field: str | None, value: str | None, chunks: set[int] | None
) -> None:
    """Bonus over the oracle: records python-evtx cannot decode still become sane events
    (in `chunks` of the file, None: all)."""
    path = str(sample(rel))
    reference = by_offset(_reference(path, chunks))
    loaded = by_offset(evtx.iter_events(path, 0, jobs=1))
    recovered = [
        item for ofs, item in loaded.items()
        if isinstance(item, Event) and (chunks is None or _chunk_of(ofs) in chunks)
        and not isinstance(reference[ofs], Event)
    ]
    assert len(recovered) >= minimum
    for event in recovered:
        assert event.filetime and event.provider and event.computer and event.record_id
        if event_id is not None:
            assert event.event_id == event_id
    if field is not None:
        assert any(event.get(field) == value for event in recovered)
