"""Compaction: a summary of the conversation so far, written by a model the user picks, sent instead of it.

Core module (no Textual). The summary is stored as a marked message (role system, kind ``summary``) after
the active leaf; the messages it stands for stay in the history, in search and in exports. A conversation
read back from the store (``apply_summary``) sends the latest summary in place of the turns above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from holysheep_tui.errors import HolySheepError
from holysheep_tui.relay.wire import ChatMessage, ChatRequest

if TYPE_CHECKING:
    from holysheep_tui.chat.controller import ConversationController
    from holysheep_tui.chat.conversation import Conversation
    from holysheep_tui.economics.prices import Cost
    from holysheep_tui.store.models import Conversation as StoredConversation

SUMMARY_INSTRUCTION = (
    "Summarise the conversation above so that it can continue without it. Keep every fact, name, number, "
    "decision, open question and piece of code the rest of the conversation may need; leave out "
    "pleasantries. Write in the language the conversation is in. Reply with the summary only."
)


class CompactionError(HolySheepError):
    title = "Compaction failed"
    kind = "compaction"


@dataclass(frozen=True, slots=True)
class Summary:
    text: str
    model: str
    turns: int
    """How many of the conversation's turns it stands for (all of them when it was written)."""
    cost: Cost | None
    message_id: int | None


async def compact(
    controller: ConversationController, conversation: Conversation, model: str, *, max_tokens: int = 1024
) -> Summary:
    """Ask ``model`` for a summary of everything ``conversation`` would send now, store it and make the
    conversation send it instead of its turns. Raises the relay's error, or CompactionError when the
    answer is empty; on failure the conversation is unchanged."""
    messages = (*conversation.messages_for("")[:-1], ChatMessage("user", SUMMARY_INSTRUCTION))
    answer = await controller.client.complete(
        ChatRequest(model=model, messages=messages, max_tokens=max_tokens)
    )
    text = answer.content.strip()
    if not text:
        raise CompactionError(f"{model} returned an empty summary; the conversation was left as it was.")
    usage = answer.usage
    cost = (
        controller.prices.cost(model, usage) if controller.prices is not None and usage is not None else None
    )
    if controller.metrics is not None:  # the summary was paid for: it counts in stats and budgets
        from holysheep_tui.economics.metrics import MetricRecord
        from holysheep_tui.errors import StorageError

        try:
            controller.metrics.append(MetricRecord.for_answer(controller.profile_name, answer, cost))
        except StorageError as exc:
            controller._warn(f"Metrics not recorded: {exc.message}")
    message_id: int | None = None
    store, cid = controller.store, conversation.id
    if store is not None and cid is not None:
        stored = controller._store_call(
            "summary",
            lambda: store.add_summary(
                cid,
                text,
                model=model,
                cost_usd=cost.usd if cost else None,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
            ),
        )
        message_id = stored if isinstance(stored, int) else None
    conversation.summary, conversation.summary_turns = text, len(conversation.turns)
    return Summary(text, model, len(conversation.turns), cost, message_id)


def apply_summary(conversation: Conversation, stored: StoredConversation) -> None:
    """Make a conversation rebuilt from the store send its path's latest summary in place of the turns
    above it (``chat.resume.rebuild_conversation`` calls it)."""
    from holysheep_tui.chat.resume import pair_messages

    last = next((m for m in reversed(stored.messages) if m.kind == "summary"), None)
    if last is None:
        return
    turns = 0
    for pair in pair_messages(stored.messages):
        if pair.note is not None and pair.note.id == last.id:
            break
        if pair.note is None:
            turns += 1
    conversation.summary, conversation.summary_turns = last.content, turns
