"""Interpreting an OpenAI chat-completions stream: server-sent events in, typed stream events out.

Runs once per token: the common chunk shape takes a short path, everything else the defensive one, with
the same result. Provider quirks handled here:
``[DONE]`` present or missing, error objects inside a 200 stream, reasoning as ``reasoning_content``
(DeepSeek), ``reasoning`` (OpenRouter) or Gemini's thought summaries (``content`` flagged
``extra_content.google.thought``, inside ``<thought>`` tags), usage in a final ``choices: []`` chunk and/or
in ``choices[0].usage``, ``n > 1``, partial tool calls.

Hostile values: lone surrogates (``"\\ud800"``, valid JSON) become U+FFFD in every string (the fast decoder
rejects them, so only the general path, ``loads_json``, looks); token counts are clamped to ``MAX_TOKENS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from holysheep_tui.errors import ProtocolError
from holysheep_tui.relay.error_body import clean_text, loads_json
from holysheep_tui.relay.failures import stream_error
from holysheep_tui.relay.sse import EventText, ServerSentEvent
from holysheep_tui.relay.wire import (
    ContentDelta,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    ResponseModel,
    StreamEvent,
    ToolCallDelta,
    Usage,
    UsageReport,
)

_fast_loads: Callable[[str], Any]
try:  # about four times faster than json; it rejects lone surrogates, and what it rejects goes to loads_json
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = loads_json

MAX_TOKENS = 10**12
"""The largest token count believed; more is clamped to it (sums of such counts stay inside 64 bits)."""
_THOUGHT_OPEN = "<thought>"
_THOUGHT_CLOSE = "</thought>"


def _count(value: object) -> int | None:
    """A token count; None when ``value`` is not one (a negative number, a string, a fraction)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return min(value, MAX_TOKENS) if value >= 0 else None
    if isinstance(value, float) and value >= 0 and value.is_integer():
        return int(min(value, MAX_TOKENS))
    return None


