"""Attachments as chips: the row above the prompt (what goes with the next prompt, removable) and the
line under a sent prompt. Also what a paste of file paths (a terminal's drag-and-drop) becomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import TextArea

from holysheep_tui.i18n import _

if TYPE_CHECKING:  # attachments load with the first one, not before the first frame
    from holysheep_tui.chat.attachments import Attachment

CLOSE = " ✕"
GAP = "  "


def chip_line(attachments: Sequence[Attachment]) -> str:
    """``[Image #1 cat.png 240 KB]  [File #2 main.py 3 KB]``: a prompt's attachments on one line."""
    from holysheep_tui.chat.attachments import chip_label

    return GAP.join(chip_label(a, number) for number, a in enumerate(attachments, 1))


def pasted_files(text: str) -> tuple[Path, ...]:
    """The files a paste names when it is nothing but paths of existing files; else ``()`` (it is text)."""
    from holysheep_tui.chat.attachments import pasted_paths

    paths = pasted_paths(text)
    try:
        return paths if paths and all(p.is_file() for p in paths) else ()
    except OSError:  # a folder on the way that cannot be searched: not ours to read
        return ()


@dataclass
class FilesPasted(Message):
    """Paths of existing files pasted alone into the prompt: they are attached, not typed."""

    paths: tuple[Path, ...]


class AttachmentChips(Widget, can_focus=True):
    """The attachments waiting for the next prompt, one chip each, with a ✕ to click.

    Shift+Tab from the prompt comes here: Left/Right pick a chip, Delete or Backspace removes it, Esc,
    Enter or typing go back to the prompt. Hidden while there is nothing attached."""

    BINDINGS = [
        Binding("left", "move(-1)", "Previous attachment", show=False),
        Binding("right", "move(1)", "Next attachment", show=False),
        Binding("delete,backspace", "remove", "Remove the attachment", show=False),
        Binding("escape,enter,up,down", "leave", "Back to the prompt", show=False),
    ]

    attachments: reactive[tuple[Attachment, ...]] = reactive((), init=False)
    highlighted: reactive[int] = reactive(0, init=False)

    @dataclass
    class Remove(Message):
        """Remove the attachment at ``index`` (keys or a click on its ✕)."""

        index: int

    def watch_attachments(self, attachments: tuple[Attachment, ...]) -> None:
        self.set_class(bool(attachments), "-shown")
        self.highlighted = max(0, min(self.highlighted, len(attachments) - 1))

    @staticmethod
    def lead() -> str:
        """What comes before the chips: ``Attached: ``."""
        return _("Attached:") + " "

    def labels(self) -> list[str]:
        from holysheep_tui.chat.attachments import chip_label

        return [chip_label(a, number) for number, a in enumerate(self.attachments, 1)]

    def render(self) -> RenderResult:
        parts: list[Content] = [Content.styled(self.lead(), "$text-muted")]
        for index, label in enumerate(self.labels()):
            if index:
                parts.append(Content(GAP))
            style = "bold reverse" if self.has_focus and index == self.highlighted else "bold"
            parts.append(Content.styled(label, style))
            parts.append(Content.styled(CLOSE, "$text-error"))
        if self.has_focus:
            parts.append(Content.styled("   " + _("←/→ · Delete removes · Esc back"), "$text-muted"))
        return Content.assemble(*parts)

    def close_offsets(self) -> list[int]:
        """The column (in the widget's content) of each chip's ✕, for the mouse."""
        column = Content(self.lead()).cell_length
        out: list[int] = []
        for index, label in enumerate(self.labels()):
            if index:
                column += len(GAP)
            column += Content(label).cell_length
            out.append(column + 1)
            column += len(CLOSE)
        return out

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for index, column in enumerate(self.close_offsets()):
            if column - 1 <= offset.x <= column:
                event.stop()
                self.post_message(self.Remove(index))
                return

    def retranslate(self) -> None:
        """The language changed: "Attached:" and the hint again."""
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, step: int) -> None:
        if self.attachments:
            self.highlighted = (self.highlighted + step) % len(self.attachments)

    def action_remove(self) -> None:
        if self.attachments:
            self.post_message(self.Remove(self.highlighted))

    def action_leave(self) -> None:
        self.screen.focus_next()

    def on_key(self, event: events.Key) -> None:
        """A character typed here goes to the prompt (nothing typed is lost)."""
        if event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            self.screen.focus_next()
            focused = self.screen.focused
            if isinstance(focused, TextArea):
                focused.insert(event.character)
