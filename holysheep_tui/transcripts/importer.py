"""Importing conversations exported as JSON (``holysheep export --format json``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from holysheep_tui.errors import UsageError
from holysheep_tui.store.history import HistoryStore
from holysheep_tui.store.models import MESSAGE_SCHEMA, Attachment, Conversation, Message
from holysheep_tui.transcripts import attached
from holysheep_tui.transcripts.export import SCHEMA, SCHEMA_VERSION


class ImportFormatError(UsageError):
    title = "Cannot import"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


# One exported message, validated as the message schema says: its imported fields, their types,
# defaults and minimums.
# Counts must fit SQLite's 64-bit integers; numbers must be finite (json reads 1e400 as infinity).
_MAX_INT = 2**63 - 1
_MESSAGE_FIELDS: dict[str, Any] = {
    c.name: (
        c.annotation,
        Field(
            ... if c.required else c.default,
            ge=c.json.minimum,
            le=_MAX_INT if c.base is int else None,
            allow_inf_nan=False if c.base is float else None,
        ),
    )
    for c in MESSAGE_SCHEMA
    if c.json.imported
}
_MESSAGE_FIELDS["id"] = (int | None, Field(None, ge=0, le=_MAX_INT))  # the file's, to link parent_id
_MESSAGE_FIELDS["attachments"] = (list[Any], Field(default_factory=list))  # checked by attached.from_dict
_MessageDoc = create_model("_MessageDoc", __base__=_Doc, **_MESSAGE_FIELDS)


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
    active_leaf: int | None = None


class _FileDoc(_Doc):
    conversations: list[_ConversationDoc]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _message(conv_id: str, doc: BaseModel) -> Message:
    values: dict[str, Any] = {
        k: _utc(v) if isinstance(v, datetime) else v
        for k, v in doc.model_dump().items()
        if k != "attachments"
    }
    return Message(conversation_id=conv_id, **values)


def _files(docs: list[Any], tree: tuple[Message, ...], where: str) -> dict[int, tuple[Attachment, ...]]:
    """Each message's attachments, by its id in ``tree``, each checked against its size and sha256."""
    found: dict[int, tuple[Attachment, ...]] = {}
    for n, (doc, m) in enumerate(zip(docs, tree, strict=True)):
        items = getattr(doc, "attachments", [])
        if not items:
            continue
        if m.role != "user" or m.id is None:
            raise ImportFormatError(
                f"The export has attachments on a {m.role} message at {where}.messages.{n}."
            )
        try:
            found[m.id] = tuple(
                attached.from_dict(item, f"{where}.messages.{n}.attachments.{i}")
                for i, item in enumerate(items)
            )
        except ValueError as exc:
            raise ImportFormatError(f"The export has a broken attachment: {exc}.") from None
    return found


def _tree(messages: list[Message], version: int, where: str) -> tuple[Message, ...]:
    """Version 1 files hold one path (chained in order); later ones a tree linked by the file's ids."""
    if version < 2:
        return tuple(replace(m, id=n + 1, parent_id=n or None) for n, m in enumerate(messages))
    seen: set[int] = set()
    for n, m in enumerate(messages):
        if m.id is None or m.id in seen or (m.parent_id is not None and m.parent_id not in seen):
            raise ImportFormatError(
                f"The export's message tree is broken at {where}.messages.{n}: each message needs its own "
                "id, and its parent_id must name an earlier message."
            )
        seen.add(m.id)
    return tuple(messages)


def parse_export(text: str) -> list[Conversation]:
    """Validate an export document; raise ImportFormatError with the reason when it is not one."""
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except RecursionError:
        raise ImportFormatError("The file nests JSON too deeply to be a conversation export.") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ImportFormatError(f"The file is not valid JSON ({exc}).") from None
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
    conversations: list[Conversation] = []
    for n, c in enumerate(doc.conversations):
        where = f"conversations.{n}"
        try:
            tree = _tree([_message(c.id, m) for m in c.messages], version, where)
            conv = Conversation(
                id=c.id,
                title=c.title,
                title_is_user_set=c.title_is_user_set,
                created=_utc(c.created),
                updated=_utc(c.updated),
                profile=c.profile,
                system_prompt=c.system_prompt,
                archived=c.archived,
                messages=tree,
                active_leaf=c.active_leaf,
                attachments=_files(list(c.messages), tree, where),
            )
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment
            raise ImportFormatError(f"The export has a date out of range at {where}.") from None
        _check_text(conv, where)
        conversations.append(conv)
    return conversations


def _check_text(conv: Conversation, where: str) -> None:
    """An ImportFormatError naming the field that holds a lone surrogate (JSON "\\ud800": not text)."""
    fields: list[tuple[str, str | None]] = [
        (f"{where}.{name}", getattr(conv, name)) for name in ("id", "title", "profile", "system_prompt")
    ]
    for i, m in enumerate(conv.messages):
        fields += [(f"{where}.messages.{i}.{name}", getattr(m, name)) for name in _MESSAGE_TEXT]
    for place, value in fields:
        if value is not None and not _encodable(value):
            raise ImportFormatError(
                f"The export has text that is not valid Unicode (a lone surrogate) at {place}."
            )


_MESSAGE_TEXT = tuple(c.name for c in MESSAGE_SCHEMA if c.base is str and c.name != "conversation_id")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def import_conversations(store: HistoryStore, text: str) -> list[str]:
    """Add every conversation in an export to ``store``; return their ids (new ones where taken).

    The whole file is validated before anything is written, and written in one transaction: all or none.
    Importing the same text again adds only the conversations deleted since (their ids are returned).
    """
    conversations = parse_export(text)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return store.insert_import(conversations, digest)
