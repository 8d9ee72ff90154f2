"""Incremental splitter of streamed Markdown into top-level blocks.

Only the tail is examined: each complete line is classified once, so the cost of a fragment is
proportional to its own length. A block is finished where splitting cannot change how the whole
document parses: at a blank line outside fences and lists, at a closing fence, after a heading or
rule line, and where a list or indented code block ends.
"""

from __future__ import annotations

import re
from enum import Enum

try:  # the shared helper; a local copy keeps this module usable on its own
    from holysheep_tui.textsafety import strip_control as _strip_control
except ImportError:  # pragma: no cover
    _UNSAFE = re.compile(
        r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
        r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
    )

    def _strip_control(text: str) -> str:
        return _UNSAFE.sub("", text)


__all__ = ["BlockKind", "BlockSplitter", "safe_line"]

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}(?=[^`]*$)|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_RULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^[ \t]{0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")


def safe_line(text: str) -> str:
    """One line of model output with escape sequences and control characters removed (tabs kept)."""
    return _strip_control(text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


class BlockKind(Enum):
    """What the open block is; it decides which line ends it."""

    TEXT = "text"  # paragraphs, tables, block quotes: end at a blank line
    FENCE = "fence"  # a top-level fenced code block: ends at its closing fence
    LIST = "list"  # ends at an unindented non-item line after a blank line
    INDENTED = "indented"  # indented code: ends at a line indented less than 4


class BlockSplitter:
    """Feed fragments; collect finished block sources; peek at the open block.

    Line endings inside a fragment may fall anywhere. Lines are sanitised once, when complete.
    """

    def __init__(self) -> None:
        self._partial: list[str] = []  # raw fragments of the line being received
        self._lines: list[str] = []  # complete lines of the open block
        self._kind: BlockKind | None = None
        self._fence: tuple[str, int] | None = None  # (char, length) of an open fence, at any depth
        self._blank_seen = False  # a blank line inside an open list or indented code block
        self._finished: list[str] = []
        self._version = 0  # bumped whenever the open block's visible source changes

    # -- input ---------------------------------------------------------------------------
    def feed(self, fragment: str) -> list[str]:
        """Take one fragment; return the sources of blocks it finished (often none)."""
        if not fragment:
            return []
        self._version += 1
        start = 0
        while (newline := fragment.find("\n", start)) != -1:
            self._partial.append(fragment[start:newline])
            line = safe_line("".join(self._partial))
            self._partial.clear()
            self._line(line)
            start = newline + 1
        if start < len(fragment):
            self._partial.append(fragment[start:])
        return self._take()

    def finish(self) -> list[str]:
        """End of input: the partial line and the open block become finished blocks."""
        if self._partial:
            line = safe_line("".join(self._partial))
            self._partial.clear()
            self._line(line)
        self._close()
        self._version += 1
        return self._take()

    # -- the open block ------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Changes whenever open_source may have changed."""
        return self._version

    @property
    def in_fence(self) -> bool:
        return self._fence is not None

    def open_source(self) -> str:
        """Source of the open block plus the line still being received (O(open block))."""
        lines = list(self._lines)
        if self._partial:
            partial = safe_line("".join(self._partial))
            if not self._fence_arriving(partial):
                lines.append(partial)
        while lines and not lines[-1].strip() and self._fence is None:
            lines.pop()
        return "\n".join(lines)

    def _fence_arriving(self, partial: str) -> bool:
        """A fence line still being received: hidden, so it never flashes as text or empty code."""
        stripped = partial.strip()
        if self._fence is not None:
            return bool(stripped) and set(stripped) <= {self._fence[0]}
        return bool(stripped) and (
            set(stripped) <= {"`"} or set(stripped) <= {"~"} or bool(_FENCE_OPEN.match(partial))
        )

    # -- the state machine ---------------------------------------------------------------
    def _take(self) -> list[str]:
        done, self._finished = self._finished, []
        return done

    def _close(self) -> None:
        while self._lines and not self._lines[-1].strip():
            self._lines.pop()
        if self._lines:
            self._finished.append("\n".join(self._lines))
        self._lines = []
        self._kind = None
        self._fence = None
        self._blank_seen = False

    def _line(self, line: str) -> None:
        if self._fence is not None:
            self._lines.append(line)
            char, length = self._fence
            stripped = line.strip()
            if len(stripped) >= length and set(stripped) == {char}:
                self._fence = None
                if self._kind is BlockKind.FENCE:
                    self._close()
            return
        blank = not line.strip()
        kind = self._kind
        if kind is None:
            if not blank:
                self._start(line)
        elif kind is BlockKind.TEXT:
            if blank:
                self._close()
            elif _FENCE_OPEN.match(line) and _indent(line) < 4:
                self._close()
                self._start(line)
            else:
                if _LIST_ITEM.match(line):
                    self._kind = BlockKind.LIST
                self._lines.append(line)
        elif kind is BlockKind.LIST:
            self._list_line(line, blank)
        else:  # INDENTED
            if blank or _indent(line.expandtabs(4)) >= 4:
                self._lines.append(line)
            else:
                self._close()
                self._start(line)

    def _list_line(self, line: str, blank: bool) -> None:
        if blank:
            self._blank_seen = True
            self._lines.append(line)
            return
        indent = _indent(line)
        if indent == 0 and (_FENCE_OPEN.match(line) or _ATX_HEADING.match(line)):
            self._close()
            self._start(line)
            return
        if self._blank_seen and indent == 0 and not _LIST_ITEM.match(line):
            self._close()
            self._start(line)
            return
        self._blank_seen = False
        self._lines.append(line)
        if _FENCE_OPEN.match(line):
            self._open_fence(line)

    def _open_fence(self, line: str) -> None:
        match = _FENCE_OPEN.match(line)
        assert match is not None
        fence = match.group("fence")
        self._fence = (fence[0], len(fence))

    def _start(self, line: str) -> None:
        self._lines = [line]
        self._blank_seen = False
        if _FENCE_OPEN.match(line) and _indent(line) < 4:
            self._kind = BlockKind.FENCE
            self._open_fence(line)
        elif _ATX_HEADING.match(line) or _RULE.match(line):
            self._close()
        elif _LIST_ITEM.match(line):
            self._kind = BlockKind.LIST
        elif _indent(line.expandtabs(4)) >= 4:
            self._kind = BlockKind.INDENTED
        else:
            self._kind = BlockKind.TEXT
