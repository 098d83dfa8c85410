"""The status line: "1,234 of 133,399 events", time zone, load progress and parse issues.

Loading shows a progress bar with records done, rate and time left; parse issues and
unreadable inputs are counted here (the `!` panel lists them), so nothing is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from core.model.text import printable
from tui.words import plural


@dataclass
class LoadState:
    """Where loading stands, summed over every input."""

    records: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    elapsed: float = 0.0
    active: bool = False
    stopped: bool = False

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.bytes_done <= 0 or self.elapsed <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) * self.elapsed / self.bytes_done)


def human_seconds(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def status_text(
    shown: int | None, total: int, filtered: bool, zone: str, load: LoadState, issues: int, errors: int,
    note: str = "",
) -> Text:
    text = Text()
    if shown is None:
        text.append("counting… ", style="bold")
        text.append(f"of {plural(total, 'event')}")
    elif filtered:
        text.append(f"{shown:,}", style="bold")
        text.append(f" of {plural(total, 'event')}")
    else:
        text.append(f"{shown:,}", style="bold")
        text.append(" event" if shown == 1 else " events")
    text.append(f" · {zone}")
    if load.active:
        text.append(f" · loading {load.records:,} rec, {load.rate:,.0f}/s", style="bold")
        left = load.seconds_left
        if left is not None:
            text.append(f", ~{human_seconds(left)} left")
        text.append(" (esc stops; file order)")
    elif load.stopped:
        text.append(f" · loading stopped: {plural(load.records, 'event')} loaded (partial)", style="bold")
    if issues or errors:
        parts = []
        if errors:
            parts.append(f"{errors} unreadable")
        if issues:
            parts.append(plural(issues, "parse issue"))
        text.append(" · " + ", ".join(parts) + " (!)", style="bold reverse")
    if note:
        text.append(" · " + printable(note))
    return text


class StatusBar(Horizontal):
    """The status line. One line when it fits; at 80 columns the loading figures and the
    parse-issue count wrap to a second line rather than being cut off (nothing may be lost
    silently)."""

    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 3; background: $panel; }
    StatusBar #status-text { width: 1fr; height: auto; }
    StatusBar #load-progress { width: 30; height: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="status-text")
        yield ProgressBar(total=100, show_eta=False, id="load-progress")

    def update_status(self, text: Text, load: LoadState) -> None:
        self.query_one("#status-text", Static).update(text)
        bar = self.query_one(ProgressBar)
        bar.display = load.active
        if load.active and load.bytes_total > 0:
            bar.update(total=load.bytes_total, progress=min(load.bytes_done, load.bytes_total))
