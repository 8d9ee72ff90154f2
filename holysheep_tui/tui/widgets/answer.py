"""One assistant answer: model, folding reasoning, streamed Markdown body, notices, and its figures."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from holysheep_tui.chat.conversation import Turn
from holysheep_tui.chat.live import AnswerFigures
from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.economics.prices import PriceBook
from holysheep_tui.economics.stats import cache_saving_usd
from holysheep_tui.i18n import _
from holysheep_tui.linebreak import wrap
from holysheep_tui.relay.wire import (
    ContentDelta,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    ResponseModel,
    RetryScheduled,
    StreamEvent,
)
from holysheep_tui.store import Message
from holysheep_tui.textsafety import one_line, show_control
from holysheep_tui.tui.markdown_layout import MarkdownLayout
from holysheep_tui.tui.markdown_render import RenderTheme
from holysheep_tui.tui.markdown_stream import StreamingMarkdown
from holysheep_tui.tui.markdown_theme import MARKDOWN_COMPONENT_CLASSES, markdown_css, resolve_theme
from holysheep_tui.tui.widgets.answer_text import (
    RETRY_KEY,
    STORED_NOTICES,
    error_text,
    figures,
    status_word,
    stored_figures,
    stored_notice,
)
from holysheep_tui.tui.widgets.conversation import UserMessage, place_label

__all__ = [
    "LAID_OUT",
    "RETRY_KEY",
    "AnswerView",
    "StoredAnswer",
    "code_blocks",
    "error_text",
    "figures",
    "prepare_body",
    "stored_figures",
    "stored_notice",
]
_FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<code>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced code block."""
    return [(m.group("lang"), m.group("code").rstrip("\n")) for m in _FENCE.finditer(markdown)]


