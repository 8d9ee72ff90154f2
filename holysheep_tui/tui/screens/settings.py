"""F3: this conversation's settings in one dialog: system prompt, temperature and max tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TextArea

from holysheep_tui.chat.controller import ConversationController
from holysheep_tui.chat.conversation import Conversation
from holysheep_tui.errors import UsageError
from holysheep_tui.i18n import _

TEMPERATURE_RANGE = (0.0, 2.0)


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    system_prompt: str
    """Empty: no system prompt."""
    temperature: float | None
    """None: the relay's default."""
    max_tokens: int | None
    """None: no limit asked for."""


def parse_temperature(text: str) -> float | None:
    """A temperature from 0 to 2, or None for an empty field."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    low, high = TEMPERATURE_RANGE
    if not low <= value <= high:
        raise UsageError(
            _("Temperature must be a number from {low} to {high} (or empty for the default).").format(
                low=f"{low:g}", high=f"{high:g}"
            )
        )
    return value


def parse_max_tokens(text: str) -> int | None:
    """A positive whole number of tokens, or None for an empty field."""
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise UsageError(_("Max tokens must be a positive whole number (or empty for no limit)."))
    return int(text)


def apply_settings(
    controller: ConversationController, conversation: Conversation, chosen: ConversationSettings
) -> list[str]:
    """Apply what the dialog chose; the lines to mark in the conversation (one per change)."""
    changed = []
    if chosen.system_prompt != (conversation.system_prompt or ""):
        controller.set_system_prompt(conversation, chosen.system_prompt)
        changed.append(
            _("System prompt: {text}").format(text=chosen.system_prompt)
            if chosen.system_prompt
            else _("System prompt removed")
        )
    settings = (chosen.temperature, chosen.max_tokens)
    if settings != (conversation.temperature, conversation.max_tokens):
        controller.set_settings(conversation, temperature=chosen.temperature, max_tokens=chosen.max_tokens)
        changed.append(
            _("Temperature: {temperature} · max tokens: {max_tokens}").format(
                temperature=describe(chosen.temperature), max_tokens=describe(chosen.max_tokens)
            )
        )
    return changed


def describe(value: float | None) -> str:
    return _("default") if value is None else f"{value:g}"


class ConversationSettingsScreen(ModalScreen[ConversationSettings | None]):
    """Edit the system prompt, temperature and max tokens of this conversation; Ctrl+S saves (once the
    fields are valid), Esc cancels. Empty fields mean: none, the relay's default, no limit."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, conversation: Conversation) -> None:
        super().__init__(classes="modal")
        self.system_prompt = conversation.system_prompt or ""
        self.temperature = conversation.temperature
        self.max_tokens = conversation.max_tokens

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="system-prompt"):
            yield Static(_("Settings of this conversation"), classes="dialog-title")
            yield Label(_("System prompt (empty = none)"))
            yield TextArea(self.system_prompt, id="system-text", soft_wrap=True)
            with Horizontal(id="sampling"):
                yield Label(_("Temperature (0-2)"))
                yield Input(
                    "" if self.temperature is None else f"{self.temperature:g}",
                    placeholder=_("default"),
                    id="temperature",
                )
                yield Label(_("Max tokens"))
                yield Input(
                    "" if self.max_tokens is None else str(self.max_tokens),
                    placeholder=_("no limit"),
                    id="max-tokens",
                )
            yield Static("", id="settings-error", markup=False)
            yield Static(_("Ctrl+S save · Esc cancel · Tab next field"), classes="dialog-help")

    def action_save(self) -> None:
        error = self.query_one("#settings-error", Static)
        try:
            temperature = parse_temperature(self.query_one("#temperature", Input).value)
            max_tokens = parse_max_tokens(self.query_one("#max-tokens", Input).value)
        except UsageError as exc:
            error.update(exc.message)
            return
        error.update("")
        self.dismiss(ConversationSettings(self.query_one(TextArea).text.strip(), temperature, max_tokens))
