"""A comparison: one prompt sent to several models at once (``ConversationController.run_comparison``).

What the front ends need around it: the combined cost estimate shown before sending, the comparison's id,
and which leg the conversation goes on with.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.conversation import Conversation, Turn
    from holysheep_tui.economics.prices import Cost, PriceBook

MIN_MODELS = 2
MAX_MODELS = 8
"""How many models one comparison takes."""


def new_comparison_id() -> str:
    """A short id tagging every leg of one comparison (its answers' metrics lines, its JSON lines)."""
    return uuid.uuid4().hex[:12]


def estimate_comparison(
    prices: PriceBook,
    conversation: Conversation,
    prompt: str,
    models: Sequence[str],
    attachments: Sequence[Attachment] = (),
) -> list[tuple[str, Cost | None]]:
    """Each model's input cost for ``prompt`` (with ``attachments``) sent with ``conversation`` so far,
    estimated from the text that would be sent and ``IMAGE_TOKENS`` per image (``estimated=True``); None
    where the model's price is unknown."""
    from holysheep_tui.chat.attachments import IMAGE_TOKENS
    from holysheep_tui.economics.prices import estimate_tokens

    messages = conversation.messages_for(prompt, attachments)
    tokens = sum(estimate_tokens(m.text) + m.images * IMAGE_TOKENS for m in messages)
    return [(model, prices.input_cost(model, tokens)) for model in models]


def lead_leg(legs: Sequence[Turn]) -> Turn:
    """The leg the conversation goes on with after a comparison: the first that completed, else the first."""
    return next((leg for leg in legs if leg.status == "complete"), legs[0])
