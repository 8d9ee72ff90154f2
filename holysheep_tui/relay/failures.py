"""Failures talking to the relay, as the domain errors of holysheep_tui.errors.

HTTP error statuses, httpx exceptions, error objects inside a stream and a body that is neither an event
stream nor a completion are all translated here; the class for an error kind comes from one map
(``errors.relay_error_class``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from holysheep_tui.config import Timeouts
from holysheep_tui.errors import (
    NetworkError,
    ProtocolError,
    ReadTimeoutError,
    RelayError,
    ServerError,
    StreamCutError,
    TLSError,
    UpstreamError,
    relay_error_class,
)
from holysheep_tui.relay.error_body import ErrorInfo, classify_error, clean_text, parse_error_body
from holysheep_tui.relay.retry import parse_retry_after


def status_error(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    *,
    model: str | None,
    key_source: str,
    scrub: Callable[[str | None], str | None],
    retry_after_cap: float | None = None,
) -> RelayError:
    """The error for an HTTP error status, in the relay's own words when it gave any. ``scrub`` hides the key,
    in the whole body before it is shortened; a Retry-After is held to ``retry_after_cap`` seconds."""
    info = parse_error_body(scrub(body.decode("utf-8", errors="replace")), headers.get("content-type"))
    provider = scrub(info.message)
    kind = classify_error(status, info)
    if kind == "unknown" and status < 500:
        kind = "bad_request"
    asked = parse_retry_after(headers.get("retry-after"))
    retry_after = asked if asked is None or retry_after_cap is None else min(asked, retry_after_cap)
    text, hint = _status_text(kind, status, model, key_source, retry_after, asked)
    said = f" The relay said: {provider}" if provider else ""
    cls = relay_error_class(kind, otherwise=ServerError)
    return cls(f"{text}{said}", hint=hint, status=status, provider_message=provider, retry_after=retry_after)


def _status_text(
    kind: str, status: int, model: str | None, key_source: str, retry_after: float | None, asked: float | None
) -> tuple[str, str | None]:
    """What an error status means for the user, and what to do about it."""
    if kind == "auth":
        return (
            f"The relay rejected the API key from {key_source} (HTTP {status}).",
            "Check the key, or set another with `holysheep key set` or HOLYSHEEP_API_KEY.",
        )
    if kind == "quota":
        return (
            f"The account is out of balance or quota (HTTP {status}).",
            "Top up the account (WeChat/Alipay on the relay's dashboard): until then, retrying will not help.",
        )
    if kind == "rate_limit":
        wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
        if asked is not None and retry_after is not None and asked > retry_after:
            wait += f" (It asked for {_duration(asked)}; retry.retry_after_cap limits the wait.)"
        return f"Rate limited by the relay (HTTP {status}).{wait}", None
    if kind == "model_not_found":
        text = f"The relay does not know the model '{model}'" if model else "Not found"
        return f"{text} (HTTP {status}).", "Run `holysheep models` to list the available models."
    if kind == "context_too_long":
        return (
            f"The conversation is longer than the model's context window (HTTP {status}).",
            "Start a new conversation, or switch to a model with a larger context.",
        )
    if kind == "bad_request":
        return (
            f"The relay rejected the request (HTTP {status}).",
            "Sending it unchanged will not help: change the prompt, the model or the settings (F3).",
        )
    return f"The relay failed with HTTP {status}.", "Usually temporary; retry."


def _duration(seconds: float) -> str:
    return f"{seconds:g} s" if seconds <= 86400 else "more than a day"


def stream_error(payload: object) -> RelayError:
    """The error for an error object found inside a stream that had already started (HTTP 200)."""
    info = parse_error_body(payload)
    status = _status_of(payload) or _status_of_info(info)
    cls = relay_error_class(classify_error(status, info), otherwise=UpstreamError)
    said = info.message or info.raw_excerpt or None
    if said:
        text = f"The model provider stopped with an error: {said}"
    else:
        text = "The model provider stopped with an error and gave no reason."
    return cls(text, status=status, provider_message=said, hint="Whatever streamed before the error is kept.")


def _status_of(payload: object) -> int | None:
    """An HTTP-like status carried in the error object's ``code`` (OpenRouter sends 429, 502...)."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    if not isinstance(payload, dict):
        return None
    err = payload.get("error")
    holder = err if isinstance(err, dict) else payload
    for key in ("code", "status"):
        value = holder.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            return value
    return None


def _status_of_info(info: ErrorInfo) -> int | None:
    code = info.code
    if code and code.isdigit() and 400 <= int(code) <= 599:
        return int(code)
    return None


