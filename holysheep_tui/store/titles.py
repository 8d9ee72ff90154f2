"""Conversation titles taken from the first prompt."""

from __future__ import annotations

import unicodedata

from holysheep_tui.textsafety import strip_control

TITLE_WIDTH = 48  # terminal cells


def cell_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def shorten(text: str, width: int) -> str:
    """Cut ``text`` to at most ``width`` terminal cells, ending with '…' when cut."""
    if sum(cell_width(c) for c in text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + "…"


def title_from_prompt(prompt: str, width: int = TITLE_WIDTH) -> str | None:
    """The first non-blank line of ``prompt``, whitespace collapsed, shortened; None if there is none."""
    for line in strip_control(prompt).splitlines():
        words = line.split()
        if words:
            return shorten(" ".join(words), width)
    return None


def clean_title(title: str, width: int = 200) -> str:
    """A user-given title on one line, without control characters."""
    return shorten(" ".join(strip_control(title).split()), width)
