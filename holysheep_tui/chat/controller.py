"""The conversation controller: one turn from prompt to finished answer.

Every token follows one path: client -> typed event (in a list per network read) -> here (history flush,
metrics, cost) -> the front end's ``on_events`` callback. The controller knows nothing of widgets or
terminals; the CLI and the app both drive it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from holysheep_tui.chat.attachments import Attachment, check_vision
from holysheep_tui.chat.conversation import (
    Branch,
    Conversation,
    Turn,
)
from holysheep_tui.errors import HolySheepError, ModelNotFoundError, StorageError
from holysheep_tui.i18n import N_, _
from holysheep_tui.relay.wire import Answer, ChatRequest, StreamEvent, Timings, to_ms

if TYPE_CHECKING:
    from holysheep_tui.chat.context import TokenEstimator
    from holysheep_tui.economics.metrics import MetricsLog
    from holysheep_tui.economics.prices import PriceBook
    from holysheep_tui.relay.client import RelayClient
    from holysheep_tui.store import HistoryStore

FLUSH_INTERVAL = 0.5


class ConversationController:
    def __init__(
        self,
        client: RelayClient,
        *,
        profile_name: str,
        store: HistoryStore | None = None,
        metrics: MetricsLog | None = None,
        prices: PriceBook | None = None,
        on_warning: Callable[[str], None] | None = None,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.client = client
        self.profile_name = profile_name
        self.store = store
        self.metrics = metrics
        self.prices = prices
        self.estimator: TokenEstimator | None = None
        """Learns tokens per character from each complete answer's reported usage (``chat/context.py``)."""
        self._warn = on_warning or (lambda _msg: None)
        self._flush_interval = flush_interval

    def _store_call(self, what: str, fn: Callable[[], object]) -> object:
        """History failures never lose the conversation in memory: warn once and carry on without the store.
        ``what``: one of ``STORE_STEPS``, named in the warning."""
        if self.store is None:
            return None
        try:
            return fn()
        except StorageError as exc:
            self._warn(not_saved(what, exc.message))
            self.store = None
            return None

    async def run_turn(
        self,
        conversation: Conversation,
        prompt: str,
        *,
        model: str | None = None,
        on_events: Callable[[Sequence[StreamEvent]], object] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool = True,
        answer: Answer | None = None,
        branch: Branch | None = None,
        attachments: Sequence[Attachment] = (),
        omit: int = 0,
    ) -> Turn:
        """Send ``prompt`` with the conversation so far. Never raises for relay failures: the Turn carries them.

        ``attachments`` go with the prompt and are stored with it; an image for a model known not to read
        images raises ``NoVisionError`` before anything is stored or sent.

        ``on_events`` gets the events of each network read together, after the answer has taken them in.

        ``answer``: the empty Answer to fold into (its ``Timings.clock`` times the turn); a new one by default.

        ``branch``: the conversation's last turn, taken back by ``take_last_turn``: "answer" asks its
        prompt again (a new answer next to the old one), "prompt" sends ``prompt`` as an edit of it (a new
        prompt next to the old one). Nothing is deleted; the active path moves to the new branch.

        ``omit``: leave the first turns out of the request (``ContextPlan.recent``); the history keeps them.

        Cancellation (Esc in the app, Ctrl-C in the CLI) stores the partial answer as stopped and re-raises.
        """
        model = model or conversation.model
        check_vision(
            model, [*attachments, *(a for t in conversation.turns for a in t.attachments)], self.prices
        )
        request = ChatRequest(
            model=model,
            messages=conversation.messages_for(prompt, attachments, omit=omit),
            temperature=temperature if temperature is not None else conversation.temperature,
            max_tokens=max_tokens if max_tokens is not None else conversation.max_tokens,
        )
        answer = answer if answer is not None else Answer(model=model)
        turn = Turn(
            prompt,
            model,
            answer,
            sent_texts=tuple(m.text for m in request.messages),
            attachments=tuple(attachments),
        )
        cid = self._conversation_id(conversation)
        store = self.store
        if store is not None and cid is not None:
            kind, old = branch if branch is not None else ("", None)
            if kind == "answer" and old is not None and old.prompt_id is not None:
                turn.prompt_id = old.prompt_id
            else:
                edited = old.prompt_id if kind == "prompt" and old is not None else None
                turn.prompt_id = self._store_call(  # type: ignore[assignment]
                    "prompt",
                    lambda: store.add_user_message(
                        cid, prompt, model=model, sibling_of=edited, attachments=turn.attachments
                    ),
                )
            turn.answer_id = self._start_answer(cid, model, turn.prompt_id)
        conversation.turns.append(turn)
        await self._drive(turn, request, on_events, stream=stream)
        usage, estimator = turn.answer.usage, self.estimator
        text_only = not any(m.images for m in request.messages)  # tokens per character, from text alone
        if estimator is not None and usage is not None and turn.status == "complete" and text_only:
            estimator.learn(model, [m.text for m in request.messages], usage.prompt_tokens)
        return turn

    async def run_comparison(
        self,
        conversation: Conversation,
        prompt: str,
        models: Sequence[str],
        *,
        answers: Sequence[Answer] | None = None,
        on_events: Callable[[int, Sequence[StreamEvent]], object] | None = None,
        on_leg_end: Callable[[int, Turn], object] | None = None,
        comparison_id: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> list[Turn]:
        """Send ``prompt`` to every model at once; one Turn per model, in the order of ``models``.

        The prompt is stored once and each model's answer under it (siblings). Every leg streams, flushes
        and is stored as ``run_turn``'s one is; a failing leg ends alone, with its error in its Turn.
        ``on_events`` gets (leg index, the events of one read); ``on_leg_end`` (leg index, Turn) once a leg
        has ended (complete, failed or stopped) and been stored. Afterwards the conversation goes on with the first leg that completed (else the
        first leg): it is appended to ``conversation.turns`` and is the active leaf; ``choose`` moves that.

        Cancellation stops every leg (each stored as stopped with its partial text) and re-raises.
        """
        from holysheep_tui.chat.compare import lead_leg, new_comparison_id

        if not models:
            raise ValueError("a comparison needs at least one model")
        earlier = [a for t in conversation.turns for a in t.attachments]
        for m in models:  # ``attachments`` go with the prompt to every model: each must read the images
            check_vision(m, [*attachments, *earlier], self.prices)
        answers = list(answers) if answers is not None else [Answer(model=m) for m in models]
        if len(answers) != len(models):
            raise ValueError("one answer per model")
        tag = comparison_id or new_comparison_id()
        messages = conversation.messages_for(prompt, attachments)
        sent = tuple(m.text for m in messages)
        requests = [
            ChatRequest(model=m, messages=messages, temperature=temperature, max_tokens=max_tokens)
            for m in models
        ]
        legs = [
            Turn(prompt, m, a, sent_texts=sent, comparison=tag, attachments=tuple(attachments))
            for m, a in zip(models, answers, strict=True)
        ]
        cid = self._conversation_id(conversation)
        store = self.store
        if store is not None and cid is not None:
            prompt_id = self._store_call(
                "prompt",
                lambda: store.add_user_message(cid, prompt, model=models[0], attachments=tuple(attachments)),
            )
            if isinstance(prompt_id, int):
                for leg in legs:
                    leg.prompt_id = prompt_id
                    leg.answer_id = self._start_answer(cid, leg.model, prompt_id)

        ended: set[int] = set()

        def leg_ended(index: int) -> None:
            if on_leg_end is not None and index not in ended:
                ended.add(index)
                on_leg_end(index, legs[index])

        async def run_leg(index: int) -> None:
            emit = None if on_events is None else lambda events: on_events(index, events)
            try:
                await self._drive(legs[index], requests[index], emit)
            finally:
                if legs[index].status != "streaming":
                    leg_ended(index)

        tasks = [asyncio.create_task(run_leg(i)) for i in range(len(legs))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for index, leg in enumerate(legs):
                if leg.status == "streaming":  # cancelled before it began: stored as stopped all the same
                    leg.status = "stopped"
                    self._finish(leg)
                leg_ended(index)
            raise
        finally:
            lead = lead_leg(legs)
            conversation.turns.append(lead)
            self._activate(conversation, lead)
        return legs

    def choose(self, conversation: Conversation, legs: Sequence[Turn], chosen: Turn) -> None:
        """Carry the conversation on with ``chosen`` (one of ``legs``, the Turns of one comparison): it
        becomes ``conversation.turns[-1]`` and the store's active leaf. The other legs stay as siblings."""
        if not any(leg is chosen for leg in legs):
            raise ValueError("the chosen answer is not one of the comparison's")
        if conversation.turns and any(conversation.turns[-1] is leg for leg in legs):
            conversation.turns[-1] = chosen
        else:
            conversation.turns.append(chosen)
        self._activate(conversation, chosen)

    def _start_answer(self, conv_id: str, model: str, parent_id: int | None) -> int | None:
        """The answer's row, streaming, under ``parent_id`` (after the active leaf when None)."""
        store = self.store
        if store is None:
            return None
        msg_id = self._store_call(
            "answer", lambda: store.start_answer(conv_id, model=model, parent_id=parent_id)
        )
        return msg_id if isinstance(msg_id, int) else None

    def _activate(self, conversation: Conversation, turn: Turn) -> None:
        store, cid, msg_id = self.store, conversation.id, turn.answer_id
        if store is not None and cid is not None and msg_id is not None:
            self._store_call("active answer", lambda: store.set_active(cid, msg_id, exact=True))

    def _conversation_id(self, conversation: Conversation) -> str | None:
        """The conversation's id in the store, creating its row on first use (None without a store)."""
        store = self.store
        if store is not None and conversation.id is None:
            conversation.id = self._store_call(  # type: ignore[assignment]
                "new conversation",
                lambda: store.create_conversation(
                    profile=self.profile_name,
                    system_prompt=conversation.system_prompt,
                    temperature=conversation.temperature,
                    max_tokens=conversation.max_tokens,
                ),
            )
        return conversation.id if self.store is not None else None

    async def _drive(
        self,
        turn: Turn,
        request: ChatRequest,
        on_events: Callable[[Sequence[StreamEvent]], object] | None,
        *,
        stream: bool = True,
    ) -> None:
        """Fold the answer into ``turn``, flushing its partial text every flush interval, then store it
        (``_finish``). Relay failures end up in the Turn; cancellation stores it as stopped and re-raises."""
        answer, model = turn.answer, request.model
        emit = on_events or (lambda _e: None)
        last_flush = time.monotonic()
        flushing: asyncio.Future[StorageError | None] | None = None
        try:
            if stream:
                async for batch in self.client.stream_chat_batches(request, timings=answer.timings):
                    for event in batch:
                        answer.apply(event)
                    emit(batch)
                    now = time.monotonic()
                    if (
                        now - last_flush >= self._flush_interval
                        and turn.answer_id is not None
                        and (flushing is None or flushing.done())
                    ):
                        last_flush = now
                        flushing = self._flush(turn)
            else:
                done = await self.client.complete(request)
                _copy_answer(done, answer)
            turn.status = "complete"
        except asyncio.CancelledError:
            turn.status = "stopped"
            self._finish(turn)
            raise
        except HolySheepError as exc:
            turn.status = "error"
            turn.error = exc
            if isinstance(exc, ModelNotFoundError) and not exc.suggestions:
                exc.suggestions = await self.client.suggest_models(model)
                if exc.suggestions:
                    exc.hint = (
                        "Did you mean: " + ", ".join(exc.suggestions) + "?  (`holysheep models` lists all.)"
                    )
        except KeyboardInterrupt:
            turn.status = "stopped"
            self._finish(turn)
            raise
        self._finish(turn)

    @staticmethod
    def take_last_turn(conversation: Conversation) -> Turn | None:
        """Take the last exchange off the path sent to the model (to ask it again or edit it); the history
        keeps it, and ``run_turn(branch=...)`` adds the new branch next to it."""
        return conversation.turns.pop() if conversation.turns else None

    def set_system_prompt(self, conversation: Conversation, text: str | None) -> None:
        conversation.system_prompt = text or None
        store, cid = self.store, conversation.id
        if store is not None and cid is not None:
            self._store_call(
                "system prompt", lambda: store.set_system_prompt(cid, conversation.system_prompt)
            )

    def set_settings(
        self, conversation: Conversation, *, temperature: float | None, max_tokens: int | None
    ) -> None:
        """The conversation's temperature and max tokens, sent with its requests and kept with it."""
        conversation.temperature, conversation.max_tokens = temperature, max_tokens
        store, cid = self.store, conversation.id
        if store is not None and cid is not None:
            self._store_call(
                "conversation settings",
                lambda: store.set_settings(cid, temperature=temperature, max_tokens=max_tokens),
            )

    def _flush(self, turn: Turn) -> asyncio.Future[StorageError | None] | None:
        """Write the answer so far in a thread: a long answer's write (and its search index) or a WAL
        checkpoint must not stall the stream. The store's lock orders it with the final write, and a
        flush that lands after the final write changes nothing."""
        store, msg_id = self.store, turn.answer_id
        if store is None or msg_id is None:
            return None
        content, reasoning = turn.answer.content, turn.answer.reasoning

        def write() -> StorageError | None:
            try:
                store.update_answer(msg_id, content=content, reasoning=reasoning)
            except StorageError as exc:
                return exc
            return None

        future = asyncio.ensure_future(asyncio.to_thread(write))
        future.add_done_callback(self._flushed)
        return future

    def _flushed(self, future: asyncio.Future[StorageError | None]) -> None:
        error = None if future.cancelled() else future.result()
        if error is not None and self.store is not None:
            self._warn(not_saved("partial answer", error.message))
            self.store = None

    def _finish(self, turn: Turn) -> None:
        answer = turn.answer
        timings = answer.timings
        if answer.usage is None and (answer.content or answer.reasoning):  # stopped or cut: estimate
            from holysheep_tui.economics.prices import estimate_usage

            turn.estimated_usage = estimate_usage(turn.sent_texts, answer.content + answer.reasoning)
        usage = turn.usage
        if self.prices is not None and usage is not None:
            # a request rejected before any answer (404, 401, 400) costs nothing
            turn.cost = self.prices.cost(answer.model, usage, estimated=answer.usage is None)
        store, msg_id = self.store, turn.answer_id
        if store is not None and msg_id is not None:
            error_text = turn.error.user_text() if turn.error else None
            self._store_call(
                "answer",
                lambda: store.finish_answer(
                    msg_id,
                    status=turn.status,
                    content=answer.content,
                    reasoning=answer.reasoning,
                    model=answer.model,
                    prompt_tokens=usage.prompt_tokens if usage else None,
                    completion_tokens=usage.completion_tokens if usage else None,
                    cached_tokens=usage.cached_tokens if usage else None,
                    cost_usd=turn.cost.usd if turn.cost else None,
                    cost_estimated=bool(turn.cost and turn.cost.estimated),
                    ttft_ms=to_ms(timings.ttft),
                    total_ms=to_ms(timings.total),
                    error_text=error_text,
                ),
            )
        if self.metrics is not None:
            from holysheep_tui.economics.metrics import MetricRecord

            error = turn.error
            if turn.status == "complete":
                record = MetricRecord.for_answer(
                    self.profile_name, answer, turn.cost, usage=usage, comparison=turn.comparison
                )
            else:
                failure: BaseException = error if error is not None else asyncio.CancelledError()
                record = MetricRecord.for_failure(
                    self.profile_name,
                    answer.model,
                    failure,
                    timings=timings,
                    retries=answer.retries,
                    cost=turn.cost,
                    usage=usage,
                    comparison=turn.comparison,
                )
            try:
                self.metrics.append(record)
            except StorageError as exc:
                self._warn(_("Metrics not recorded: {reason}").format(reason=exc.message))


STORE_STEPS = (
    N_("prompt"),
    N_("answer"),
    N_("active answer"),
    N_("new conversation"),
    N_("system prompt"),
    N_("conversation settings"),
    N_("partial answer"),
    N_("summary"),
)
"""What ``_store_call`` was storing when the history failed, as the warning names it (catalog messages)."""


def not_saved(what: str, reason: str) -> str:
    """The warning when the history stops saving (``what``: one of ``STORE_STEPS``)."""
    return _("History is not being saved ({what}): {reason}").format(what=_(what), reason=reason)


def _copy_answer(src: Answer, dst: Answer) -> None:
    dst.model = src.model
    dst.content_parts[:] = src.content_parts
    dst.reasoning_parts[:] = src.reasoning_parts
    dst.refusal = src.refusal
    dst.finish_reason = src.finish_reason
    dst.usage = src.usage
    dst.retries = src.retries
    dst.timings = src.timings if isinstance(src.timings, Timings) else dst.timings
