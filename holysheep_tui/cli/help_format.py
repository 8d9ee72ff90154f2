"""``--help`` laid out in terminal cells, so Chinese help wraps as neatly as English.

argparse measures text with ``len()`` and wraps it with ``textwrap``, which knows neither that a Chinese
character takes two cells nor that a line may break between two of them: a Chinese help line runs to
twice the terminal's width and breaks only at the rare space. ``HelpFormatter`` wraps by cells with the
UAX #14 breaker of ``holysheep_tui.linebreak`` (never before ``，。）``, never inside a Latin word), lines
up continued usage under a wide ``用法：``, and ends a Chinese section heading with a full-width colon.
Text whose cells are its characters (English) goes through argparse's own code untouched, so English
help keeps its shape to the byte. ``ArgumentParser`` uses it by default, and so do its subparsers.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any

from holysheep_tui import i18n

__all__ = ["ArgumentParser", "HelpFormatter", "RawDescriptionHelpFormatter"]

_WHITESPACE = re.compile(r"\s+", re.ASCII)  # argparse's own normalisation (ASCII spaces only)


def _narrow(text: str) -> bool:
    """Every character takes one cell: argparse's own measure is right."""
    return text.isascii() or _cell_len(text) == len(text)


def _cell_len(text: str) -> int:
    """Terminal cells ``text`` takes (``linebreak`` is imported only for text that is not ASCII: the
    app's options are parsed before its first frame, which waits for nothing it does not need)."""
    from holysheep_tui import linebreak

    return linebreak.cell_len(text)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` cells, broken where UAX #14 allows."""
    from holysheep_tui import linebreak

    return linebreak.wrap(text, width)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, measuring and wrapping in terminal cells."""

    def __init__(self, prog: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(prog, *args, **kwargs)
        self._wide_headings: list[str] = []

    def _split_lines(self, text: str, width: int) -> list[str]:
        if _narrow(text):
            return super()._split_lines(text, width)
        return _wrap(_WHITESPACE.sub(" ", text).strip(), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if _narrow(text):
            return super()._fill_text(text, width, indent)
        lines = _wrap(_WHITESPACE.sub(" ", text).strip(), max(1, width - _cell_len(indent)))
        return "\n".join(indent + line for line in lines)

    def _format_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None,
    ) -> str:
        if prefix is None:
            prefix = i18n._("usage: ")
        if _narrow(prefix):
            return super()._format_usage(usage, actions, groups, prefix)
        # argparse indents continued usage lines by len(prefix): lay out with a stand-in as wide as
        # the prefix is in cells, then put the prefix back.
        stand_in = "\0" * _cell_len(prefix)
        return super()._format_usage(usage, actions, groups, stand_in).replace(stand_in, prefix, 1)

    def start_section(self, heading: str | None) -> None:
        if heading and not _narrow(heading):
            self._wide_headings.append(heading)
        super().start_section(heading)

    def format_help(self) -> str:
        text = super().format_help()
        for heading in self._wide_headings:  # "位置参数:" -> "位置参数："
            text = text.replace(f"{heading}:\n", f"{heading}：\n")
        return text


_HANGING = re.compile(r"\s*\S+\s{2,}")  # "  md       " in "  md       Markdown: ..."


class RawDescriptionHelpFormatter(HelpFormatter):
    """The description and epilog as written (their line breaks kept); option help wrapped in cells. A
    written line too wide for the terminal that is not all narrow characters is wrapped, its continued
    lines under its text ("  md       Markdown：..." continues under "Markdown")."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if _narrow(text):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        out: list[str] = []
        for line in text.split("\n"):
            if _narrow(line) or _cell_len(indent + line) <= width:
                out.append(indent + line)
                continue
            lead = line[: len(line) - len(line.lstrip())]
            head = _HANGING.match(line)
            first = head.group() if head and _cell_len(indent + head.group()) <= width // 2 else lead
            hang = " " * _cell_len(first)
            pieces = _wrap(line[len(first) :], max(1, width - _cell_len(indent + hang)))
            out.append(indent + first + pieces[0])
            out.extend(indent + hang + piece for piece in pieces[1:])
        return "\n".join(out)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with ``HelpFormatter`` unless told otherwise; ``add_subparsers`` builds its
    subparsers with this class, so every ``--help`` of the command is laid out in cells."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)
