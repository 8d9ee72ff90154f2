"""Where a line of text may break, after the Unicode line-breaking rules (UAX #14), and greedy wrapping.

A compact subset of the rules, for the classes that decide how Chinese, Japanese, Korean and Latin
text mixed together wraps in a terminal: a break is allowed between two ideographs (ID), after spaces,
and between an ideograph and a Latin word; never before closing punctuation, full stops and small kana
(CL, CP, EX, IS, NS, IN: ``。，、）」』！？：；…``), never after opening marks (OP: ``（「『“``), never
inside a Latin word or a number (``3.14``, ``https://a/b``, ``well-known`` stay whole). Text that is all
ASCII breaks at spaces only, as Rich does.

``units`` splits a line into the pieces between break opportunities; ``divide`` fits them greedily into
a width and returns the offsets to cut at (the shape of ``rich._wrap.divide_line``); ``wrap`` returns
the lines. Widths are terminal cells: wide characters take two; callers may pass their own measure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

__all__ = ["cell_len", "divide", "units", "wrap"]

# Ideographs and the like (ID): a break is allowed on either side.
_CJK = (
    "\u1100-\u115f\u2e80-\u2fff\u3001-\u303f\u3040-\u30ff\u3100-\u31ff\u3200-\u33ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7af\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe4f\uff00-\uffef"
    "\U0001f000-\U0001faff\U00020000-\U0003fffd"
)
# Opening marks (OP, and opening quotes): never a break after them.
_OPEN = (
    "(\\[{\u00ab\u2018\u201c\u3008\u300a\u300c\u300e\u3010\u3014\u3016\u3018\u301a\uff08\uff3b\uff5b\uff5f"
)
# Closing marks, stops, exclamation, small kana and the like (CL, CP, EX, IS, NS, IN): never a break before.
_CLOSE = (
    ")\\]}!?,.:;/%\u00bb\u2019\u201d\u2026\u2025\u203c\u2047-\u2049\u3001\u3002\u3005\u3009\u300b\u300d"
    "\u300f\u3011\u3015\u3017\u3019\u301b\u301c\u303b\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085"
    "\u3087\u308e\u3095\u3096\u309d\u309e\u30a1\u30a3\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee"
    "\u30f5\u30f6\u30fb\u30fc\u30fd\u30fe\u31f0-\u31ff\uff01\uff09\uff0c\uff0e\uff1a\uff1b\uff1f\uff3d"
    "\uff5d\uff5e\uff60\uff61\uff64\u2030\u2103\u00b0"
)
# Combining marks, variation selectors, emoji modifiers and joiners: they stay with what they follow.
_MARK = "\u0300-\u036f\u1ab0-\u1aff\u20d0-\u20ff\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0100-\U000e01ef"
_SPACE = " \t\u3000"
_INNER = "()\\[\\]{}!?,.:;/%"  # ASCII punctuation that may sit inside a word or number: "3.14", "a/b", "f(x)"
_DASH = "\u2014\u2e3a\u2e3b"  # B2: a break before and after a run of them, none inside

_UNIT_PATTERN = (
    rf"[{_SPACE}]*"  # leading spaces (only the first unit of a line has any)
    rf"(?:[{_OPEN}][{_SPACE}]*)*"  # opening marks stay with what follows
    rf"(?:[^{_SPACE}{_CJK}{_OPEN}{_CLOSE}{_DASH}\u200d]+"  # a Latin word, a number, a URL ...
    rf"(?:[{_INNER}]+[^{_SPACE}{_CJK}{_OPEN}{_CLOSE}{_DASH}\u200d]+)*"  # ... with inner punctuation
    rf"|[{_DASH}]+|[^{_SPACE}])"  # or a dash run, or one ideograph (or any other character)
    rf"(?:[{_MARK}]|\u200d[^{_SPACE}]?)*"  # its marks and joined characters
    rf"(?:[{_CLOSE}][{_MARK}]*)*"  # closing marks and stops stay with what precedes
    rf"[{_SPACE}]*"  # a break comes after spaces
)
_ASCII_UNIT = re.compile(r"\s*\S+\s*")


@lru_cache(maxsize=1)
def _unit() -> re.Pattern[str]:
    """The pattern of one unit, compiled at first use (a few milliseconds: not at start-up)."""
    return re.compile(_UNIT_PATTERN)


def units(text: str) -> list[str]:
    """``text`` (one line) cut at every break opportunity; the pieces join back to ``text``."""
    pattern = _ASCII_UNIT if text.isascii() else _unit()
    return pattern.findall(text) or ([text] if text else [])


@lru_cache(maxsize=4096)
def _char_cells(ch: str) -> int:
    if (
        unicodedata.combining(ch)
        or ch in "\u200b\u200c\u200d\u2060\ufeff"
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin-tone modifiers join the emoji before them
    ):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_len(text: str) -> int:
    """Terminal cells ``text`` takes: two for wide characters, none for combining marks."""
    if text.isascii():
        return len(text)
    return sum(map(_char_cells, text))


def _chop(text: str, width: int, measure: Callable[[str], int]) -> list[str]:
    """``text`` cut into pieces of at most ``width`` cells (at least one character each)."""
    pieces: list[str] = []
    start = used = 0
    for index, ch in enumerate(text):
        cells = measure(ch)
        if used + cells > width and index > start:
            pieces.append(text[start:index])
            start, used = index, 0
        used += cells
    pieces.append(text[start:])
    return pieces


def divide(
    text: str, width: int, *, fold: bool = True, measure: Callable[[str], int] = cell_len
) -> list[int]:
    """The character offsets at which to break ``text`` (one line) so each line fits ``width`` cells.

    Trailing spaces do not count against the width. A piece wider than a whole line is folded at
    characters when ``fold``, else left whole (to be cropped).
    """
    breaks: list[int] = []
    offset = 0  # cells used on the current line
    start = 0  # character index of the current piece
    for piece in units(text):
        length = measure(piece.rstrip())
        if length <= width - offset:
            offset += measure(piece)
        elif length > width:
            if start and offset:
                breaks.append(start)
            if fold:
                chopped = _chop(piece, width, measure)
                position = start
                for part in chopped[:-1]:
                    position += len(part)
                    breaks.append(position)
                offset = measure(chopped[-1])
            else:
                offset = measure(piece)
        else:
            if start and offset:
                breaks.append(start)
            offset = measure(piece)
        start += len(piece)
    return breaks


def wrap(text: str, width: int, *, measure: Callable[[str], int] = cell_len) -> list[str]:
    """``text`` as lines of at most ``width`` cells, each without trailing spaces; newlines are kept."""
    lines: list[str] = []
    for line in text.split("\n"):
        offsets = [0, *divide(line, max(1, width), measure=measure), len(line)]
        lines.extend(line[a:b].rstrip(_SPACE) for a, b in zip(offsets, offsets[1:], strict=False))
    return lines
