"""The async relay client: one keep-alive ``httpx.AsyncClient`` per profile.

Bytes from the socket go through the SSE decoder and the chat-stream parser and come out as typed events
(holysheep_tui.relay.wire). httpx exceptions and HTTP error statuses are translated here into the domain errors
of holysheep_tui.errors; nothing above this module sees httpx.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from holysheep_tui import __version__
from holysheep_tui.config import Profile
from holysheep_tui.errors import (
    AuthError,
    BadRequestError,
    ContextTooLongError,
    ModelNotFoundError,
    NetworkError,
    ProtocolError,
    QuotaError,
    RateLimitError,
    ReadTimeoutError,
    RelayError,
    ServerError,
    StreamCutError,
    TLSError,
)
from holysheep_tui.relay.chat_stream import ChatStreamParser
from holysheep_tui.relay.error_body import ErrorInfo, classify_error, parse_error_body
from holysheep_tui.relay.rate_limit import RateLimiter
from holysheep_tui.relay.retry import backoff_delay, parse_retry_after
from holysheep_tui.relay.sse import SSEDecoder
from holysheep_tui.relay.wire import (
    Answer,
    ChatRequest,
    ContentDelta,
    FinishReason,
    ModelInfo,
    RateLimitWait,
    ReasoningDelta,
    RefusalDelta,
    RetryScheduled,
    StreamEvent,
    StreamOpened,
    Timings,
    ToolCallDelta,
    Usage,
    UsageReport,
)

USER_AGENT = f"holysheep-tui/{__version__}"
_MAX_ERROR_BODY = 64 * 1024
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_ANSWER_EVENTS = (ContentDelta, ReasoningDelta, RefusalDelta, ToolCallDelta)


def _origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    u = httpx.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, u.host, port)


class _BearerToOrigin(httpx.Auth):
    """Adds ``Authorization: Bearer`` only to requests for the profile's own origin."""

    def __init__(self, key: str, base_url: str) -> None:
        self._key = key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "_BearerToOrigin(key=****)"


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
            auth=_BearerToOrigin(api_key, profile.base_url) if api_key else None,
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
            raise self._transport_error(exc) from None
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
        """A non-streaming request, folded into an Answer."""
        answer = Answer(model=request.model)
        retry = 0
        body = request.to_body(stream=False)
        while True:
            started = time.monotonic()
            try:
                response = await self._http.post(f"{self._base}/chat/completions", json=body)
                if response.status_code != 200:
                    raise self._status_error(response.status_code, response.headers, response.content, model=request.model)
            except httpx.HTTPError as exc:
                error: RelayError = self._transport_error(exc)
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
        answer.timings.ttfb = answer.timings.ttft = answer.timings.total = time.monotonic() - started
        _fold_completion(answer, response)
        return answer

    async def _stream_once(
        self, body: dict[str, Any], model: str, timings: Timings, state: _StreamState
    ) -> AsyncGenerator[list[StreamEvent], None]:
        """One attempt; events come in lists, one per network read (a generator step per token costs)."""
        started = time.monotonic()
        request = self._http.build_request(
            "POST", f"{self._base}/chat/completions", json=body, headers={"Accept": "text/event-stream"}
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        try:
            if response.status_code != 200:
                content = await _read_bounded(response)
                raise self._status_error(response.status_code, response.headers, content, model=model)
            timings.ttfb = time.monotonic() - started
            yield [StreamOpened(timings.ttfb)]
            decoder = SSEDecoder()
            parser = ChatStreamParser(model)
            try:
                chunks = response.aiter_raw()
                async for raw in chunks:
                    batch, error = _parse(parser, decoder, raw, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
                    if parser.done:
                        await _drain(chunks)  # so the keep-alive connection goes back to the pool
                        break
                else:
                    batch, error = _parse(parser, decoder, None, state, timings, started)
                    if batch:
                        yield batch
                    if error is not None:
                        raise error
            except RelayError as exc:  # an error object inside the stream: the provider's words may echo the key
                exc.message = self._scrub(exc.message) or ""
                exc.args = (exc.message,)
                exc.provider_message = self._scrub(exc.provider_message)
                raise
            except httpx.ReadTimeout:
                raise ReadTimeoutError(
                    f"The relay sent nothing for {self.profile.timeouts.read:g} s"
                    + (" in the middle of the answer." if state.answered else " after accepting the request."),
                    hint="The partial answer is kept. Retry, or raise timeouts.read in the profile.",
                ) from None
            except httpx.HTTPError as exc:
                state.answered = state.answered or parser.saw_content
                raise StreamCutError(
                    f"The connection broke before the answer finished ({_describe(exc)}).",
                    hint="The partial answer is kept; retry to get the rest.",
                ) from None
            if not parser.done and not parser.finished:
                state.answered = state.answered or parser.saw_content
                raise StreamCutError(
                    "The relay closed the stream before the answer finished (no finish reason, no [DONE]).",
                    hint="The partial answer is kept; retry to get the rest.",
                )
        finally:
            timings.total = time.monotonic() - started
            await response.aclose()

    # ---- error translation -------------------------------------------------------------------

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
        info: ErrorInfo = parse_error_body(body, headers.get("content-type"))
        provider = self._scrub(info.message)
        said = f" The relay said: {provider}" if provider else ""
        kind = classify_error(status, info)
        retry_after = parse_retry_after(headers.get("retry-after"))
        kw: dict[str, Any] = {"status": status, "provider_message": provider, "retry_after": retry_after}
        if kind == "auth":
            return AuthError(
                f"The relay rejected the API key from {self._key_source} (HTTP {status}).{said}",
                hint="Check the key, or set another with `holysheep key set` or HOLYSHEEP_API_KEY.",
                **kw,
            )
        if kind == "quota":
            return QuotaError(
                f"The account is out of balance or quota (HTTP {status}).{said}",
                hint="Top up the account (WeChat/Alipay on the relay's dashboard); retrying will not help.",
                **kw,
            )
        if kind == "rate_limit":
            wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
            return RateLimitError(f"Rate limited by the relay (HTTP {status}).{wait}{said}", **kw)
        if kind == "model_not_found":
            return ModelNotFoundError(
                f"The relay does not know the model '{model}' (HTTP {status}).{said}"
                if model
                else f"Not found (HTTP {status}).{said}",
                hint="Run `holysheep models` to list the available models.",
                **kw,
            )
        if kind == "context_too_long":
            return ContextTooLongError(
                f"The conversation is longer than the model's context window (HTTP {status}).{said}",
                hint="Start a new conversation, or switch to a model with a larger context.",
                **kw,
            )
        if status >= 500 or kind == "server":
            return ServerError(f"The relay failed with HTTP {status}.{said}", hint="Usually temporary; retry.", **kw)
        return BadRequestError(f"The relay rejected the request (HTTP {status}).{said}", **kw)

    def _transport_error(self, exc: httpx.HTTPError) -> RelayError:
        host = urlsplit(self._base).netloc
        if isinstance(exc, httpx.ConnectTimeout):
            return NetworkError(
                f"Could not connect to {host} within {self.profile.timeouts.connect:g} s.",
                hint="Check the network or proxy settings (HTTPS_PROXY, ALL_PROXY).",
            )
        if isinstance(exc, httpx.ConnectError):
            reason = _describe(exc)
            if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
                return TLSError(
                    f"TLS failure talking to {host}: {reason}.",
                    hint="A proxy may be intercepting TLS; set ca_bundle in the profile to trust its CA.",
                )
            if "Name or service not known" in reason or "nodename" in reason or "getaddrinfo" in reason.lower():
                return NetworkError(f"Could not resolve {host} (DNS): {reason}.", hint="Check the base URL and DNS.")
            return NetworkError(f"Could not connect to {host}: {reason}.", hint="Check the base URL and the network.")
        if isinstance(exc, httpx.ReadTimeout):
            return ReadTimeoutError(
                f"The relay sent nothing for {self.profile.timeouts.read:g} s after accepting the request.",
                hint="Retry, or raise timeouts.read in the profile.",
            )
        if isinstance(exc, httpx.TimeoutException):
            return NetworkError(f"Timed out talking to {host}: {_describe(exc)}.")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return NetworkError(f"The connection to {host} broke: {_describe(exc)}.")
        if isinstance(exc, httpx.TooManyRedirects):
            return ProtocolError(f"Too many redirects from {host}.")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return NetworkError(f"Cannot use the base URL {self._base}: {_describe(exc)}.")
        return NetworkError(f"Request to {host} failed: {_describe(exc)}.")

    async def suggest_models(self, wanted: str) -> list[str]:
        """Close names to a model the relay did not know, from its own /models list (best effort)."""
        try:
            names = [m.id for m in await self.list_models()]
        except RelayError:
            return []
        return difflib.get_close_matches(wanted, names, n=3, cutoff=0.4)


def _parse(
    parser: ChatStreamParser, decoder: SSEDecoder, raw: bytes | None, state: _StreamState, timings: Timings, at: float
) -> tuple[list[StreamEvent], RelayError | None]:
    """The typed events of one network read (None: the end); an error comes back after the events before it."""
    batch: list[StreamEvent] = []
    error: RelayError | None = None
    try:
        if raw is not None:
            parser.feed_read(decoder, raw, batch)
        else:
            parser.feed_raw([(e.event, e.data, e.id, e.retry) for e in decoder.close()], batch)
    except RelayError as exc:
        error = exc
    if not state.answered and any(isinstance(e, _ANSWER_EVENTS) for e in batch):
        state.answered = True
        timings.ttft = time.monotonic() - at
    return batch, error


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__context__ or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:200]


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


def _fold_completion(answer: Answer, response: httpx.Response) -> None:
    try:
        payload = response.json()
    except (ValueError, json.JSONDecodeError):
        raise ProtocolError("The relay's answer is not JSON.", status=200) from None
    if not isinstance(payload, dict):
        raise ProtocolError("The relay's answer is not a JSON object.", status=200)
    if isinstance(payload.get("model"), str):
        answer.model = payload["model"]
    choices = payload.get("choices") or []
    first = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
    if first:
        message = first.get("message") or {}
        for key, kind in (("reasoning_content", ReasoningDelta), ("content", ContentDelta), ("refusal", RefusalDelta)):
            value = message.get(key)
            if key == "reasoning_content" and not value:
                value = message.get("reasoning")
            if isinstance(value, str) and value:
                answer.apply(kind(value))
        if isinstance(first.get("finish_reason"), str):
            answer.apply(FinishReason(first["finish_reason"]))
    usage = payload.get("usage") or (first or {}).get("usage")
    if isinstance(usage, dict):
        answer.apply(UsageReport(usage_from_dict(usage)))


def usage_from_dict(raw: dict[str, Any]) -> Usage:
    def num(value: Any) -> int:
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

    prompt = num(raw.get("prompt_tokens"))
    completion = num(raw.get("completion_tokens"))
    details = raw.get("prompt_tokens_details") or {}
    cached = num(details.get("cached_tokens") if isinstance(details, dict) else 0) or num(
        raw.get("prompt_cache_hit_tokens")
    ) or num(raw.get("cached_tokens"))
    cdetails = raw.get("completion_tokens_details") or {}
    reasoning = num(cdetails.get("reasoning_tokens")) if isinstance(cdetails, dict) else 0
    total = num(raw.get("total_tokens")) or prompt + completion
    return Usage(prompt, completion, total, cached, reasoning)
