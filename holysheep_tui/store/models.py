"""What the history store hands out: plain frozen dataclasses, no database handles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from holysheep_tui.errors import UsageError
from holysheep_tui.i18n import N_, _
from holysheep_tui.store.schema import Column, columns_of, json_rule

MessageRole = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "streaming", "stopped", "interrupted", "error"]

ROLES: tuple[MessageRole, ...] = ("system", "user", "assistant")
STATUSES: tuple[MessageStatus, ...] = ("complete", "streaming", "stopped", "interrupted", "error")
MessageKind = Literal["message", "summary"]
UNTITLED = "Untitled"


class ConversationNotFoundError(UsageError):
    title = N_("No such conversation")

    def __init__(self, conv_id: str) -> None:
        super().__init__(
            _("No conversation with id {id!r}.").format(id=conv_id),
            hint=_("List them with `holysheep history list` (ids may be shortened to a unique prefix)."),
        )
        self.conv_id = conv_id


@dataclass(frozen=True, slots=True)
class Message:
    """One message: the message schema.

    Each field is a column of the ``messages`` table (read and written by name) and, unless its
    metadata says otherwise, a key of every message in the JSON export. A new column is a new field
    here (with a default, at the end) and a migration; a test holds the table to these fields.
    """

    id: int = field(metadata=json_rule(imported=False))  # the store numbers imported messages afresh
    conversation_id: str = field(metadata=json_rule(exported=False, imported=False))  # the enclosing one's
    role: MessageRole
    content: str
    created: datetime
    reasoning: str = ""
    model: str | None = None
    status: MessageStatus = "complete"
    prompt_tokens: int | None = field(default=None, metadata=json_rule(minimum=0))
    completion_tokens: int | None = field(default=None, metadata=json_rule(minimum=0))
    cached_tokens: int | None = field(default=None, metadata=json_rule(minimum=0))
    cost_usd: float | None = field(default=None, metadata=json_rule(minimum=0))
    cost_estimated: bool = False
    ttft_ms: int | None = field(default=None, metadata=json_rule(minimum=0))
    total_ms: int | None = field(default=None, metadata=json_rule(minimum=0))
    error_text: str | None = None
    parent_id: int | None = field(default=None, metadata=json_rule(minimum=0))
    """The message this one follows (None: a root). The import renumbers it with the ids."""
    copied_from: int | None = field(default=None, metadata=json_rule(minimum=0))
    """Set on the messages a fork copied: the id of the original. Totals count only the original."""
    kind: MessageKind = "message"
    """"summary": a compaction's summary (role system), sent instead of the messages above it on the path
    back to the previous summary; those messages stay in the history."""

    @property
    def paid_here(self) -> bool:
        """Its cost and tokens belong to this conversation (not a fork's copy of an earlier answer)."""
        return self.copied_from is None


AttachmentKind = Literal["image", "text"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a prompt: an image (sent as an image part) or a UTF-8 text file (sent as a
    fenced block). Stored with its message: metadata in ``attachments``, bytes once per ``sha256``."""

    name: str
    """The file's base name, as the user chose it (shown on chips and in exports)."""
    mime: str
    """``image/png``, ``image/jpeg``, ``image/webp``, ``image/gif``, or a text type."""
    kind: AttachmentKind
    data: bytes = field(repr=False)
    sha256: str
    """Hex digest of ``data``: the blob's key in the store and the integrity check of an import."""

    @property
    def size(self) -> int:
        return len(self.data)


MESSAGE_SCHEMA: tuple[Column, ...] = columns_of(Message)
"""``Message``'s fields resolved once: what the store, the JSON export and the import derive from."""

MESSAGE_BOOKKEEPING_COLUMNS = ("writer",)
"""Columns of the ``messages`` table that no Message carries: the token of the process streaming it."""


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    title: str | None
    title_is_user_set: bool
    created: datetime
    updated: datetime
    profile: str
    system_prompt: str | None = None
    archived: bool = False
    messages: tuple[Message, ...] = ()
    """The active path, root first: what is shown, sent to the model and exported as text."""
    off_path: tuple[Message, ...] = ()
    """Every other branch's messages (earlier answers, edited prompts), in id order."""
    active_leaf: int | None = None
    temperature: float | None = None
    """Sent with each request of the conversation (None: the relay's default)."""
    max_tokens: int | None = None
    """The answer's token limit sent with each request (None: no limit asked for)."""
    attachments: Mapping[int, tuple[Attachment, ...]] = field(default_factory=dict)
    """The files sent with prompts, by message id (only messages that have some)."""

    @property
    def display_title(self) -> str:
        return self.title or UNTITLED

    @property
    def tree(self) -> tuple[Message, ...]:
        """Every message on every branch, in id order (parents before children)."""
        if not self.off_path:
            return self.messages
        return tuple(sorted((*self.messages, *self.off_path), key=lambda m: m.id))

    def alternatives(self, message: Message) -> tuple[Message, ...]:
        """``message`` and its siblings (same parent, same role) in id order: the branches at its place."""
        return tuple(m for m in self.tree if m.parent_id == message.parent_id and m.role == message.role) or (
            message,
        )

    @property
    def models(self) -> tuple[str, ...]:
        """Models that wrote answers, in order of first use."""
        seen: dict[str, None] = {}
        for m in self.tree:
            if m.role == "assistant" and m.model:
                seen.setdefault(m.model, None)
        return tuple(seen)

    @property
    def cost_usd(self) -> float:
        return sum(m.cost_usd or 0.0 for m in self.tree if m.paid_here)

    @property
    def cost_estimated(self) -> bool:
        return any(m.cost_estimated for m in self.tree if m.paid_here)

    @property
    def prompt_tokens(self) -> int:
        return sum(m.prompt_tokens or 0 for m in self.tree if m.paid_here)

    @property
    def completion_tokens(self) -> int:
        return sum(m.completion_tokens or 0 for m in self.tree if m.paid_here)

    @property
    def cached_tokens(self) -> int:
        return sum(m.cached_tokens or 0 for m in self.tree if m.paid_here)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One row of the conversation list."""

    id: str
    title: str | None
    created: datetime
    updated: datetime
    profile: str
    archived: bool
    message_count: int
    models: tuple[str, ...]
    cost_usd: float
    cost_estimated: bool

    @property
    def display_title(self) -> str:
        return self.title or UNTITLED


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message matching a search. ``spans`` are (start, end) offsets of the matches in ``snippet``."""

    conversation_id: str
    conversation_title: str | None
    message_id: int
    role: MessageRole
    created: datetime
    snippet: str
    spans: tuple[tuple[int, int], ...]

    def marked(self, start: str = "[", end: str = "]") -> str:
        """The snippet with every match wrapped in ``start`` ... ``end``."""
        out: list[str] = []
        pos = 0
        for a, b in self.spans:
            out += [self.snippet[pos:a], start, self.snippet[a:b], end]
            pos = b
        out.append(self.snippet[pos:])
        return "".join(out)
