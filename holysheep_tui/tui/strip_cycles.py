"""Strips freed when dropped: no strip kept in its own cache.

Textual's ``Strip`` caches the results of ``divide``, ``adjust_cell_length`` and ``crop_extend``; when the
result is the strip itself (one cut at its end, the length it already has, a crop of all of it) the cache
holds the strip and the strip holds the cache. The compositor divides every line it paints, so every
painted line became a reference cycle that only the garbage collector frees: about 35,000 objects per
1,500-token answer, which kept full collections (15-70 ms each, a keystroke's delay) coming every second
or so while an answer streamed. ``install`` puts wrappers in place that return the strip itself without
caching it in those three cases and leave every other case to Textual's own method, so a dropped strip is
freed at once by its reference count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.strip import Strip

__all__ = ["install", "installed"]

_ORIGINAL: dict[str, Callable[..., Any]] = {
    "divide": Strip.divide,
    "adjust_cell_length": Strip.adjust_cell_length,
    "crop_extend": Strip.crop_extend,
}


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cell_length = self.cell_length
    kept = [cut for cut in cuts if cut <= cell_length]
    if kept == [cell_length]:
        return [self]
    result: Sequence[Strip] = _ORIGINAL["divide"](self, kept)
    return result


def _adjust_cell_length(self: Strip, cell_length: int, style: Style | None = None) -> Strip:
    if self.cell_length == cell_length:
        return self
    result: Strip = _ORIGINAL["adjust_cell_length"](self, cell_length, style)
    return result


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start == 0 and end == self.cell_length:
        return self
    result: Strip = _ORIGINAL["crop_extend"](self, start, end, style)
    return result


_WRAPPERS: dict[str, Callable[..., Any]] = {
    "divide": _divide,
    "adjust_cell_length": _adjust_cell_length,
    "crop_extend": _crop_extend,
}


def install() -> None:
    """Put the wrappers in place (idempotent)."""
    for name, wrapper in _WRAPPERS.items():
        setattr(Strip, name, wrapper)


def installed() -> bool:
    return all(getattr(Strip, name) is wrapper for name, wrapper in _WRAPPERS.items())
