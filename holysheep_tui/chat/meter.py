"""The context meter: what the next request sends against the model's window, cheap enough per keystroke.

Core module (no Textual). The app's status bar shows a ``MeterReading`` (``~12,340 tok · 9%``) and the
prompt's frame its input cost. The history part comes from ``TokenEstimator.history_chars``, cached by the
conversation's shape (so it is counted again only when a turn ends, a summary is written or another
conversation is shown); per keystroke only the prompt's characters are counted, and never kept in the
estimator's per-text cache (a 10,000-character prompt typed key by key would fill it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from holysheep_tui.chat.attachments import IMAGE_TOKENS, prompt_with_files
from holysheep_tui.chat.context import (
    Chars,
    TokenEstimator,
    TokenRates,
    Windows,
    count_chars,
    reserve_for,
)
from holysheep_tui.economics.money import format_cny, format_usd
from holysheep_tui.i18n import _
from holysheep_tui.relay.wire import ModelInfo

if TYPE_CHECKING:
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.conversation import Conversation
    from holysheep_tui.economics.prices import Cost, PriceBook

Level = Literal["ok", "near", "over"]
NEAR = 80.0
"""Percent of the window from which the meter is drawn as a warning."""


@dataclass(frozen=True, slots=True)
class MeterReading:
    """The next request as it stands: its input tokens, the model's window, its input cost (estimated)."""

    model: str
    tokens: int
    window: int | None
    reserve: int
    cost: Cost | None
    estimated: bool = True

    @property
    def percent(self) -> float | None:
        return None if not self.window else 100 * self.tokens / self.window

    @property
    def fits(self) -> bool:
        """Like ``ContextPlan.fits``: an unknown window always fits (nothing automatic)."""
        return self.window is None or self.tokens + self.reserve <= self.window

    @property
    def level(self) -> Level:
        if not self.fits:
            return "over"
        percent = self.percent
        return "near" if percent is not None and percent >= NEAR else "ok"

    def meter_text(self) -> str | None:
        """``~12,340 tok · 9%`` (``~``: estimated); None when the window is unknown (no meter)."""
        percent = self.percent
        if percent is None:
            return None
        shown = f"{percent:.0f}%" if percent >= 1 or percent == 0 else "<1%"
        return f"{'~' if self.estimated else ''}{self.tokens:,} tok · {shown}"

    def cost_text(self, cny_per_usd: float) -> str:
        """The prompt frame's ``input ≈$0.0021 · ¥0.0021 CNY (est.)``."""
        if self.cost is None:
            return _("input cost unknown (no price for {model})").format(model=self.model)
        usd = self.cost.usd
        # TRANSLATORS: the prompt frame's estimate of what sending it costs; {cny} is "¥0.0021".
        text = _("input ≈{usd} · {cny} CNY (est.)")
        return text.format(usd=format_usd(usd), cny=format_cny(usd * cny_per_usd))


def app_windows(
    prices: PriceBook | None, overrides: Mapping[str, int] | None, listed: Mapping[str, int]
) -> Windows:
    """The windows a front end knows: the config's, then the relay's ``/models`` (id -> window), then the
    price data."""
    return Windows(
        prices,
        overrides=overrides,
        listed=[ModelInfo(name, context_window=window) for name, window in listed.items()],
    )


class ContextMeter:
    """Readings of the next request for the status bar and the prompt's frame.

    ``estimator``: the one the controller learns into (made on first use from ``token_rates.json``)."""

    def __init__(self, estimator: TokenEstimator | None = None) -> None:
        self._estimator = estimator
        self._settled: tuple[Conversation, int, Conversation] | None = None

    @property
    def estimator(self) -> TokenEstimator:
        if self._estimator is None:
            self._estimator = TokenEstimator(TokenRates.open())
        return self._estimator

    def read(
        self,
        conversation: Conversation,
        model: str,
        prompt: str,
        *,
        windows: Windows,
        prices: PriceBook | None = None,
        attachments: Sequence[Attachment] = (),
        settled: int | None = None,
        in_flight: str | None = None,
    ) -> MeterReading:
        """The next request if ``prompt`` (with ``attachments``) were sent now to ``model``.

        ``settled``: count only the conversation's first ``settled`` turns (a turn still answering is left
        out until it ends, so the figure does not depend on how much of its answer has arrived);
        ``in_flight``: that turn's prompt, counted as sent."""
        if settled is not None and settled < len(conversation.turns):
            conversation = self._settled_part(conversation, settled)
        estimator = self.estimator
        sent = estimator.history_chars(conversation) + prompt_chars(prompt, attachments)
        if in_flight is not None:
            sent += estimator.chars(in_flight)
        tokens = estimator.tokens(model, sent)
        window = windows.window(model)
        cost = prices.input_cost(model, tokens) if prices is not None else None
        return MeterReading(model, tokens, window, reserve_for(window, conversation.max_tokens), cost)

    def _settled_part(self, conversation: Conversation, turns: int) -> Conversation:
        """The conversation's first ``turns`` turns, the same object while they are asked for (the
        estimator caches the history's count by the conversation's identity)."""
        kept = self._settled
        if kept is None or kept[0] is not conversation or kept[1] != turns:
            kept = self._settled = (
                conversation,
                turns,
                replace(conversation, turns=conversation.turns[:turns]),
            )
        return kept[2]


def prompt_chars(prompt: str, attachments: Sequence[Attachment] = ()) -> Chars:
    """The prompt's counts, computed afresh (not cached: it changes with every key)."""
    if not attachments:
        return count_chars(prompt)
    images = sum(1 for a in attachments if a.kind == "image")
    return count_chars(prompt_with_files(prompt, attachments)) + Chars(fixed=images * IMAGE_TOKENS)
