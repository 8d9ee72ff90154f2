"""Local conversation history in SQLite: store, search, and the dataclasses they return.

``HistoryStore`` (and with it sqlite3 and the schema) is imported on first use, so importing the
dataclasses (``holysheep_tui.store.models``) stays cheap at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from holysheep_tui.store.models import (
    Conversation,
    ConversationNotFoundError,
    ConversationSummary,
    Message,
    MessageRole,
    MessageStatus,
    SearchHit,
)

if TYPE_CHECKING:
    from holysheep_tui.store.history import HistoryStore

__all__ = [
    "Conversation",
    "ConversationNotFoundError",
    "ConversationSummary",
    "HistoryStore",
    "Message",
    "MessageRole",
    "MessageStatus",
    "SearchHit",
]


def __getattr__(name: str) -> Any:
    if name == "HistoryStore":
        from holysheep_tui.store.history import HistoryStore

        return HistoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
