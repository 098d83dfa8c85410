"""Write `demo/intrusion.xml`, the committed demo log (see `cli/demo_log.py` for its story).

The generator lives in the package (`cli.demo_log`) so an installed evtx-explorer can write the
demo log too; this script keeps `python demo/make_demo.py` working from a checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the checkout's packages are importable
    sys.path.insert(0, str(ROOT))

from cli.demo_log import EXPECTED_COUNTS, render, story  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from cli.demo_log import main as write

    return write(argv, default=Path(__file__).resolve().with_name("intrusion.xml"))


__all__ = ["EXPECTED_COUNTS", "main", "render", "story"]

if __name__ == "__main__":
    sys.exit(main())
