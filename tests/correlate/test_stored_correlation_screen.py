"""`c` (the Correlation view) on a reopened log reads the event's correlation tree from the
store (`tui.correlation.stored_correlation`: the trees the Handles and Process access views
store with the log) instead of building the model: on every 4690 and process-access 4656 of
hand-made logs and real samples it shows exactly what a first open shows (nodes, labels and
their styles, confidence, jumps, folding, `/` search, the status line), with the model made
to fail; an event whose tree is not stored still gets the model's, and only then does the
status say the model is being built."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot

import tui.model_cache as mc
from core.correlate.model import model_from_store
from core.store.store import Store, StoredEvent
from tests.app.story import Harness, story
from tests.apputil import opened, sync, wait_for
from tests.correlate.events import load
from tests.correlate.hand_made_logs import hand_made
from tests.correlate.samples import COBALT, MIMIKATZ, load_evtx, load_json
from tests.correlate.stored_tables import no_model, store_db, text
from tests.shared import require_shared
from tui.correlation import CorrelationScreen
from tui.model_cache import ModelCache
from tui.nav_tree import NavTree
from tui.view_builders import all_view_builders

BUILDERS = all_view_builders()
#: What `/` looks for in each tree: words most trees hold.
NEEDLES = ("process", "handle")
#: The first events of a sample whose search and jump are checked too (the others: their tree).
KEYED = 6


def _samples() -> dict[str, Callable[[], list[StoredEvent]]]:
    return {
        "hand_made": lambda: load(*hand_made()),
        "story": lambda: load(*story()),
        "mimikatz": lambda: (require_shared(), load_evtx(MIMIKATZ))[1],
        "cobalt_strike": lambda: (require_shared(), load_json(COBALT))[1],
    }


#: 82 events (44 of them tested), each opened twice: slow.
PARAMS = [pytest.param(name, marks=[pytest.mark.slow] if name == "cobalt_strike" else []) for name in _samples()]


def _write_tables(db: Path) -> None:
    """What the app writes once a view has shown the model (every view, their line trees)."""
    cache = ModelCache()
    for name in BUILDERS:
        assert cache.stored_view(db, True, name, BUILDERS, wait=True)


def _listed_events(db: Path) -> list[int]:
    """Every 4690 and every 4656 the Process access view lists (on a process), by store id."""
    with Store(db, readonly=True) as store:
        model = model_from_store(store)
        access = {r.store_id for r in BUILDERS["process_access"](model).rows or ()}
        return [se.id for se in store.iter_events()
                if se.event.event_id == 4690 or (se.event.event_id == 4656 and se.id in access)]


def _status(app: Any) -> str:
    return str(app.screen.query_one("#view-status").render())


def _widget(tree: NavTree) -> list[object]:
    """What the tree shows: each line's depth, text with its styles, event, confidence and
    whether it is unfolded / can unfold."""
    out: list[object] = []
    for node in tree.walk():
        depth, up = 0, node.parent
        while up is not None:
            depth, up = depth + 1, up.parent
        data = node.data
        label = node.label if isinstance(node.label, Text) else Text(str(node.label))
        out.append((depth, text(label), data.store_id if data else None, data.confidence if data else None,
                    node.is_expanded, node.allow_expand))
    return out


#: Set once a status line saying "building" was seen (`_shown`), so that a slowed build lasts
#: until then rather than a fixed time a loaded machine's polling can miss.
SAW_BUILDING = threading.Event()


async def _settled(pilot: Pilot[Any], tree: NavTree) -> None:
    """Let a search's cursor move land: a stored tree read a page at a time searches in a
    worker, and `reveal` moves the cursor after the next refresh, which one pause does not wait
    for on a busy machine (a reopened tree then read line 0 instead of 1)."""
    await pilot.pause()
    searches = [w for w in pilot.app.workers if w.group == "tree-search"]
    if searches:  # (none given: Textual waits for every worker)
        await pilot.app.workers.wait_for_complete(searches)
    await wait_for(pilot, lambda: tree.revealing is None)


async def _shown(db: Path, store_ids: list[int], *, keys: bool, seen: list[str] | None = None) -> list[list[object]]:
    """`c` on each event in turn: the title, status and tree shown, and (`keys`, the first
    KEYED events) where `/`, `n`, `N` put the cursor and which event `enter` there jumps to.
    `seen`: every status line shown meanwhile."""
    app = Harness(db, lambda ws: CorrelationScreen(ws, store_ids[0]))
    out: list[list[object]] = []
    async with opened(app, (120, 40), ready=False) as pilot:
        for number, store_id in enumerate(store_ids):
            if number:
                app.pop_screen()
                app.push_screen(CorrelationScreen(app.workspace, store_id))

            def showing(s: int = store_id) -> bool:
                return isinstance(app.screen, CorrelationScreen) and app.screen.store_id == s and app.screen.is_mounted

            await wait_for(pilot, showing)
            statuses: list[str] = []

            def done(statuses: list[str] = statuses) -> bool:
                statuses.append(_status(app))
                if statuses[-1].startswith("building"):
                    SAW_BUILDING.set()
                tree = app.screen.query_one(NavTree)
                return not statuses[-1].startswith(("reading", "building")) and not tree.filling

            await wait_for(pilot, done, timeout=60)
            if seen is not None:
                seen.extend(dict.fromkeys(statuses))
            tree = app.screen.query_one(NavTree)
            shown: list[object] = [str(app.screen.query_one("#view-title").render()), _status(app), _widget(tree)]
            if keys and number < KEYED:
                if not number:  # typed once (keys take a tenth of a second each)
                    await pilot.press("slash", *"pro", "enter")
                    await _settled(pilot, tree)
                    shown.append(tree.cursor_line)
                screen = app.screen
                assert isinstance(screen, CorrelationScreen)
                for needle in NEEDLES:  # `/` then `n` twice and `N`
                    screen._search_text = needle
                    for forward in (True, True, True, False):
                        screen.action_search_next(forward)
                        await _settled(pilot, tree)
                        shown.append(tree.cursor_line)
                app.jumps.clear()
                await pilot.press("enter")
                await pilot.pause()
                shown.append(list(app.jumps))
            out.append(shown)
    return out


@pytest.mark.parametrize("sample", PARAMS)
@sync
async def test_c_on_a_reopen_shows_the_stored_tree_as_the_model_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: str
) -> None:
    db = store_db(tmp_path, _samples()[sample]())
    events = _listed_events(db)
    assert events
    if sample == "cobalt_strike":  # 82 events: the first KEYED and every other one after (44 of them)
        events = events[:KEYED] + events[KEYED::2]
    first = await _shown(db, events, keys=True)  # the tables are not written yet: the model's trees
    _write_tables(db)
    monkeypatch.setattr(mc, "build_model", no_model)
    again = await _shown(db, events, keys=True)
    for store_id, was, now in zip(events, first, again, strict=True):
        assert now == was, store_id
    assert all(isinstance(shown[2], list) and len(shown[2]) > 5 for shown in first)


@sync
async def test_c_on_an_event_without_a_stored_tree_builds_the_model_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = store_db(tmp_path, load(*story()))
    dup = _listed_events(db)[0]
    with Store(db, readonly=True) as store:  # a logon: no list view shows it, its tree is not stored
        logon = next(se.id for se in store.iter_events() if se.event.event_id == 4624)
    first = await _shown(db, [dup, logon], keys=False)
    _write_tables(db)
    built: list[float] = []
    real = mc.build_model

    def slow_model(store: Store, progress: Any = None) -> Any:
        built.append(time.monotonic())
        SAW_BUILDING.wait(10)  # until the status is seen saying so (or it never says so)
        return real(store, progress)

    monkeypatch.setattr(mc, "build_model", slow_model)
    SAW_BUILDING.clear()
    seen: list[str] = []
    assert await _shown(db, [dup], keys=False, seen=seen) == first[:1]
    assert not built and not any("building" in status for status in seen)
    seen.clear()
    assert await _shown(db, [logon], keys=False, seen=seen) == first[1:]
    assert len(built) == 1 and any(status.startswith("building the correlation model") for status in seen)
