"""The fast EVTX path against the python-evtx oracle, and the parallel loader's guarantees.

The oracle runs at a few hundred records a second, so every sample is one test (pytest-xdist
spreads them with `-n 2`) and the big ones are marked slow. A file of more than ORACLE_CHUNKS
chunks is compared with the oracle on that many chunks spread over it, first and last included
(every chunk still goes through the fast path and the loader): the seven 2 MB samples took
75-165 s each in full, half the suite's time. `EVTX_ORACLE=full` compares every chunk.
"""

from __future__ import annotations

import marshal
import mmap
import os
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core.model.event import Event, InputError, ParseIssue, make_event
from core.model.rows import Postings, encode_tuples, event_fields, new_postings, store_id
from parsers import evtx
from parsers.evtx import canon, pieces
from parsers.evtx import decoder as evtx_fast
from parsers.evtx import reference as ref
from parsers.evtx.chunk import ChunkDecoder
from tests.shared import SAMPLES, manifest_paths, require_shared, sample

EVTX_SAMPLES = [p for p in manifest_paths() if p.lower().endswith(".evtx")]
#: Files above this size take seconds through the oracle: marked slow.
SLOW_BYTES = 300_000
#: Chunks of one file compared with the oracle (unless EVTX_ORACLE=full): python-evtx takes
#: 1-2 s a chunk on the biggest samples, and with 16 the suite reached 9m44s of its 10 minutes
#: (`bench/decode_digest.py` covers every chunk of every sample, both outputs, in seconds).
ORACLE_CHUNKS = 10
BIG = "evtx/parsers/omerbenamram__samples__security.evtx"
RDP = "evtx/parsers/omerbenamram__samples__2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx"


def _param(rel: str) -> object:
    path = SAMPLES / rel
    slow = path.is_file() and path.stat().st_size > SLOW_BYTES
    return pytest.param(rel, id=Path(rel).name[:80], marks=[pytest.mark.slow] if slow else [])


def _by_offset(items: Iterator[Event | ParseIssue]) -> dict[int, Event | ParseIssue]:
    out: dict[int, Event | ParseIssue] = {}
    for item in items:
        key = item.offset if isinstance(item, ParseIssue) else item.locator
        assert key is not None
        assert key not in out or isinstance(out[key], ParseIssue), f"record at {key} yielded twice"
        out[key] = item
    return out


def _locators(items: Iterable[Event | ParseIssue]) -> list[int]:
    """The events' locators (an event read from a file always has one)."""
    out: list[int] = []
    for item in items:
        if isinstance(item, Event):
            assert item.locator is not None
            out.append(item.locator)
    return out


def _fast_only(path: str) -> Iterator[Event | ParseIssue]:
    """The fast decoder alone (no python-evtx fallback), over every chunk slot."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in ref.chunk_offsets(buf):
            yield from evtx_fast.iter_chunk(buf, index, chunk_ofs, 3, path, fallback=False)


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


def _explain(a: Event, b: Event) -> str:
    diffs = [
        f"{name}: {getattr(a, name)!r} != {getattr(b, name)!r}"
        for name in Event.__dataclass_fields__
        if getattr(a, name) != getattr(b, name)
    ]
    return "; ".join(diffs)[:2000]


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
    reference = _by_offset(_reference(path, chunks))
    fast = _by_offset(_fast_only(path))
    loaded = _by_offset(evtx.iter_events(path, 3, jobs=1))
    for ofs, want in reference.items():
        if isinstance(want, Event):
            got = fast.get(ofs)
            assert isinstance(got, Event), f"{rel} @ {ofs}: fast path lost the record: {got}"
            assert got == want, f"{rel} @ {ofs}: {_explain(want, got)}"
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
    ("rel", "minimum", "event_id", "field", "value"),
    [
        # records stored as plain BinXML, no template (python-evtx: NullTypeNode AttributeError)
        ("evtx/attack/Antivirus__ID1151-Defender health status.evtx", 455, 1151, "Platform version", "4.18.2005.5"),
        # a WEC-forwarded event
        ("evtx/parsers/omerbenamram__samples__MSExchange_Management_wec.evtx", 1, 1, "Data", "Set-Mailbox"),
        # CAPI2: UserData is a nested plain fragment
        ("evtx/parsers/Velocidex__testdata__Microsoft-Windows-CAPI2_Operational_EventID70.evtx", 1, 70, None, None),
        # ANSI strings, bad UTF-16 and the like
        (RDP, 10, None, None, None),
    ],
    ids=["template-less", "wec-forwarded", "capi2", "bad-strings"],
)
def test_fast_path_recovers_records_python_evtx_loses(
    rel: str, minimum: int, event_id: int | None, field: str | None, value: str | None
) -> None:
    """Bonus over the oracle: records python-evtx cannot decode still become sane events."""
    path = str(sample(rel))
    reference = _by_offset(ref.iter_events(path, 0))
    loaded = _by_offset(evtx.iter_events(path, 0, jobs=1))
    recovered = [
        item for ofs, item in loaded.items() if isinstance(item, Event) and not isinstance(reference[ofs], Event)
    ]
    assert len(recovered) >= minimum
    for event in recovered:
        assert event.filetime and event.provider and event.computer and event.record_id
        if event_id is not None:
            assert event.event_id == event_id
    if field is not None:
        assert any(event.get(field) == value for event in recovered)


def _readable(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Rows with their marshalled EventData loaded (marshal's bytes depend on reference counts)."""
    return [(*row[:-1], marshal.loads(row[-1]) if row[-1] else ()) for row in rows]  # type: ignore[arg-type]


