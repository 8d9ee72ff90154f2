"""The prompt's soft wrap by the Unicode line-breaking rules (``holysheep_tui.linebreak``).

Textual's ``TextArea`` wraps a line where ``textual._wrap.compute_wrap_offsets`` says, which breaks at
spaces only: a Chinese prompt with one space in it breaks there and leaves a ragged line, and a long one
without spaces is folded at the edge even before a ``。``. ``install`` puts a wrapper in its place in the
module that wraps documents (``textual.document._wrapped_document``): a line that is all ASCII, or holds
a tab, goes to Textual's own function unchanged; any other line is divided by ``linebreak.divide``.

Unlike a rendered answer, a line being edited keeps its spaces at the end of a row within the width
(as Textual's own wrap does), so the cursor after a typed space never stands past the edge.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.document import _wrapped_document

from holysheep_tui.linebreak import cell_len, units

__all__ = ["install", "installed", "wrap_offsets"]

WrapOffsets = Callable[..., list[int]]
_NAME = "compute_wrap_offsets"
_SLOTS: dict[str, object] = vars(_wrapped_document)
_ORIGINAL: WrapOffsets = _SLOTS[_NAME]  # type: ignore[assignment]


def wrap_offsets(text: str, width: int, fold: bool = True) -> list[int]:
    """The offsets at which to break ``text`` (one line, no tabs) into rows of ``width`` cells; a piece
    counts with its trailing spaces, and one wider than a row is folded at characters when ``fold``."""
    breaks: list[int] = []
    used = 0
    start = 0
    for piece in units(text):
        cells = cell_len(piece)
        if cells <= width - used:
            used += cells
        else:
            if start and used:
                breaks.append(start)
                used = 0
            if cells > width and fold:
                position = start
                for ch in piece:
                    size = cell_len(ch)
                    if used + size > width and position > start and used:
                        breaks.append(position)
                        used = 0
                    used += size
                    position += 1
            else:
                used = cells
        start += len(piece)
    return breaks


def _compute_wrap_offsets(
    text: str,
    width: int,
    tab_size: int,
    fold: bool = True,
    precomputed_tab_sections: list[tuple[str, int]] | None = None,
) -> list[int]:
    if text.isascii() or "\t" in text:
        return _ORIGINAL(text, width, tab_size, fold=fold, precomputed_tab_sections=precomputed_tab_sections)
    return wrap_offsets(text, width, fold)


def install() -> None:
    """Make every ``TextArea`` of this process wrap by the line-breaking rules (idempotent)."""
    _SLOTS[_NAME] = _compute_wrap_offsets


def installed() -> bool:
    """Whether ``TextArea`` wraps by the line-breaking rules in this process."""
    return _SLOTS.get(_NAME) is _compute_wrap_offsets
