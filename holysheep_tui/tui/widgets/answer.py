"""One assistant answer: model, folding reasoning, streamed Markdown body, notices, and its figures."""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from holysheep_tui.controller import Turn
from holysheep_tui.errors import HolySheepError, RateLimitError
from holysheep_tui.money import CurrencyView
from holysheep_tui.prices import Cost
from holysheep_tui.store import Message
from holysheep_tui.tui.markdown_stream import StreamingMarkdown
from holysheep_tui.tui.messages import TurnEvent
from holysheep_tui.wire import (
    ContentDelta,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    ResponseModel,
    RetryScheduled,
    StreamEvent,
)

RETRY_KEY = "Ctrl+R"
_FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<code>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced code block."""
    return [(m.group("lang"), m.group("code").rstrip("\n")) for m in _FENCE.finditer(markdown)]


def error_text(error: HolySheepError) -> str:
    """The inline error: title, the typed message with what to do, and the retry key."""
    lines = [f"✖ {error.title}", error.user_text()]
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        lines.append(f"The relay asks to wait {error.retry_after:g} s before retrying.")
    lines.append(f"Press {RETRY_KEY} to try again.")
    return "\n".join(lines)


class AnswerView(Vertical):
    """Fed by ``apply`` with each stream event, then ``finish`` with the finished Turn."""

    def __init__(
        self, model: str, *, stored: Message | None = None, money: CurrencyView | None = None
    ) -> None:
        """``stored``: show a finished answer from the history at once (``money`` formats its cost)."""
        status = "streaming" if stored is None else stored.status
        super().__init__(classes=f"answer -{status}", id=None if stored is None else f"msg-{stored.id}")
        self.model = model
        self.refusal = ""
        self.status = status
        self._reasoning_folded = stored is not None
        self._stored = stored
        self._money = money or CurrencyView()

    def compose(self) -> ComposeResult:
        m = self._stored
        if m is None:
            yield Static(self.model, classes="answer-header", markup=False)
            with Collapsible(title="Reasoning", collapsed=False, classes="reasoning -empty"):
                yield StreamingMarkdown(classes="reasoning-body")
            yield StreamingMarkdown(classes="answer-body")
            yield Static("", classes="answer-notice -empty", markup=False)
            yield Static("", classes="answer-figures", markup=False)
            return
        header = self.model if self.status == "complete" else f"{self.model} · {self.status}"
        yield Static(header, classes="answer-header", markup=False)
        reasoning_class = "reasoning" if m.reasoning else "reasoning -empty"
        with Collapsible(title="Reasoning", collapsed=True, classes=reasoning_class):
            yield StreamingMarkdown(m.reasoning or None, classes="reasoning-body")
        yield StreamingMarkdown(m.content or None, classes="answer-body")
        text, kind = stored_notice(m)
        notice_class = f"answer-notice -{kind}" if text else "answer-notice -empty"
        yield Static(text, classes=notice_class, markup=False)
        yield Static(stored_figures(m, self._money), classes="answer-figures", markup=False)

    @property
    def body(self) -> StreamingMarkdown:
        return self.query_one(".answer-body", StreamingMarkdown)

    @property
    def text(self) -> str:
        return self.body.text

    def _notice(self, text: str, *, kind: str = "") -> None:
        notice = self.query_one(".answer-notice", Static)
        notice.update(text)
        notice.set_class(not text, "-empty")
        for name in ("-error", "-warning"):
            notice.remove_class(name)
        if kind:
            notice.add_class(f"-{kind}")

    @on(TurnEvent)
    def _on_turn_event(self, message: TurnEvent) -> None:
        self.apply(message.event)  # the message bubbles on to the app's status bar

    def apply(self, event: StreamEvent) -> None:
        match event:
            case ContentDelta(text):
                if not self._reasoning_folded:
                    self._reasoning_folded = True
                    self.query_one(Collapsible).collapsed = True
                self.body.append(text)
            case ReasoningDelta(text):
                collapsible = self.query_one(Collapsible)
                collapsible.remove_class("-empty")
                collapsible.query_one(StreamingMarkdown).append(text)
            case RefusalDelta(text):
                self.refusal += text
                self._notice(f"Refused: {self.refusal}", kind="warning")
            case RetryScheduled(attempt, delay, reason):
                self._notice(f"{reason} — retrying in {delay:.0f} s (retry {attempt})", kind="warning")
            case RateLimitWait(delay):
                self._notice(f"Client rate limit: sending in {delay:.0f} s", kind="warning")
            case ResponseModel(model) if model != self.model:
                self.query_one(".answer-header", Static).update(f"{self.model} (answered by {model})")
            case _:
                pass

    def finish(
        self, turn: Turn, money: CurrencyView, ttft: float | None, total: float | None, tps: float | None
    ) -> None:
        self.status = turn.status
        self.body.finish()
        self.query_one(".reasoning-body", StreamingMarkdown).finish()
        self.remove_class("-streaming")
        self.add_class(f"-{turn.status}")
        answer = turn.answer
        if turn.error is not None:
            self._notice(error_text(turn.error), kind="error")
        elif turn.status == "stopped":
            self._notice("■ Stopped — the partial answer is kept.", kind="warning")
        elif answer.refusal:
            self._notice(f"Refused: {answer.refusal}", kind="warning")
        elif answer.finish_reason not in (None, "stop"):
            why = {
                "length": "cut at the token limit (finish reason: length)",
                "content_filter": "stopped by the content filter",
            }.get(answer.finish_reason or "", "")
            self._notice(
                f"Answer ended early: {why or 'finish reason ' + str(answer.finish_reason)}", kind="warning"
            )
        else:
            self._notice("")
        header = self.model if answer.model == self.model else f"{self.model} (answered by {answer.model})"
        if turn.status != "complete":
            header += f" · {turn.status}"
        self.query_one(".answer-header", Static).update(header)
        self.query_one(".answer-figures", Static).update(figures(turn, money, ttft, total, tps))


def figures(
    turn: Turn, money: CurrencyView, ttft: float | None, total: float | None, tps: float | None
) -> str:
    usage = turn.answer.usage
    parts = []
    if usage is not None:
        parts.append(f"{usage.prompt_tokens} in · {usage.completion_tokens} out")
    if ttft is not None:
        parts.append(f"ttft {ttft:.2f}s")
    if total is not None:
        parts.append(f"total {total:.2f}s")
    if tps is not None:
        parts.append(f"{tps:.0f} tok/s")
    if turn.status != "error" or turn.cost is not None:
        parts.append(money.format_cost(turn.cost))
    return " · ".join(parts)


STORED_NOTICES = {
    "interrupted": "⚠ Interrupted — holysheep closed before this answer finished; what arrived is kept.",
    "streaming": "⚠ Still being written by another holysheep window (or cut off); refresh to see more.",
    "stopped": "■ Stopped — the partial answer is kept.",
}


def stored_notice(message: Message) -> tuple[str, str]:
    """The notice line of a stored answer and its kind ('' when there is none)."""
    if message.status == "error":
        return f"✖ {message.error_text or 'The request failed.'}", "error"
    text = STORED_NOTICES.get(message.status, "")
    return text, "warning" if text else ""


def stored_figures(m: Message, money: CurrencyView) -> str:
    parts = []
    if m.prompt_tokens is not None or m.completion_tokens is not None:
        parts.append(f"{m.prompt_tokens or 0} in · {m.completion_tokens or 0} out")
    if m.ttft_ms is not None:
        parts.append(f"ttft {m.ttft_ms / 1000:.2f}s")
    if m.total_ms is not None:
        parts.append(f"total {m.total_ms / 1000:.2f}s")
    if m.cost_usd is not None:
        parts.append(money.format_cost(Cost(m.cost_usd, m.cost_estimated)))
    parts.append(m.created.astimezone().strftime("%Y-%m-%d %H:%M"))
    return " · ".join(parts)
