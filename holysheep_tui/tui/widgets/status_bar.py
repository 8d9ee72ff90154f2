"""The live status bar: endpoint, model, context meter, state, latency, speed, tokens, cost and the balance.

It follows the app's chat session (``data_bind``): a new session or a new ``revision`` (a turn started or
ended, another model, another conversation) redraws it, and so does a timer (2 Hz while a turn runs), so a
fast stream never floods the screen with status updates. The figures are the session's ``LiveFigures``;
the meter is the app's ``context_meter`` (``tui/fitting.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.economics.money import format_cny_named, format_usd
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.widgets.budget import budget_segment

if TYPE_CHECKING:  # the meter's module loads with the first reading, after the first frame
    from holysheep_tui.chat.meter import MeterReading

TICK = 0.5  # seconds between redraws while an answer runs (each one repaints the bottom of the screen)


def _secs(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}s"


def meter_segment(meter: MeterReading | None, model: str) -> Content | None:
    """``ctx ~12,340 tok · 9%``: a warning colour from 80% of the window, the error colour when the next
    request (with room for the answer) will not fit; None when the window is unknown."""
    text = meter.meter_text() if meter is not None and meter.model == model else None
    if meter is None or text is None:
        return None
    style = {"ok": "", "near": "bold $warning", "over": "bold $error"}[meter.level]
    return Content.assemble(Content.styled("ctx ", "dim"), Content.styled(text, style))


class StatusBar(Vertical):
    """Two lines: what is happening now, then the money and the keys."""

    chat: reactive[ChatSession | None] = reactive(None, init=False, always_update=True)
    revision: reactive[int] = reactive(0, init=False)
    """Bumped by the app when the session's state changed otherwise than by a stream event."""
    balance_text: reactive[str | None] = reactive(None, init=False)
    """The account's balance at the relay (``balance 110.00 CNY``); None: no segment."""
    meter: reactive[MeterReading | None] = reactive(None, init=False)
    """The next request against the model's window (``chat/meter.py``); no segment when None or unknown."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, Content] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="status-live", markup=False)
        yield Static(id="status-money", markup=False)

    def on_mount(self) -> None:
        self.set_interval(TICK, self._tick, name="status-tick")
        self.redraw()

    def watch_chat(self) -> None:
        self.redraw()

    def watch_revision(self) -> None:
        self.redraw()

    def watch_balance_text(self) -> None:
        self.redraw()

    def watch_meter(self) -> None:
        self.redraw()

    def _tick(self) -> None:
        if self.chat is not None and self.chat.live.running:
            self.redraw()

    def redraw(self) -> None:
        """Repaint what changed: both lines are one row of a fixed width, so never a new layout."""
        chat = self.chat
        if chat is None or not self.is_mounted:
            return
        level = chat.budget.level
        self.set_class(level == "warn", "-budget-warn")
        self.set_class(level == "over", "-budget-over")
        for name, line in (
            ("#status-live", self.live_line(chat, self.meter)),
            ("#status-money", self.money_line(chat, self.balance_text)),
        ):
            if self._shown.get(name) != line:
                self._shown[name] = line
                self.query_one(name, Static).update(line, layout=False)

    @staticmethod
    def live_line(chat: ChatSession, meter: MeterReading | None = None) -> Content:
        s = chat.live
        phase: str = s.phase
        left = s.seconds_to_retry()
        if phase in ("retrying", "waiting") and left is not None:
            phase = (
                f"retrying in {left:.0f} s" if phase == "retrying" else f"waiting {left:.0f} s (rate limit)"
            )
        parts: list[Content | str] = []
        if chat.demo:
            parts.append(Content.styled(" DEMO ", "reverse bold"))
        else:
            parts.append(Content.styled(one_line(chat.endpoint), "dim"))
        parts.append(Content.styled(one_line(s.model), "bold"))  # perhaps a relay's id from the picker
        shown = meter_segment(meter, s.model)
        if shown is not None:
            parts.append(shown)
        parts.append(Content.styled(phase, f"bold {'$error' if s.phase == 'error' else '$accent'}"))
        tps = s.tokens_per_second()
        parts += [f"ttft {_secs(s.ttft())}", _secs(s.elapsed()), f"{tps:.0f} tok/s" if tps else "– tok/s"]
        return Content(" · ").join(parts)

    @staticmethod
    def branch_text(chat: ChatSession) -> str:
        """`` · this branch $0.0090`` when the active path cost less than the total (which counts every
        answer on every branch); "" otherwise."""
        s = chat.live
        usd, estimated = s.running_total()
        path, path_estimated = chat.conversation.path_cost()
        path += usd - s.total_usd  # the answer in flight is on the active path
        if format_usd(path) == format_usd(usd) or path > usd:
            return ""
        mark = "≈" if path_estimated or usd != s.total_usd else ""
        return f" · this branch {mark}{format_usd(path)}"

    @staticmethod
    def money_line(chat: ChatSession, balance: str | None = None) -> Content:
        """This answer's tokens and cost, then the conversation's total: USD list, CNY billed and at market;
        then the account's balance when the relay reports one."""
        s, money = chat.live, chat.money
        tokens = f"{'' if s.exact_tokens or not s.tokens_out else '≈'}{s.tokens_out} tok"
        usd, estimated = s.running_total()  # the answer in flight counts, estimated, while it streams
        mark = "≈" if estimated else ""
        unknown = " + unpriced" if s.total_unknown else ""
        total = (
            f"total {mark}{format_usd(usd)}{StatusBar.branch_text(chat)} = "
            f"{mark}{format_cny_named(money.billed_cny(usd))} billed, "
            f"{mark}{format_cny_named(money.market_cny(usd))} at market{unknown}"
        )
        keys = "F1 keys · Ctrl+O model · Esc stop"
        cost = s.cost()
        # Nothing answered yet (start, or a failure before any token): no cost to speak of, not "unknown".
        shown = "–" if cost is None and not s.running and not s.tokens_out else money.format_cost(cost)
        answer = Content.styled(f"{tokens} {shown}", "bold")
        budget = budget_segment(chat.budget)
        parts: list[Content | str] = [answer, total] if budget is None else [answer, budget, total]
        if balance is not None:  # before the long total, so a narrow terminal still shows it
            parts.insert(-1, Content.styled(balance, "dim italic" if balance.endswith("(stale)") else ""))
        return Content(" │ ").join([*parts, Content.styled(keys, "dim")])
