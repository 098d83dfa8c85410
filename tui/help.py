"""The help screen: every key binding, generated from the bindings themselves.

Hand-written help drifts from the code; this lists what `BINDINGS` of the app and of each pane
really say, grouped by where they apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def normalise(bindings: Sequence[BindingType]) -> list[Binding]:
    out: list[Binding] = []
    for b in bindings:
        if isinstance(b, Binding):
            out.append(b)
        else:
            out.append(Binding(*b))
    return out


def help_text(
    sections: Sequence[tuple[str, Sequence[BindingType]]], key_display: Callable[[Binding], str] | None = None
) -> Text:
    """Every binding of every section: keys (as the footer shows them) and description."""
    text = Text()
    for title, bindings in sections:
        text.append(f"{title}\n", style="bold underline")
        for b in normalise(bindings):
            keys = ", ".join(
                b.key_display or (key_display(Binding(k, b.action)) if key_display else k) for k in b.key.split(",")
            )
            text.append(f"  {keys:<18}", style="bold")
            text.append(f"{b.description or b.action}\n")
        text.append("\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    CSS_PATH = "dialogs.tcss"

    def __init__(self, sections: Sequence[tuple[str, Sequence[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Keys  (esc closes)", style="bold"))
            with VerticalScroll(id="help-body"):
                yield Static(help_text(self.sections, self.app.get_key_display), id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
