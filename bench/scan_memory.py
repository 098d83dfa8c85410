"""What the correlation scan holds on the heap (not a timed test): `tracemalloc`'s top lines at the
end of the scan's feed, after `Scan.finish`, and once the model is built, with the RSS then.

    .venv/bin/python bench/scan_memory.py STORE [TOP]

STORE is opened read-only (e.g. the cached `bench/churn.py` store). Tracing makes the build about
three times slower and its RSS larger: compare traced sizes with traced sizes."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core.correlate.scan as scan_module  # noqa: E402
from bench.first_peak import _status  # noqa: E402
from core.correlate.model import model_from_store  # noqa: E402
from core.store.store import Store  # noqa: E402


def show(tag: str, top: int) -> None:
    now, peak = tracemalloc.get_traced_memory()
    print(f"== {tag}: traced {now / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB; {_status()}", flush=True)
    for stat in tracemalloc.take_snapshot().statistics("lineno")[:top]:
        frame = stat.traceback[0]
        where = "/".join(frame.filename.rsplit("/", 2)[-2:])
        print(f"{stat.size / 2**20:8.1f} MB {stat.count:>10,} {where}:{frame.lineno}")


def main() -> int:
    db = Path(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    finish = scan_module.Scan.finish

    def traced_finish(self: scan_module.Scan) -> None:
        show("end of the feed", top)
        finish(self)
        show("after finish", top)

    scan_module.Scan.finish = traced_finish  # type: ignore[method-assign]
    tracemalloc.start()
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        show("model built", top)
        del model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
