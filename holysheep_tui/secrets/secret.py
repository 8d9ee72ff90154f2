"""The key as a value: ``Secret`` never shows itself, ``mask`` shows its last 4 characters."""

from __future__ import annotations

import hmac
from typing import Any

KEY_ENV = "HOLYSHEEP_API_KEY"
"""The environment variable that carries the key for every profile."""


def mask(key: str) -> str:
    """The key reduced to its last 4 characters; short keys show nothing at all."""
    return f"****{key[-4:]}" if len(key) >= 12 else "****"


class Secret:
    """A string that never shows itself in repr(), str() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{mask(self._value)}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")