class AnswerView(Vertical):
    """The answer streaming in this session: fed by ``apply`` with each stream event, then ``finish``."""

    def __init__(
        self, model: str, *, show_reasoning: bool = False, place: tuple[int, int] | None = None
    ) -> None:
        super().__init__(classes="answer -streaming")
        self.message_id: int | None = None
        """The stored answer's id, once the turn has ended (None: not stored)."""
        self.prompt_widget: UserMessage | None = None
        """The prompt shown above it."""
        self.cost_in_both = False
        """The footer's cost in USD and CNY (a comparison's legs), else in the display currency."""
        self.place = place
        self.model = model
        self.shown_model = one_line(model)
        self.refusal = ""
        self.status = "streaming"
        self._reasoning_folded = show_reasoning  # folded once the answer starts, unless shown on purpose
        self._body = StreamingMarkdown(classes="answer-body")
        self._reasoning = StreamingMarkdown(classes="reasoning-body")
        self._passing_notice = False

    def compose(self) -> ComposeResult:
        yield Static(self._header(self.model), classes="answer-header", markup=False)
        with Collapsible(title=_("Reasoning"), collapsed=False, classes="reasoning -empty"):
            yield self._reasoning
        yield self._body
        yield Static("", classes="answer-notice -empty", markup=False)
        yield Static("", classes="answer-figures", markup=False)

    def retranslate(self) -> None:
        """The language changed: the reasoning's title (the answer's own lines keep their words)."""
        self.query_one(Collapsible).title = _("Reasoning")

    @property
    def body(self) -> StreamingMarkdown:
        return self._body

    def show_tail(self, lines: int | None) -> None:
        """Show only the last ``lines`` of the answer (and of its reasoning), in boxes that keep their
        height (a comparison's legs while it runs: see ``StreamingMarkdown.tail``); None: every line."""
        self._body.set_tail(lines)
        self._reasoning.set_tail(lines)

    @property
    def text(self) -> str:
        return self.body.text

    def _notice(self, text: str, *, kind: str = "", passing: bool = False) -> None:
        """Show ``text`` under the answer; ``passing``: a wait (retry, rate limit) the next text ends."""
        self._passing_notice = passing
        notice = self.query_one(".answer-notice", Static)
        notice.update(text)
        notice.set_class(not text, "-empty")
        for name in ("-error", "-warning"):
            notice.remove_class(name)
        if kind:
            notice.add_class(f"-{kind}")

    def apply_all(self, events: Sequence[StreamEvent]) -> None:
        """The events of one network read; runs of text deltas reach the Markdown as one append each."""
        content: list[str] = []
        reasoning: list[str] = []
        for event in events:
            if type(event) is ContentDelta:
                if reasoning:
                    self._append_reasoning("".join(reasoning))
                    reasoning.clear()
                content.append(event.text)
            elif type(event) is ReasoningDelta:
                if content:
                    self._append_content("".join(content))
                    content.clear()
                reasoning.append(event.text)
            else:
                if content:
                    self._append_content("".join(content))
                    content.clear()
                if reasoning:
                    self._append_reasoning("".join(reasoning))
                    reasoning.clear()
                self.apply(event)
        if content:
            self._append_content("".join(content))
        if reasoning:
            self._append_reasoning("".join(reasoning))

    def set_reasoning(self, shown: bool) -> None:
        """Unfold or fold the reasoning; it stays as set while the answer streams on."""
        self._reasoning_folded = True
        self.query_one(Collapsible).collapsed = not shown

    def _append_content(self, text: str) -> None:
        if self._passing_notice:
            self._notice("")
        if not self._reasoning_folded:
            self._reasoning_folded = True
            self.query_one(Collapsible).collapsed = True
        self._body.append(text)

    def _append_reasoning(self, text: str) -> None:
        if self._passing_notice:
            self._notice("")
        self.query_one(Collapsible).remove_class("-empty")
        self._reasoning.append(text)

    def apply(self, event: StreamEvent) -> None:
        match event:
            case ContentDelta(text):
                self._append_content(text)
            case ReasoningDelta(text):
                self._append_reasoning(text)
            case RefusalDelta(text):
                self.refusal += show_control(text)
                self._notice(_("Refused: {text}").format(text=self.refusal), kind="warning")
            case RetryScheduled(attempt, delay, reason):
                # The reason is an error's title (English in the event): shown in the language in force.
                text = _("{reason} — retrying in {seconds} s (retry {attempt})").format(
                    reason=show_control(_(reason) if reason else reason),
                    seconds=f"{delay:.0f}",
                    attempt=attempt,
                )
                self._notice(text, kind="warning", passing=True)
            case RateLimitWait(delay):
                text = _("Client rate limit: sending in {seconds} s").format(seconds=f"{delay:.0f}")
                self._notice(text, kind="warning", passing=True)
            case ResponseModel(model) if model != self.model:
                self.query_one(".answer-header", Static).update(self._header(model))
            case _:
                pass

    def finish(self, turn: Turn, money: CurrencyView) -> None:
        self.status = turn.status
        self.body.finish()
        self._reasoning.finish()
        self.remove_class("-streaming")
        self.add_class(f"-{turn.status}")
        answer = turn.answer
        if turn.error is not None:
            self._notice(error_text(turn.error), kind="error")
        elif turn.status == "stopped":
            self._notice(_(STORED_NOTICES["stopped"]), kind="warning")
        elif answer.refusal:
            self._notice(_("Refused: {text}").format(text=show_control(answer.refusal)), kind="warning")
        elif answer.finish_reason not in (None, "stop"):
            why = {
                "length": _("cut at the token limit (finish reason: length)"),
                "content_filter": _("stopped by the content filter"),
            }.get(answer.finish_reason or "", "")
            reason = one_line(str(answer.finish_reason))
            why = why or _("finish reason {reason}").format(reason=reason)
            self._notice(_("Answer ended early: {why}").format(why=why), kind="warning")
        else:
            self._notice("")
        header = self._header(answer.model)
        if turn.status != "complete":
            header += f" · {status_word(turn.status)}"
        self.query_one(".answer-header", Static).update(header)
        usage = answer.usage
        cached = usage.cached_tokens if usage is not None else 0
        prices = getattr(self.app, "prices", None)  # the app's PriceBook (HolySheepApp.prices)
        saved = (
            cache_saving_usd(prices, answer.model, usage)
            if cached > 0 and usage is not None and isinstance(prices, PriceBook)
            else None
        )
        shown = figures(
            AnswerFigures.of_turn(turn),
            money,
            both=self.cost_in_both,
            cached_tokens=cached,
            cache_saved_usd=saved,
        )
        self.query_one(".answer-figures", Static).update(shown)

    def _header(self, answered_by: str) -> str:
        """The model asked for, and the one the relay says answered when that is another."""
        place = f"  {place_label(self.place)}" if self.place else ""
        if answered_by == self.model or one_line(answered_by) == self.shown_model:
            return self.shown_model + place
        by = _("(answered by {model})").format(model=one_line(answered_by) or "?")
        return f"{self.shown_model} {by}{place}"


