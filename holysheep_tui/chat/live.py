"""An answer's figures: the status bar's live view of the running answer, and every answer's footer.

One clock: the answer's own ``Timings`` (its ``clock``), measured by the client from when the last request
was sent. One cost: the controller's (``PriceBook.answer_cost``) once the answer ends; while it streams,
``PriceBook.cost(..., estimated=True)`` of the tokens so far. A footer shows whole milliseconds, the same
live and after the answer is reopened from the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from holysheep_tui.economics.prices import Cost, PriceBook, estimate_tokens
from holysheep_tui.relay.wire import (
    Answer,
    ContentDelta,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    RetryScheduled,
    StreamEvent,
    StreamOpened,
    Timings,
    Usage,
    UsageReport,
    to_ms,
)

if TYPE_CHECKING:
    from holysheep_tui.chat.conversation import Turn
    from holysheep_tui.store import Message

Phase = Literal["idle", "connecting", "thinking", "streaming", "retrying", "waiting", "stopped", "error"]
RUNNING: frozenset[str] = frozenset({"connecting", "thinking", "streaming", "retrying", "waiting"})


@dataclass(frozen=True, slots=True)
class AnswerFigures:
    """What an answer's footer shows: tokens, timings in whole milliseconds, cost."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    total_ms: int | None = None
    cost: Cost | None = None
    show_cost: bool = True
    """False for a failed answer with no cost: nothing was spent to speak of."""

    @classmethod
    def of_turn(cls, turn: Turn) -> AnswerFigures:
        usage, timings = turn.answer.usage, turn.answer.timings
        return cls(
            usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None,
            to_ms(timings.ttft), to_ms(timings.total), turn.cost, turn.status != "error" or turn.cost is not None,
        )  # fmt: skip

    @classmethod
    def of_stored(cls, m: Message) -> AnswerFigures:
        cost = None if m.cost_usd is None else Cost(m.cost_usd, m.cost_estimated)
        return cls(m.prompt_tokens, m.completion_tokens, m.ttft_ms, m.total_ms, cost, cost is not None)

    @property
    def ttft(self) -> float | None:
        return None if self.ttft_ms is None else self.ttft_ms / 1000

    @property
    def total(self) -> float | None:
        return None if self.total_ms is None else self.total_ms / 1000

    def tokens_per_second(self) -> float | None:
        """Output tokens over the time from the first token to the end."""
        return Timings(ttft=self.ttft, total=self.total).tokens_per_second(self.completion_tokens or 0)


@dataclass
class LiveFigures:
    """The status bar's figures of the running (or last) answer and the conversation's total cost.

    A fold of that answer's own ``Timings`` and events; per event only a match and, for a text delta before
    the server's usage report, a token estimate."""

    prices: PriceBook | None = None
    phase: Phase = "idle"
    model: str = ""
    answer: Answer | None = None
    """The answer being folded (None before the first turn and after a new conversation)."""
    retry_at: float | None = None
    tokens_out: int = 0
    exact_tokens: bool = False
    ended: AnswerFigures | None = None
    """The ended answer's figures, as its footer shows them."""
    total_usd: float = 0.0
    total_estimated: bool = False
    total_unknown: bool = False

    def start(self, answer: Answer) -> None:
        self.phase, self.model, self.answer, self.retry_at = "connecting", answer.model, answer, None
        self.tokens_out, self.exact_tokens, self.ended = 0, False, None

    def apply(self, event: StreamEvent) -> None:
        match event:
            case ContentDelta(text) | RefusalDelta(text):
                if not self.exact_tokens:
                    self.tokens_out += estimate_tokens(text)
                self.phase = "streaming"
            case ReasoningDelta(text):
                if not self.exact_tokens:
                    self.tokens_out += estimate_tokens(text)
                self.phase = "thinking"
            case UsageReport(usage):
                self.tokens_out, self.exact_tokens = usage.completion_tokens, True
            case RetryScheduled(delay=delay) | RateLimitWait(delay=delay):
                self.phase = "retrying" if isinstance(event, RetryScheduled) else "waiting"
                self.retry_at = self.now() + delay
            case StreamOpened():
                if self.phase in ("connecting", "retrying", "waiting"):
                    self.phase = "thinking"
            case _:
                pass

    def finish(self, turn: Turn) -> None:
        """The turn ended: its figures are the footer's from now on, its cost counts in the total."""
        self.phase = {"complete": "idle", "stopped": "stopped"}.get(turn.status, "error")  # type: ignore[assignment]
        self.ended = AnswerFigures.of_turn(turn)
        if turn.answer.usage is not None:
            self.tokens_out, self.exact_tokens = turn.answer.usage.completion_tokens, True
        cost = turn.cost
        if cost is None:
            self.total_unknown = self.total_unknown or self.tokens_out > 0
        else:
            self.total_usd += cost.usd
            self.total_estimated = self.total_estimated or cost.estimated

    def running_total(self) -> tuple[float, bool]:
        """The conversation's total with the answer in flight included (its running estimate), and whether
        any of it is estimated: the status bar's total moves while an answer streams."""
        live = self.cost() if self.ended is None and self.running else None
        if live is None:
            return self.total_usd, self.total_estimated
        return self.total_usd + live.usd, True

    def reset_totals(self, total_usd: float = 0.0, estimated: bool = False) -> None:
        """A new conversation (or a stored one, with what it cost so far)."""
        self.total_usd, self.total_estimated, self.total_unknown = total_usd, estimated, False
        self.phase, self.answer, self.ended, self.tokens_out = "idle", None, None, 0

    @property
    def running(self) -> bool:
        return self.phase in RUNNING

    @property
    def timings(self) -> Timings | None:
        return None if self.answer is None else self.answer.timings

    def now(self) -> float:
        timings = self.timings
        return timings.clock() if timings is not None else 0.0

    def seconds_to_retry(self) -> float | None:
        return None if self.retry_at is None else max(0.0, self.retry_at - self.now())

    def ttft(self) -> float | None:
        if self.ended is not None:
            return self.ended.ttft
        return None if self.timings is None else self.timings.ttft

    def elapsed(self) -> float | None:
        """Since the last request was sent: up to now while the answer runs, its total once it ended."""
        if self.ended is not None:
            return self.ended.total
        timings = self.timings
        if timings is None or timings.sent is None:
            return None
        return timings.clock() - timings.sent

    def tokens_per_second(self) -> float | None:
        if self.ended is not None:
            return self.ended.tokens_per_second()
        ttft, elapsed = self.ttft(), self.elapsed()
        if ttft is None or elapsed is None or self.tokens_out <= 1:
            return None
        return Timings(ttft=ttft, total=elapsed).tokens_per_second(self.tokens_out)

    def cost(self) -> Cost | None:
        """The ended answer's cost, or while streaming an estimate from the output so far."""
        if self.ended is not None:
            return self.ended.cost
        if not self.running or self.prices is None:
            return None
        return self.prices.cost(self.model, Usage(completion_tokens=self.tokens_out), estimated=True)
