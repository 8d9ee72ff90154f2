"""Image parts in a chat request: what the simulator received, what they count, and the refusal of a
text-only model.

A message's ``content`` may be a list of parts (``{"type": "text", "text": ...}`` and
``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``). Each image counts
``IMAGE_TOKENS`` prompt tokens, whatever its size (the same fixed count as the client's estimate); a
model whose ``ModelSpec.vision`` is False answers an image part with OpenAI's own 400 body.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from holysheep_tui.simulator.scenarios import ErrorReply, error_reply

IMAGE_TOKENS = 1_600
"""Prompt tokens per image part (the client's ``chat.attachments.IMAGE_TOKENS``; a test holds them equal)."""
NO_VISION_MESSAGE = "Invalid content type. image_url is only supported by certain models."
"""OpenAI's message for an ``image_url`` part sent to a model that reads only text."""


@dataclass(frozen=True, slots=True)
class ReceivedImage:
    """One image part: its type and decoded size from a ``data:`` URL, or ``url`` for a link."""

    mime: str
    size: int | None

    def describe(self) -> str:
        """``image/png，240 KB`` (a link: ``链接``)."""
        if self.size is None:
            return "链接"
        return f"{self.mime}，{_size(self.size)}"


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _image(part: object) -> ReceivedImage | None:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    inner = part.get("image_url")
    url = inner.get("url") if isinstance(inner, dict) else None
    if not isinstance(url, str) or not url.startswith("data:"):
        return ReceivedImage("url", None)
    head, _, data = url.partition(",")
    mime = head.removeprefix("data:").split(";")[0] or "application/octet-stream"
    try:
        size = len(base64.b64decode(data, validate=True)) if ";base64" in head else len(data)
    except (binascii.Error, ValueError):
        size = 0
    return ReceivedImage(mime, size)


def message_images(message: dict[str, object]) -> list[ReceivedImage]:
    """The image parts of one message, in order."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [image for image in map(_image, content) if image is not None]


def image_counts(messages: list[dict[str, object]]) -> list[int]:
    """How many image parts each message carries."""
    return [len(message_images(m)) for m in messages]


def last_user_images(messages: list[dict[str, object]]) -> list[ReceivedImage]:
    """The images of the last user message (what the answer says it received)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_images(message)
    return []


def receipt(images: list[ReceivedImage], text: str) -> str:
    """The answer's first paragraph when the prompt carried images:
    ``收到 1 张图片：image/png，240 KB；文字：「描述这张图」``."""
    listed = "；".join(image.describe() for image in images)
    first = " ".join(text.split())
    shown = first if len(first) <= 80 else first[:79] + "…"
    said = f"；文字：「{shown}」" if shown else ""
    return f"收到 {len(images)} 张图片：{listed}{said}"


def no_vision_error(messages: list[dict[str, object]]) -> ErrorReply | None:
    """OpenAI's 400 for the first ``image_url`` part, naming it in ``param`` as OpenAI does
    (``messages.[0].content.[1].type``); None when no message carries one."""
    for m_index, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for p_index, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "image_url":
                param = f"messages.[{m_index}].content.[{p_index}].type"
                return error_reply(400, NO_VISION_MESSAGE, "invalid_request_error", None, param=param)
    return None
