"""The app's context window: the meter in the status bar, the input estimate in the prompt's frame, and the
choice when a conversation will not fit the model's window (compact, the recent turns, another model).

The meter is read again 0.1 s after the last key (only the prompt's characters are counted then; the
history's count is cached by the conversation's shape) and whenever ``revision`` moves (a turn began or
ended, another model, another conversation) or the relay's windows arrive. A send that will not fit is
never sent blind: ``context_stops_send`` opens the fit dialog instead, and the prompt stays as typed until
the user has chosen. The plan is ``chat/context.py``'s, as ``holysheep ask --fit`` uses it.

``HolySheepApp`` derives from ``FittingApp``; this class only uses the attributes declared below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App
from textual.css.query import NoMatches
from textual.reactive import var

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.i18n import _, ngettext
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.messages import ModelsLoaded
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:  # the estimate and the planner load with the first reading, after the first frame
    from textual.timer import Timer
    from textual.worker import Worker

    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.context import ContextPlan, Windows
    from holysheep_tui.chat.conversation import Branch, Conversation
    from holysheep_tui.chat.meter import ContextMeter, MeterReading
    from holysheep_tui.tui.screens.fit_choice import FitChoice
    from holysheep_tui.tui.widgets.conversation import ConversationView

METER_DELAY = 0.1
"""Seconds after the last key before the meter and the prompt's estimate are read again."""
FIRST_READING = 0.5
"""Seconds after start-up before the first reading (the first frame does not wait for the estimate)."""


class FittingApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    revision: int
    model_windows: dict[str, int]
    relay_models: list[str]
    attachments: tuple[Attachment, ...]
    _turn: Any
    """The running turn (``tui/turns.py``): its ``turns_before``."""

    if TYPE_CHECKING:

        @property
        def view(self) -> ConversationView: ...

        async def send_prompt(
            self,
            text: str,
            *,
            over_budget_ok: bool = False,
            branch: Branch | None = None,
            model: str | None = None,
            omit: int | None = None,
        ) -> None: ...

        async def choose_model(self, model: str | tuple[str, ...] | None) -> None: ...

    context_meter: var[MeterReading | None] = var(None, init=False)
    """The next request against the model's window; the status bar draws it (``data_bind``)."""

    _meter: ContextMeter | None = None
    _meter_timer: Timer | None = None
    _compaction: Worker[None] | None = None

    # ---- the meter and the prompt's estimate -------------------------------------------------
    @property
    def meter(self) -> ContextMeter:
        if self._meter is None:
            from holysheep_tui.chat.meter import ContextMeter

            self._meter = ContextMeter()
        return self._meter

    def main_prompt(self) -> PromptInput | None:
        """The prompt, also while a dialog covers it (``query_one`` looks at the top screen only)."""
        try:
            return self.screen_stack[0].query_one(PromptInput)
        except (NoMatches, IndexError):
            return None

    def context_windows(self) -> Windows:
        """The config's ``[context_windows]``, then the relay's ``/models``, then the price data."""
        from holysheep_tui.chat.meter import app_windows

        chat = self.chat
        overrides = chat.session.config.context_windows if chat.session is not None else None
        return app_windows(chat.prices, overrides, self.model_windows)

    def schedule_meter(self, delay: float = METER_DELAY) -> None:
        """Read the meter ``delay`` seconds from now (a later call moves the reading on)."""
        if self._meter_timer is not None:
            self._meter_timer.stop()
            self._meter_timer = None
        if delay <= 0:
            self.call_later(self.refresh_meter)
        else:
            self._meter_timer = self.set_timer(delay, self.refresh_meter, name="context-meter")

    @on(events.Mount)
    def _meter_first_reading(self) -> None:
        self.schedule_meter(FIRST_READING)  # also when the model list never comes (offline)
        self.watch(self, "attachments", self._meter_files_changed, init=False)  # ``tui/attaching.py``

    def _meter_files_changed(self) -> None:
        self.schedule_meter()

    def watch_revision(self) -> None:
        self.refresh_meter()  # at once: what the status bar shows follows the state it was bumped for

    @on(PromptInput.Changed)
    def _meter_prompt_changed(self) -> None:
        self.schedule_meter()

    @on(ModelsLoaded)
    def _meter_windows_loaded(self) -> None:
        self.refresh_meter()

    def refresh_meter(self) -> None:
        """Read the meter now: the status bar's segment and the estimate in the prompt's frame."""
        if self._meter_timer is not None:
            self._meter_timer.stop()
            self._meter_timer = None
        chat = self.chat
        controller = chat.opened_controller
        if controller is not None and controller.estimator is None:
            controller.estimator = self.meter.estimator  # it learns from each answer's reported usage
        prompt = self.main_prompt()
        if prompt is None:
            return
        text = prompt.text
        files = tuple(getattr(self, "attachments", ()))
        running = self._turn
        reading = self.meter.read(
            chat.conversation, chat.model, text, windows=self.context_windows(), prices=chat.prices,
            attachments=files,
            settled=running.turns_before if running is not None else None,  # its answer: once it ended
            in_flight=running.prompt if running is not None else None,
        )  # fmt: skip
        self.context_meter = reading
        if self._compaction is not None and self._compaction.is_running:
            return  # the frame says a compaction runs
        subtitle = None
        if text.strip() or files:
            subtitle = reading.cost_text(chat.money.relay_rate)
            if not reading.fits:
                too_long = _("too long for {model}: Enter offers the ways out").format(
                    model=one_line(chat.model)
                )
                subtitle += f" · {too_long}"
        prompt.border_subtitle = subtitle

    def overflow_warning(self, model: str) -> str | None:
        """The warning when the conversation no longer fits ``model``'s window (None: it fits, or the
        window is unknown)."""
        chat = self.chat
        reading = self.meter.read(
            chat.conversation, model, "", windows=self.context_windows(), prices=chat.prices
        )
        if reading.fits or reading.window is None:
            return None
        return "⚠ " + _(
            "This conversation (~{tokens} tokens) no longer fits {model}'s context window ({window}) with room "
            "for the answer. When you send, you choose: compact it, send only the recent turns, or switch to a "
            "model whose window fits."
        ).format(tokens=f"{reading.tokens:,}", model=one_line(model), window=f"{reading.window:,}")

    # ---- before sending ----------------------------------------------------------------------
    def plan_for(
        self, conversation: Conversation, text: str, model: str, files: Sequence[Attachment] = ()
    ) -> ContextPlan:
        from holysheep_tui.chat.context import plan_context

        return plan_context(
            conversation, text, model, windows=self.context_windows(), estimator=self.meter.estimator,
            prices=self.chat.prices, candidates=self.relay_models, max_tokens=conversation.max_tokens,
            attachments=files,
        )  # fmt: skip

    def context_stops_send(
        self,
        chat: ChatSession,
        text: str,
        files: Sequence[Attachment],
        model: str | None,
        branch: Branch | None,
    ) -> bool:
        """True when ``text`` is not to be sent now: it will not fit the model's window (the fit dialog
        opens) or a compaction is running (its end sends it). The prompt and its files stay.

        With ``branch`` (ask again, an edit) the request is the conversation without its last turn; the
        dialog then offers the recent turns and another model, not compaction (a summary goes after the
        last answer, which the branch replaces)."""
        from dataclasses import replace

        from holysheep_tui.tui.screens.fit_choice import FitChoiceScreen

        if self._compaction is not None and self._compaction.is_running:
            self.notify(
                _("The conversation is being compacted; the prompt is sent when the summary is ready.")
            )
            return True
        controller = chat.opened_controller
        if controller is not None and controller.estimator is None:
            controller.estimator = self.meter.estimator
        conversation = planned = chat.conversation
        if branch is not None and conversation.turns and conversation.turns[-1] is branch[1]:
            planned = replace(conversation, turns=conversation.turns[:-1])
        plan = self.plan_for(planned, text, model or chat.model, files)
        if plan.fits:
            return False
        if branch is not None:
            plan = replace(plan, compact=None)

        async def chosen(choice: FitChoice | None) -> None:
            await self._fit_chosen(choice, conversation, text, plan, branch, model)

        self.push_screen(FitChoiceScreen(plan, chat.money.relay_rate), chosen)
        return True

    def comparison_stops_send(
        self, chat: ChatSession, text: str, files: Sequence[Attachment], models: Sequence[str]
    ) -> bool:
        """True (and a notice naming them) when some of the compared ``models`` cannot take the request
        in their window: a comparison is never sent blind either. The prompt and its files stay."""
        too_long = []
        for name in models:
            plan = self.plan_for(chat.conversation, text, name, files)
            if not plan.fits and plan.window is not None:
                too_long.append(
                    _("{model} (~{tokens} of {window} tokens)").format(
                        model=one_line(name), tokens=f"{plan.tokens:,}", window=f"{plan.window:,}"
                    )
                )
        if not too_long:
            return False
        self.notify(
            _(
                "Too long for the context window of {models}. Leave them out of the comparison (Ctrl+O), or "
                "send to one model first: it offers to compact the conversation or to send only the recent "
                "turns."
            ).format(models=", ".join(too_long)),
            title=_("Not sent"),
            severity="error",
            timeout=12,
        )
        return True

    async def _fit_chosen(
        self,
        choice: FitChoice | None,
        conversation: Conversation,
        text: str,
        plan: ContextPlan,
        branch: Branch | None,
        model: str | None,
    ) -> None:
        chat = self.chat
        prompt = self.main_prompt()
        if prompt is not None:
            prompt.focus()
        if choice is None:
            self.notify(_("Not sent: the prompt is as you left it."), timeout=3)
            return
        if chat.conversation is not conversation:  # another conversation meanwhile: plan again
            await self.send_prompt(text)
            return
        if choice.kind == "switch" and choice.model is not None:
            if branch is None:
                await self.choose_model(choice.model)  # says so in the conversation
            await self.send_prompt(text, branch=branch, model=choice.model)
        elif choice.kind == "recent":
            left_out = (
                plan.recent.left_out
                if plan.recent is not None
                else ngettext("{count} turn", "{count} turns", choice.omit).format(count=choice.omit)
            )
            await self.view.add_marker(
                _(
                    "Sent with the recent turns only: {left_out} left out of this request (they stay in the "
                    "history)."
                ).format(left_out=left_out)
            )
            await self.send_prompt(text, branch=branch, model=model, omit=choice.omit)
        elif choice.kind == "compact" and choice.model is not None:
            summary_tokens = plan.compact.summary_tokens if plan.compact is not None else 1024
            self._compaction = self._compact(chat, conversation, text, choice.model, summary_tokens)

    @work(group="compaction", exclusive=True, exit_on_error=False)
    async def _compact(
        self, chat: ChatSession, conversation: Conversation, text: str, writer: str, max_tokens: int
    ) -> None:
        """Write the summary with ``writer``, count its cost, then send ``text``. A failure is reported
        by the app's worker handler; the conversation and the prompt stay as they were."""
        from holysheep_tui.chat.compaction import compact
        from holysheep_tui.economics.money import format_cny, format_usd

        prompt = self.main_prompt()
        if prompt is not None:
            prompt.border_subtitle = _("Compacting the conversation with {model}…").format(
                model=one_line(writer)
            )
        await self.view.add_marker(
            _("Compacting the conversation with {model}…").format(model=one_line(writer))
        )
        try:
            summary = await compact(chat.controller, conversation, writer, max_tokens=max_tokens)
        finally:
            self._compaction = None  # from here the prompt may be sent
            if prompt is not None:
                prompt.border_subtitle = None
            self.schedule_meter(0)
        cost_text = ""
        if summary.cost is not None:
            usd = summary.cost.usd
            chat.live.total_usd += usd  # the summary counts in the conversation's total
            chat.live.total_estimated = chat.live.total_estimated or summary.cost.estimated
            chat.budget.add(summary.cost)
            cost_text = f" · {format_usd(usd)} · {format_cny(chat.money.billed_cny(usd))} CNY"
        stored = _(
            "Summary of {count} turns by {model} stored{cost}: it is sent in their place; the turns stay in the "
            "history, in search and in exports."
        )
        await self.view.add_marker(stored.format(count=summary.turns, model=one_line(writer), cost=cost_text))
        self.revision += 1
        if chat is self.chat and chat.conversation is conversation:
            await self.send_prompt(text)
