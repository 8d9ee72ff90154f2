"""Prompt recall across restarts: the prompts sent earlier, read from the history database.

The history's own user messages are the source (no second file of prompts): what the user deleted from the
history is not recalled, history off means nothing is kept, and nothing new is written anywhere. The open
conversation's prompts come first (Up reaches them first), then those of the latest other conversations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from holysheep_tui.errors import StorageError

if TYPE_CHECKING:
    from holysheep_tui.store import HistoryStore

RECENT_CONVERSATIONS = 5
"""Other conversations whose prompts are recalled (the newest ones)."""
PER_CONVERSATION = 50
"""Prompts read from each conversation (its latest)."""


def stored_prompts(store: HistoryStore | None, conversation_id: str | None) -> list[str]:
    """Oldest first, so the list's end is what Up recalls first: this conversation's latest prompt."""
    if store is None:
        return []
    try:
        others = [
            c.id for c in store.list_conversations(limit=RECENT_CONVERSATIONS + 1) if c.id != conversation_id
        ][:RECENT_CONVERSATIONS]
        ids = [*reversed(others), *([conversation_id] if conversation_id else [])]
        prompts: list[str] = []
        for conv_id in ids:
            messages = store.get_messages(conv_id, limit=PER_CONVERSATION * 2)
            prompts += [m.content for m in messages if m.role == "user" and m.content.strip()]
    except StorageError:
        return []
    return prompts