def parse_usage(raw: object) -> Usage | None:
    """A Usage from any provider's usage object; None when it carries no token counts at all."""
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("prompt_tokens"))
    if prompt is None:
        prompt = _count(raw.get("input_tokens"))
    completion = _count(raw.get("completion_tokens"))
    if completion is None:
        completion = _count(raw.get("output_tokens"))
    total = _count(raw.get("total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    if not total:
        total = min(prompt + completion, MAX_TOKENS)
    cached: int | None = None
    details = raw.get("prompt_tokens_details")
    if isinstance(details, dict):
        cached = _count(details.get("cached_tokens"))
    if cached is None:
        cached = _count(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    if cached is None:
        cached = _count(raw.get("cached_tokens"))  # Moonshot
    reasoning: int | None = None
    details = raw.get("completion_tokens_details")
    if isinstance(details, dict):
        reasoning = _count(details.get("reasoning_tokens"))
    return Usage(prompt, completion, total, cached or 0, reasoning or 0)


def _text(value: object) -> str:
    """Delta text: a string, or a list of content parts; anything else is no text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text") for p in value if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


class ChatStreamParser:
    """Server-sent events of one response in, typed events for choice 0 out: one event at a time (``feed``)
    or a network read's events at once (``feed_events``, the client's path)."""

    def __init__(self, requested_model: str) -> None:
        self.requested_model = requested_model
        self.done = False
        self.finished = False
        self.saw_content = False
        self._model_seen = False
        self._thought_open = False  # a Gemini thought was streamed and the answer after it has not begun
        self._fast = False  # the short path may take a plain chunk: the model seen, no thought open
        self._usage: Usage | None = None
        self._envelope: _Envelope | None = None
        self._envelope_tries = 0
        self._envelope_hits = 0

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        self._feed(sse.event, sse.data, events)
        return events

    def feed_completion(self, body: str) -> list[StreamEvent]:
        """A whole completion sent in place of a stream (``message`` where a chunk has ``delta``): the same
        typed events; it ends the answer."""
        events: list[StreamEvent] = []
        try:
            payload = loads_json(body)
        except (ValueError, RecursionError):
            raise ProtocolError(
                f"The relay's answer is not JSON: {clean_text(body, 80)}", status=200
            ) from None
        self._object(payload, body, events)
        self.done = True
        return events

    def feed_events(self, sses: Sequence[ServerSentEvent], out: list[StreamEvent]) -> None:
        """``feed`` for a read's events, appending to ``out``; on an error ``out`` has those before it."""
        envelope = self._envelope
        if envelope is not None and not self.done and type(sses) is EventText:
            size = len(out)
            count = envelope.run(sses, out)
            if count:
                self._envelope_hits += count
                self.saw_content = self.saw_content or len(out) > size
                return
        for name, data, _id, _retry in sses:
            if self.done:
                return
            if name != "message":
                self._feed(name, data, out)
                continue
            if envelope is not None and (content := envelope.content(data)) is not None:
                self._envelope_hits += 1
                if content:
                    out.append(ContentDelta(content))
                    self.saw_content = True
                continue
            try:
                chunk = _fast_loads(data)
            except (ValueError, RecursionError):
                self._feed(name, data, out)  # [DONE], or not JSON: the general path decides
                continue
            if type(chunk) is not dict:
                self._object(chunk, data, out)
                continue
            # The common shape: one choice 0 with a delta, no finish reason, no usage, no error, no new model.
            choices = chunk.get("choices")
            if (
                (self._fast or (not self._thought_open and not chunk.get("model")))
                and type(choices) is list
                and len(choices) == 1
                and type(choice := choices[0]) is dict
                and type(delta := choice.get("delta")) is dict
                and ((index := choice.get("index")) is None or index == 0)
                and choice.get("finish_reason") is None
                and choice.get("usage") is None
                and chunk.get("usage") is None
                and chunk.get("error") is None
                and chunk.get("object") != "error"
            ):
                if len(delta) == 1 and type(content := delta.get("content")) is str:
                    if content:
                        out.append(ContentDelta(content))
                        self.saw_content = True
                    # A few tries for a stream whose envelope varies; more once one has served (a new `created`).
                    if self._envelope_tries < 3 or self._envelope_hits >= 64 * self._envelope_tries:
                        self._envelope_tries += 1
                        envelope = self._envelope = _Envelope.learn(data, chunk, content) or envelope
                else:
                    self._delta(delta, out)
                    envelope = self._envelope  # a thought drops it
            else:
                self._object(chunk, data, out)
                envelope = self._envelope

    def _feed(self, name: str, data: str, events: list[StreamEvent]) -> None:
        if self.done:
            return
        if name == "error":
            raise stream_error(_loads_or_text(data))
        stripped = data.strip()
        if not stripped:
            return
        if stripped == "[DONE]":
            self.done = True
            return
        try:
            chunk = loads_json(stripped)
        except (ValueError, RecursionError):
            if name != "message":
                return  # a named event we do not know, e.g. a ping
            raise ProtocolError(
                f"The relay sent a chunk that is not JSON: {clean_text(data, 80)}",
                hint="The partial answer was kept. Try again, or check the base URL points at an OpenAI-compatible API.",
            ) from None
        self._object(chunk, data, events)

    def _object(self, chunk: object, data: str, events: list[StreamEvent]) -> None:
        if isinstance(chunk, list) and chunk and isinstance(chunk[0], dict) and "error" in chunk[0]:
            raise stream_error(chunk)
        if not isinstance(chunk, dict):
            raise ProtocolError(
                f"The relay sent a chunk that is not a JSON object: {clean_text(data, 80)}",
                hint="The partial answer was kept.",
            )
        if chunk.get("error") or chunk.get("object") == "error":
            raise stream_error(chunk)
        self._chunk(chunk, events)

    def _chunk(self, chunk: dict[str, Any], events: list[StreamEvent]) -> None:
        model = chunk.get("model")
        if not self._model_seen and isinstance(model, str) and model:
            self._model_seen = True
            self._fast = not self._thought_open
            events.append(ResponseModel(model))
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if not isinstance(choice, dict):
                    continue
                index = choice.get("index", position)
                if index is None:
                    index = position
                if index == 0:
                    self._choice(choice, events)
                    break
        self._usage_from(chunk.get("usage"), events)

    def _choice(self, choice: dict[str, Any], events: list[StreamEvent]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice.get("message")
        if isinstance(delta, dict):
            self._delta(delta, events)
        reason = choice.get("finish_reason")
        if not self.finished and isinstance(reason, str) and reason:
            self.finished = True
            events.append(FinishReason(reason))
        self._usage_from(choice.get("usage"), events)

    def _delta(self, delta: dict[str, Any], events: list[StreamEvent]) -> None:
        reasoning = delta.get("reasoning_content")
        if not isinstance(reasoning, str) or not reasoning:
            reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(ReasoningDelta(reasoning))
            self.saw_content = True
        content = _text(delta.get("content"))
        extra = delta.get("extra_content")
        if extra is not None and _is_thought(extra):
            self._thought(content, events)
            content = ""
        elif self._thought_open and content:
            content = content.removeprefix(_THOUGHT_CLOSE)
            self._thought_open = False
            self._fast = self._model_seen
        if content:
            events.append(ContentDelta(content))
            self.saw_content = True
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            events.append(RefusalDelta(refusal))
            self.saw_content = True
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                if isinstance(call, dict):
                    self._tool_call(call, position, events)

    def _thought(self, text: str, events: list[StreamEvent]) -> None:
        """Gemini: a thought summary sent as content; the first opens ``<thought>``, the answer closes it."""
        if not self._thought_open:
            self._thought_open = True
            self._fast = False
            self._envelope = None  # the answer's first chunk must come through _delta to lose its tag
            text = text.removeprefix(_THOUGHT_OPEN)
        text = text.removesuffix(_THOUGHT_CLOSE)
        if text:
            events.append(ReasoningDelta(text))
            self.saw_content = True

    def _tool_call(self, call: dict[str, Any], position: int, events: list[StreamEvent]) -> None:
        index = call.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = position
        call_id = call.get("id")
        function = call.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments") if isinstance(function, dict) else None
        call_id = call_id if isinstance(call_id, str) and call_id else None
        name = name if isinstance(name, str) and name else None
        arguments = arguments if isinstance(arguments, str) else ""
        if call_id or name or arguments:
            events.append(ToolCallDelta(index, call_id, name, arguments))
            self.saw_content = True

    def _usage_from(self, raw: object, events: list[StreamEvent]) -> None:
        usage = parse_usage(raw)
        if usage is not None and usage != self._usage:
            self._usage = usage
            events.append(UsageReport(usage))


_CONTENT_TOKEN = re.compile(r'"content"[ \t\r\n]*:[ \t\r\n]*("(?:[^"\\]|\\.)*")')
_PROBE = "\u2063探针\u2063"
_STRING = r'"([^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*)"'  # a JSON string token; group: its body


def _unescape(body: str) -> str:
    return str(_fast_loads(f'"{body}"'))


class _Envelope:
    """The text around the content of one stream's plain chunks, which providers repeat byte for byte.

    Learned from a parsed chunk and proven by parsing it again with a probe in place of the content:
    any chunk that is this head, one JSON string and this tail is then that same chunk with that string
    as its content, and needs no full parse.
    """

    __slots__ = ("_head", "_pattern", "_size", "_tail", "_tail_size")

    def __init__(self, head: str, tail: str) -> None:
        self._head = head
        self._tail = tail
        self._size = len(head) + len(tail)
        self._tail_size = len(tail)
        # One event's data: head, a JSON string (the group), tail.
        self._pattern: re.Pattern[str] | None = None
        if "\n" not in head and "\n" not in tail:
            self._pattern = re.compile(f"{re.escape(head)}{_STRING}{re.escape(tail)}")

    @classmethod
    def learn(cls, data: str, chunk: dict[str, Any], content: str) -> _Envelope | None:
        matches = list(_CONTENT_TOKEN.finditer(data))
        if not matches:
            return None
        start, end = matches[-1].span(1)
        head, tail = data[:start], data[end:]
        try:
            probed = _fast_loads(f'{head}"{_PROBE}"{tail}')
            delta = probed["choices"][0]["delta"]
        except (ValueError, RecursionError, LookupError, TypeError):
            return None
        if delta != {"content": _PROBE}:
            return None
        delta["content"] = content
        if probed != chunk:
            return None
        return cls(head, tail)

    def run(self, sses: EventText, out: list[StreamEvent]) -> int:
        """When every event is this envelope around a string, append their content to ``out`` as one delta
        and count them; else 0. (The bodies of JSON strings joined are the body of the joined string.)"""
        found = sses.data_matches(self._pattern) if self._pattern is not None else None
        if not found:
            return 0
        joined = "".join(found)
        if "\\" in joined:
            try:
                joined = _unescape(joined)
            except ValueError:  # an escape JSON does not have
                return 0
        if joined:
            out.append(ContentDelta(joined))
        return len(found)

    def content(self, data: str) -> str | None:
        """The content of ``data`` when it is this envelope around one JSON string, else None."""
        if len(data) <= self._size or not data.startswith(self._head) or not data.endswith(self._tail):
            return None
        token = data[len(self._head) : len(data) - self._tail_size]
        if token[0] == '"' and token[-1] == '"':
            text = token[1:-1]
            if '"' not in text and "\\" not in text and text.isprintable():
                return text
        try:
            value = _fast_loads(token)
        except (ValueError, RecursionError):
            return None
        return value if type(value) is str else None


def _is_thought(extra: object) -> bool:
    """Gemini's OpenAI-compatible flag on a delta: ``"extra_content": {"google": {"thought": true}}``."""
    google = extra.get("google") if isinstance(extra, dict) else None
    return isinstance(google, dict) and google.get("thought") is True


def _loads_or_text(data: str) -> object:
    try:
        return loads_json(data)
    except (ValueError, RecursionError):
        return data
