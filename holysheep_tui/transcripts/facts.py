"""What every export format says about a message and a conversation: time, model, tokens, money, place.

Money is shown in USD and in CNY (what the relay bills, ¥1 = $1 by default), always named "CNY": a bare
"¥" reads as yen to some. Every string here is cleaned of terminal control sequences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from holysheep_tui.store.models import Conversation, Message
from holysheep_tui.textsafety import strip_control

SYSTEM_PROMPT_LABEL = "System prompt (current)"
SYSTEM_PROMPT_NOTE = (
    "The conversation's system prompt when it was exported. The history does not record when it was "
    "set, so earlier answers may have been written without it."
)
"""The history keeps one system prompt per conversation and not when it was set: an export says so
rather than presenting it as applying from the first message."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How an export is written; the defaults are what ``holysheep export`` does with no options."""

    all_branches: bool = False
    """Markdown and HTML: every other branch (earlier answers, edited prompts) nested where it splits off."""
    cny_per_usd: float = 1.0
    """CNY billed per USD of list price (the relay's rate), for the CNY figure beside each USD one."""


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _amount(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def money(usd: float, estimated: bool, options: ExportOptions) -> str:
    """``~$0.0042 · CNY 0.0042``: list price in USD and what the relay bills in CNY."""
    mark = "~" if estimated else ""
    return f"{mark}${_amount(usd)} · CNY {mark}{_amount(usd * options.cny_per_usd)}"


def role_name(m: Message) -> str:
    return {"user": "User", "assistant": "Assistant", "system": "System"}.get(m.role, m.role)


def message_facts(m: Message, options: ExportOptions, place: tuple[int, int] | None = None) -> list[str]:
    """Model, time, tokens, cost, status and place among its alternatives, for its heading."""
    facts = [m.model] if m.model else []
    facts.append(when(m.created))
    if m.prompt_tokens is not None or m.completion_tokens is not None:
        tokens = f"{m.prompt_tokens or 0} in / {m.completion_tokens or 0} out"
        if m.cached_tokens:
            tokens += f" ({m.cached_tokens} cached)"
        facts.append(tokens + " tokens")
    if m.cost_usd is not None:
        facts.append(money(m.cost_usd, m.cost_estimated, options))
    if m.status != "complete":
        facts.append(m.status)
    if place is not None:
        facts.append(f"alternative {place[0]} of {place[1]}")
    return [strip_control(f) for f in facts]


def branch_label(index: int, count: int, messages: Iterable[Message], options: ExportOptions) -> str:
    """``Alternative 2 of 3 — deepseek-chat · $0.0012 · CNY 0.0012``: the model of the branch's first
    answer, its messages when more than one, and what the whole branch cost."""
    messages = tuple(messages)
    parts: list[str] = []
    model = next((m.model for m in messages if m.role == "assistant" and m.model), None)
    if model:
        parts.append(model)
    if len(messages) > 1:
        parts.append(f"{len(messages)} messages")
    paid = [m for m in messages if m.paid_here and m.cost_usd is not None]
    if paid:
        parts.append(
            money(sum(m.cost_usd or 0.0 for m in paid), any(m.cost_estimated for m in paid), options)
        )
    tail = f" — {' · '.join(parts)}" if parts else ""
    return strip_control(f"Alternative {index} of {count}{tail}")


def totals(conv: Conversation, options: ExportOptions) -> str:
    return (
        f"{conv.prompt_tokens} in / {conv.completion_tokens} out tokens, "
        f"{money(conv.cost_usd, conv.cost_estimated, options)}"
    )
