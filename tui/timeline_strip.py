"""The timeline strip (`h`): a two-line histogram of the current view over time above the table.

Line one: one block character per bucket (`core.query.timeline` picks round buckets from the
view's span), the selected bucket reversed; line two: that bucket's time range, its count and
the bucket width. The selected bucket follows the table's cursor (`follow`: a lookup in the
computed histogram, no query); `[`/`]` (or left/right while the strip has focus) move between the
buckets that hold events (an empty one has nothing to zoom into) and the table selects the
bucket's first event (the app, on `Moved`), `enter` zooms: the filter
becomes the view's query AND the bucket's `after:`/`before:` (`core.query.pivot.within`, the same
range as `Bucket.query`). The histogram is computed in a thread worker over its own read-only
store connection and posted as a message; a result for a view that is no longer shown is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from core.model.text import printable
from core.query.timeline import Timeline, timeline, width_label
from core.store.filter import Filter
from core.store.store import Store
from tui.words import plural

BLOCKS = " ▁▂▃▄▅▆▇█"


class TimelineComputed(Message):
    def __init__(self, generation: int, result: Timeline | None, error: str | None) -> None:
        super().__init__()
        self.generation, self.result, self.error = generation, result, error


def bars(result: Timeline) -> str:
    """One block per bucket, scaled to the peak (a non-empty bucket is never blank)."""
    peak = result.peak or 1
    out = []
    for b in result.buckets:
        level = 0 if b.count == 0 else max(1, round(b.count * (len(BLOCKS) - 1) / peak))
        out.append(BLOCKS[level])
    return "".join(out)


class TimelineStrip(Static, can_focus=True):
    """See the module docstring."""

    DEFAULT_CSS = """
    TimelineStrip { height: 2; display: none; padding: 0 1; }
    TimelineStrip:focus { text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Earlier bucket", show=False),
        Binding("right", "move(1)", "Later bucket", show=False),
        Binding("enter", "zoom", "Zoom", show=False),
    ]

    class Zoom(Message):
        """Zoom the view into [start, end)."""

        def __init__(self, start: int, end: int) -> None:
            super().__init__()
            self.start, self.end = start, end

    class Moved(Message):
        """`[`/`]` selected the bucket [start, end): the table selects its first event, so the
        selected bucket keeps following the table's cursor."""

        def __init__(self, start: int, end: int) -> None:
            super().__init__()
            self.start, self.end = start, end

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text(""), id=id)
        self.result: Timeline | None = None
        self.selected = 0
        self.generation = 0
        self._select_ticks: int | None = None
        #: The bucket `[`/`]` moved to while the table has not yet selected its first event:
        #: the table's moves meanwhile are the earlier keys' (pressed fast, they pulled the
        #: selection back a bucket), so `follow` waits for one into it.
        self._moving: int | None = None

    def show_view(self, store_path: Path | None, compiled: Filter, at_ticks: int | None) -> None:
        """(Re)compute for the view, selecting the bucket of the time `at_ticks` when known."""
        self.generation += 1
        self._select_ticks = at_ticks
        self._moving = None
        if store_path is None:
            return
        self.update(Text("timeline: computing…", style="dim"))
        self._compute(self.generation, store_path, compiled)

    @work(thread=True, exclusive=True, group="timeline", description="the view's histogram")
    def _compute(self, generation: int, store_path: Path, compiled: Filter) -> None:
        try:
            with Store(store_path, readonly=True) as store:
                result = timeline(store, compiled)
        except Exception as exc:  # noqa: BLE001 - shown in the strip
            self.post_message(TimelineComputed(generation, None, str(exc)))
            return
        self.post_message(TimelineComputed(generation, result, None))

    def on_timeline_computed(self, message: TimelineComputed) -> None:
        message.stop()
        if message.generation != self.generation:
            return  # the view changed meanwhile
        self.result = message.result
        if message.result is None:
            self.update(Text(printable(f"timeline: {message.error}"), style="bold red"))
            return
        found = message.result.bucket_of(self._select_ticks)
        self.selected = found if found is not None else 0
        self._render_strip()

    def on_resize(self, _event: events.Resize) -> None:
        """Drawn again at the new width: a histogram that came in before the strip had its width
        (shown by `h` as the result arrived) was cut to 10 buckets until the selection moved."""
        self._render_strip()

    def _render_strip(self) -> None:
        result = self.result
        if result is None:
            return
        if not result.buckets:
            self.update(Text(f"timeline: no event with a time ({plural(result.total, 'event')})", style="dim"))
            return
        line = bars(result)
        room = max(10, self.size.width - 2)
        start = max(0, min(self.selected - room // 2, len(line) - room))
        shown = Text(line[start:start + room])
        at = self.selected - start
        shown.stylize(Style(reverse=True), at, at + 1)
        b = result.buckets[self.selected]
        label = (f"{b.start_datetime:%Y-%m-%d %H:%M:%S} .. {b.end_datetime:%H:%M:%S} UTC: {plural(b.count, 'event')} "
                 f"· {len(result.buckets)} × {width_label(result.width)} · peak {result.peak:,} "
                 "· [ ] move · enter zoom")
        shown.append("\n")
        shown.append(label, style="dim")
        self.update(shown)

    def follow(self, ticks: int | None) -> None:
        """The table's cursor moved to an event at `ticks`: select its bucket. A lookup in the
        histogram already computed (no query), and a redraw only when the bucket changes."""
        self._select_ticks = ticks  # a histogram still computing selects it when it arrives
        if self.result is None or not self.display:
            return
        found = self.result.bucket_of(ticks)
        if self._moving is not None:
            if found == self._moving:
                self._moving = None
            return
        if found is None or found == self.selected:
            return
        self.selected = found
        self._render_strip()

    def move_missed(self) -> None:
        """The table found no event of the bucket moved to: `follow` the cursor again."""
        self._moving = None

    def action_move(self, delta: int) -> None:
        """To the next bucket in `delta`'s direction that holds events: an empty one has nothing
        to read or zoom into (`enter` there showed "0 of 71 events"); the table then selects
        its first event (`Moved`). At the last one, stay, and say so."""
        if self.result is None:
            self.app.notify("the timeline is still being computed", severity="warning")
            return
        if not self.result.buckets:
            self.app.notify("no event with a time in this view", severity="warning")
            return
        buckets = self.result.buckets
        step = 1 if delta > 0 else -1
        at = self.selected + step
        while 0 <= at < len(buckets) and buckets[at].count == 0:
            at += step
        if 0 <= at < len(buckets):
            self.selected = self._moving = at
            self._render_strip()
            self.post_message(self.Moved(buckets[at].start, buckets[at].end))
        else:
            self.app.notify(f"no {'later' if step > 0 else 'earlier'} bucket with events", severity="warning")

    def action_zoom(self) -> None:
        if self.result is None or not self.result.buckets:
            return
        b = self.result.buckets[self.selected]
        if b.count == 0:  # (a cursor on no event, or an empty view's histogram)
            self.app.notify("no event in this bucket: [ and ] move between the ones with events",
                            severity="warning", markup=False)
            return
        self.post_message(self.Zoom(b.start, b.end))
