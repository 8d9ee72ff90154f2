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
from holysheep_tui.i18n import _, sentences
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
    said = _("The relay said: {message}").format(message=provider) if provider else ""
    cls = relay_error_class(kind, otherwise=ServerError)
    return cls(
        sentences(text, said), hint=hint, status=status, provider_message=provider, retry_after=retry_after
    )


def _status_text(
    kind: str, status: int, model: str | None, key_source: str, retry_after: float | None, asked: float | None
) -> tuple[str, str | None]:
    """What an error status means for the user, and what to do about it."""
    if kind == "auth":
        return (
            _("The relay rejected the API key from {source} (HTTP {status}).").format(
                source=key_source, status=status
            ),
            _("Check the key, or set another with `holysheep key set` or HOLYSHEEP_API_KEY."),
        )
    if kind == "quota":
        return (
            _("The account is out of balance or quota (HTTP {status}).").format(status=status),
            _(
                "Top up the account (WeChat/Alipay on the relay's dashboard): until then, retrying will not help."
            ),
        )
    if kind == "rate_limit":
        wait = _("Retry after {seconds:g} s.").format(seconds=retry_after) if retry_after is not None else ""
        if asked is not None and retry_after is not None and asked > retry_after:
            wait = sentences(
                wait,
                _("(It asked for {duration}; retry.retry_after_cap limits the wait.)").format(
                    duration=_duration(asked)
                ),
            )
        return sentences(_("Rate limited by the relay (HTTP {status}).").format(status=status), wait), None
    if kind == "model_not_found":
        if model:
            text = _("The relay does not know the model '{model}' (HTTP {status}).").format(
                model=model, status=status
            )
        else:
            text = _("Not found (HTTP {status}).").format(status=status)
        return text, _("Run `holysheep models` to list the available models.")
    if kind == "context_too_long":
        return (
            _("The conversation is longer than the model's context window (HTTP {status}).").format(
                status=status
            ),
            _("Start a new conversation, or switch to a model with a larger context."),
        )
    if kind == "bad_request":
        return (
            _("The relay rejected the request (HTTP {status}).").format(status=status),
            _("Sending it unchanged will not help: change the prompt, the model or the settings (F3)."),
        )
    return _("The relay failed with HTTP {status}.").format(status=status), _("Usually temporary; retry.")


def _duration(seconds: float) -> str:
    return _("{seconds:g} s").format(seconds=seconds) if seconds <= 86400 else _("more than a day")


def stream_error(payload: object) -> RelayError:
    """The error for an error object found inside a stream that had already started (HTTP 200)."""
    info = parse_error_body(payload)
    status = _status_of(payload) or _status_of_info(info)
    cls = relay_error_class(classify_error(status, info), otherwise=UpstreamError)
    said = info.message or info.raw_excerpt or None
    if said:
        text = _("The model provider stopped with an error: {message}").format(message=said)
    else:
        text = _("The model provider stopped with an error and gave no reason.")
    hint = _("Whatever streamed before the error is kept.")
    return cls(text, status=status, provider_message=said, hint=hint)


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
    what = clean_text(content_type, 80) if content_type else _("a body without a Content-Type")
    if info.message:
        text = _("The relay answered with {what} instead of an event stream: {message}").format(
            what=what, message=info.message
        )
    else:
        text = _("The relay answered with {what} instead of an event stream").format(what=what)
    return ProtocolError(
        text,
        status=200,
        provider_message=info.message,
        hint=_(
            "Check that the base URL points at an OpenAI-compatible API; a proxy or login page may be answering."
        ),
    )


def redirect_error(status: int, target: httpx.URL, base: str) -> ProtocolError:
    """A redirect to another origin, which is not followed: the conversation and key stay where they were."""
    where = clean_text(f"{target.scheme}://{target.netloc.decode('ascii', 'replace')}{target.path}", 200)
    return ProtocolError(
        _(
            "The relay redirected the request (HTTP {status}) to {where}, outside {origin}; "
            "it was not followed, so neither the conversation nor the key went there."
        ).format(status=status, where=where, origin=_origin_text(base)),
        status=status,
        hint=_("If the relay has moved there, set base_url in the profile to the new address."),
    )


