"""The async relay client: one keep-alive ``httpx.AsyncClient`` per profile.

A response body is read as what its Content-Type says (holysheep_tui.relay.body) and comes out as typed
events (holysheep_tui.relay.wire). httpx exceptions and HTTP error statuses become the domain errors of
holysheep_tui.errors here (holysheep_tui.relay.failures); nothing above this module sees httpx.
"""

from __future__ import annotations

import asyncio
import difflib
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import httpx

from holysheep_tui import __version__
from holysheep_tui.config import Profile
from holysheep_tui.errors import (
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    RelayError,
    StreamCutError,
)
from holysheep_tui.relay.auth import BearerToOrigin
from holysheep_tui.relay.body import BodyReader, body_reader
from holysheep_tui.relay.failures import content_error, describe, status_error, transport_error
from holysheep_tui.relay.rate_limit import RateLimiter
from holysheep_tui.relay.retry import backoff_delay
from holysheep_tui.relay.wire import (
    Answer,
    ChatRequest,
    ContentDelta,
    ModelInfo,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    RetryScheduled,
    StreamEvent,
    StreamOpened,
    Timings,
    ToolCallDelta,
)

USER_AGENT = f"holysheep-tui/{__version__}"
_MAX_ERROR_BODY = 64 * 1024
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_ANSWER_EVENTS = (ContentDelta, ReasoningDelta, RefusalDelta, ToolCallDelta)


class _StreamState:
    """What a stream has shown so far, for deciding whether a failure may be retried."""

    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered = False


