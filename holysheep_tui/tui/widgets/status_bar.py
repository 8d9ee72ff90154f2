"""The live status bar: endpoint, model, context meter, state, latency, speed, tokens, cost and the balance.

It follows the app's chat session (``data_bind``): a new session or a new ``revision`` (a turn started or
ended, another model, another conversation) redraws it, and so does a timer (2 Hz while a turn runs), so a
fast stream never floods the screen with status updates. The figures are the session's ``LiveFigures``;
the meter is the app's ``context_meter`` (``tui/fitting.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.economics.money import format_cny, format_cny_named, format_usd
from holysheep_tui.i18n import N_, _, current
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.widgets.budget import budget_segment

if TYPE_CHECKING:  # the meter's module loads with the first reading, after the first frame
    from holysheep_tui.chat.meter import MeterReading

TICK = 0.5  # seconds between redraws while an answer runs (each one repaints the bottom of the screen)
PHASES = {
    "idle": N_("idle"),
    "connecting": N_("connecting"),
    "thinking": N_("thinking"),
    "streaming": N_("streaming"),
    "retrying": N_("retrying"),
    "waiting": N_("waiting"),
    "stopped": N_("stopped"),
    "error": N_("error"),
}
"""The session's phase as the status bar words it (translated when shown)."""
KEYS_HINT = N_("F1 keys · Ctrl+O model · Esc stop")


def _secs(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}s"


def meter_segment(meter: MeterReading | None, model: str) -> Content | None:
    """``ctx ~12,340 tok · 9%``: a warning colour from 80% of the window, the error colour when the next
    request (with room for the answer) will not fit; None when the window is unknown."""
    text = meter.meter_text() if meter is not None and meter.model == model else None
    if meter is None or text is None:
        return None
    style = {"ok": "", "near": "bold $warning", "over": "bold $error"}[meter.level]
    # TRANSLATORS: the status bar's context meter, before "~12,340 tok · 9%" (keep it short).
    return Content.assemble(Content.styled(_("ctx") + " ", "dim"), Content.styled(text, style))


def _stale_tail() -> str:
    """How the balance's text ends when it is stale, in the language in force (``tui/balance.py``)."""
    return _("balance {amount} (stale)").rpartition("{amount}")[2] or "(stale)"