_STORED_CSS = """
    StoredAnswer {
        & > .stored-answer--header { color: $text-secondary; text-style: bold; }
        & > .stored-answer--fold { color: $text-muted; }
        & > .stored-answer--reasoning { color: $text-muted; }
        & > .stored-answer--warning { color: $text-warning; }
        & > .stored-answer--error { color: $text-error; background: $error-muted; }
        & > .stored-answer--figures { color: $text-muted; }
    }
"""


class LaidOutBodies:
    """Bodies of stored answers laid out but not on screen, newest last, so showing one again (switching
    back to an alternative, reopening a conversation, paging back) costs no rendering. Keyed by the
    Markdown source; a body is taken out while a widget shows it. Bounded by entries and by lines."""

    def __init__(self, max_entries: int = 32, max_lines: int = 40_000) -> None:
        self.max_entries, self.max_lines = max_entries, max_lines
        self._bodies: OrderedDict[str, MarkdownLayout] = OrderedDict()

    def __contains__(self, text: str) -> bool:
        return text in self._bodies

    def get(self, text: str) -> MarkdownLayout | None:
        """The body kept for ``text``, left in place (None: none kept)."""
        return self._bodies.get(text)

    def take(self, text: str) -> MarkdownLayout | None:
        """The body kept for ``text``, taken out for a widget to show (None: none kept)."""
        return self._bodies.pop(text, None)

    def give(self, body: MarkdownLayout) -> None:
        if not body.lines:
            return
        bodies = self._bodies
        bodies[body.text] = body
        bodies.move_to_end(body.text)
        lines = sum(len(b.lines) for b in bodies.values())
        while bodies and (len(bodies) > self.max_entries or lines > self.max_lines):
            _, dropped = bodies.popitem(last=False)
            lines -= len(dropped.lines)

    def clear(self) -> None:
        self._bodies.clear()


LAID_OUT = LaidOutBodies()
PREPARE_CHUNK = 1500
"""Characters of source laid out between two turns of the event loop while preparing a body."""


async def prepare_body(text: str, theme: RenderTheme, width: int) -> None:
    """Lay out ``text`` at ``width`` ahead of time, a few blocks per turn of the event loop so typing and
    painting go on, and keep it in ``LAID_OUT`` for the StoredAnswer that will show it."""
    if not text or width <= 0 or text in LAID_OUT:
        return
    body = MarkdownLayout()
    body.set_theme(theme)
    for start in range(0, len(text), PREPARE_CHUNK):
        body.append(text[start : start + PREPARE_CHUNK])
        body.lay_out(width, render_open=False)
        await asyncio.sleep(0)
    body.finish()
    body.lay_out(width)
    if body.text == text:
        LAID_OUT.give(body)


