"""A conversation as the model sees it: turns (a prompt and its answer), the system prompt, a summary.

Plain data shared by the controller that runs turns (``chat/controller.py``), the front ends and the
history's resume; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from holysheep_tui.errors import HolySheepError
from holysheep_tui.relay.wire import Answer, ChatMessage, Usage

if TYPE_CHECKING:  # attachments (and the store's models) load with the first request
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.economics.prices import Cost

__all__ = [
    "SUMMARY_HEADER",
    "Branch",
    "BranchKind",
    "Conversation",
    "Turn",
    "TurnStatus",
    "turn_record",
]

TurnStatus = Literal["complete", "stopped", "error"]
BranchKind = Literal["answer", "prompt"]
SUMMARY_HEADER = "Summary of the earlier conversation (its messages are left out of this request):\n\n"


@dataclass
class Turn:
    """One exchange as the conversation remembers it."""

    prompt: str
    model: str
    answer: Answer
    status: TurnStatus | Literal["streaming", "interrupted"] = "streaming"
    error: HolySheepError | None = None
    cost: Cost | None = None
    answer_id: int | None = None
    prompt_id: int | None = None
    sent_texts: tuple[str, ...] = ()
    """The texts of every message sent for this turn (for a cost estimate when the server reports no usage)."""
    comparison: str | None = None
    """The id of the comparison this turn is a leg of (one prompt sent to several models at once)."""
    copied: bool = False
    """A fork's copy of an answer paid for in another conversation: its cost is not this one's."""
    estimated_usage: Usage | None = None
    """Token counts estimated from the texts, for an answer with text but no usage report (stopped, cut)."""
    attachments: tuple[Attachment, ...] = ()
    """The files sent with the prompt (``chat.attachments``): images as image parts, text files fenced."""

    @property
    def usage(self) -> Usage | None:
        """The server's usage, else the estimate (``estimated_usage``), else None."""
        return self.answer.usage or self.estimated_usage


@dataclass
class Conversation:
    """The messages sent to the model: system prompt, then each turn's prompt and answer."""

    profile: str
    model: str
    system_prompt: str | None = None
    id: str | None = None
    turns: list[Turn] = field(default_factory=list)
    temperature: float | None = None
    """Sent with each request unless ``run_turn`` is given another (None: the relay's default)."""
    max_tokens: int | None = None
    """Sent with each request unless ``run_turn`` is given another (None: no limit asked for)."""
    summary: str | None = None
    """A compaction's summary (``chat/compaction.py``), sent in place of the first ``summary_turns`` turns."""
    summary_turns: int = 0

    def path_cost(self) -> tuple[float, bool]:
        """USD of the active path's own answers (a fork's copies left out), and whether any is estimated."""
        costs = [t.cost for t in self.turns if t.cost is not None and not t.copied]
        return sum(c.usd for c in costs), any(c.estimated for c in costs)

    def messages_for(
        self, prompt: str, attachments: Sequence[Attachment] = (), *, omit: int = 0
    ) -> tuple[ChatMessage, ...]:
        """What a request sends: the system prompt, each turn's prompt (with its attachments) and answer,
        then ``prompt`` with ``attachments``. A summary stands for the turns it covers; ``omit`` leaves the
        first ``omit`` turns out (and the summary with them when it covers fewer): ``chat/context.py``."""
        from holysheep_tui.chat.attachments import content_parts

        msgs: list[ChatMessage] = []
        if self.system_prompt:
            msgs.append(ChatMessage("system", self.system_prompt))
        covered = self.summary_turns if self.summary is not None else 0
        if self.summary is not None and omit <= covered:
            msgs.append(ChatMessage("system", SUMMARY_HEADER + self.summary))
        for turn in self.turns[max(omit, covered) :]:
            msgs.append(ChatMessage("user", content_parts(turn.prompt, turn.attachments)))
            text = turn.answer.content
            if text:
                msgs.append(ChatMessage("assistant", text))
        msgs.append(ChatMessage("user", content_parts(prompt, attachments)))
        return tuple(msgs)


Branch = tuple[BranchKind, Turn]
"""A new answer to a turn's prompt ("answer"), or an edit of its prompt ("prompt")."""


def turn_record(turn: Turn) -> dict[str, Any]:
    """A turn as JSON: the shape `ask --json` prints and `batch` writes per item ("comparison" only on a leg)."""
    answer, cost, error = turn.answer, turn.cost, turn.error
    usage = turn.usage
    record: dict[str, Any] = {
        "content": answer.content,
        "reasoning": answer.reasoning,
        "refusal": answer.refusal,
        "model": answer.model,
        "finish_reason": answer.finish_reason,
        "usage": usage.to_dict() if usage else None,
        "usage_estimated": answer.usage is None and usage is not None,
        "timings": answer.timings.as_ms(),
        "cost_usd": cost.usd if cost else None,
        "cost_estimated": bool(cost and cost.estimated),
        "error": None
        if error is None
        else {"type": error.kind, "status": getattr(error, "status", None), "message": error.user_text()},
    }
    if turn.comparison is not None:
        record["comparison"] = turn.comparison
    return record
