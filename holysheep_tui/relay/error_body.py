"""Reading error bodies: a short human message out of whatever a provider, relay or proxy sent.

Bodies come as OpenAI-style JSON objects, bare strings, Google's JSON arrays, OpenRouter's
``metadata.raw`` wrappers, HTML pages from proxies, plain text or nothing at all. ``loads_json`` reads any
untrusted JSON of the relay's (here and in the chat stream) into text that can be printed and stored.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

MESSAGE_LIMIT = 300

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s+")
_SECRET = re.compile(r"\b(sk-[A-Za-z0-9]{0,8}?)[A-Za-z0-9_\-]{12,}|(Bearer\s+)[A-Za-z0-9._~+/=\-]{8,}")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_HTML_START = re.compile(r"\s*<(?:!doctype|html|head|body|title|h1|center|div|p)\b", re.IGNORECASE)

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # the escape of a UTF-16 surrogate, \uD800 to \uDFFF
_SURROGATE = re.compile("[\ud800-\udfff]")

_MESSAGE_KEYS = ("message", "detail", "error_description", "error_msg", "errorMessage", "msg")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str | None
    code: str | None
    type: str | None
    raw_excerpt: str


def loads_json(text: str) -> Any:
    """``json.loads``, with every lone surrogate in its strings (valid JSON, ``"\\ud800"``, but not text that
    can be encoded) replaced by U+FFFD. Only a document with such an escape is walked."""
    value = json.loads(text)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        value = replace_surrogates(value)
    return value


def replace_surrogates(value: Any) -> Any:
    """``value`` (parsed JSON) with U+FFFD for each lone surrogate in its strings and keys."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {replace_surrogates(k): replace_surrogates(v) for k, v in value.items()}
    return value


def clean_text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One line of plain text: no terminal escapes, control characters, lone surrogates or key-like secrets;
    shortened."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _ANSI.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SECRET.sub(lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)}***", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def parse_error_body(body: bytes | str | object, content_type: str | None = None) -> ErrorInfo:
    if isinstance(body, bytes | bytearray | memoryview):
        text = bytes(body).decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    elif body is None:
        text = ""
    else:  # already-parsed JSON
        found = _from_json(body)
        return _info(found, clean_text(_compact(body)))
    stripped = text.strip()
    if not stripped:
        return ErrorInfo(None, None, None, "")
    ctype = (content_type or "").lower()
    if stripped[0] in "{[" or "json" in ctype:
        try:
            parsed = loads_json(stripped)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict | list):
            return _info(_from_json(parsed), clean_text(stripped))
    if "html" in ctype or _HTML_START.match(stripped):
        message = _from_html(stripped)
        return ErrorInfo(message or None, None, None, clean_text(_html_text(stripped)))
    message = clean_text(stripped)
    return ErrorInfo(message or None, None, None, message)


def _info(found: tuple[str | None, str | None, str | None], excerpt: str) -> ErrorInfo:
    message, code, type_ = found
    message = clean_text(message) if message else None
    code = _SURROGATE.sub("\ufffd", code) if code else code
    type_ = _SURROGATE.sub("\ufffd", type_) if type_ else type_
    return ErrorInfo(message or None, code, type_, excerpt)


def _compact(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)[:2000]
    except (TypeError, ValueError, RecursionError):
        return ""