class StoredAnswer(Widget):
    """A finished answer from the history drawn by one Line API widget.

    Model line, reasoning folded to one line (its Markdown rendered only while unfolded; click the
    line or call ``toggle_reasoning``), the Markdown body, the notice and the figures. Live answers
    use ``AnswerView``; a stored one costs one widget instead of ten.
    """

    DEFAULT_CSS = markdown_css("StoredAnswer") + _STORED_CSS

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *MARKDOWN_COMPONENT_CLASSES,
        *(
            f"stored-answer--{name}"
            for name in ("header", "fold", "reasoning", "warning", "error", "figures")
        ),
    }

    def __init__(
        self,
        message: Message,
        money: CurrencyView,
        *,
        show_reasoning: bool = False,
        place: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(classes=f"answer -{message.status}", id=f"msg-{message.id}")
        self.message_id: int | None = message.id
        self.place = place
        self._body = LAID_OUT.take(message.content) or MarkdownLayout(message.content)
        self._style_check = True
        self.message = message
        self.model = message.model or _("unknown model")
        self.status = message.status
        shown = one_line(self.model) or _("unknown model")  # as the relay named it, kept in the history
        self.header = shown if self.status == "complete" else f"{shown} · {status_word(self.status)}"
        if place is not None:
            self.header += f"  {place_label(place)}"
        self.notice, self._notice_kind = stored_notice(message)
        self.figures = stored_figures(message, money)
        self.reasoning_expanded = show_reasoning and bool(message.reasoning)
        self.reasoning_lines = 0
        """Lines of reasoning rendered now (none while folded)."""
        self._frame_key: tuple[object, ...] | None = None
        self._head: list[Strip] = []
        self._foot: list[Strip] = []
        self._fold_row = -1

    @property
    def text(self) -> str:
        """The Markdown source of the answer."""
        return self._body.text

    @property
    def reasoning(self) -> str:
        return self.message.reasoning or ""

    def retranslate(self) -> None:
        """The language changed: the reasoning's fold line is drawn again (the body stays laid out)."""
        if self.reasoning:
            self._frame_key = None
            self.refresh()

    def toggle_reasoning(self) -> None:
        """Unfold the reasoning (rendered now) or fold it (its lines are dropped)."""
        if self.reasoning:
            self.reasoning_expanded = not self.reasoning_expanded
            self._frame_key = None
            self.refresh(layout=True)

    def set_reasoning(self, shown: bool) -> None:
        if self.reasoning and shown != self.reasoning_expanded:
            self.toggle_reasoning()

    @property
    def body_renders(self) -> int:
        """How many times a block of the body was rendered (prepared ahead or laid out here)."""
        return self._body.blocks_rendered + self._body.open_renders

    @property
    def body_layout(self) -> tuple[RenderTheme, int] | None:
        """The theme and width the body is laid out in, once it has been."""
        theme, width = self._body.theme, self._body.width
        return (theme, width) if theme is not None and width > 0 else None

    def on_unmount(self) -> None:
        LAID_OUT.give(self._body)  # kept a while for showing it again; the oldest go
        self._body = MarkdownLayout(self._body.text)
        self._head, self._foot, self._frame_key = [], [], None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y == self._fold_row:
            event.stop()
            self.toggle_reasoning()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_check = True
        self._frame_key = None

    def _sync(self, width: int) -> None:
        """Bring the body's lines up to date for ``width`` (its blocks render once per width and theme)."""
        if width <= 0:
            return
        if self._style_check:
            self._style_check = False
            self._body.set_theme(resolve_theme(self))
        self._body.lay_out(width)

    # -- the lines around the body ------------------------------------------------------
    def _text_lines(self, text: str, component: str, width: int, pad: int = 0) -> list[Strip]:
        """``text`` wrapped to ``width``; with ``pad``, on the component's background across the line."""
        style = self.get_visual_style(component)
        fill = style.rich_style if pad else self.visual_style.rich_style
        out = []
        for line in wrap(show_control(text), max(1, width - 2 * pad)):  # by UAX #14: CJK breaks too
            strip = Strip(Content(line).render_segments(style))
            if pad:
                strip = Strip.join([Strip.blank(pad, fill), strip])
            out.append(strip.adjust_cell_length(width, fill))
        return out

    def _render_reasoning(self, width: int) -> list[Strip]:
        theme = self._body.theme
        if theme is None or width <= 2:
            return []
        base = self.get_visual_style("stored-answer--reasoning").rich_style
        reasoning = MarkdownLayout(self.reasoning)
        reasoning.set_theme(replace(theme, base=base))
        reasoning.lay_out(width - 2)
        indent, gap = Strip.blank(2, self.visual_style.rich_style), Strip.blank(width, base)
        return [gap if line is reasoning.gap else Strip.join([indent, line]) for line in reasoning.lines]

    def _frame(self, width: int) -> None:
        key = (width, self._body.theme, self.reasoning_expanded)
        if key == self._frame_key:
            return
        self._frame_key = key
        head = self._text_lines(self.header, "stored-answer--header", width)
        self._fold_row = -1
        if self.reasoning:
            self._fold_row = len(head)
            symbol = "▼" if self.reasoning_expanded else "▶"
            head += self._text_lines(f"{symbol} {_('Reasoning')}", "stored-answer--fold", width)
            reasoning = self._render_reasoning(width) if self.reasoning_expanded else []
            self.reasoning_lines = len(reasoning)
            head += reasoning
        foot = []
        if self.notice:
            kind = self._notice_kind or "warning"
            foot = self._text_lines(
                self.notice, f"stored-answer--{kind}", width, pad=1 if kind == "error" else 0
            )
        self._head = head
        self._foot = foot + self._text_lines(self.figures, "stored-answer--figures", width)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._sync(width)
        self._frame(width)
        return len(self._head) + self._body.height + len(self._foot)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._sync(width)
        self._frame(width)
        if y < len(self._head):
            return self._head[y]
        y -= len(self._head)
        body = self._body.lines
        if y < len(body):
            return body[y]
        y -= len(body)
        if y < len(self._foot):
            return self._foot[y]
        return Strip.blank(width, self.visual_style.rich_style)
