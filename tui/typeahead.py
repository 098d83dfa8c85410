"""Keys typed while a dialog opens go into the dialog's text box, not to the app's bindings.

A paste or a fast typist delivers `/4688` or `M` and a note in one read. Textual hands every
key of the batch to the widget focused at that moment (the event table) before that widget
handles the first one, so the keys after `/` or `M` reach the table, bubble up to the app and
ran as commands there: `4` opened the Sessions view, `m` made stray marks, half of a note was
lost. Two guards:

- `route_typeahead` (the app's key handler, before its bindings): a printable key that reaches
  the app while a text box has focus was typed for that box (a focused box takes every
  printable key itself), so it goes there; while a dialog is still opening (nothing focused
  yet) it is kept for the dialog's box.
- `TypeAhead` (in the dialogs): keys that reach the dialog before its box has focus are kept,
  and handed to the box, in order, as soon as it is mounted; the box is focused at once.
"""

from __future__ import annotations

import weakref

from textual import events
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

#: Keys kept at most while a dialog is not mounted yet (a paste of a long text still fits).
MAX_PENDING = 10_000
#: The keys this module posted to a text box: never routed twice (a box that lets one through,
#: read-only say, leaves it to the bindings; it does not loop).
_ROUTED: weakref.WeakSet[events.Key] = weakref.WeakSet()


def _routed(event: events.Key) -> events.Key:
    """A copy of `event` to post to the text box, remembered as routed."""
    copy = events.Key(event.key, event.character)
    _ROUTED.add(copy)
    return copy


class TypeAhead:
    """Routes keys that reach a screen with nothing focused to its text box (see the module
    docstring). `screen` is the dialog; `selector` names its text box."""

    def __init__(self, screen: Screen[str | None], selector: str) -> None:
        self.screen = screen
        self.selector = selector
        self.pending: list[events.Key] = []

    def _target(self) -> Widget | None:
        try:
            return self.screen.query_one(self.selector)
        except NoMatches:
            return None

    def focus_target(self) -> None:
        """On mount: focus the text box now (not after the next refresh, as `focus()` does),
        then hand it the keys typed so far."""
        target = self._target()
        if target is None:
            return
        self.screen.set_focus(target)
        pending, self.pending = self.pending, []
        for key in pending:
            target.post_message(key)

    def on_key(self, event: events.Key) -> None:
        """A key on the screen itself: it was typed before the text box had focus."""
        if self.screen.focused is not None:
            return  # bubbled up from a focused widget: not ours to take
        event.stop()
        event.prevent_default()
        self.keep(event)

    def keep(self, event: events.Key) -> None:
        """Hand a key typed for the text box to it (after the ones kept so far), or keep it
        until the box is mounted."""
        copy = _routed(event)
        target = self._target()
        if target is None or not target.is_mounted:
            if len(self.pending) < MAX_PENDING:
                self.pending.append(copy)
            return
        self.focus_target()  # the keys kept so far go first
        target.post_message(copy)


class TypeAheadScreen:
    """A dialog with a text box that takes the keys typed while it opens (its `typeahead`)."""

    typeahead: TypeAhead


def route_typeahead(screen: Screen[object], event: events.Key) -> bool:
    """Send a printable key that reached the app to the text box it was typed for: the focused
    `Input`/`TextArea`, or the box of a dialog still opening. True when the key was taken (the
    app then runs no binding for it)."""
    if not event.is_printable or event in _ROUTED:
        return False
    focused = screen.focused
    if isinstance(focused, Input) or (isinstance(focused, TextArea) and not focused.read_only):
        focused.post_message(_routed(event))
        return True
    if focused is None and isinstance(screen, TypeAheadScreen):
        screen.typeahead.keep(event)
        return True
    return False