def content_error(
    content_type: str | None, body: bytes, scrub: Callable[[str | None], str | None]
) -> ProtocolError:
    """A 200 answer that is neither an event stream nor a JSON completion (a proxy's or captive portal's
    HTML page, say): the error names what arrived."""
    info = parse_error_body(scrub(body.decode("utf-8", errors="replace")), content_type)
    what = clean_text(content_type, 80) if content_type else "a body without a Content-Type"
    said = f": {info.message}" if info.message else ""
    return ProtocolError(
        f"The relay answered with {what} instead of an event stream{said}",
        status=200,
        provider_message=info.message,
        hint="Check that the base URL points at an OpenAI-compatible API; a proxy or login page may be answering.",
    )


def redirect_error(status: int, target: httpx.URL, base: str) -> ProtocolError:
    """A redirect to another origin, which is not followed: the conversation and key stay where they were."""
    where = clean_text(f"{target.scheme}://{target.netloc.decode('ascii', 'replace')}{target.path}", 200)
    return ProtocolError(
        f"The relay redirected the request (HTTP {status}) to {where}, outside {_origin_text(base)}; "
        "it was not followed, so neither the conversation nor the key went there.",
        status=status,
        hint="If the relay has moved there, set base_url in the profile to the new address.",
    )


def _origin_text(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def too_many_redirects(base: str) -> ProtocolError:
    return ProtocolError(f"Too many redirects from {urlsplit(base).netloc}.")


def too_large_error(what: str, limit: int) -> ProtocolError:
    """A body past the size we read (a compressed body can inflate a thousandfold)."""
    return ProtocolError(
        f"The relay's {what} is larger than {limit // (1024 * 1024)} MiB once decoded; it was not read further.",
        status=200,
        hint="Check that the base URL points at an OpenAI-compatible API.",
    )


def decoding_error(exc: httpx.DecodingError) -> ProtocolError:
    return ProtocolError(
        f"The relay's compressed reply could not be decoded ({describe(exc)}).",
        hint="A proxy may be damaging compressed replies; retry, or try without the proxy.",
    )


def body_error(exc: httpx.HTTPError, read_timeout: float, answered: bool) -> RelayError:
    """The error for a body that failed half-way: a stall, undecodable bytes or a broken connection."""
    if isinstance(exc, httpx.DecodingError):
        return decoding_error(exc)
    if isinstance(exc, httpx.ReadTimeout):
        return ReadTimeoutError(
            f"The relay sent nothing for {read_timeout:g} s"
            + (" in the middle of the answer." if answered else " after accepting the request."),
            hint="The partial answer is kept. Retry, or raise timeouts.read in the profile.",
        )
    return StreamCutError(
        f"The connection broke before the answer finished ({describe(exc)}).",
        hint="The partial answer is kept; retry to get the rest.",
    )


def deadline_error(total: float, answered: bool) -> ReadTimeoutError:
    """The request ran past its overall limit (``timeouts.total``)."""
    so_far = "in the middle of the answer" if answered else "before any answer came"
    return ReadTimeoutError(
        f"The request ran past its overall limit of {total:g} s and was stopped {so_far}.",
        hint="The partial answer is kept. Raise timeouts.total in the profile, or set it to 0 for no limit.",
    )


def transport_error(exc: httpx.HTTPError, base: str, timeouts: Timeouts) -> RelayError:
    """The error for an httpx exception raised before a response arrived."""
    host = urlsplit(base).netloc
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(
            f"Could not connect to {host} within {timeouts.connect:g} s.",
            hint="Check the network or proxy settings (HTTPS_PROXY, ALL_PROXY).",
        )
    if isinstance(exc, httpx.ConnectError):
        reason = describe(exc)
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            return TLSError(
                f"TLS failure talking to {host}: {reason}.",
                hint="A proxy may be intercepting TLS; set ca_bundle in the profile to trust its CA.",
            )
        if "Name or service not known" in reason or "nodename" in reason or "getaddrinfo" in reason.lower():
            return NetworkError(
                f"Could not resolve {host} (DNS): {reason}.", hint="Check the base URL and DNS."
            )
        return NetworkError(
            f"Could not connect to {host}: {reason}.", hint="Check the base URL and the network."
        )
    if isinstance(exc, httpx.ReadTimeout):
        return ReadTimeoutError(
            f"The relay sent nothing for {timeouts.read:g} s after accepting the request.",
            hint="Retry, or raise timeouts.read in the profile.",
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"Timed out talking to {host}: {describe(exc)}.")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return NetworkError(f"The connection to {host} broke: {describe(exc)}.")
    if isinstance(exc, httpx.TooManyRedirects):
        return ProtocolError(f"Too many redirects from {host}.")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return NetworkError(f"Cannot use the base URL {base}: {describe(exc)}.")
    return NetworkError(f"Request to {host} failed: {describe(exc)}.")


def describe(exc: BaseException) -> str:
    """An exception and its cause in one short line."""
    text = str(exc) or type(exc).__name__
    cause = exc.__context__ or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:200]
