"""A digest of everything the correlation model answers, to check that a change of the build keeps
its answers identical (not a timed benchmark):

    python -m bench.model_digest [--db PATH] [--events 1000000] [--seed 18]

Builds the model from the store (default: the cached `bench/churn.py` store, read-only) and
prints one SHA-256 per part: every process, handle and session instance (each field and each
event it names, as `Ref`s), every model event's facts (its instances, notes and session), each
4690's source choice, the Handles and Process access lists (the latter's lines too, as stored),
and the attached events. Run it on two branches and compare the lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.correlation_views import add_churn_args, churn_store  # noqa: E402
from core.correlate.model import CorrelationModel, model_from_store  # noqa: E402
from core.store.store import Store  # noqa: E402
from tui.process_access import stored_access_rows  # noqa: E402

#: The properties each instance type answers besides its fields (its events as `Ref`s).
_PROPERTIES = {
    "Process": ("created", "exited", "replaced_by", "first_seen", "start", "end", "names", "label"),
    "Handle": ("opened", "duplicated_by", "closed", "first_seen", "accesses", "duplications", "confidence",
               "reason", "close_reason", "label"),
    "Session": ("logon", "privileges", "end", "duration", "label"),
}


def _fields(obj: Any) -> list[object]:
    out: list[object] = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "facts"]
    for name in _PROPERTIES.get(type(obj).__name__, ()):
        value = getattr(obj, name)
        out.append((name, tuple(value) if name in ("accesses", "duplications") else value))
    if type(obj).__name__ == "Session":
        out.append(("logoffs", tuple(obj.logoffs)))
    return out


def _digest(lines: Iterable[object]) -> str:
    h = hashlib.sha256()
    n = 0
    for line in lines:
        h.update(repr(line).encode())
        h.update(b"\n")
        n += 1
    return f"{h.hexdigest()[:16]} ({n})"


def _lines(rows: Any) -> Iterable[object]:
    """The Process access view's count and each line as stored (cells, styles and the line above it)."""
    yield rows.total
    for row in rows.rows:
        yield row.store_id, [_text(cell) for cell in row.cells], _text(row.why)


def _text(text: Any) -> object:
    return text.plain, str(text.style), [(s.start, s.end, str(s.style)) for s in text.spans]


def digests(model: CorrelationModel) -> dict[str, str]:
    """One digest per part of the model's answers."""
    facts = model._facts  # noqa: SLF001 - the per-event answers themselves
    return {
        "processes": _digest(_fields(p) for p in model.processes),
        "handles": _digest(_fields(h) for h in model.handles),
        "sessions": _digest(_fields(s) for s in model.sessions),
        "facts": _digest(facts),
        "facts_rows": _digest(facts.rows()),
        "sysmon_facts": _digest(sorted(model._sysmon_facts.items())),  # noqa: SLF001
        "source_choices": _digest(sorted(model._choices.items())),  # noqa: SLF001
        "duplications": _digest(model.handle_duplications()),
        "accesses": _digest(model.process_accesses()),
        "access_lines": _digest(_lines(stored_access_rows(model))),
        "attachments": _digest(sorted(model.attachments.items())),
        "orphans": _digest(sorted(model._session_tracker.orphans.items())),  # noqa: SLF001
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_churn_args(parser)
    args = parser.parse_args()
    db = churn_store(args)
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        for part, digest in digests(model).items():
            print(json.dumps({"part": part, "digest": digest}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
