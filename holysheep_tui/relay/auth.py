"""The API key on the wire: sent only to the profile's own origin, never across a redirect to another, and
hidden in whatever a relay sends back."""

from __future__ import annotations

import re
from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

from holysheep_tui.config import is_loopback_host

MASK = "****"
_MIN_PREFIX = 8
"""A run of text that starts with this many characters of the key (any case) is taken for the key."""
_KEY_RUN = r"[A-Za-z0-9_\-.~+/=]*"


def origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    u = httpx.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, u.host, port)


def same_origin(url: httpx.URL | str, base: httpx.URL | str) -> bool:
    return origin(url) == origin(base)


def direct_to_loopback(base_url: str) -> dict[str, httpx.AsyncBaseTransport | None] | None:
    """httpx mounts that reach a loopback relay (the demo, a local server) directly, never through a proxy
    from the environment (``None``: the client's own transport); None for any other host."""
    host = urlsplit(base_url).hostname or ""
    if not is_loopback_host(host):
        return None
    return {f"all://[{host}]" if ":" in host else f"all://{host}": None}


class BearerToOrigin(httpx.Auth):
    """Adds ``Authorization: Bearer`` only to requests for the profile's own origin."""

    def __init__(self, key: str, base_url: str) -> None:
        self._key = key
        self._origin = origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "BearerToOrigin(key=****)"


class KeyScrubber:
    """Masks the key in text from the relay: the whole key in any case, and any run of key characters that
    starts with a long enough prefix of it (an echo cut short). Apply it before text is shortened."""

    __slots__ = ("_pattern",)

    def __init__(self, key: str | None) -> None:
        self._pattern: re.Pattern[str] | None = None
        if key:
            prefix = re.escape(key[:_MIN_PREFIX])
            self._pattern = re.compile(f"{re.escape(key)}|{prefix}{_KEY_RUN}", re.IGNORECASE | re.ASCII)

    def __call__(self, text: str | None) -> str | None:
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        return "KeyScrubber(key=****)"