def encode_events(events: list[Event | ParseIssue]) -> tuple[list[tuple[object, ...]], Postings]:
    """What the store gets for these events: rows with ids from their record offsets, and the
    posting lists of their EventData values."""
    postings = new_postings()
    items = [(store_id(e.source, e.locator or 0), event_fields(e)) for e in events if isinstance(e, Event)]
    return _readable(encode_tuples(items, postings)), postings


def merged(batches: list[evtx.EncodedBatch]) -> tuple[list[tuple[object, ...]], Postings]:
    postings = new_postings()
    for batch in batches:
        for key, ids in batch.postings.items():
            postings[key].extend(ids)
    return _readable([row for batch in batches for row in batch.rows]), postings


def test_parallel_equals_sequential_in_file_order() -> None:
    path = str(sample(BIG))
    assert Path(path).stat().st_size > evtx.INLINE_BYTES, "needs a file big enough for workers"
    sequential = list(evtx.iter_events(path, 5, jobs=1))
    parallel = list(evtx.iter_events(path, 5, jobs=2))
    assert len(sequential) > 2000
    assert parallel == sequential
    locators = _locators(parallel)
    assert locators == sorted(locators) and len(set(locators)) == len(locators)
    batches = list(evtx.iter_encoded_batches(path, 5, jobs=2))
    assert merged(batches) == encode_events(sequential)
    ends = [b.end_offset for b in batches]
    assert ends == sorted(ends) and ends[-1] == Path(path).stat().st_size


def test_encoded_batches_inline_match_events() -> None:
    path = str(sample("evtx/parsers/williballenthin__tests__data__system.evtx"))
    events = list(evtx.iter_events(path, 1, jobs=1))
    rows, postings = merged(list(evtx.iter_encoded_batches(path, 1, jobs=1)))
    assert (rows, postings) == encode_events(events) and len(rows) > 1000


def test_run_ordered_bounds_in_flight_and_keeps_order() -> None:
    """The scheduler behind the worker pool: never more than `window` tasks submitted and not
    yet handed back, results in task order even when later tasks finish first."""
    in_flight: list[int] = []
    submitted: list[int] = []

    def work(n: int) -> int:
        time.sleep(0.002 * ((n * 7) % 5))  # finish out of order
        return n * n

    with ThreadPoolExecutor(max_workers=4) as pool:

        def submit(n: int) -> Future[int]:
            submitted.append(n)
            return pool.submit(work, n)

        out = []
        for taken, (task, fut) in enumerate(evtx.run_ordered(range(40), submit, 3, in_flight.append)):
            # lazy: the consumer holds the producer back
            assert len(submitted) <= taken + 3
            out.append((task, fut.result()))
    assert out == [(n, n * n) for n in range(40)]
    assert max(in_flight) == 3


