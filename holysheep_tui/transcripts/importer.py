"""Importing conversations exported as JSON (``holysheep export --format json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from holysheep_tui.errors import UsageError
from holysheep_tui.store.history import HistoryStore
from holysheep_tui.store.models import Conversation, Message, MessageRole, MessageStatus
from holysheep_tui.transcripts.export import SCHEMA, SCHEMA_VERSION


class ImportFormatError(UsageError):
    title = "Cannot import"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class _MessageDoc(_Doc):
    role: MessageRole
    content: str
    created: datetime
    reasoning: str = ""
    model: str | None = None
    status: MessageStatus = "complete"
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    cost_estimated: bool = False
    ttft_ms: int | None = Field(default=None, ge=0)
    total_ms: int | None = Field(default=None, ge=0)
    error_text: str | None = None


class _ConversationDoc(_Doc):
    id: str = ""
    title: str | None = None
    title_is_user_set: bool = False
    created: datetime
    updated: datetime
    profile: str
    system_prompt: str | None = None
    archived: bool = False
    messages: list[_MessageDoc]


class _FileDoc(_Doc):
    conversations: list[_ConversationDoc]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_export(text: str) -> list[Conversation]:
    """Validate an export document; raise ImportFormatError with the reason when it is not one."""
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ImportFormatError(
            "The file is not a holysheep-tui conversation export.",
            hint='Expected a JSON object with "schema": "holysheep-tui/conversation".',
        )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportFormatError(f"The export has an invalid format version: {version!r}.")
    if version > SCHEMA_VERSION:
        raise ImportFormatError(
            f"The export uses format version {version}, newer than this holysheep-tui reads ({SCHEMA_VERSION}).",
            hint="Upgrade holysheep-tui to import it.",
        )
    try:
        doc = _FileDoc.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportFormatError(
            f"The export is malformed at {where}: {first['msg']} ({exc.error_count()} problem(s) in all)."
        ) from None
    return [
        Conversation(
            id=c.id,
            title=c.title,
            title_is_user_set=c.title_is_user_set,
            created=_utc(c.created),
            updated=_utc(c.updated),
            profile=c.profile,
            system_prompt=c.system_prompt,
            archived=c.archived,
            messages=tuple(
                Message(
                    id=0,
                    conversation_id=c.id,
                    role=m.role,
                    content=m.content,
                    created=_utc(m.created),
                    reasoning=m.reasoning,
                    model=m.model,
                    status=m.status,
                    prompt_tokens=m.prompt_tokens,
                    completion_tokens=m.completion_tokens,
                    cached_tokens=m.cached_tokens,
                    cost_usd=m.cost_usd,
                    cost_estimated=m.cost_estimated,
                    ttft_ms=m.ttft_ms,
                    total_ms=m.total_ms,
                    error_text=m.error_text,
                )
                for m in c.messages
            ),
        )
        for c in doc.conversations
    ]


def import_conversations(store: HistoryStore, text: str) -> list[str]:
    """Add every conversation in an export to ``store``; return their ids (new ones where taken).

    The whole file is validated before anything is written.
    """
    return [store.insert_conversation(conv) for conv in parse_export(text)]
