"""Text the app shows from a server, a model, a file or the user: never read as markup, never a terminal command.

Every notification (the app's and every widget's: ``Widget.notify`` calls ``App.notify``) and the title
bar pass through ``PlainTextApp``; dialogs and labels built from data clean their own text with
``holysheep_tui.textsafety`` (``one_line`` for names and ids, ``show_control`` for prose).
"""

from __future__ import annotations

from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel

from holysheep_tui.textsafety import one_line, show_control


class PlainTextApp(App[None]):
    """The app's base for what it shows outside its widgets: notifications and the title."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast, its text as it is: ``markup`` is ignored (a ``[/]`` in a title or an error body once made
        the app exit), and controls are shown as symbols instead of reaching the terminal."""
        super().notify(
            show_control(message), title=one_line(title), severity=severity, timeout=timeout, markup=False
        )

    def format_title(self, title: str, sub_title: str) -> Content:
        return super().format_title(one_line(title), one_line(sub_title))