def test_stopping_early_shuts_the_pool_down() -> None:
    path = str(sample(BIG))
    before = threading.active_count()
    it = evtx.iter_events(path, 0, jobs=2)
    assert isinstance(it, Generator)
    first = [next(it) for _ in range(10)]
    it.close()
    locators = _locators(first)
    assert len(locators) == 10 and locators == sorted(locators)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"\x30\x00\x00\x00LfLe" + b"\x00" * 100, "legacy"), (b"hello world" * 500, "not an EVTX")],
)
def test_file_level_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.evtx"
    path.write_bytes(content)
    for it in (evtx.iter_events(str(path)), evtx.iter_encoded_batches(str(path))):
        with pytest.raises(InputError) as err:
            next(iter(it))
        assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_shipping_keeps_issues_in_place() -> None:
    """Worker results travel as marshalled tuples with the parse issues beside them: the parent
    must put every issue back where it was."""
    events: list[Event | ParseIssue] = [
        Event(source=1, record_number=n, record_id=n, filetime=None, event_id=n, data=(("A", "x"),), locator=n)
        for n in range(5)
    ]
    issue = ParseIssue(1, "f.evtx", "bad", 0, 99)
    seqs: tuple[list[Event | ParseIssue], ...] = (
        [issue, *events],
        [*events[:2], issue, issue, *events[2:]],
        [*events, issue],
        [issue],
        events,
    )
    for seq in seqs:
        assert list(evtx._unship_events(evtx._ship_events(seq, 0))) == seq


def test_broken_pool_degrades_to_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that die (or cannot start) cost speed, never events."""
    from concurrent.futures.process import BrokenProcessPool

    class Broken:
        def submit(self, *args: object) -> Future[object]:
            raise BrokenProcessPool("simulated")

        def shutdown(self, **kwargs: object) -> None:
            pass

    path = str(sample(BIG))
    expected = list(evtx.iter_events(path, 0, jobs=1))
    monkeypatch.setattr(evtx, "_pool", lambda jobs: Broken())
    assert list(evtx.iter_events(path, 0, jobs=2)) == expected
    assert merged(list(evtx.iter_encoded_batches(path, 0, jobs=2))) == encode_events(expected)


def test_garbage_substitution_count_costs_only_its_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A count of ~3 billion substitutions (seen in real files) is bounded by the chunk: the
    record becomes a parse issue at once, without handing python-evtx a walk to the end of the
    file, and the other records still load."""
    import struct

    from parsers.evtx.templates import parse_root

    data = bytearray(sample(BIG).read_bytes())
    chunk_ofs = ref.FILE_HEADER_SIZE
    rec = chunk_ofs + 0x200
    root = parse_root(bytes(data[chunk_ofs : chunk_ofs + ref.CHUNK_SIZE]), 0x200 + 24, ref.CHUNK_SIZE)
    count_at = chunk_ofs + root.offsets[0] - 4 * len(root.types) - 4
    assert struct.unpack_from("<I", data, count_at)[0] == len(root.types)
    struct.pack_into("<I", data, count_at, 3_000_000_000)
    path = tmp_path / "garbage.evtx"
    path.write_bytes(bytes(data))

    real = ref.decode_record
    asked: list[int] = []

    def guarded(buf: object, chunk: object, ofs: int, source: int) -> Event:
        asked.append(ofs)
        return real(buf, chunk, ofs, source)

    monkeypatch.setattr(ref, "decode_record", guarded)
    items = list(evtx.iter_events(str(path), 0, jobs=1))
    assert rec not in asked, "python-evtx was asked to walk a garbage count"
    bad = [i for i in items if isinstance(i, ParseIssue)]
    assert len(bad) == 1 and bad[0].offset == rec and "substitution count 3000000000" in bad[0].reason
    assert bad[0].chunk == 0 and bad[0].path == str(path)
    assert sum(isinstance(i, Event) for i in items) == len(items) - 1 > 2000


# --------------------------------------------------------------------------------------------
# Compiled shapes shared across chunks and files, and the in-line value decoders
# --------------------------------------------------------------------------------------------


