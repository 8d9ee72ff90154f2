"""A chat answer's response body as typed events, read as what its Content-Type says it is.

``text/event-stream``: each network read goes through the SSE decoder, then the chat-stream parser, and
comes out as one list. ``application/json`` (a server that ignored ``stream: true``): the one completion,
folded into the same events at the end of the body. A body without a Content-Type, or labelled only as
generic text or bytes (``text/plain``, ``application/octet-stream``), is read as an event stream: minimal
relays and some proxies send streams so. Anything else (an HTML login page, say) has no reader.

Both are bounded: an event stream by the SSE decoder's limits (``sse.MAX_LINE``, ``sse.MAX_EVENT``), a JSON
completion by ``MAX_COMPLETION`` bytes; past them reading stops with a ProtocolError, what came before kept.
"""

from __future__ import annotations

from holysheep_tui.errors import ProtocolError
from holysheep_tui.relay.chat_stream import ChatStreamParser
from holysheep_tui.relay.sse import SSEDecoder, SSELimitError
from holysheep_tui.relay.wire import ContentDelta, ReasoningDelta, StreamEvent

MAX_COMPLETION = 32 * 1024 * 1024
"""The largest JSON completion read in place of a stream, in bytes."""
_NOT_A_STREAM = "A chat answer never comes this large: check the base URL points at an OpenAI-compatible API."


class StreamReader:
    """One event stream: owns its SSE decoder and chat-stream parser."""

    __slots__ = ("_decoder", "parser")

    def __init__(self, model: str) -> None:
        self._decoder = SSEDecoder()
        self.parser = ChatStreamParser(model)

    def read(self, chunk: bytes, out: list[StreamEvent]) -> None:
        """One network read's typed events into ``out``, a run of text as one delta; on an error ``out``
        has the events before it."""
        start = len(out)
        decoder = self._decoder
        try:
            self.parser.feed_events(decoder.feed(chunk), out)  # no len(): that would decode EventText
            if decoder.error is not None:
                raise _too_large(decoder.error)
        except SSELimitError as exc:
            raise _too_large(exc) from None
        finally:
            _merge_text(out, start)

    def end(self, out: list[StreamEvent]) -> None:
        """The end of the body: an event it left unfinished."""
        try:
            sses = self._decoder.close()
        except SSELimitError as exc:
            raise _too_large(exc) from None
        if sses:
            self.parser.feed_events(sses, out)


def _too_large(exc: SSELimitError) -> ProtocolError:
    return ProtocolError(
        f"The relay sent {exc} without ending it; reading stopped there.",
        hint=f"The partial answer was kept. {_NOT_A_STREAM}",
    )


class CompletionReader:
    """One JSON completion in place of a stream: kept until the body ends, then folded."""

    __slots__ = ("_parts", "_size", "parser")

    def __init__(self, model: str) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.parser = ChatStreamParser(model)

    def read(self, chunk: bytes, out: list[StreamEvent]) -> None:
        self._size += len(chunk)
        if self._size > MAX_COMPLETION:
            self._parts.clear()
            raise ProtocolError(
                f"The relay's JSON answer is larger than {MAX_COMPLETION // (1024 * 1024)} MiB; reading stopped.",
                hint=_NOT_A_STREAM,
                status=200,
            )
        self._parts.append(chunk)

    def end(self, out: list[StreamEvent]) -> None:
        body = b"".join(self._parts).decode("utf-8", errors="replace")
        self._parts.clear()
        out.extend(self.parser.feed_completion(body))


BodyReader = StreamReader | CompletionReader


_STREAM_TYPES = frozenset(("", "text/event-stream", "text/plain", "application/octet-stream"))


def body_reader(content_type: str | None, model: str) -> BodyReader | None:
    """The reader for a body of this Content-Type; None when it is neither a stream nor a completion."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if media in _STREAM_TYPES:
        return StreamReader(model)
    if media == "application/json" or media.endswith("+json"):
        return CompletionReader(model)
    return None


_TEXT_DELTAS = (ContentDelta, ReasoningDelta)


def _merge_text(out: list[StreamEvent], start: int) -> None:
    """Join runs of content (or reasoning) deltas from ``start`` on: one network read's text is one delta."""
    if len(out) - start < 2:
        return
    merged: list[StreamEvent] = []
    run: list[ContentDelta | ReasoningDelta] = []
    for event in out[start:]:
        if type(event) in _TEXT_DELTAS:
            if run and type(run[0]) is not type(event):
                _close_run(run, merged)
            run.append(event)  # type: ignore[arg-type]
        else:
            _close_run(run, merged)
            merged.append(event)
    _close_run(run, merged)
    out[start:] = merged


def _close_run(run: list[ContentDelta | ReasoningDelta], merged: list[StreamEvent]) -> None:
    if len(run) == 1:
        merged.append(run[0])
    elif run:
        merged.append(type(run[0])("".join(e.text for e in run)))
    run.clear()
