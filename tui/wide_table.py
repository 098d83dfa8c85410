"""A row-cursor list wider than the screen that `left`/`right` scroll a whole column at a time.

A row-cursor `DataTable` scrolls sideways one cell per key press: at 80 columns the Sessions
list's last column was 80 presses away, so its cells were out of reach in practice. Here
`right` brings the next column's left edge to the view's left edge (`left` the previous
one), so every cell is a few presses away, and `columns_hidden` says whether any column is
out of view (the view's status then tells the analyst to scroll).
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from tui.list_pages import PagedRowsTable


class WideTable(PagedRowsTable):
    """A `DataTable` of rows that scrolls sideways by columns (see the module docstring);
    `j`/`k` move like everywhere else."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def column_edges(self) -> list[int]:
        """The x offset of each column's left edge, in order."""
        edges, x = [], 0
        for column in self.ordered_columns:
            edges.append(x)
            x += column.get_render_width(self)
        return edges

    @property
    def columns_hidden(self) -> bool:
        """Whether some column is (partly) out of view: the list is wider than its region."""
        return self.max_scroll_x > 0

    def _scroll_columns(self, forward: bool) -> None:
        here = round(self.scroll_x)
        edges = self.column_edges()
        if forward:
            target = next((x for x in edges if x > here), self.max_scroll_x)
        else:
            target = max((x for x in edges if x < here), default=0)
        self.scroll_to(x=min(target, self.max_scroll_x), animate=False)

    def action_cursor_right(self) -> None:
        if self.cursor_type == "row":
            self._scroll_columns(True)
        else:
            super().action_cursor_right()

    def action_cursor_left(self) -> None:
        if self.cursor_type == "row":
            self._scroll_columns(False)
        else:
            super().action_cursor_left()
