"""What ``holysheep ask`` tells a person on stderr besides the answer: the figures of an answer, the
estimate of a comparison, a scheduled retry. In the interface's language; ``--json`` never uses them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from holysheep_tui.i18n import _
from holysheep_tui.textsafety import one_line, strip_control

if TYPE_CHECKING:
    from holysheep_tui.chat.conversation import Turn
    from holysheep_tui.economics.money import CurrencyView
    from holysheep_tui.economics.prices import Cost
    from holysheep_tui.relay.wire import RetryScheduled


def estimate_line(estimates: Sequence[tuple[str, Cost | None]]) -> str:
    """The combined input-cost estimate of a comparison, one line: the sum over the priced models."""
    from holysheep_tui.economics.money import format_cny, format_usd

    known = [(model, cost) for model, cost in estimates if cost is not None]
    total = sum(cost.usd for _model, cost in known)
    each = ", ".join(
        f"{one_line(m)} {'≈' + format_usd(c.usd) if c else _('price unknown')}" for m, c in estimates
    )
    usd, cny = "≈" + format_usd(total), "≈" + format_cny(total)
    if len(estimates) > len(known):
        head = _(
            "sending to {count} models; input {usd} (billed {cny}) for the {priced} with a price"
        ).format(count=len(estimates), usd=usd, cny=cny, priced=len(known))
    else:
        head = _("sending to {count} models; input {usd} (billed {cny})").format(
            count=len(estimates), usd=usd, cny=cny
        )
    return f"holysheep: {head} — {each}"


def money_text(usd: float, estimated: bool, view: CurrencyView | None = None) -> str:
    """``$0.00015 · billed ¥0.00015 CNY``: both amounts to the same significant digits, CNY spelled out
    (a bare ¥ reads as yen to some)."""
    from holysheep_tui.economics.money import CurrencyView, format_cny_named, format_usd

    view = view or CurrencyView()
    mark = "≈" if estimated else ""
    return _("{usd} · billed {cny}").format(
        usd=mark + format_usd(usd), cny=mark + format_cny_named(view.billed_cny(usd))
    )


def retrying_text(event: RetryScheduled) -> str:
    """``Rate limited; retrying in 2.0 s (retry 1)``: a retry the client scheduled (stderr)."""
    why = strip_control(_(event.reason))  # the failure's title, a catalog message
    return _("{reason}; retrying in {delay:.1f} s (retry {attempt})").format(
        reason=why, delay=event.delay, attempt=event.attempt
    )


def summary_line(turn: Turn, view: CurrencyView | None = None) -> str:
    """The figures of one answer (stderr); ``view``: the config's currency rates."""
    answer = turn.answer
    parts = [one_line(answer.model) or _("unknown model")]
    usage = answer.usage
    if usage:
        parts.append(
            _("{prompt}→{completion} tokens").format(
                prompt=usage.prompt_tokens, completion=usage.completion_tokens
            )
        )
        if usage.cached_tokens:
            parts.append(_("{count} cached").format(count=usage.cached_tokens))
    t = answer.timings
    if t.ttft is not None:
        parts.append(_("first token {ms:.0f} ms").format(ms=t.ttft * 1000))
    if t.total is not None:
        parts.append(_("total {seconds:.2f} s").format(seconds=t.total))
    tps = t.tokens_per_second(usage.completion_tokens) if usage else None
    if tps:
        parts.append(f"{tps:.0f} tok/s")
    if turn.cost is not None:
        parts.append(money_text(turn.cost.usd, turn.cost.estimated, view))
    elif turn.cost is None and usage is not None:
        parts.append(_("price unknown"))
    if answer.finish_reason and answer.finish_reason != "stop":
        parts.append(_("finish: {reason}").format(reason=one_line(answer.finish_reason)))
    return " · ".join(parts)