def _chunks(path: Path) -> Iterator[tuple[bytes, list[int]]]:
    """(chunk bytes, record offsets within it) of every valid chunk."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for index, chunk_ofs in ref.chunk_offsets(buf):
            data = bytes(buf[chunk_ofs : chunk_ofs + ref.CHUNK_SIZE])
            if data[:8] != ref.CHUNK_MAGIC:
                continue
            found = ref.record_offsets(buf, chunk_ofs, 0, str(path), index)
            offsets = [o - chunk_ofs for o in found if isinstance(o, int)]
            yield data, offsets


def _decoded_chunks(path: Path) -> Iterator[ChunkDecoder]:
    """A decoder per chunk, after decoding every record of it (so it has met every template)."""
    for data, offsets in _chunks(path):
        decoder = ChunkDecoder(data)
        for rel in offsets:
            try:
                decoder.decode_tuple(rel, 0, rel)
            except Exception:  # noqa: BLE001, S112 - garbage records: not what this test is about
                continue
        yield decoder


def _evtx_files() -> list[Path]:
    require_shared()  # skip (fail under CI=true) without ../shared: an empty list proves nothing
    return [sample(rel) for rel in EVTX_SAMPLES if sample(rel).stat().st_size <= 3_000_000]


def test_template_content_keys_stand_for_the_parsed_trees() -> None:
    """The cross-chunk cache trusts `template_key`: two templates with the same key (any chunk,
    any file) must parse to the same tree. And it must pay: real logs repeat each template in
    chunk after chunk, at other offsets, with names stored inline or referenced."""
    from parsers.evtx.errors import BinXmlError
    from parsers.evtx.template_key import template_key
    from parsers.evtx.templates import parse_template

    trees: dict[bytes, object] = {}
    seen = shared = 0
    for path in _evtx_files():
        for decoder in _decoded_chunks(path):
            for ofs in decoder._trees.trees.keys() | decoder._canon.keys():
                try:
                    key = template_key(decoder.buf, ofs)
                except BinXmlError:
                    continue
                tree = parse_template(decoder.buf, ofs)
                seen += 1
                if key in trees:
                    shared += 1
                    assert trees[key] == tree, f"{path.name}: same key, different template at {ofs}"
                else:
                    trees[key] = tree
    assert seen > 1000 and shared > seen // 2, (seen, shared)


def test_moved_template_with_other_name_offsets_has_the_same_key() -> None:
    """Same template, other chunk: its names are references in one and inline in the other
    (hence other bytes), yet the key is the same; change one name and it is not."""
    from parsers.evtx.template_key import template_key

    path = sample(BIG)
    by_key: dict[bytes, set[bytes]] = {}
    for decoder in _decoded_chunks(path):
        for ofs in decoder._canon:
            import struct

            length = struct.unpack_from("<I", decoder.buf, ofs + 0x14)[0]
            raw = decoder.buf[ofs + 0x18 : ofs + 0x18 + length]
            by_key.setdefault(template_key(decoder.buf, ofs), set()).add(raw)
    assert any(len(raws) > 1 for raws in by_key.values()), "no template seen with different bytes"
    data, offsets = next(_chunks(path))
    decoder = ChunkDecoder(data)
    decoder.decode_tuple(offsets[0], 0, 0)
    ofs = next(iter(decoder._canon))
    key = template_key(data, ofs)
    at = data.index("Provider".encode("utf-16-le"), ofs)
    changed = data[:at] + "Pxovider".encode("utf-16-le") + data[at + 16 :]
    assert template_key(changed, ofs) != key


def _all_events(paths: list[Path]) -> list[object]:
    out: list[object] = []
    for path in paths:
        out.extend(_fast_only(str(path)))
    return out


def test_shapes_shared_across_chunks_decode_as_chunk_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sample decoded with nothing shared between chunks (each shape compiled in each
    chunk, as before the cache) and with the cache, cold then warm: identical results, and the
    cache compiles far fewer shapes."""
    paths = _evtx_files()
    compiled: list[int] = []
    real_compile = ChunkDecoder._compile

    def counting(self: ChunkDecoder, *args: object) -> object:
        builder = real_compile(self, *args)  # type: ignore[arg-type]
        compiled.append(1)  # shapes that do not compile (garbage templates) are not shared
        return builder

    monkeypatch.setattr(ChunkDecoder, "_compile", counting)
    for name in ("CANON", "RAW", "SHAPES"):
        monkeypatch.setattr(canon, name, {})
    monkeypatch.setattr(canon, "MAX_CANON", 0)
    local = _all_events(paths)
    local_compiles = len(compiled)
    monkeypatch.setattr(canon, "MAX_CANON", 4096)
    compiled.clear()
    cold = _all_events(paths)
    shared_compiles = len(compiled)
    warm = _all_events(paths)
    assert local == cold == warm
    assert sum(isinstance(e, Event) for e in local) > 30_000
    assert shared_compiles * 2 < local_compiles, (shared_compiles, local_compiles)
    assert len(compiled) == shared_compiles, "a warm cache compiled again"


