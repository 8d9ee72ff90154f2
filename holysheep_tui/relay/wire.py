"""Wire models: what goes to the relay and the typed events that come back.

A response body becomes these events (holysheep_tui.relay.body); everything downstream (the
conversation controller, the CLI, the app) consumes only these types.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text part of a multi-part message."""

    text: str

    def to_wire(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image part: ``url`` is a ``data:<mime>;base64,...`` URL (or an http(s) one)."""

    url: str = field(repr=False)

    def to_wire(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.url}}


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a request. ``content`` is plain text, or a tuple of parts (text and images) when a
    prompt carries attachments; plain text goes on the wire as a plain string."""

    role: Role
    content: str | tuple[ContentPart, ...]

    @property
    def text(self) -> str:
        """The message's text: the content itself, or its text parts joined (images left out)."""
        if isinstance(self.content, str):
            return self.content
        return "\n\n".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> int:
        """How many image parts the message carries."""
        return 0 if isinstance(self.content, str) else sum(isinstance(p, ImagePart) for p in self.content)

    def to_wire(self) -> dict[str, Any]:
        if isinstance(self.content, str):
            return {"role": self.role, "content": self.content}
        return {"role": self.role, "content": [p.to_wire() for p in self.content]}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_wire() for m in self.messages],
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.extra)
        return body


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
        }


# ---- stream events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True, slots=True)
class FinishReason:
    reason: str


@dataclass(frozen=True, slots=True)
class ResponseModel:
    """The model name the server says answered (may differ from the one asked for)."""

    model: str


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """The client will try again after ``delay`` seconds (only ever before any answer byte)."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """The client-side rate limiter holds this request for ``delay`` seconds before sending it."""

    delay: float


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """Response headers arrived; ``ttfb`` seconds after the request was sent."""

    ttfb: float


StreamEvent = (
    ContentDelta
    | ReasoningDelta
    | RefusalDelta
    | ToolCallDelta
    | UsageReport
    | FinishReason
    | ResponseModel
    | RetryScheduled
    | RateLimitWait
    | StreamOpened
)


def to_ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))


@dataclass(slots=True)
class Timings:
    """Seconds on ``clock``, measured from the moment the (last) request was sent: the one clock of an
    answer's figures, live and stored."""

    ttfb: float | None = None
    ttft: float | None = None
    total: float | None = None
    sent: float | None = None
    """When the (last) request was sent, on ``clock``; a running answer has lasted ``clock() - sent``."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def as_ms(self) -> dict[str, int | None]:
        """``{"ttft_ms", "total_ms"}`` as whole milliseconds, for JSON output."""
        return {"ttft_ms": to_ms(self.ttft), "total_ms": to_ms(self.total)}

    def tokens_per_second(self, completion_tokens: int) -> float | None:
        if self.total is None or self.ttft is None or completion_tokens <= 0:
            return None
        span = self.total - self.ttft
        return completion_tokens / span if span > 0 else None


@dataclass(slots=True)
class Answer:
    """An answer folded from stream events: what the CLI prints and the history stores.

    Deltas are kept as lists and joined on demand, so folding stays O(1) per token.
    """

    model: str
    refusal: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    retries: int = 0
    timings: Timings = field(default_factory=Timings)
    content_parts: list[str] = field(default_factory=list, repr=False)
    reasoning_parts: list[str] = field(default_factory=list, repr=False)

    def apply(self, event: StreamEvent) -> None:
        match event:
            case ContentDelta(text):
                self.content_parts.append(text)
            case ReasoningDelta(text):
                self.reasoning_parts.append(text)
            case RefusalDelta(text):
                self.refusal += text
            case UsageReport(usage):
                self.usage = usage
            case FinishReason(reason):
                self.finish_reason = reason
            case ResponseModel(model):
                self.model = model
            case RetryScheduled():
                self.retries += 1
            case _:
                pass

    @property
    def content(self) -> str:
        if len(self.content_parts) > 1:
            self.content_parts[:] = ["".join(self.content_parts)]
        return self.content_parts[0] if self.content_parts else ""

    @property
    def reasoning(self) -> str:
        if len(self.reasoning_parts) > 1:
            self.reasoning_parts[:] = ["".join(self.reasoning_parts)]
        return self.reasoning_parts[0] if self.reasoning_parts else ""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str | None = None
    context_window: int | None = None
