"""One digest of everything the fast EVTX path produces over every sample of ../shared.

    .venv/bin/python bench/decode_digest.py [--samples ../shared/samples] [--fresh]

For each `.evtx` file of the samples (sorted by path), both outputs of the decoder are hashed
in file order: the field tuples (`parsers.evtx.decoder.iter_chunk_tuples`, python-evtx
fallback included) and the store rows (EventData loaded back from marshal) with their posting lists and parse issues
(`parsers.evtx.encode_range` over all chunks). A change to the decoder that should not change
its output must leave the printed digest as it was (run it before and after, same samples).
Why here and not a test: the oracle tests compare with python-evtx and skip the slow samples;
this covers every sample, both outputs, in a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import marshal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parsers import evtx  # noqa: E402
from parsers.evtx import _chunk_count, _chunks, _mapped, release_mapped  # noqa: E402
from parsers.evtx import decoder as evtx_fast  # noqa: E402


def digest_file(path: str, h: hashlib._Hash) -> int:
    """Hash the tuples and the encoded batch of `path` into `h`; the number of records."""
    buf = _mapped(path)
    n_chunks = _chunk_count(len(buf))
    n = 0
    for index, ofs in _chunks(buf, 0, n_chunks):
        for item in evtx_fast.iter_chunk_tuples(buf, index, ofs, 1, path):
            h.update(repr(item).encode("utf-8", "surrogatepass"))
            n += 1
    batch = evtx.encode_range(path, 1, 0, n_chunks)
    # marshal's bytes depend on reference counts (and may be written by hand): hash what they load as
    rows = [(*row[:-1], marshal.loads(row[-1]) if row[-1] else ()) for row in batch.rows]
    h.update(repr(rows).encode("utf-8", "surrogatepass"))
    # (the names an event holds twice are keyed (None, name): `core.model.rows.REPEATED`)
    postings = sorted(batch.postings.items(), key=lambda kv: (kv[0][0] is not None, kv[0][0] or "", kv[0][1]))
    h.update(repr(postings).encode("utf-8", "surrogatepass"))
    h.update(repr(batch.issues).encode("utf-8", "surrogatepass"))
    release_mapped()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default=str(ROOT.parent / "shared" / "samples"))
    args = ap.parse_args()
    files = sorted(p for p in Path(args.samples).rglob("*") if p.suffix.lower() == ".evtx" and p.is_file())
    h = hashlib.sha256()
    records = 0
    for p in files:
        h.update(str(p.relative_to(args.samples)).encode())
        try:
            records += digest_file(str(p), h)
        except Exception as exc:  # noqa: BLE001 - the failure itself is part of the output
            h.update(f"{type(exc).__name__}: {exc}".encode("utf-8", "surrogatepass"))
    print(f"digest {h.hexdigest()[:16]} over {len(files)} samples, {records} items")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
