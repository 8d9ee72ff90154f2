"""Room for a dialog's hints: a dialog whose list is tall (models, ways out, files) caps the list's height so
its title and hints still show on a small terminal (80x24, where the Chinese hints also take more lines);
the list scrolls instead."""

from __future__ import annotations

from textual.widget import Widget

LEAST = 3
"""A list keeps at least this many rows (it scrolls)."""


def leave_room(dialog: Widget, options: Widget, *, least: int = LEAST) -> None:
    """Cap ``options``' height so that ``dialog`` (at most its max height) shows every other child whole.

    Call it once the dialog is laid out (``call_after_refresh``) and again when a hint's text changes."""
    parent = dialog.parent
    if not isinstance(parent, Widget) or not parent.size.height:
        return
    limit = dialog.styles.max_height
    high = int(limit.resolve(parent.size, dialog.app.size)) if limit is not None else parent.size.height
    high = min(high, parent.size.height)
    others = sum(
        child.outer_size.height + child.styles.margin.height
        for child in dialog.children
        if child is not options and child.display
    )
    room = high - dialog.styles.gutter.height - others - options.styles.margin.height
    css = options.styles.base.max_height  # the style sheet's cap, kept on a large terminal
    if css is not None:
        room = min(room, int(css.resolve(dialog.size, dialog.app.size)))
    options.styles.max_height = max(least, room)