def _record_builder(decoder: ChunkDecoder, rel: int) -> tuple[Any, list[Any]] | None:
    """The builder `decoder` used for the record at `rel` and the record's roots (None for the
    records decoded without one: template-less, fragments, garbage)."""
    from parsers.evtx.templates import parse_root
    from parsers.evtx.values import T_BXML

    try:
        root = parse_root(decoder.buf, rel + 24, len(decoder.buf))
        roots = [root]
        key = decoder._key(root, roots, {}, 0) if T_BXML in root.types else (root.template_ofs, root.types)
    except Exception:  # noqa: BLE001
        return None
    builder = decoder._plans.get(key)
    return None if builder is None or isinstance(builder, Exception) else (builder, roots)


def test_inline_decoders_match_the_plan_interpreter() -> None:
    """Generated builders decode integers, UTF-16, SIDs, GUIDs and the TimeCreated FILETIME
    in line; for every record of every sample they must give what the plan interpreter (which
    applies values.RENDER, python-evtx's rules) gives."""
    checked = 0
    for path in _evtx_files():
        for data, offsets in _chunks(path):
            decoder = ChunkDecoder(data)
            for rel in offsets:
                try:
                    got = decoder.decode_tuple(rel, 0, rel)
                except Exception:  # noqa: BLE001, S112 - garbage: the oracle test covers it
                    continue
                found = _record_builder(decoder, rel)
                slow = None if found is None else found[0].__globals__.get("SLOW")
                if found is None or slow is None:
                    continue  # decoded without a generated builder
                assert got == slow(data, found[1], got[1], 0, rel), f"{path.name} @ {rel}"
                checked += 1
    assert checked > 30_000


