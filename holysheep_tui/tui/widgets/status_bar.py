"""The live status bar: endpoint, model, state, latency, speed, tokens and cost.

The turn's handlers write into a small ``LiveState``; the bar redraws from it on a timer (2 Hz while a
turn runs), so a fast stream never floods the screen with status updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from holysheep_tui.economics.budget import Level
from holysheep_tui.economics.money import CurrencyView, format_cny, format_usd
from holysheep_tui.economics.prices import Cost, ModelPrice, estimate_tokens
from holysheep_tui.errors import StorageError
from holysheep_tui.relay.wire import (
    ContentDelta,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    RetryScheduled,
    StreamEvent,
    StreamOpened,
    UsageReport,
)
from holysheep_tui.tui.widgets.budget import BudgetLoaded, BudgetWatch

Phase = Literal["idle", "connecting", "thinking", "streaming", "retrying", "waiting", "stopped", "error"]
TICK = 0.5  # seconds between redraws while an answer runs (each one repaints the bottom of the screen)


@dataclass
class LiveState:
    """What the bar shows. Times come from ``clock`` (the UI's own view of the turn)."""

    clock: Callable[[], float] = time.monotonic
    phase: Phase = "idle"
    model: str = ""
    started: float | None = None
    first_token: float | None = None
    finished: float | None = None
    retry_at: float | None = None
    tokens_out: int = 0
    tokens_in: int | None = None
    exact_tokens: bool = False
    price: ModelPrice | None = None
    answer_cost: Cost | None = None
    total_usd: float = 0.0
    total_estimated: bool = False
    total_unknown: bool = False

    def start(self, model: str, price: ModelPrice | None) -> None:
        self.phase, self.model, self.price = "connecting", model, price
        self.started, self.first_token, self.finished, self.retry_at = self.clock(), None, None, None
        self.tokens_out, self.tokens_in, self.exact_tokens, self.answer_cost = 0, None, False, None

    def apply(self, event: StreamEvent) -> None:
        now = self.clock()
        match event:
            case ContentDelta(text) | RefusalDelta(text):
                self._token(now, text)
                self.phase = "streaming"
            case ReasoningDelta(text):
                self._token(now, text)
                self.phase = "thinking"
            case UsageReport(usage):
                self.tokens_out, self.tokens_in, self.exact_tokens = (
                    usage.completion_tokens,
                    usage.prompt_tokens,
                    True,
                )
            case RetryScheduled(delay=delay) | RateLimitWait(delay=delay):
                self.phase = "retrying" if isinstance(event, RetryScheduled) else "waiting"
                self.retry_at = now + delay
            case StreamOpened():
                if self.phase in ("connecting", "retrying", "waiting"):
                    self.phase = "thinking"
            case _:
                pass

    def _token(self, now: float, text: str) -> None:
        if self.first_token is None:
            self.first_token = now
        if not self.exact_tokens:
            self.tokens_out += estimate_tokens(text)

    def finish(self, phase: Phase, cost: Cost | None) -> None:
        self.phase, self.finished, self.answer_cost = phase, self.clock(), cost
        if cost is None:
            self.total_unknown = self.total_unknown or self.tokens_out > 0
        else:
            self.total_usd += cost.usd
            self.total_estimated = self.total_estimated or cost.estimated

    def reset_totals(self) -> None:
        self.total_usd, self.total_estimated, self.total_unknown = 0.0, False, False
        self.phase, self.started, self.finished, self.answer_cost, self.tokens_out = (
            "idle",
            None,
            None,
            None,
            0,
        )

    @property
    def running(self) -> bool:
        return self.phase in ("connecting", "thinking", "streaming", "retrying", "waiting")

    def ttft(self) -> float | None:
        if self.started is None or self.first_token is None:
            return None
        return self.first_token - self.started

    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished if self.finished is not None else self.clock()) - self.started

    def tokens_per_second(self) -> float | None:
        if self.first_token is None or self.tokens_out <= 1:
            return None
        end = self.finished if self.finished is not None else self.clock()
        span = end - self.first_token
        return self.tokens_out / span if span > 0 else None

    def live_cost(self) -> Cost | None:
        """The finished answer's cost, or while streaming an estimate from the output so far."""
        if self.answer_cost is not None or not self.running:
            return self.answer_cost
        if self.price is None:
            return None
        return Cost(self.tokens_out * self.price.output_per_m / 1_000_000, estimated=True)


def _secs(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}s"