def fitted(build: Callable[[frozenset[str]], Content], drops: Sequence[str], width: int | None) -> Content:
    """The line ``build`` makes, leaving out the parts named in ``drops`` one after another (the least
    useful first) until it fits ``width`` cells; ``width`` None: all of it, cut by the widget's ellipsis
    (English keeps its layout)."""
    line = build(frozenset())
    dropped: set[str] = set()
    for name in drops:
        if width is None or line.cell_length <= width:
            break
        dropped.add(name)
        line = build(frozenset(dropped))
    return line


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

    def on_resize(self) -> None:
        self.redraw()  # in Chinese the parts shown depend on the width

    def retranslate(self) -> None:
        """The language changed: word both lines again."""
        self._shown.clear()
        self.redraw()

    def _fit_width(self) -> int | None:
        """Cells a line may take when parts are left out to fit (not in English: it keeps its layout)."""
        width = self.content_size.width
        return width if width > 0 and current() != "en" else None

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
        width = self._fit_width()
        for name, line in (
            ("#status-live", self.live_line(chat, self.meter, width)),
            ("#status-money", self.money_line(chat, self.balance_text, width)),
        ):
            if self._shown.get(name) != line:
                self._shown[name] = line
                self.query_one(name, Static).update(line, layout=False)

    @staticmethod
    def live_line(chat: ChatSession, meter: MeterReading | None = None, width: int | None = None) -> Content:
        """Endpoint (or DEMO), model, context meter, phase, ttft, elapsed, speed; at ``width`` the endpoint,
        then ttft, speed, elapsed and the meter are left out until it fits."""
        s = chat.live
        phase: str = _(PHASES.get(s.phase, s.phase))
        left = s.seconds_to_retry()
        if s.phase in ("retrying", "waiting") and left is not None:
            seconds = f"{left:.0f}"
            phase = (
                _("retrying in {seconds} s").format(seconds=seconds)
                if s.phase == "retrying"
                else _("waiting {seconds} s (rate limit)").format(seconds=seconds)
            )
        tps = s.tokens_per_second()
        shown = meter_segment(meter, s.model)

        def build(dropped: frozenset[str]) -> Content:
            parts: list[Content | str] = []
            if chat.demo:
                parts.append(Content.styled(" DEMO ", "reverse bold"))
            elif "endpoint" not in dropped:
                parts.append(Content.styled(one_line(chat.endpoint), "dim"))
            parts.append(Content.styled(one_line(s.model), "bold"))  # perhaps a relay's id from the picker
            if shown is not None and "meter" not in dropped:
                parts.append(shown)
            parts.append(Content.styled(phase, f"bold {'$error' if s.phase == 'error' else '$accent'}"))
            if "ttft" not in dropped:
                # TRANSLATORS: time to first token in the status bar, e.g. "ttft 0.50s" (keep it short).
                parts.append(_("ttft {seconds}").format(seconds=_secs(s.ttft())))
            if "elapsed" not in dropped:
                parts.append(_secs(s.elapsed()))
            if "speed" not in dropped:
                parts.append(f"{tps:.0f} tok/s" if tps else "– tok/s")
            return Content(" · ").join(parts)

        return fitted(build, ("endpoint", "ttft", "speed", "elapsed", "meter"), width)

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
        return " · " + _("this branch {cost}").format(cost=f"{mark}{format_usd(path)}")

    @staticmethod
    def money_line(chat: ChatSession, balance: str | None = None, width: int | None = None) -> Content:
        """This answer's tokens and cost, then the conversation's total: USD list, CNY billed and at market;
        then the account's balance when the relay reports one. At ``width`` the total's market CNY, the
        branch's cost, the words around the billed CNY (``= ¥0.0011``), the keys, the balance, the budget,
        then the total's CNY are left out until it fits (the answer's cost and the total in USD stay)."""
        s, money = chat.live, chat.money
        tokens = f"{'' if s.exact_tokens or not s.tokens_out else '≈'}{s.tokens_out} tok"
        usd, estimated = s.running_total()  # the answer in flight counts, estimated, while it streams
        mark = "≈" if estimated else ""
        unknown = " + " + _("unpriced") if s.total_unknown else ""
        branch = StatusBar.branch_text(chat)
        total_usd = f"{mark}{format_usd(usd)}"
        billed_named = f"{mark}{format_cny_named(money.billed_cny(usd))}"
        market = f"{mark}{format_cny_named(money.market_cny(usd))}"
        cost = s.cost()
        # Nothing answered yet (start, or a failure before any token): no cost to speak of, not "unknown".
        shown = "–" if cost is None and not s.running and not s.tokens_out else money.format_cost(cost)
        answer = Content.styled(f"{tokens} {shown}", "bold")
        budget = budget_segment(chat.budget)

        def build(dropped: frozenset[str]) -> Content:
            spent = "" if "branch" in dropped else branch
            billed_cny = billed_named
            if "named" in dropped:
                billed_cny = f"{mark}{format_cny(money.billed_cny(usd))}"
            if "billed" in dropped:
                total = _("total {usd}{branch}{unpriced}")
            elif "named" in dropped:  # ¥ without "CNY": in Chinese ¥ is the yuan
                total = _("total {usd}{branch} = {billed}{unpriced}")
            elif "market" in dropped:
                total = _("total {usd}{branch} = {billed} billed{unpriced}")
            else:
                total = _("total {usd}{branch} = {billed} billed, {market} at market{unpriced}")
            parts: list[Content | str] = [answer]
            if budget is not None and "budget" not in dropped:
                parts.append(budget)
            if balance is not None and "balance" not in dropped:  # before the long total: a narrow
                stale = balance.endswith(("(stale)", _stale_tail()))  # terminal still shows it
                parts.append(Content.styled(balance, "dim italic" if stale else ""))
            parts.append(
                total.format(usd=total_usd, branch=spent, billed=billed_cny, market=market, unpriced=unknown)
            )
            if "keys" not in dropped:
                parts.append(Content.styled(_(KEYS_HINT), "dim"))
            return Content(" │ ").join(parts)

        return fitted(build, ("market", "branch", "named", "keys", "balance", "budget", "billed"), width)
