"""Markdown written by a model or a user, read with markdown-it-py: CommonMark, pipe tables, strikethrough.

Raw HTML is never HTML (``html=False``: it stays text) and a link goes only to http, https or mailto.
``nested`` prepares a message's text for a Markdown export: its own headings move below the heading the
export gives the message, and a code fence left open (a stopped answer) is closed so it cannot swallow
the messages after it.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

SAFE_SCHEMES = ("http:", "https:", "mailto:")


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


def parser() -> MarkdownIt:
    """A fresh parser for untrusted Markdown (a parser's renderer rules are per instance)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = _safe_link  # type: ignore[method-assign]  # markdown-it's documented hook
    return md


_ATX = re.compile(r"#{1,6}")


@cache
def _reader() -> MarkdownIt:
    """The block structure only (no inline parsing: ``nested`` needs headings and fences)."""
    md = parser()
    md.disable("inline")
    return md


def nested(text: str, level: int) -> str:
    """``text`` to stand under a heading of ``level``: its headings ``level`` deeper (at most 6, as ATX
    headings), and a code fence left open at its end closed.

    Only real headings move: a ``#`` in a code block, a fence or a paragraph stays as it is."""
    tokens = _reader().parse(text)
    lines: list[str | None] = list(text.split("\n"))
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map is not None and level > 0:
            _shift(lines, tok, tokens[i + 1].content, level)
    shifted = "\n".join(line for line in lines if line is not None)
    return shifted + _closing_fence(text, tokens)


def _shift(lines: list[str | None], tok: Token, content: str, shift: int) -> None:
    assert tok.map is not None
    start, end = tok.map
    level = min(6, int(tok.tag[1]) + shift)
    line = lines[start] or ""
    if tok.markup.startswith("#"):  # ATX: replace the run of #s after any container marks
        match = _ATX.search(line)
        if match is not None:
            lines[start] = line[: match.start()] + "#" * level + line[match.end() :]
        return
    # Setext (a line underlined with = or -): one ATX line in place of the text and the underline.
    first = content.split("\n", 1)[0].strip()
    at = line.find(first) if first else -1
    prefix = line[:at] if at > 0 else line[: len(line) - len(line.lstrip(" \t>"))]
    lines[start] = f"{prefix}{'#' * level} {' '.join(p.strip() for p in content.splitlines())}"
    for n in range(start + 1, end):
        lines[n] = None


def _closing_fence(text: str, tokens: list[Token]) -> str:
    """What closes a top-level code fence still open at the end of ``text`` (a stopped answer); "" if none."""
    last = next((t for t in reversed(tokens) if t.map is not None and t.level == 0), None)
    if last is None or last.type != "fence" or last.map is None:
        return ""
    start, end = last.map
    lines = text.rstrip("\n").split("\n")
    closing = lines[end - 1].strip() if start < end - 1 < len(lines) else ""
    if closing and set(closing) == {last.markup[0]} and len(closing) >= len(last.markup):
        return ""
    return ("" if text.endswith("\n") else "\n") + last.markup + "\n"
