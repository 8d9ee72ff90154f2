"""The words around an answer: its inline error with what to do, its status, its notices and its figures
line (tokens, ttft, total, speed, cost), alike for a live answer and one reopened from the history."""

from __future__ import annotations

from holysheep_tui.chat.live import AnswerFigures
from holysheep_tui.economics.money import ESTIMATE_MARK, CurrencyView, format_cny, format_usd
from holysheep_tui.economics.stats import cache_share
from holysheep_tui.errors import HolySheepError, RateLimitError
from holysheep_tui.i18n import N_, _
from holysheep_tui.store import Message
from holysheep_tui.textsafety import show_control

RETRY_KEY = "Ctrl+R"
STATUS_WORDS = {
    "complete": N_("complete"),
    "streaming": N_("streaming"),
    "stopped": N_("stopped"),
    "error": N_("error"),
    "interrupted": N_("interrupted"),
}
"""An answer's status as its header words it (translated when shown)."""


def status_word(status: str) -> str:
    """``stopped`` in the language in force (a status not listed as it is)."""
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def error_text(error: HolySheepError) -> str:
    """The inline error: title, the typed message with what to do, and the retry key (to send the prompt
    again once that is done, when the same request would only fail again)."""
    lines = [f"✖ {_(error.title)}", error.user_text()]
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        wait = f"{error.retry_after:g}"
        lines.append(_("The relay asks to wait {seconds} s before retrying.").format(seconds=wait))
    if error.needs_change:
        lines.append(_("Once that is done, press {key} to send the prompt again.").format(key=RETRY_KEY))
    else:
        lines.append(_("Press {key} to try again.").format(key=RETRY_KEY))
    return show_control("\n".join(lines))  # the relay's message, the models it suggests


def figures(
    f: AnswerFigures,
    money: CurrencyView,
    *,
    both: bool = False,
    cached_tokens: int = 0,
    cache_saved_usd: float | None = None,
) -> str:
    """An answer's footer: tokens, ttft, total, tok/s and cost, alike live and reopened from the history;
    ``both``: the cost in USD and in the CNY billed (side by side in a comparison). With cached input
    tokens, their share of the input and (``cache_saved_usd``, when known) what they saved."""
    parts = []
    if f.prompt_tokens is not None or f.completion_tokens is not None:
        # TRANSLATORS: an answer's tokens: {prompt} sent (input), {completion} received (output).
        tokens = _("{prompt} in · {completion} out")
        parts.append(tokens.format(prompt=f.prompt_tokens or 0, completion=f.completion_tokens or 0))
        if cached_tokens > 0 and f.prompt_tokens:
            share = f"{cache_share(f.prompt_tokens, cached_tokens):.0%}"
            if cache_saved_usd:
                saved = money.format(cache_saved_usd)
                parts.append(_("{share} cached (saved {cost})").format(share=share, cost=saved))
            else:
                parts.append(_("{share} cached").format(share=share))
    ttft, total, tps = f.ttft, f.total, f.tokens_per_second()
    if ttft is not None:
        # TRANSLATORS: time to first token, in seconds.
        parts.append(_("ttft {seconds}s").format(seconds=f"{ttft:.2f}"))
    if total is not None:
        parts.append(_("total {seconds}s").format(seconds=f"{total:.2f}"))
    if tps is not None:
        parts.append(_("{speed} tok/s").format(speed=f"{tps:.0f}"))
    if f.show_cost:
        cost = f.cost
        if both and cost is not None:
            mark = ESTIMATE_MARK if cost.estimated else ""
            parts.append(f"{mark}{format_usd(cost.usd)} · {mark}{format_cny(money.billed_cny(cost.usd))} CNY")
        else:
            parts.append(money.format_cost(cost))
    return " · ".join(parts)


STORED_NOTICES = {
    "interrupted": N_("⚠ Interrupted — holysheep closed before this answer finished; what arrived is kept."),
    "streaming": N_("⚠ Still being written by another holysheep window (or cut off); refresh to see more."),
    "stopped": N_("■ Stopped — the partial answer is kept."),
}
"""Notices of stored answers by status (translated when shown)."""


def stored_notice(message: Message) -> tuple[str, str]:
    """The notice line of a stored answer and its kind ('' when there is none)."""
    if message.status == "error":
        return f"✖ {message.error_text or _('The request failed.')}", "error"
    text = _(STORED_NOTICES[message.status]) if message.status in STORED_NOTICES else ""
    return text, "warning" if text else ""


def stored_figures(m: Message, money: CurrencyView) -> str:
    when = m.created.astimezone().strftime("%Y-%m-%d %H:%M")
    shown = figures(AnswerFigures.of_stored(m), money, cached_tokens=m.cached_tokens or 0)
    return " · ".join(part for part in (shown, when) if part)