class StatusBar(Vertical):
    """Two lines: what is happening now, then the money and the keys."""

    def __init__(
        self,
        state: LiveState,
        money: CurrencyView,
        *,
        endpoint: str,
        demo: bool,
        budget: BudgetWatch | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.state = state
        self.money = money
        self.endpoint = endpoint
        self.demo = demo
        self.budget = budget
        self._shown: dict[str, Content] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="status-live", markup=False)
        yield Static(id="status-money", markup=False)

    def on_mount(self) -> None:
        self.set_interval(TICK, self._tick, name="status-tick")
        self.redraw()
        if self.budget is not None and self.budget.enabled:
            self._read_budget(self.budget)

    @work(thread=True, group="budget", exit_on_error=False)
    def _read_budget(self, watch: BudgetWatch) -> None:
        try:
            self.post_message(BudgetLoaded(watch.read()))
        except StorageError as exc:
            self.post_message(BudgetLoaded(None, exc.user_text()))

    @on(BudgetLoaded)
    def _budget_loaded(self, message: BudgetLoaded) -> None:
        message.stop()
        if self.budget is None:
            return
        if message.error:
            self.notify(message.error, title="Budget not checked", severity="warning")
        self.budget.status = message.status
        self._show_budget(self.budget.level if self.budget.level != "ok" else None)

    def add_spend(self, cost: Cost | None) -> None:
        """Count a finished answer against the budget; warns when it crosses 80 % or 100 %."""
        if self.budget is not None:
            self._show_budget(self.budget.add(cost))

    def _show_budget(self, alert: Level | None) -> None:
        level = self.budget.level if self.budget is not None else "ok"
        self.set_class(level == "warn", "-budget-warn")
        self.set_class(level == "over", "-budget-over")
        if alert and self.budget is not None:
            self.notify(self.budget.alert(), title="Budget", severity="error" if alert == "over" else "warning")
        self.redraw()

    def _tick(self) -> None:
        if self.state.running:
            self.redraw()

    def redraw(self) -> None:
        """Repaint what changed: both lines are one row of a fixed width, so never a new layout."""
        for name, line in (("#status-live", self.live_line()), ("#status-money", self.money_line())):
            if self._shown.get(name) != line:
                self._shown[name] = line
                self.query_one(name, Static).update(line, layout=False)

    def live_line(self) -> Content:
        s = self.state
        phase: str = s.phase
        if phase in ("retrying", "waiting") and s.retry_at is not None:
            left = max(0.0, s.retry_at - s.clock())
            phase = f"retrying in {left:.0f} s" if phase == "retrying" else f"waiting {left:.0f} s (rate limit)"
        parts: list[Content | str] = []
        if self.demo:
            parts.append(Content.styled(" DEMO ", "reverse bold"))
        else:
            parts.append(Content.styled(self.endpoint, "dim"))
        parts.append(Content.styled(s.model, "bold"))
        parts.append(Content.styled(phase, f"bold {'$error' if s.phase == 'error' else '$accent'}"))
        tps = s.tokens_per_second()
        parts += [f"ttft {_secs(s.ttft())}", _secs(s.elapsed()), f"{tps:.0f} tok/s" if tps else "– tok/s"]
        return Content(" · ").join(parts)

    def money_line(self) -> Content:
        """This answer's tokens and cost, then the conversation's total: USD list, CNY billed and at market."""
        s = self.state
        tokens = f"{'' if s.exact_tokens or not s.tokens_out else '≈'}{s.tokens_out} tok"
        usd = s.total_usd
        mark = "≈" if s.total_estimated else ""
        unknown = " + unpriced" if s.total_unknown else ""
        total = (
            f"total {mark}{format_usd(usd)} = {mark}{format_cny(self.money.billed_cny(usd))} billed, "
            f"{mark}{format_cny(self.money.market_cny(usd))} at market{unknown}"
        )
        keys = "F1 keys · Ctrl+O model · Esc stop"
        cost = s.live_cost()
        # Nothing answered yet (start, or a failure before any token): no cost to speak of, not "unknown".
        shown = "–" if cost is None and not s.running and not s.tokens_out else self.money.format_cost(cost)
        answer = Content.styled(f"{tokens} {shown}", "bold")
        budget = self.budget.segment() if self.budget is not None else None
        parts: list[Content | str] = [answer, total] if budget is None else [answer, budget, total]
        return Content(" │ ").join([*parts, Content.styled(keys, "dim")])