def _scalar(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _text_of(value: object) -> str | None:
    """A message from a string, or from the first usable entry of a list (FastAPI ``detail``)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        for item in value[:5]:
            if isinstance(item, str) and item.strip():
                return item.strip()
            if isinstance(item, dict):
                found = _from_json(item)[0]
                if found:
                    return found
    if isinstance(value, dict):
        return _from_json(value)[0]
    return None


def _from_json(value: Any, depth: int = 0) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) from a parsed JSON error body."""
    if depth > 4:
        return None, None, None
    if isinstance(value, list):
        for item in value[:5]:
            if isinstance(item, dict | list):
                found = _from_json(item, depth + 1)
                if any(found):
                    return found
        return None, None, None
    if not isinstance(value, dict):
        return _scalar(value), None, None
    err = value.get("error")
    if isinstance(err, dict):
        message, code, type_ = _from_json(err, depth + 1)
        inner = _from_metadata(err.get("metadata"), message, depth)
        if inner is not None:
            message = inner[0]
            code = inner[1] or code
            type_ = inner[2] or type_
        return message, code, type_
    code = _scalar(value.get("code")) or _scalar(value.get("error_code"))
    type_ = _scalar(value.get("type")) or _scalar(value.get("status"))
    if isinstance(err, str) and err.strip():
        return err.strip(), code, type_
    for key in _MESSAGE_KEYS:
        message = _text_of(value.get(key))
        if message:
            return message, code, type_
    return None, code, type_


def _from_metadata(
    metadata: object, outer: str | None, depth: int
) -> tuple[str, str | None, str | None] | None:
    """OpenRouter: the upstream provider's own body sits in ``metadata.raw``; prefer its message."""
    if not isinstance(metadata, dict):
        return None
    raw = metadata.get("raw")
    provider = metadata.get("provider_name")
    name = provider.strip() if isinstance(provider, str) else ""
    if isinstance(raw, str) and raw.strip():
        try:
            raw = loads_json(raw)
        except (ValueError, RecursionError):
            text = parse_error_body(raw).message
            if not text:
                return None
            head = f"{outer or 'Provider error'} ({name})" if name else outer or "Provider error"
            return f"{head}: {text}", None, None
    if not isinstance(raw, dict | list):
        return None
    message, code, type_ = _from_json(raw, depth + 1)
    if not message:
        return None
    return (f"{name}: {message}" if name else message), code, type_


def _html_text(page: str) -> str:
    return html.unescape(_TAG.sub(" ", _INVISIBLE.sub(" ", page)))


def _from_html(page: str) -> str:
    for pattern in (_TITLE, _H1):
        match = pattern.search(page)
        if match:
            text = clean_text(html.unescape(_TAG.sub(" ", match.group(1))))
            if text:
                return text
    return clean_text(_html_text(page))


# ---- classification --------------------------------------------------------------------------

_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "insufficient_balance",
        "insufficient_user_quota",
        "billing_hard_limit_reached",
        "billing_not_active",
        "payment_required",
        "quota_exceeded",
    }
)
_QUOTA_WORDS = (
    "insufficient balance",
    "insufficient_balance",
    "insufficient quota",
    "insufficient_quota",
    "exceeded your current quota",
    "quota exceeded",
    "credit",
    "balance",
    "billing",
    "top up",
    "recharge",
    "余额",
    "额度",
    "充值",
    "欠费",
)
_RATE_WORDS = (
    "rate limit",
    "rate_limit",
    "too many requests",
    "per minute",
    "per day",
    "requests per",
    "tokens per",
    "频率",
    "频繁",
    "限流",
)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length", "request_too_large"})
_CONTEXT_WORDS = (
    "maximum context length",
    "context length",
    "context window",
    "context_length",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "too long for",
    "exceeded model token limit",
    "exceeds the maximum number of tokens",
    "超出",
    "上下文",
)
_AUTH_CODES = frozenset(
    {"invalid_api_key", "authentication_error", "permission_error", "unauthenticated", "permission_denied"}
)
_MODEL_WORDS = ("does not exist", "not found", "not exist", "no such model", "不存在", "无可用渠道")


def _status_from_code(code: str | None) -> int | None:
    if code and code.isdigit() and 400 <= int(code) <= 599:
        return int(code)
    return None


def classify_error(status: int | None, info: ErrorInfo) -> str:
    """One of: auth, quota, rate_limit, model_not_found, context_too_long, bad_request, server, unknown."""
    if status is None:
        status = _status_from_code(info.code)
    code = (info.code or "").lower()
    type_ = (info.type or "").lower()
    message = (info.message or info.raw_excerpt).lower()
    tags = {code, type_}
    if tags & _QUOTA_CODES:
        return "quota"
    rate_words = any(w in message for w in _RATE_WORDS)
    quota_words = any(w in message for w in _QUOTA_WORDS)
    if quota_words and not (rate_words and status in (429, None)) and (status is None or status < 500):
        return "quota"
    if status in (401, 403) or tags & _AUTH_CODES:
        return "auth"
    if status == 402:
        return "quota"
    if "model_not_found" in tags or status == 404:
        return "model_not_found"
    if status == 429 or "rate_limit_exceeded" in tags or "rate_limit_error" in tags:
        return "rate_limit"
    if status in (400, 413, 422, None) and (
        tags & _CONTEXT_CODES or any(w in message for w in _CONTEXT_WORDS)
    ):
        return "context_too_long"
    if status is None:
        if "model" in message and any(w in message for w in _MODEL_WORDS):
            return "model_not_found"
        if rate_words or "resource_exhausted" in tags:
            return "rate_limit"
        if tags & {"not_found_error", "not_found"}:
            return "model_not_found"
        if tags & {"overloaded_error", "server_error", "api_error", "internal", "unavailable"}:
            return "server"
        if tags & {"invalid_request_error", "invalid_argument", "bad_request"}:
            return "bad_request"
        return "unknown"
    if status == 408:  # the relay gave up waiting: temporary, like a 5xx
        return "server"
    if 400 <= status < 500:
        if status == 400 and "model" in message and any(w in message for w in _MODEL_WORDS):
            return "model_not_found"
        return "bad_request"
    if 500 <= status < 600:
        return "server"
    return "unknown"
