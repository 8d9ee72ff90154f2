"""The app's turns: send a prompt, run it in a worker, fold its events, end it; stop, regenerate, edit.

Every token: controller ``on_events`` -> ``TurnEvents`` (one per network read) posted to the app -> the
answer widget (which draws it) and the session's live figures. ``HolySheepApp`` derives from ``TurnsApp``;
this class only uses the attributes declared below.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.chat.conversation import Branch, Conversation, Turn
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import _
from holysheep_tui.relay.wire import Answer, StreamEvent
from holysheep_tui.tui.messages import (
    ComparisonFinished,
    LegFinished,
    PromptSubmitted,
    TurnEvents,
    TurnFinished,
)
from holysheep_tui.tui.widgets.budget import ask_before_sending
from holysheep_tui.tui.widgets.conversation import ConversationView
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:  # the answer widget loads with the warm-up, the store in a thread: start-up stays short
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.store import HistoryStore
    from holysheep_tui.tui.model_memory import ModelMemory
    from holysheep_tui.tui.widgets.answer import AnswerView
    from holysheep_tui.tui.widgets.compare import CompareView

TURN_GROUP = "turn"


@dataclass
class _Running:
    conversation: Conversation
    turns_before: int
    prompt: str
    model: str
    answer: AnswerView
    compare: CompareView | None = None
    """A comparison's legs (``answer`` is its first leg)."""
    legs: dict[int, Turn] = field(default_factory=dict)
    """The comparison's legs that have ended, by index."""


class TurnsApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    revision: int
    recent: list[str]
    model_memory: ModelMemory
    _history_worker: Worker[tuple[HistoryStore | None, str | None]] | None

    if TYPE_CHECKING:

        def ready_chat(self) -> ChatSession:
            """The session, waiting for its load if the first frame came from the cache."""

        def before_first_request(self) -> None: ...

        def take_history(self) -> None: ...

        def history_turn_finished(self) -> None: ...

        def comparison_estimate(self, models: Sequence[str]) -> str: ...

        def set_comparison(self, models: tuple[str, ...]) -> None: ...

        async def branch_point(self, turn: Turn) -> Turn | None:
            """``turn`` as the last turn of the conversation, to branch there (None: it cannot be)."""

        def outgoing_attachments(self, branch: Branch | None) -> tuple[Attachment, ...]: ...

        def attachments_sent(self, branch: Branch | None) -> None: ...

        def refuse_attachments(self, models: Sequence[str], files: Sequence[Attachment]) -> bool: ...

        def context_stops_send(
            self,
            chat: ChatSession,
            text: str,
            files: Sequence[Attachment],
            model: str | None,
            branch: Branch | None,
        ) -> bool: ...

        def comparison_stops_send(
            self, chat: ChatSession, text: str, files: Sequence[Attachment], models: Sequence[str]
        ) -> bool: ...

    _turn: _Running | None = None
    _worker: Worker[Turn] | None = None
    _editing: Turn | None = None
    """The turn whose prompt Ctrl+L loaded: sending the prompt makes an edit of it."""

    @property
    def view(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def answering(self) -> bool:
        """A turn is running: its answer streams or its request is on the way."""
        return self._turn is not None

    @on(PromptSubmitted)
    async def _prompt_submitted(self, message: PromptSubmitted) -> None:
        if not message.text:
            if getattr(self, "attachments", ()):  # files alone ask nothing: say what the prompt needs
                self.notify(
                    _("Type what the model should do with the attached file (a question or an instruction), "
                      "then press Enter. The file stays attached."),
                    title=_("Nothing sent"),
                )  # fmt: skip
            return
        editing = self._editing
        self.set_editing(None)
        edit: Branch | None = None
        if editing is not None and any(t is editing for t in self.chat.conversation.turns):
            at = await self.branch_point(editing)
            edit = ("prompt", at) if at is not None else None
        await self.send_prompt(message.text, branch=edit)

    def set_editing(self, turn: Turn | None) -> None:
        """The prompt now holds ``turn``'s prompt to edit (sending adds an alternative), or nothing."""
        self._editing = turn
        prompt = self.query_one(PromptInput)
        prompt.border_title = (
            _(
                "Editing a sent prompt: Enter adds it as an alternative (the original stays); empty it to cancel"
            )
            if turn is not None
            else None
        )

    @on(PromptInput.Changed)
    def _prompt_changed(self, message: PromptInput.Changed) -> None:
        if self._editing is not None and not message.text_area.text.strip():
            self.set_editing(None)  # emptied: the edit is left, nothing changed

    def _places(self, branch: Branch | None) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """Where the new prompt and answer of ``branch`` will stand among their alternatives."""
        store = self.chat.store
        if branch is None or store is None:
            return None, None
        kind, old = branch
        try:
            if kind == "answer":
                answers = store.siblings(old.answer_id) if old.answer_id is not None else []
                prompts = store.siblings(old.prompt_id) if old.prompt_id is not None else []
                here = (
                    prompts.index(old.prompt_id) + 1 if len(prompts) > 1 and old.prompt_id in prompts else 0
                )
                n = len(answers) + 1
                return ((here, len(prompts)) if here else None), ((n, n) if n > 1 else None)
            prompts = store.siblings(old.prompt_id) if old.prompt_id is not None else []
            n = len(prompts) + 1
            return ((n, n) if n > 1 else None), None
        except HolySheepError:
            return None, None

    async def send_prompt(
        self,
        text: str,
        *,
        over_budget_ok: bool = False,
        branch: Branch | None = None,
        model: str | None = None,
        omit: int | None = None,
    ) -> None:
        """Send ``text``; with ``branch``, as a new answer to the last turn or an edit of its prompt;
        with ``model``, to that model (the conversation goes on with it). ``omit`` None: a request that
        will not fit the model's window opens the fit dialog (``tui/fitting.py``); a number: the first
        turns to leave out of the request (the fit was chosen)."""
        if self._turn is not None:
            self.notify(_("An answer is still streaming; Esc stops it."), severity="warning")
            return
        budget = self.chat.budget
        if budget.over and not over_budget_ok:
            ask_before_sending(
                self,
                budget,
                text,
                lambda: self.send_prompt(text, over_budget_ok=True, branch=branch, model=model, omit=omit),
            )
            return
        self.before_first_request()
        if self._history_worker is not None:  # wait until the history is open, so this turn is stored
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await self._history_worker.wait()
            self.take_history()
        chat = self.ready_chat()
        files = self.outgoing_attachments(branch)
        if chat.compare_models and branch is None and model is None:
            if not self.refuse_attachments(chat.compare_models, files) and not self.comparison_stops_send(
                chat, text, files, chat.compare_models
            ):
                await self._send_comparison(chat, text, chat.compare_models, files)
            return
        if self.refuse_attachments([model or chat.model], files):
            return  # nothing sent: the prompt and its chips stay
        if omit is None and self.context_stops_send(chat, text, files, model, branch):
            return  # too long for the model's window: the user chooses a way out; the prompt stays
        if model is not None and model != chat.model:
            chat.choose_model(model)
        places: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
        if branch is not None:
            if not chat.conversation.turns or chat.conversation.turns[-1] is not branch[1]:
                branch = None  # the conversation moved on meanwhile: send as a new prompt
            else:
                places = self._places(branch)
                chat.controller.take_last_turn(chat.conversation)
                await self.view.drop_last_turn()
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.clear()
        model = chat.model
        answer_view = await self.view.add_turn(
            text, model, prompt_place=places[0], place=places[1], attachments=files
        )
        self.attachments_sent(branch)
        self._turn = _Running(chat.conversation, len(chat.conversation.turns), text, model, answer_view)
        answer = chat.start_turn()
        self.recent = self.model_memory.used([model])  # remembered across restarts
        self.revision += 1
        self._worker = self._run_turn(chat, text, answer, answer_view, branch, files, omit or 0)

    async def _send_comparison(
        self, chat: ChatSession, text: str, models: tuple[str, ...], files: Sequence[Attachment] = ()
    ) -> None:
        """Send ``text`` to every one of ``models`` at once; their answers stream side by side."""
        estimate = _("Estimated before sending: {estimate}").format(estimate=self.comparison_estimate(models))
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.clear()
        self.set_comparison(())
        compare = await self.view.add_comparison(text, models, estimate, attachments=files)
        self.attachments_sent(None)
        answers = chat.start_comparison(models)
        turns_before = len(chat.conversation.turns)
        self._turn = _Running(chat.conversation, turns_before, text, models[0], compare.legs[0], compare)
        self.recent = self.model_memory.used(list(models))
        self.revision += 1
        self._worker = self._run_comparison(chat, text, models, answers, compare, files)

    @work(exclusive=True, group=TURN_GROUP, exit_on_error=False)
    async def _run_comparison(
        self,
        chat: ChatSession,
        prompt: str,
        models: tuple[str, ...],
        answers: list[Answer],
        view: CompareView,
        files: Sequence[Attachment] = (),
    ) -> Turn:
        def on_events(index: int, events: Sequence[StreamEvent]) -> None:
            self.post_message(TurnEvents(events, view.legs[index]))

        def on_leg_end(index: int, turn: Turn) -> None:
            self.post_message(LegFinished(index, turn, view))

        controller = chat.opened_controller
        if controller is None:  # made in a thread (its HTTP client takes a while): keys go on meanwhile
            controller = await asyncio.to_thread(lambda: chat.controller)
        legs = await controller.run_comparison(
            chat.conversation,
            prompt,
            models,
            answers=answers,
            on_events=on_events,
            on_leg_end=on_leg_end,
            attachments=files,
        )
        self.post_message(ComparisonFinished(legs, view))
        return legs[0]

    @on(LegFinished)
    def _leg_finished(self, message: LegFinished) -> None:
        running = self._turn
        leg = message.view.legs[message.index]
        leg.message_id = message.turn.answer_id
        if message.view.prompt_widget is not None:
            message.view.prompt_widget.message_id = message.turn.prompt_id
        if leg.is_attached:
            leg.finish(message.turn, self.chat.money)
        if running is not None and running.compare is message.view:
            running.legs[message.index] = message.turn

    @on(ComparisonFinished)
    def _comparison_finished(self, message: ComparisonFinished) -> None:
        running = self._turn
        if running is not None and running.compare is message.view:
            running.legs = dict(enumerate(message.legs))
            self._end_comparison(running)

    def _end_comparison(self, running: _Running, status: str = "stopped") -> None:
        """Every leg has ended (or the comparison was stopped): count each, mark the one carried on."""
        from holysheep_tui.chat.compare import lead_leg

        self._turn = None
        view = running.compare
        assert view is not None
        legs: list[Turn] = []
        for index, leg_view in enumerate(view.legs):
            turn = running.legs.get(index)
            if turn is None:  # it never got going: shown as stopped, nothing stored or paid
                turn = Turn(running.prompt, leg_view.model, Answer(leg_view.model), status=status)  # type: ignore[arg-type]
                if leg_view.is_attached:
                    leg_view.finish(turn, self.chat.money)
            legs.append(turn)
        turns = running.conversation.turns
        carried = len(turns) > running.turns_before and any(turns[-1] is leg for leg in legs)
        lead = turns[-1] if carried else lead_leg(legs)
        view.turns = legs
        view.show_every_line()
        if view.is_attached:
            view.choose(next(i for i, leg in enumerate(legs) if leg is lead))
        chat = self.chat
        alert = chat.finish_comparison(legs, lead)
        if alert:
            self.notify(
                chat.budget.alert(), title=_("Budget"), severity="error" if alert == "over" else "warning"
            )
        self.revision += 1
        self.history_turn_finished()

    @work(exclusive=True, group=TURN_GROUP, exit_on_error=False)
    async def _run_turn(
        self,
        chat: ChatSession,
        prompt: str,
        answer: Answer,
        view: AnswerView,
        branch: Branch | None,
        files: Sequence[Attachment] = (),
        omit: int = 0,
    ) -> Turn:
        def on_events(events: Sequence[StreamEvent]) -> None:
            self.post_message(TurnEvents(events, view))

        controller = chat.opened_controller
        if controller is None:  # made in a thread (its HTTP client takes a while): keys go on meanwhile
            controller = await asyncio.to_thread(lambda: chat.controller)
        turn = await controller.run_turn(
            chat.conversation,
            prompt,
            model=answer.model,
            on_events=on_events,
            answer=answer,
            branch=branch,
            attachments=files,
            omit=omit,
        )
        self.post_message(TurnFinished(turn))
        return turn

    @on(TurnEvents)
    def _turn_events(self, message: TurnEvents) -> None:
        if message.answer.is_attached:
            message.answer.apply_all(message.events)
        if self._turn is not None and self._turn.answer is message.answer:
            apply = self.chat.live.apply
            for event in message.events:
                apply(event)

    @on(TurnFinished)
    def _turn_finished(self, message: TurnFinished) -> None:
        if self._turn is not None and message.turn in self._turn.conversation.turns:
            self._finish(message.turn)

    def _finish(self, turn: Turn) -> None:
        running, self._turn = self._turn, None
        chat = self.chat
        alert = chat.finish_turn(turn)
        if alert:
            self.notify(
                chat.budget.alert(), title=_("Budget"), severity="error" if alert == "over" else "warning"
            )
        if running is not None:
            running.answer.message_id = turn.answer_id
            if running.answer.prompt_widget is not None:
                running.answer.prompt_widget.message_id = turn.prompt_id
            if running.answer.is_attached:
                running.answer.finish(turn, chat.money)
        self.revision += 1
        self.history_turn_finished()

    def turn_worker_ended(self, worker: Worker[object], state: WorkerState) -> None:
        """The turn's worker was cancelled (Esc, a signal) or failed: end the turn with what it has."""
        if worker is not self._worker or self._turn is None:
            return
        running = self._turn
        if running.compare is not None and state in (WorkerState.CANCELLED, WorkerState.ERROR):
            self._end_comparison(running, "stopped" if state == WorkerState.CANCELLED else "error")
            return
        if state == WorkerState.CANCELLED:
            turns = running.conversation.turns
            turn = (
                turns[-1]
                if len(turns) > running.turns_before
                else Turn(running.prompt, running.model, Answer(running.model), status="stopped")
            )
            turn.status = "stopped"
            self._finish(turn)
        elif state == WorkerState.ERROR:
            failed = Turn(running.prompt, running.model, Answer(running.model), status="error")
            failed.error = HolySheepError(
                _("Internal error: {error}").format(error=worker.error), hint=_("Please report it.")
            )
            self._finish(failed)

    # ---- actions -------------------------------------------------------------------------------------
    def action_stop(self) -> None:
        if self._turn is not None and self._worker is not None:
            self._worker.cancel()

    async def action_new_conversation(self) -> None:
        self.action_stop()
        self._turn = None
        self.chat.new_conversation()
        await self.view.clear()
        self.revision += 1
        self.query_one(PromptInput).focus()

    def _last_turn(self) -> Turn | None:
        if self._turn is not None:
            self.notify(_("Wait for the answer or stop it with Esc first."), severity="warning")
            return None
        turns = self.chat.conversation.turns
        if not turns:
            self.notify(_("There is no earlier prompt in this conversation."))
            return None
        return turns[-1]

    async def action_regenerate(self) -> None:
        """Ask the last prompt again: a new answer next to the old one, which the history keeps."""
        turn = self._last_turn()
        if turn is not None:
            await self.send_prompt(turn.prompt, branch=("answer", turn))

    async def action_edit_last(self) -> None:
        """Load the last prompt for editing; nothing changes until it is sent (as a new branch)."""
        turn = self._last_turn()
        if turn is not None:
            self.edit_turn(turn)

    def edit_turn(self, turn: Turn) -> None:
        prompt = self.query_one(PromptInput)
        prompt.set_prompt(turn.prompt)
        self.set_editing(turn)
        prompt.focus()
