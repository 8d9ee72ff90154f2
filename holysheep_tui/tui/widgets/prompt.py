"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it) breaks the
line, Up/Down on an empty prompt (or while browsing) recall earlier prompts."""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea

from holysheep_tui.tui.messages import PromptSubmitted

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")
"""Ctrl+J is a plain line feed every terminal sends; Shift+Enter needs the kitty keyboard protocol."""


class PromptInput(TextArea):
    """A TextArea that sends on Enter and keeps a browsable history of sent prompts."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.sent: list[str] = []
        self._browse: int | None = None
        self._draft = ""

    def remember(self, text: str) -> None:
        if text and (not self.sent or self.sent[-1] != text):
            self.sent.append(text)
        self._browse = None

    def set_prompt(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.post_message(PromptSubmitted(text))
            return
        if key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if key in ("up", "down") and self._recall(key == "up"):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _recall(self, back: bool) -> bool:
        """Walk the history when the prompt is empty or already showing a recalled prompt."""
        if not self.sent:
            return False
        row, _ = self.cursor_location
        if self._browse is None:
            if self.text or not back:
                return False
            self._draft, self._browse = self.text, len(self.sent)
        elif (back and row != 0) or (not back and row != self.document.line_count - 1):
            return False
        index = self._browse + (-1 if back else 1)
        if index < 0:
            return True
        if index >= len(self.sent):
            self._browse = None
            self.set_prompt(self._draft)
            return True
        self._browse = index
        self.set_prompt(self.sent[index])
        return True
