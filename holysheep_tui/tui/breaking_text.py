"""Rich text that wraps by the Unicode line-breaking rules (``holysheep_tui.linebreak``).

Rich and Textual break lines at spaces only, so a Chinese sentence with one space in it breaks there and
leaves ragged lines. ``BreakingText`` is used by the Markdown renderer's paragraphs, headings and table
cells; ``BreakingVisual`` by plain-text widgets (a prompt as sent).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, JustifyMethod, OverflowMethod, RenderResult
from rich.containers import Lines
from rich.measure import Measurement
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text
from textual.visual import RichVisual
from textual.widget import Widget

from holysheep_tui.linebreak import divide, units

__all__ = ["BreakingText", "BreakingVisual"]


class BreakingText(Text):
    """Rich ``Text`` that wraps where the Unicode line-breaking rules allow (``linebreak.divide``):
    between CJK characters too, never before ``。，、）」``, never after ``（「``. Rich's own breaks
    at spaces only."""

    def wrap(
        self,
        console: Console,
        width: int,
        *,
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        tab_size: int = 8,
        no_wrap: bool | None = None,
    ) -> Lines:
        """Rich's ``Text.wrap`` with the line divided by ``linebreak.divide``."""
        wrap_justify = justify or self.justify or DEFAULT_JUSTIFY
        wrap_overflow = overflow or self.overflow or DEFAULT_OVERFLOW
        no_wrap = bool(self.no_wrap if no_wrap is None else no_wrap) or overflow == "ignore"
        lines = Lines()
        for line in self.split(allow_blank=True):
            if "\t" in line:
                line.expand_tabs(tab_size)
            if no_wrap:
                if overflow == "ignore":
                    lines.append(line)
                    continue
                new_lines = Lines([line])
            else:
                offsets = divide(str(line), width, fold=wrap_overflow == "fold", measure=cell_len)
                new_lines = line.divide(offsets)
                for part in new_lines:
                    part.rstrip_end(width)
            if wrap_justify:
                new_lines.justify(console, width, justify=wrap_justify, overflow=wrap_overflow)
            for part in new_lines:
                part.truncate(width, overflow=wrap_overflow)
            lines.extend(new_lines)
        return lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """The narrowest width is that of the widest unbreakable piece (one CJK character, a word)."""
        lines = self.plain.splitlines()
        widest = max(map(cell_len, lines), default=0)
        pieces = [piece.rstrip() for line in lines for piece in units(line)]
        return Measurement(max(map(cell_len, pieces), default=widest), widest)

    def copy(self) -> BreakingText:
        copied = BreakingText(
            self.plain,
            style=self.style,
            justify=self.justify,
            overflow=self.overflow,
            no_wrap=self.no_wrap,
            end=self.end,
            tab_size=self.tab_size,
        )
        copied._spans[:] = self._spans
        return copied


class _Breaking:
    """A ``BreakingText`` that Rich draws as it is (Textual turns a plain ``Text`` into its own
    ``Content``, which wraps at spaces only)."""

    def __init__(self, text: BreakingText) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return self.text.__rich_measure__(console, options)


class BreakingVisual(RichVisual):
    """A widget's text that wraps by the Unicode line-breaking rules; ``str()`` is the plain text."""

    def __init__(self, widget: Widget, text: Text) -> None:
        self.text = BreakingText()
        self.text.append(text)
        super().__init__(widget, _Breaking(self.text))

    def __str__(self) -> str:
        return self.text.plain
