"""Local conversation history in SQLite: store, search, and the dataclasses they return."""

from holysheep_tui.store.history import HistoryStore
from holysheep_tui.store.models import (
    Conversation,
    ConversationNotFoundError,
    ConversationSummary,
    Message,
    MessageRole,
    MessageStatus,
    SearchHit,
)

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