@pytest.mark.parametrize(
    "text",
    ["a\r\nb\rc", "tab\there", "bell\x07x", "\ufeffbom", "trail\x00\x00", "nul\x00mid", "caf\u00e9 \u3042", "\ud800x"],
    ids=["line-ends", "tab", "control", "bom", "trailing-nul", "inner-nul", "non-ascii", "lone-surrogate"],
)
def test_odd_strings_decode_as_python_evtx_does(tmp_path: Path, text: str) -> None:
    """UTF-16 values are decoded in line with a printable-text shortcut; strings that are not
    plain printable text take the rule-by-rule path and still match python-evtx (or, where
    python-evtx loses the record, decode with U+FFFD)."""
    import struct

    from parsers.evtx.values import T_WSTRING

    path = sample(BIG)
    raw = bytearray(path.read_bytes())
    chunk_ofs = ref.FILE_HEADER_SIZE
    data, offsets = next(_chunks(path))
    decoder = ChunkDecoder(data)
    encoded = text.encode("utf-16-le", "surrogatepass")
    target = None
    for rel in offsets:
        decoder.decode_tuple(rel, 0, rel)
        found = _record_builder(decoder, rel)
        if found is None:
            continue
        for root in found[1][1:]:  # EventData values, which the Event keeps
            for i, vtype in enumerate(root.types):
                if vtype == T_WSTRING and root.sizes[i] >= len(encoded):
                    target = (rel, root.offsets[i], root.sizes[i])
                    break
            if target:
                break
        if target:
            break
    assert target is not None
    rel, at, size = target
    value = encoded + b" \x00" * ((size - len(encoded)) // 2)  # pad with spaces to the same size
    raw[chunk_ofs + at : chunk_ofs + at + len(value)] = value
    out = tmp_path / "odd.evtx"
    out.write_bytes(bytes(raw))
    locator = chunk_ofs + rel
    fast = _by_offset(_fast_only(str(out)))[locator]
    assert isinstance(fast, Event)
    with open(out, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        from Evtx.Evtx import ChunkHeader

        try:
            want = ref.decode_record(buf, ChunkHeader(buf, chunk_ofs), locator, 3)
        except Exception:  # noqa: BLE001 - python-evtx loses it
            want = None
    if want is not None:
        assert fast == want, _explain(want, fast)
    else:  # python-evtx loses these records (bad UTF-16; a NUL lxml rejects): we keep them
        recovered = {"\ud800x": "\ufffdx", "nul\x00mid": "nulmid"}[text]
        assert any(v.startswith(recovered) for _, v in fast.data), fast.data
    assert struct.unpack_from("<Q", raw, locator + 8)[0] == fast.record_number


def test_make_event_builds_the_same_frozen_event() -> None:
    """`make_event` skips the dataclass __init__ for speed: the result must be an Event equal
    to (and hashing like) the one the constructor builds, still frozen."""
    import dataclasses

    fields = (
        1,
        2,
        3,
        4,
        4624,
        2,
        0,
        12544,
        0,
        "0x8020000000000000",
        "Security",
        "P",
        "PC",
        5,
        6,
        "S-1-5-18",
        (("A", "x"), ("B", "")),
        99,
    )
    made = make_event(*fields)
    built = Event(*fields)
    assert type(made) is Event and made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert evtx_fast.as_tuple(made) == fields
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.event_id = 1  # type: ignore[misc]


def test_unshipping_pauses_the_gc_only_while_loading() -> None:
    """The parent unpacks worker batches with the cyclic GC paused (it doubles the cost), and
    must leave the GC as it found it."""
    import gc

    events = [Event(source=1, record_number=n, record_id=n, filetime=None, event_id=n, locator=n) for n in range(3)]
    shipped = evtx._ship_events([evtx_fast.as_tuple(e) for e in events], 0)
    assert gc.isenabled()
    assert list(evtx._unship_events(shipped)) == events and gc.isenabled()
    gc.disable()
    try:
        assert list(evtx._unship_events(shipped)) == events and not gc.isenabled()
    finally:
        gc.enable()


def test_each_shape_compiles_little_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling a shape's generated code is what a worker spends first on every shape it meets,
    in each process: the code holds the decoding once for `build` and once for the store rows'
    `fast` (`encode` hands its roots to it), and the cache-miss functions are shared
    (`parsers.evtx.misses`), not written out per field (8,400 characters a shape on the samples before, three
    decodings and two functions per cached field)."""
    from parsers.evtx import codegen

    sources: list[str] = []
    real_compile = compile

    def keeping(source: str, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(codegen, "_CODE_CACHE", {})
    monkeypatch.setattr(codegen, "compile", keeping, raising=False)
    for name in ("CANON", "RAW", "SHAPES"):
        monkeypatch.setattr(canon, name, {})
    paths = _evtx_files()
    for path in paths:
        for data, offsets in _chunks(path):
            decoder = ChunkDecoder(data)
            for rel in offsets:
                try:
                    decoder.encode_row(rel, 0, rel, rel, pieces.new_piece_postings())
                except Exception:  # noqa: BLE001, S112 - garbage: the oracle test covers it
                    continue
    assert len(sources) > 100
    for source in sources:
        defs = [line for line in source.splitlines() if line.startswith("def ")]
        assert len(defs) <= 3 and not any(d.startswith(("def M", "def Q")) for d in defs), defs
        if any(d.startswith("def fast(") for d in defs):
            encode = source[source.index("def encode("):].split("\ndef ")[0]
            assert encode.count("\n") <= 3 and "fast(" in encode
    assert sum(map(len, sources)) / len(sources) < 5_000  # 4,050 on the samples (8,400 before)
