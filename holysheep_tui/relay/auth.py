"""The API key on the wire: sent only to the profile's own origin, never across a redirect to another."""

from __future__ import annotations

from collections.abc import Generator

import httpx


def _origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    u = httpx.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, u.host, port)


class BearerToOrigin(httpx.Auth):
    """Adds ``Authorization: Bearer`` only to requests for the profile's own origin."""

    def __init__(self, key: str, base_url: str) -> None:
        self._key = key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "BearerToOrigin(key=****)"