def _origin_text(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def too_many_redirects(base: str) -> ProtocolError:
    return ProtocolError(_("Too many redirects from {host}.").format(host=urlsplit(base).netloc))


def too_large_error(what: str, limit: int) -> ProtocolError:
    """A body past the size we read (a compressed body can inflate a thousandfold)."""
    return ProtocolError(
        _("The relay's {what} is larger than {size} MiB once decoded; it was not read further.").format(
            what=what, size=limit // (1024 * 1024)
        ),
        status=200,
        hint=_("Check that the base URL points at an OpenAI-compatible API."),
    )


def decoding_error(exc: httpx.DecodingError) -> ProtocolError:
    return ProtocolError(
        _("The relay's compressed reply could not be decoded ({reason}).").format(reason=describe(exc)),
        hint=_("A proxy may be damaging compressed replies; retry, or try without the proxy."),
    )


def body_error(exc: httpx.HTTPError, read_timeout: float, answered: bool) -> RelayError:
    """The error for a body that failed half-way: a stall, undecodable bytes or a broken connection."""
    if isinstance(exc, httpx.DecodingError):
        return decoding_error(exc)
    if isinstance(exc, httpx.ReadTimeout):
        if answered:
            text = _("The relay sent nothing for {seconds:g} s in the middle of the answer.")
        else:
            text = _("The relay sent nothing for {seconds:g} s after accepting the request.")
        return ReadTimeoutError(
            text.format(seconds=read_timeout),
            hint=_("The partial answer is kept. Retry, or raise timeouts.read in the profile."),
        )
    return StreamCutError(
        _("The connection broke before the answer finished ({reason}).").format(reason=describe(exc)),
        hint=_("The partial answer is kept; retry to get the rest."),
    )


def deadline_error(total: float, answered: bool) -> ReadTimeoutError:
    """The request ran past its overall limit (``timeouts.total``)."""
    if answered:
        text = _(
            "The request ran past its overall limit of {seconds:g} s and was stopped in the middle of the answer."
        )
    else:
        text = _(
            "The request ran past its overall limit of {seconds:g} s and was stopped before any answer came."
        )
    return ReadTimeoutError(
        text.format(seconds=total),
        hint=_(
            "The partial answer is kept. Raise timeouts.total in the profile, or set it to 0 for no limit."
        ),
    )


def transport_error(exc: httpx.HTTPError, base: str, timeouts: Timeouts) -> RelayError:
    """The error for an httpx exception raised before a response arrived."""
    host = urlsplit(base).netloc
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(
            _("Could not connect to {host} within {seconds:g} s.").format(
                host=host, seconds=timeouts.connect
            ),
            hint=_("Check the network or proxy settings (HTTPS_PROXY, ALL_PROXY)."),
        )
    if isinstance(exc, httpx.ConnectError):
        reason = describe(exc)
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            return TLSError(
                _("TLS failure talking to {host}: {reason}.").format(host=host, reason=reason),
                hint=_("A proxy may be intercepting TLS; set ca_bundle in the profile to trust its CA."),
            )
        if "Name or service not known" in reason or "nodename" in reason or "getaddrinfo" in reason.lower():
            return NetworkError(
                _("Could not resolve {host} (DNS): {reason}.").format(host=host, reason=reason),
                hint=_("Check the base URL and DNS."),
            )
        return NetworkError(
            _("Could not connect to {host}: {reason}.").format(host=host, reason=reason),
            hint=_("Check the base URL and the network."),
        )
    if isinstance(exc, httpx.ReadTimeout):
        return ReadTimeoutError(
            _("The relay sent nothing for {seconds:g} s after accepting the request.").format(
                seconds=timeouts.read
            ),
            hint=_("Retry, or raise timeouts.read in the profile."),
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(
            _("Timed out talking to {host}: {reason}.").format(host=host, reason=describe(exc))
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return NetworkError(
            _("The connection to {host} broke: {reason}.").format(host=host, reason=describe(exc))
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return ProtocolError(_("Too many redirects from {host}.").format(host=host))
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return NetworkError(
            _("Cannot use the base URL {base}: {reason}.").format(base=base, reason=describe(exc))
        )
    return NetworkError(_("Request to {host} failed: {reason}.").format(host=host, reason=describe(exc)))


def describe(exc: BaseException) -> str:
    """An exception and its cause in one short line."""
    text = str(exc) or type(exc).__name__
    cause = exc.__context__ or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:200]
