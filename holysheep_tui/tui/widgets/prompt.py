"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it) breaks the
line, Up/Down on an empty prompt (or while browsing) recall earlier prompts."""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.css.query import NoMatches
from textual.widgets import TextArea

from holysheep_tui.i18n import N_, _
from holysheep_tui.tui import text_area_wrap
from holysheep_tui.tui.messages import PromptSubmitted
from holysheep_tui.tui.widgets.chips import FilesPasted, pasted_files

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")
"""Ctrl+J is a plain line feed every terminal sends; Shift+Enter needs the kitty keyboard protocol."""
CONVERSATION_KEYS = {
    "pageup": "page_up",
    "pagedown": "page_down",
    "ctrl+home": "scroll_home",
    "ctrl+end": "scroll_end",
}
"""Keys that scroll the conversation while the prompt has the focus. PageUp/PageDown page the prompt
itself only while its text is taller than its box (a long prompt being edited)."""
EMPTY_PROMPT_KEYS = {"home": "scroll_home", "end": "scroll_end"}
"""On an empty prompt Home/End have nothing to move over: they jump to the conversation's top/bottom."""
CONVERSATION_ID = "conversation"
PLACEHOLDER = N_("Ask anything… (Enter sends · Ctrl+J new line · F1 every key)")
"""What the empty prompt shows (translated when shown)."""


class PromptInput(TextArea):
    """A TextArea that sends on Enter and keeps a browsable history of sent prompts."""

    def __init__(self, *, id: str | None = None) -> None:
        text_area_wrap.install()  # Chinese wraps between characters, never before 。，、）」
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.sent: list[str] = []
        """Prompts sent in this run (the end is the latest)."""
        self.recall_source: Callable[[], list[str]] | None = None
        """Prompts of earlier runs (the history's), read when Up starts a recall."""
        self._recalled: list[str] = []
        self._browse: int | None = None
        self._draft = ""
        self.placeholder = _(PLACEHOLDER)

    def retranslate(self) -> None:
        """The language changed: the placeholder again (the frame's titles are the app's: it sets them
        again with what they say)."""
        self.placeholder = _(PLACEHOLDER)

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
            self.post_message(PromptSubmitted(self.text.strip()))  # empty: the app says why not, if need be
            return
        if key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if await self._scroll_conversation(key):
            event.stop()
            event.prevent_default()
            return
        if key in ("up", "down") and self._recall(key == "up"):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        """A paste of nothing but existing files' paths (a terminal's drag-and-drop) attaches them."""
        paths = pasted_files(event.text)
        if paths:
            event.stop()
            event.prevent_default()  # not typed: TextArea's own paste handler does not run
            self.post_message(FilesPasted(paths))

    async def _scroll_conversation(self, key: str) -> bool:
        action = CONVERSATION_KEYS.get(key) or (EMPTY_PROMPT_KEYS.get(key) if not self.text else None)
        if action is None or (key in ("pageup", "pagedown") and self.max_scroll_y > 0):
            return False
        try:
            view = self.screen.query_one(f"#{CONVERSATION_ID}")
        except NoMatches:
            return False
        await self.app.run_action(action, view)
        return True

    def _recall(self, back: bool) -> bool:
        """Walk the history when the prompt is empty or already showing a recalled prompt."""
        row, _ = self.cursor_location
        shown = self._recalled[self._browse] if self._browse is not None else None
        if self._browse is not None and self.text != shown:
            self._browse = None  # the recalled text was edited or cleared: a new recall starts
        if self._browse is None:
            if self.text or not back:
                return False
            self._recalled = self._history()
            if not self._recalled:
                return False
            self._draft, self._browse = self.text, len(self._recalled)
        elif (back and row != 0) or (not back and row != self.document.line_count - 1):
            return False
        index = self._browse + (-1 if back else 1)
        if index < 0:
            return True
        if index >= len(self._recalled):
            self._browse = None
            self.set_prompt(self._draft)
            return True
        self._browse = index
        self.set_prompt(self._recalled[index])
        return True

    def _history(self) -> list[str]:
        """Earlier runs' prompts, then this run's; a prompt sent again counts once, at its latest place."""
        stored = self.recall_source() if self.recall_source is not None else []
        latest: dict[str, None] = {}
        for text in [*stored, *self.sent]:
            latest.pop(text, None)
            latest[text] = None
        return list(latest)
