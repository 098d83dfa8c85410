"""The views' rows are built and written into the correlation tables with the cyclic collector
paused (issue 18): each full collection walked the hundreds of thousands of objects of a view's
rows again, a fifth of the views' writing at a million events. It is back once they are written."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.correlate.links import Node
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.stored_tables import store_db
from tui.model_cache import ModelCache
from tui.stored_views import ViewRows, paused
from tui.view_builders import all_view_builders


def test_views_are_built_and_written_with_the_collector_paused(tmp_path: Path) -> None:
    db = store_db(tmp_path, load(*hand_made()))
    seen: dict[str, bool] = {}

    def nodes() -> Iterator[Node]:
        seen["written"] = gc.isenabled()
        yield Node("a process", "exact", None, [Node("its child", "exact")])

    def build(model: Any) -> ViewRows:
        seen["built"] = gc.isenabled()
        return ViewRows(tree=nodes())

    assert gc.isenabled()
    cache = ModelCache()
    assert cache.stored_view(db, True, "some_view", {"some_view": paused(build)}, wait=True)
    assert seen == {"built": False, "written": False}  # before: True, True
    assert gc.isenabled()


def test_every_views_builder_is_paused() -> None:
    builders = all_view_builders()
    assert set(builders) == {"processes", "sessions", "handles", "process_access"}
    for build in builders.values():
        assert getattr(build, "__wrapped__", None) is not None  # before: the bare builders
