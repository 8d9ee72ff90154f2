"""The async relay client: one keep-alive ``httpx.AsyncClient`` per profile.

A response body is read as what its Content-Type says (holysheep_tui.relay.body) and comes out as typed
events (holysheep_tui.relay.wire). httpx exceptions and HTTP error statuses become the domain errors of
holysheep_tui.errors here (holysheep_tui.relay.failures); nothing above this module sees httpx.

What a hostile relay cannot do: send the conversation or the key to another origin (redirects are followed
only within the profile's origin), reach the key through a proxy on loopback, inflate a compressed body
past ``_MAX_BODY``, or hold a request past ``timeouts.total``.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import httpx

from holysheep_tui import __version__, i18n
from holysheep_tui.config import Profile
from holysheep_tui.errors import ProtocolError, RateLimitError, RelayError, StreamCutError
from holysheep_tui.relay.auth import BearerToOrigin, KeyScrubber, direct_to_loopback, same_origin
from holysheep_tui.relay.body import BodyReader, body_reader
from holysheep_tui.relay.failures import (
    body_error,
    content_error,
    deadline_error,
    decoding_error,
    redirect_error,
    status_error,
    too_large_error,
    too_many_redirects,
    transport_error,
)
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
    UsageReport,
)

USER_AGENT = f"holysheep-tui/{__version__}"
_MAX_ERROR_BODY = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024
"""The most a whole-body read (a model list, a completion) takes in, decoded (as body.MAX_COMPLETION)."""
_MAX_REDIRECTS = 5
_TAIL_WAIT = 1.0
"""Seconds to wait for the rest of a stream (a last usage, [DONE]) once its finish reason and usage came."""
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
        self._scrub = KeyScrubber(api_key)
        self._key_source = key_source or i18n._("the configured source")
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
            follow_redirects=False,  # followed by _send, within the profile's origin only
            verify=verify,
            transport=transport,
            trust_env=True,
            mounts=direct_to_loopback(profile.base_url),
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
        _, content = await self._fetch(self._http.build_request("GET", f"{self._base}/models"), "model list", None)
        try:
            payload = json.loads(content)
        except (ValueError, RecursionError):
            raise ProtocolError(i18n._("The relay's model list is not JSON."), status=200) from None
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
                    self._limiter.penalize(exc.retry_after)  # already held to retry_after_cap
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
            post = self._http.build_request("POST", f"{self._base}/chat/completions", json=body)
            try:
                headers, content = await self._fetch(post, "answer", request.model)
            except RelayError as error:
                delay = self._retry_delay(error, retry, _StreamState())
                if delay is None:
                    raise
                retry += 1
                answer.apply(RetryScheduled(retry, delay, error.title))
                await self._sleep(delay)
            else:
                break
        timings.ttfb = timings.ttft = timings.total = timings.clock() - started
        content_type = headers.get("content-type")
        reader = body_reader(content_type, request.model)
        if reader is None:
            raise self._scrub_error(content_error(content_type, content[:_MAX_ERROR_BODY], self._scrub))
        events: list[StreamEvent] = []
        try:
            reader.read(content, events)
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
        clock = asyncio.get_running_loop().time
        total = self.profile.timeouts.total
        deadline = clock() + total if total > 0 else float("inf")
        request = self._http.build_request(
            "POST", f"{self._base}/chat/completions", json=body, headers={"Accept": "text/event-stream"}
        )
        try:
            response = await self._open(request, deadline, model)
        except BaseException:  # an error status or a failed connection still took this long
            timings.total = timings.clock() - started
            raise
        try:
            content_type = response.headers.get("content-type")
            reader = body_reader(content_type, model)
            if reader is None:
                raise self._scrub_error(content_error(content_type, await _read_bounded(response), self._scrub))
            timings.ttfb = timings.clock() - started
            yield [StreamOpened(timings.ttfb)]
            parser = reader.parser
            try:
                # aiter_raw when the body is not encoded: the common case skips the decoder layer.
                encoded = response.headers.get("content-encoding")
                chunks = response.aiter_bytes() if encoded else response.aiter_raw()
                tail = False
                async for raw in chunks:
                    batch, error = _parse(reader, raw, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                    if parser.done:
                        await _drain(chunks)  # so the keep-alive connection goes back to the pool
                        break
                    if parser.finished and any(type(e) is UsageReport for e in batch):
                        tail = True  # complete: read what follows for a moment, then end
                        break
                    if clock() > deadline:
                        raise deadline_error(total, state.answered)
                else:
                    batch, error = _parse(reader, None, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                if tail:
                    async with aclosing(_tail(chunks, reader, state, timings, started)) as rest:
                        async for batch in rest:
                            yield batch
            except RelayError as exc:  # the provider's words may echo the key
                raise self._scrub_error(exc) from None
            except httpx.HTTPError as exc:
                if not parser.finished:  # after a finish reason the answer is whole
                    state.answered = state.answered or parser.saw_content
                    raise body_error(exc, self.profile.timeouts.read, state.answered) from None
            if not parser.done and not parser.finished:
                state.answered = state.answered or parser.saw_content
                raise StreamCutError(
                    i18n._(
                        "The relay closed the stream before the answer finished (no finish reason, no [DONE])."
                    ),
                    hint=i18n._("The partial answer is kept; retry to get the rest."),
                )
        finally:
            timings.total = timings.clock() - started
            await response.aclose()

    async def _open(self, request: httpx.Request, deadline: float, model: str | None) -> httpx.Response:
        """Send and return a 200 response, its body not read yet; an error status becomes its RelayError."""
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                response = await self._send(request)
                if response.status_code != 200:
                    try:
                        content = await _read_bounded(response)
                    finally:
                        await response.aclose()
                    raise self._status_error(response.status_code, response.headers, content, model=model)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._base, self.profile.timeouts) from None
        except TimeoutError:
            raise deadline_error(self.profile.timeouts.total, False) from None
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send, following redirects only within the profile's origin; a redirect elsewhere is refused."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._http.send(request, stream=True, follow_redirects=False)
            target = response.next_request
            if target is None:
                return response
            await response.aclose()  # a redirect's body is never read
            if not same_origin(target.url, self._base):
                raise self._scrub_error(redirect_error(response.status_code, target.url, self._base))
            request = target
        raise too_many_redirects(self._base)

    async def _fetch(self, request: httpx.Request, what: str, model: str | None) -> tuple[httpx.Headers, bytes]:
        """A whole 200 body, decoded and bounded, within the overall deadline."""
        total = self.profile.timeouts.total
        deadline = asyncio.get_running_loop().time() + total if total > 0 else float("inf")
        response = await self._open(request, deadline, model)
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                return response.headers, await self._read_body(response, what)
        except TimeoutError:
            raise deadline_error(total, False) from None
        except httpx.DecodingError as exc:
            raise decoding_error(exc) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._base, self.profile.timeouts) from None
        finally:
            await response.aclose()

    async def _read_body(self, response: httpx.Response, what: str) -> bytes:
        """The decoded body; a ProtocolError once it passes ``_MAX_BODY`` (a body may inflate a thousandfold)."""
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > _MAX_BODY:
                raise too_large_error(what, _MAX_BODY)
            parts.append(chunk)
        return b"".join(parts)

    # ---- failures ----------------------------------------------------------------------------

    def _retry_delay(self, exc: RelayError, retry: int, state: _StreamState) -> float | None:
        if state.answered or retry >= self.profile.retry.max_retries or not exc.retryable:
            return None
        if exc.status is not None and exc.status not in _RETRY_STATUSES:
            return None
        return backoff_delay(self.profile.retry, retry + 1, retry_after=exc.retry_after)

    def _status_error(
        self, status: int, headers: httpx.Headers, body: bytes, *, model: str | None
    ) -> RelayError:
        return status_error(
            status,
            headers,
            body,
            model=model,
            key_source=self._key_source,
            scrub=self._scrub,
            retry_after_cap=self.profile.retry.retry_after_cap,
        )

    def _scrub_error(self, exc: RelayError) -> RelayError:
        """The error with the key hidden wherever the relay's words may have echoed it."""
        exc.message = self._scrub(exc.message) or ""
        exc.args = (exc.message,)
        exc.provider_message = self._scrub(exc.provider_message)
        return exc


def _loop_time(deadline: float) -> float | None:
    return None if deadline == float("inf") else deadline


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


async def _tail(
    chunks: AsyncIterator[bytes], reader: BodyReader, state: _StreamState, timings: Timings, at: float
) -> AsyncGenerator[list[StreamEvent], None]:
    """What follows a finish reason and its usage (a refined usage, [DONE]), for at most ``_TAIL_WAIT`` s: a
    relay that keeps the connection open after a complete answer does not hold it."""
    until = asyncio.get_running_loop().time() + _TAIL_WAIT
    raw: bytes | None = b""
    while raw is not None:
        try:
            async with asyncio.timeout_at(until):
                raw = await anext(chunks)
        except TimeoutError:
            return
        except StopAsyncIteration:
            raw = None  # the end of the body: an event it left unfinished
        batch, error = _parse(reader, raw, state, timings, at)
        if batch:
            yield batch
        if error is not None:
            raise error
        if reader.parser.done:
            await _drain(chunks)  # so the keep-alive connection goes back to the pool
            return


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
    """Up to ``_MAX_ERROR_BODY`` bytes of an error body, decoded; what a broken connection left."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    return b"".join(parts)[:_MAX_ERROR_BODY]
