"""The columns dialog (`C`): every column with a box for shown/hidden, in table order, its width
and the sort, all on the keyboard; the table behind follows each change at once, and each
change is saved (`tui.columns.apply`).

`a` adds an EventData field as a column, picked from the names the store knows
(`Store.field_names()`) in a second small dialog that filters them as you type. Field names
come from the logs (attacker-controlled): shown as literal text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from core.model.text import printable
from core.store.field_spellings import field_spellings
from core.store.store import Store
from tui import column_settings as cs
from tui.typeahead import TypeAhead, TypeAheadScreen

#: Names the field picker lists at most (a filter narrows them).
MAX_LISTED = 500
HINT = ("space: show/hide  left/right: move  -/+: narrower/wider  o: sort (again: flip)  "
        "O: time order  a: add EventData field  x: remove field  r: defaults  esc: close")


def column_line(settings: cs.ColumnSettings, key: str, wide: bool) -> Text:
    """One line of the dialog: box, name, width, sort arrow, kind."""
    shown = "[x]" if key not in settings.hidden else "[ ]"
    if key == "summary":
        width = "rest"
    else:
        width = str(settings.widths.get(key, cs.default_width(key, wide)))
    arrow = ""
    if settings.sort_key == key:
        arrow = "▼ sorted" if settings.descending else "▲ sorted"
    elif cs.sort_of(key, False) is None:
        arrow = "no sort"
    kind = "EventData" if cs.field_of(key) is not None else ""
    name = printable(settings.label(key))
    line = Text(f"{shown} ", style="bold" if key not in settings.hidden else "dim")
    line.append(f"{name[:28]:<29}{width:>5}  {arrow:<9} {kind}")
    return line


class ColumnsScreen(ModalScreen[None]):
    """See the module docstring. `changed(settings)` applies and saves each change."""

    DEFAULT_CSS = """
    ColumnsScreen { align: center middle; }
    ColumnsScreen > #columns-box {
        width: 90%; max-width: 84; height: 90%; max-height: 32;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ColumnsScreen #columns-title { height: auto; text-style: bold; }
    ColumnsScreen OptionList { height: 1fr; }
    ColumnsScreen #columns-note { height: auto; color: $warning; }
    ColumnsScreen .hint { height: auto; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("space", "show_hide", "Show/hide"),
        Binding("left,shift+up", "move(-1)", "Move left"),
        Binding("right,shift+down", "move(1)", "Move right"),
        Binding("minus", "resize(-1)", "Narrower"),
        Binding("plus,equals_sign", "resize(1)", "Wider"),
        Binding("o", "sort", "Sort"),
        Binding("O", "unsort", "Time order"),
        Binding("a", "add", "Add field"),
        Binding("x,delete", "remove", "Remove field"),
        Binding("r", "reset", "Defaults"),
    ]

    def __init__(self, settings: cs.ColumnSettings, changed: Callable[[cs.ColumnSettings], None],
                 store_path: Path | None, *, wide: bool = False,
                 shown: Callable[[], list[str]] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.changed = changed
        self.shown = shown
        self.store_path = store_path
        self.wide = wide

    def compose(self) -> ComposeResult:
        with Vertical(id="columns-box"):
            yield Static(Text("Columns of the event table (saved for next time)"), id="columns-title")
            yield OptionList(id="columns-list")
            yield Static(Text(""), id="columns-note")
            yield Static(Text(HINT), classes="hint")

    def on_mount(self) -> None:
        self._fill(0)
        self.query_one(OptionList).focus()

    # -- state ---------------------------------------------------------------------------------

    @property
    def _list(self) -> OptionList:
        return self.query_one("#columns-list", OptionList)

    def _fill(self, highlighted: int) -> None:
        options = self._list
        options.clear_options()
        options.add_options([Option(column_line(self.settings, k, self.wide), id=k) for k in self.settings.order])
        options.highlighted = max(0, min(highlighted, len(self.settings.order) - 1))

    def _key(self) -> str | None:
        at = self._list.highlighted
        return self.settings.order[at] if at is not None and at < len(self.settings.order) else None

    def _note(self, text: str) -> None:
        self.query_one("#columns-note", Static).update(Text(text))

    def _changed(self, key: str | None = None) -> None:
        """Redraw, keep `key` highlighted, apply and save."""
        at = self.settings.order.index(key) if key in self.settings.order else (self._list.highlighted or 0)
        self._fill(at)
        self.changed(self.settings)
        if self.shown is not None:
            drawn = set(self.shown())
            missing = [printable(self.settings.label(k)) for k in self.settings.visible()
                       if k not in drawn and k not in ("source", "mark", "finding")]
            if missing:
                self._note(f"no room at this width for: {', '.join(missing)} (hide or narrow another column)")

    # -- keys ----------------------------------------------------------------------------------

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_show_hide()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_show_hide(self) -> None:
        key = self._key()
        if key is not None:
            self.settings.toggle(key)
            self._note("")
            self._changed(key)

    def action_move(self, delta: int) -> None:
        key = self._key()
        if key is not None:
            self.settings.move(key, delta)
            self._changed(key)

    def action_resize(self, delta: int) -> None:
        key = self._key()
        if key is None:
            return
        if key == "summary":
            self._note("the Summary takes the width the other columns leave")
            return
        width = self.settings.resize(key, delta, self.wide)
        self._note(f"{printable(self.settings.label(key))}: {width} cells")
        self._changed(key)

    def action_sort(self) -> None:
        key = self._key()
        if key is None:
            return
        if self.settings.set_sort(key) is None:
            self._note(f"{printable(self.settings.label(key))} is computed per event: "
                       "sort by an EventData field instead")
            return
        self._note("")
        self._changed(key)

    def action_unsort(self) -> None:
        self.settings.clear_sort()
        self._changed(self._key())

    def action_remove(self) -> None:
        key = self._key()
        if key is None or not self.settings.remove_field(key):
            self._note("only EventData field columns are removed (space hides the others)")
            return
        self._changed(None)

    def action_reset(self) -> None:
        sort = (self.settings.sort_key, self.settings.descending)
        fresh = cs.ColumnSettings()
        if sort[0] in fresh.order:
            fresh.sort_key, fresh.descending = sort
        self.settings.order, self.settings.hidden, self.settings.widths = fresh.order, fresh.hidden, fresh.widths
        self.settings.sort_key, self.settings.descending = fresh.sort_key, fresh.descending
        self._note("default columns")
        self._changed(self._key())

    def action_add(self) -> None:
        names: list[str] = []
        if self.store_path is not None:
            with Store(self.store_path, readonly=True) as store:
                names = list(field_spellings(store).values())  # (`CommandLine`, not the key's `commandline`)

        def picked(name: str | None) -> None:
            if not name:
                return
            key = self.settings.add_field(name)
            if key is None:
                self._note(f"too many field columns (at most {cs.MAX_FIELD_COLUMNS})" if self.settings.full
                           else f"not a usable column name: {printable(name)}")
                return
            self._note("")
            self._changed(key)

        self.app.push_screen(FieldPicker(names), picked)


class FieldPicker(TypeAheadScreen, ModalScreen[str | None]):
    """Pick an EventData field name: type to filter, up/down and enter to pick, esc to cancel."""

    DEFAULT_CSS = """
    FieldPicker { align: center middle; }
    FieldPicker > Vertical {
        width: 60%; max-width: 60; height: 70%; border: round $accent; background: $surface; padding: 0 1;
    }
    FieldPicker OptionList { height: 1fr; }
    FieldPicker .hint { height: auto; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", priority=True),
        Binding("down", "to_list", "List", show=False),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names
        self.typeahead = TypeAhead(self, "#field-filter")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Add an EventData field as a column", style="bold"))
            yield Input(placeholder="type to filter the field names", id="field-filter")
            yield OptionList(id="field-list")
            yield Static(Text("enter: add   down: the list   esc: cancel"), classes="hint")

    def on_mount(self) -> None:
        self._filter("")
        self.typeahead.focus_target()

    def on_key(self, event: events.Key) -> None:
        self.typeahead.on_key(event)

    def _matches(self, text: str) -> list[str]:
        low = text.strip().lower()
        return [n for n in self.names if low in n.lower()][:MAX_LISTED]

    def _filter(self, text: str) -> None:
        options = self.query_one("#field-list", OptionList)
        options.clear_options()
        options.add_options([Option(Text(printable(n)), id=f"f{i}") for i, n in enumerate(self._matches(text))])
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#field-filter")
    def _changed(self, event: Input.Changed) -> None:
        self._filter(event.value)

    @on(Input.Submitted, "#field-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        matches = self._matches(event.value)
        exact = [n for n in matches if n.lower() == event.value.strip().lower()]
        if exact or matches:
            self.dismiss((exact or matches)[0])

    @on(OptionList.OptionSelected, "#field-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        matches = self._matches(self.query_one("#field-filter", Input).value)
        if 0 <= event.option_index < len(matches):
            self.dismiss(matches[event.option_index])

    def action_to_list(self) -> None:
        self.query_one("#field-list", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
