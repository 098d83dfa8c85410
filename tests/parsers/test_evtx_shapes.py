"""The EVTX decoder's compiled shapes, shared across chunks and files (a template's content key
stands for its parsed tree, a moved template keeps its key, shared shapes decode as chunk-local
ones, each compiles little code), and the in-line value decoders against the plan interpreter
and python-evtx (odd strings, the frozen Event they build)."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.model.event import Event, make_event
from parsers import evtx
from parsers.evtx import canon, pieces
from parsers.evtx import decoder as evtx_fast
from parsers.evtx import reference as ref
from parsers.evtx.chunk import ChunkDecoder
from parsers.evtx.interpret import Builder
from parsers.evtx.templates import Root
from tests.parsers.evtx_samples import BIG, EVTX_SAMPLES, by_offset, explain, fast_only
from tests.shared import require_shared, sample


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
        out.extend(fast_only(str(path)))
    return out


def test_shapes_shared_across_chunks_decode_as_chunk_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sample decoded with nothing shared between chunks (each shape compiled in each
    chunk, as before the cache) and with the cache, cold then warm: identical results, and the
    cache compiles far fewer shapes."""
    paths = _evtx_files()
    compiled: list[int] = []
    real_compile = ChunkDecoder._compile

    def counting(self: ChunkDecoder, roots: list[Root], links: dict[int, int]) -> Builder:
        builder = real_compile(self, roots, links)
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
    fast = by_offset(fast_only(str(out)))[locator]
    assert isinstance(fast, Event)
    with open(out, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        from Evtx.Evtx import ChunkHeader

        try:
            want = ref.decode_record(buf, ChunkHeader(buf, chunk_ofs), locator, 3)
        except Exception:  # noqa: BLE001 - python-evtx loses it
            want = None
    if want is not None:
        assert fast == want, explain(want, fast)
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
        made.event_id = 1  # type: ignore[misc]  # on purpose: a frozen Event must refuse it


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