class RelayClient:
    def __init__(
        self,
        profile: Profile,
        api_key: str | None,
        *,
        key_source: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.profile = profile
        self._limiter = limiter
        self._key = api_key
        self._key_source = key_source or "the configured source"
        self._sleep = sleep
        headers = {"User-Agent": USER_AGENT, **profile.headers}
        # Never let a profile header smuggle credentials past the origin check.
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        timeout = httpx.Timeout(
            connect=profile.timeouts.connect,
            read=profile.timeouts.read,
            write=profile.timeouts.read,
            pool=profile.timeouts.connect,
        )
        verify: ssl.SSLContext | bool = True
        if profile.ca_bundle:
            verify = ssl.create_default_context(cafile=profile.ca_bundle)
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=timeout,
            auth=BearerToOrigin(api_key, profile.base_url) if api_key else None,
            follow_redirects=True,
            verify=verify,
            transport=transport,
            trust_env=True,
        )
        self._base = profile.base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"RelayClient(base_url={self._base!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- models ------------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        try:
            response = await self._http.get(f"{self._base}/models")
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._base, self.profile.timeouts) from None
        if response.status_code != 200:
            raise self._status_error(response.status_code, response.headers, response.content, model=None)
        try:
            payload = response.json()
        except ValueError:
            raise ProtocolError("The relay's model list is not JSON.", status=200) from None
        items = payload.get("data", payload) if isinstance(payload, dict) else payload
        models: list[ModelInfo] = []
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    ctx = next(
                        (
                            item[k]
                            for k in ("context_window", "context_length", "max_context_length", "max_model_len")
                            if isinstance(item.get(k), int)
                        ),
                        None,
                    )
                    owner = item.get("owned_by")
                    models.append(ModelInfo(item["id"], owner if isinstance(owner, str) else None, ctx))
        return models

    async def suggest_models(self, wanted: str) -> list[str]:
        """Close names to a model the relay did not know, from its own /models list (best effort)."""
        try:
            names = [m.id for m in await self.list_models()]
        except RelayError:
            return []
        return difflib.get_close_matches(wanted, names, n=3, cutoff=0.4)

    # ---- chat --------------------------------------------------------------------------------

    async def stream_chat(
        self, request: ChatRequest, *, timings: Timings | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream one answer as typed events, one at a time (see ``stream_chat_batches``)."""
        async with aclosing(self.stream_chat_batches(request, timings=timings)) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    async def stream_chat_batches(
        self, request: ChatRequest, *, timings: Timings | None = None
    ) -> AsyncGenerator[list[StreamEvent], None]:
        """Stream one answer as lists of typed events, one list per network read, never empty.

        A generator step costs about as much as decoding an event, so a fast stream (many events per read)
        is handed on a read at a time. Retries only before the first answer byte. Closing the generator (or
        cancelling its task) closes the connection at once.
        """
        timings = timings if timings is not None else Timings()
        body = request.to_body(stream=True)
        retry = 0
        while True:
            state = _StreamState()
            if self._limiter is not None:
                wait = self._limiter.wait_time()
                if wait > 0:
                    yield [RateLimitWait(wait)]
                await self._limiter.acquire()
            try:
                async with aclosing(self._stream_once(body, request.model, timings, state)) as batches:
                    async for batch in batches:
                        yield batch
                return
            except RelayError as exc:
                if isinstance(exc, RateLimitError) and self._limiter is not None:
                    self._limiter.penalize(exc.retry_after)
                delay = self._retry_delay(exc, retry, state)
                if delay is None:
                    raise
                retry += 1
                yield [RetryScheduled(retry, delay, exc.title)]
                await self._sleep(delay)

    async def complete(self, request: ChatRequest) -> Answer:
        """A non-streaming request, folded into an Answer (read as its Content-Type says, like a stream)."""
        answer = Answer(model=request.model)
        timings = answer.timings
        retry = 0
        body = request.to_body(stream=False)
        while True:
            started = timings.sent = timings.clock()
            try:
                response = await self._http.post(f"{self._base}/chat/completions", json=body)
                if response.status_code != 200:
                    raise self._status_error(response.status_code, response.headers, response.content, model=request.model)
            except httpx.HTTPError as exc:
                error: RelayError = transport_error(exc, self._base, self.profile.timeouts)
            except RelayError as exc:
                error = exc
            else:
                break
            delay = self._retry_delay(error, retry, _StreamState())
            if delay is None:
                raise error
            retry += 1
            answer.apply(RetryScheduled(retry, delay, error.title))
            await self._sleep(delay)
        timings.ttfb = timings.ttft = timings.total = timings.clock() - started
        content_type = response.headers.get("content-type")
        reader = body_reader(content_type, request.model)
        if reader is None:
            raise self._scrub_error(content_error(content_type, response.content[:_MAX_ERROR_BODY]))
        events: list[StreamEvent] = []
        try:
            reader.read(response.content, events)
            reader.end(events)
        except RelayError as exc:
            raise self._scrub_error(exc) from None
        for event in events:
            answer.apply(event)
        return answer

    async def _stream_once(
        self, body: dict[str, Any], model: str, timings: Timings, state: _StreamState
    ) -> AsyncGenerator[list[StreamEvent], None]:
        """One attempt; events come in lists, one per network read (a generator step per token costs)."""
        started = timings.sent = timings.clock()
        request = self._http.build_request(
            "POST", f"{self._base}/chat/completions", json=body, headers={"Accept": "text/event-stream"}
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._base, self.profile.timeouts) from None
        try:
            if response.status_code != 200:
                content = await _read_bounded(response)
                raise self._status_error(response.status_code, response.headers, content, model=model)
            content_type = response.headers.get("content-type")
            reader = body_reader(content_type, model)
            if reader is None:
                raise self._scrub_error(content_error(content_type, await _read_bounded(response)))
            timings.ttfb = timings.clock() - started
            yield [StreamOpened(timings.ttfb)]
            parser = reader.parser
            try:
                chunks = response.aiter_raw()
                async for raw in chunks:
                    batch, error = _parse(reader, raw, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                    if parser.done:
                        await _drain(chunks)  # so the keep-alive connection goes back to the pool
                        break
                else:
                    batch, error = _parse(reader, None, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
            except RelayError as exc:  # the provider's words may echo the key
                raise self._scrub_error(exc) from None
            except httpx.ReadTimeout:
                raise ReadTimeoutError(
                    f"The relay sent nothing for {self.profile.timeouts.read:g} s"
                    + (" in the middle of the answer." if state.answered else " after accepting the request."),
                    hint="The partial answer is kept. Retry, or raise timeouts.read in the profile.",
                ) from None
            except httpx.HTTPError as exc:
                state.answered = state.answered or parser.saw_content
                raise StreamCutError(
                    f"The connection broke before the answer finished ({describe(exc)}).",
                    hint="The partial answer is kept; retry to get the rest.",
                ) from None
            if not parser.done and not parser.finished:
                state.answered = state.answered or parser.saw_content
                raise StreamCutError(
                    "The relay closed the stream before the answer finished (no finish reason, no [DONE]).",
                    hint="The partial answer is kept; retry to get the rest.",
                )
        finally:
            timings.total = timings.clock() - started
            await response.aclose()

    # ---- failures ----------------------------------------------------------------------------

    def _retry_delay(self, exc: RelayError, retry: int, state: _StreamState) -> float | None:
        if state.answered or retry >= self.profile.retry.max_retries or not exc.retryable:
            return None
        if exc.status is not None and exc.status not in _RETRY_STATUSES:
            return None
        return backoff_delay(self.profile.retry, retry + 1, retry_after=exc.retry_after)

    def _scrub(self, text: str | None) -> str | None:
        if text and self._key and self._key in text:
            return text.replace(self._key, "****")
        return text

    def _status_error(
        self, status: int, headers: httpx.Headers, body: bytes, *, model: str | None
    ) -> RelayError:
        return status_error(status, headers, body, model=model, key_source=self._key_source, scrub=self._scrub)

    def _scrub_error(self, exc: RelayError) -> RelayError:
        """The error with the key hidden wherever the relay's words may have echoed it."""
        exc.message = self._scrub(exc.message) or ""
        exc.args = (exc.message,)
        exc.provider_message = self._scrub(exc.provider_message)
        return exc


def _parse(
    reader: BodyReader, raw: bytes | None, state: _StreamState, timings: Timings, at: float
) -> tuple[list[StreamEvent], RelayError | None]:
    """The typed events of one network read (None: the end); an error comes back after the events before it."""
    batch: list[StreamEvent] = []
    error: RelayError | None = None
    try:
        if raw is not None:
            reader.read(raw, batch)
        else:
            reader.end(batch)
    except RelayError as exc:
        error = exc
    if not state.answered and any(isinstance(e, _ANSWER_EVENTS) for e in batch):
        state.answered = True
        timings.ttft = timings.clock() - at
    return batch, error


async def _drain(chunks: AsyncIterator[bytes], limit: int = _MAX_ERROR_BODY) -> None:
    """Read what follows [DONE] (normally just the end of the chunked body), within a size and time bound.

    A server that lingers after [DONE] costs at most a second; its connection is then closed, not reused.
    """
    size = 0
    try:
        async with asyncio.timeout(1.0):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    return
    except (httpx.HTTPError, TimeoutError):
        pass


async def _read_bounded(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            parts.append(chunk)
            size += len(chunk)
            if size >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    return b"".join(parts)[:_MAX_ERROR_BODY]
