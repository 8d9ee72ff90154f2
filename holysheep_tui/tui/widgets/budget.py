"""The budget's part of the status bar, and the question before sending over budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import App
from textual.content import Content
from textual.message import Message

from holysheep_tui.chat.budget_watch import BudgetWatch
from holysheep_tui.economics.budget import BudgetStatus, Level
from holysheep_tui.i18n import _
from holysheep_tui.tui.widgets.prompt import PromptInput

__all__ = ["BudgetLoaded", "BudgetWatch", "ask_before_sending", "budget_segment"]

_STYLE: dict[Level, str] = {"ok": "", "warn": "bold $text-warning", "over": "bold $text-error"}
_ICON: dict[Level, str] = {"ok": "", "warn": "⚠ ", "over": "⛔ "}


@dataclass
class BudgetLoaded(Message):
    """The budget status read from the metrics log (or why it could not be read) for ``watch``."""

    watch: BudgetWatch
    status: BudgetStatus | None
    error: str | None = None


def budget_segment(watch: BudgetWatch) -> Content | None:
    """The status bar's part: "budget $8.10 of $10.00 today (81%)", styled by level."""
    status = watch.status
    if status is None or not status.lines:
        return None
    level = status.level
    # TRANSLATORS: the status bar's budget part; {summary}: "$8.10 of $10.00 today (81%)".
    text = _("budget {summary}").format(summary=status.summary())
    return Content.styled(f"{_ICON[level]}{text}", _STYLE[level])


def ask_before_sending(
    app: App[None], watch: BudgetWatch, text: str, send: Callable[[], Awaitable[None]]
) -> None:
    """Over budget: ask first. Yes sends; no sends nothing and leaves the prompt in the input."""

    from holysheep_tui.tui.screens.dialogs import ConfirmScreen

    async def answered(yes: bool | None) -> None:
        if yes:
            await send()
            return
        prompt = app.query_one(PromptInput)
        if prompt.text.strip() != text:
            prompt.set_prompt(text)
        prompt.focus()
        app.notify(
            _("Not sent: the budget is used up. Your prompt is still in the input."), severity="warning"
        )

    app.push_screen(ConfirmScreen(watch.question()), answered)
