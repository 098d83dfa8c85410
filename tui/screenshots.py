"""Write the README's screenshots: `python -m tui.screenshots [OUTDIR]` (default `screenshots/`).

Drives the app headless on the demo log (a private cache, UTC, fixed sizes) and saves SVGs of
the main screen at 80x24 and 160x48, a filter applied, the detail pane, the help screen, and
the other views.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Footer

from tui.app import EvtxApp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "intrusion.xml"

Step = Callable[[Pilot[int]], Awaitable[None]]


async def _until(pilot: Pilot[int], cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.02)
    await pilot.pause(0.1)
    while not footer_ready(pilot.app) and time.monotonic() < deadline:  # rebuilt meanwhile
        await pilot.pause(0.02)


def footer_ready(app: App[int] | App[None]) -> bool:
    """Every footer shows its keys: one rebuilds them whenever the screen's bindings change, and a
    picture taken during a rebuild would show an empty footer."""
    return all(len(footer.children) > 0 for footer in app.screen.query(Footer))


def app_ready(app: EvtxApp) -> bool:
    """The demo is loaded, its rows, detail and findings shown, the model built ahead (the status
    line's "correlating N%" gone), and the footer complete."""
    ws = app.workspace
    built = (not app.prebuild or (ws.store_path is not None and ws.models.built_model(ws.store_path, True) is not None
                                  and not app.correlating_ahead))
    return bool(ws.loaded and app.table.total is not None and app.table.row_at(0) is not None
                and app.detail.store_id is not None and ws.findings_ready and built and footer_ready(app))


def _app(pilot: Pilot[int]) -> EvtxApp:
    app = pilot.app
    assert isinstance(app, EvtxApp)
    return app


async def _ready(pilot: Pilot[int]) -> None:
    app = _app(pilot)
    await _until(pilot, lambda: app_ready(app))


async def _filter(pilot: Pilot[int]) -> None:
    await _ready(pilot)
    await pilot.press("slash", *"4688 OR 4690", "enter")
    app = _app(pilot)
    await _until(pilot, lambda: app.workspace.query == "4688 OR 4690" and app.table.total is not None)
    await pilot.press(*["j"] * 12)
    await pilot.pause(0.2)


async def _detail(pilot: Pilot[int]) -> None:
    await _ready(pilot)
    app = _app(pilot)
    app.set_filter("4690")
    await _until(pilot, lambda: app.table.total == 2 and app.detail.store_id is not None)
    await pilot.press("enter")
    await pilot.pause(0.2)


async def _bad_query(pilot: Pilot[int]) -> None:
    await _ready(pilot)
    await pilot.press("slash", *"4688 AND (user:alice OR", "enter")
    await pilot.pause(0.2)


async def columns_dialog(pilot: Pilot[int]) -> None:
    """The columns dialog (`C`) with CommandLine added as a column and the table sorted by it."""
    from tui.columns_dialog import ColumnsScreen, FieldPicker

    await _ready(pilot)
    app = _app(pilot)
    await pilot.press("C")
    await _until(pilot, lambda: isinstance(app.screen, ColumnsScreen))
    await pilot.press("a")
    await _until(pilot, lambda: isinstance(app.screen, FieldPicker))
    await pilot.press(*"commandline", "enter")
    await _until(pilot, lambda: isinstance(app.screen, ColumnsScreen)
                 and "field:commandline" in app.table.shown_columns)
    await pilot.press("o")
    await _until(pilot, lambda: app.table.sort is not None and app.table.row_at(0) is not None)


async def _press_then_wait(keys: tuple[str, ...], pause: float = 1.0) -> Step:
    async def step(pilot: Pilot[int]) -> None:
        await _ready(pilot)
        await pilot.press(*keys)
        await pilot.pause(pause)

    return step


async def shoot(outdir: Path) -> list[Path]:
    shots: list[tuple[str, tuple[int, int], Step]] = [
        ("main-80x24", (80, 24), _ready),
        ("main-160x48", (160, 48), _ready),
        ("filter-160x48", (160, 48), _filter),
        ("bad-query-80x24", (80, 24), _bad_query),
        ("detail-160x48", (160, 48), _detail),
        ("help-100x40", (100, 40), await _press_then_wait(("question_mark",), 0.3)),
    ]
    shots.append(("stack-160x48", (160, 48), await _press_then_wait(("right", "right", "right", "s"), 2.0)))
    shots.append(("timeline-160x48", (160, 48), await _press_then_wait(("h",), 2.0)))
    for key, name in (("2", "processes"), ("3", "handles"), ("4", "sessions"), ("5", "findings"),
                      ("7", "process-access"), ("c", "correlation")):
        keys = (key,) if key != "c" else ("slash", *"4690", "enter", "c")
        shots.append((f"{name}-160x48", (160, 48), await _press_then_wait(keys, 2.0)))
    shots.append(("columns-160x48", (160, 48), columns_dialog))  # last: it saves its columns
    written: list[Path] = []
    outdir.mkdir(parents=True, exist_ok=True)
    for name, size, step in shots:
        app = EvtxApp([str(DEMO)])
        async with app.run_test(size=size) as pilot:
            try:
                await step(pilot)
            except TimeoutError as exc:
                print(f"{name}: {exc}", file=sys.stderr)
            deadline = time.monotonic() + 5
            while not footer_ready(app) and time.monotonic() < deadline:  # after the last keys
                await pilot.pause(0.02)
            path = outdir / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(outdir))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    outdir = Path(args[0]) if args else ROOT / "screenshots"
    os.environ["EVTX_EXPLORER_CACHE_DIR"] = tempfile.mkdtemp(prefix="evtx-shots-cache-")
    os.environ["EVTX_EXPLORER_DATA_DIR"] = tempfile.mkdtemp(prefix="evtx-shots-data-")
    # The user's own columns.json must not change the pictures (nor the dialog's shot, theirs).
    os.environ["EVTX_EXPLORER_CONFIG_DIR"] = tempfile.mkdtemp(prefix="evtx-shots-config-")
    os.environ.pop("NO_COLOR", None)
    os.environ["TZ"] = "UTC"
    time.tzset()
    if not DEMO.exists():
        subprocess.run([sys.executable, str(ROOT / "demo" / "make_demo.py")], cwd=ROOT, check=True)
    for path in asyncio.run(shoot(outdir)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
