"""The lines of one Markdown document at one width, rendered block by block and cached.

``MarkdownLayout`` holds no widget state: the source as received, the block splitter, the finished
blocks with their rendered Strips, the line cache and the width. A finished block is rendered once
per width and theme; the open (last, still growing) block is re-rendered only when asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.strip import Strip

from holysheep_tui.tui.markdown_blocks import BlockSplitter
from holysheep_tui.tui.markdown_render import BlockRenderer, RenderTheme

__all__ = ["MarkdownLayout"]


class _Block:
    __slots__ = ("renders", "source", "strips")

    def __init__(self, source: str) -> None:
        self.source = source
        self.strips: list[Strip] | None = None
        self.renders = 0


class MarkdownLayout:
    """Markdown source in, Strips out: ``append``/``finish`` or ``set_text``, then ``lay_out(width)``.

    Lines are the finished blocks separated by one ``gap`` line; the open block follows after one
    more gap (``line(y)`` reads across both). Nothing renders before a theme is set.
    """

    def __init__(self, text: str | None = None) -> None:
        self._splitter = BlockSplitter()
        self._raw: list[str] = []
        self._text: str | None = ""
        self._blocks: list[_Block] = []
        self._renderer: BlockRenderer | None = None
        self._width = 0
        self._lines: list[Strip] = []  # strips of the first _laid_out finished blocks, with gaps
        self._laid_out = 0
        self._open: list[Strip] = []
        self._open_version = -1
        self._open_valid = False
        self._gap = Strip([])
        self.blocks_rendered = 0
        """How many times a finished block was rendered (once each, plus once per width or theme)."""
        self.open_renders = 0
        """How many times the open block was rendered."""
        if text:
            self.set_text(text)

    # -- the source ----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The full Markdown source received so far, as given."""
        if self._text is None:
            self._text = "".join(self._raw)
            self._raw = [self._text]
        return self._text

    @property
    def version(self) -> int:
        """Changes whenever the source changes; 0 while nothing was given."""
        return self._splitter.version

    def append(self, fragment: str) -> None:
        """Add a fragment of source. Cost: proportional to the fragment; nothing renders."""
        if not fragment:
            return
        self._raw.append(fragment)
        self._text = None
        finished = self._splitter.feed(fragment)
        if finished:
            self._blocks.extend(_Block(source) for source in finished)

    def finish(self) -> None:
        """End of input: the open block becomes a finished one."""
        self._blocks.extend(_Block(source) for source in self._splitter.finish())

    def set_text(self, text: str) -> None:
        """Replace the source with a complete document; its blocks render at the next ``lay_out``."""
        self._splitter = BlockSplitter()
        self._raw = [text]
        self._text = text
        self._blocks = [_Block(source) for source in self._splitter.feed(text) + self._splitter.finish()]
        self.clear()

    # -- rendering -----------------------------------------------------------------------
    @property
    def theme(self) -> RenderTheme | None:
        """The styles blocks are rendered in; None until ``set_theme``."""
        return None if self._renderer is None else self._renderer.theme

    def set_theme(self, theme: RenderTheme) -> bool:
        """Render in ``theme`` from now on; True if it differs, which drops every rendered line."""
        if self._renderer is not None and theme == self._renderer.theme:
            return False
        self._renderer = BlockRenderer(theme)
        self._gap = Strip([])
        self.clear()
        return True

    @property
    def width(self) -> int:
        """The width of the last ``lay_out`` (0 before the first)."""
        return self._width

    def clear(self) -> None:
        """Drop every rendered line (the source stays); the next ``lay_out`` renders them again."""
        self._lines = []
        self._laid_out = 0
        self._open = []
        self._open_valid = False
        self._open_version = -1
        for block in self._blocks:
            block.strips = None

    def lay_out(self, width: int, *, render_open: bool = True) -> int | None:
        """Bring the lines up to date for ``width``; return the first line that changed, or None.

        Finished blocks render only if new (or the width or theme changed). The open block renders
        if its source changed and ``render_open`` is true, or if it was not drawn at this width yet.
        """
        renderer = self._renderer
        if width <= 0 or renderer is None:
            return None
        if width != self._width:
            self._width = width
            self.clear()
        if self._gap.cell_length != width:
            self._gap = Strip.blank(width, renderer.theme.base)
        gap = self._gap
        lines = self._lines
        first_new = len(lines)
        laid_out = self._laid_out
        blocks = self._blocks
        for index in range(laid_out, len(blocks)):
            block = blocks[index]
            if block.strips is None:
                block.strips = renderer.render(block.source, width)
                block.renders += 1
                self.blocks_rendered += 1
            if block.strips:
                if lines:
                    lines.append(gap)
                lines.extend(block.strips)
        self._laid_out = len(blocks)
        version = self._splitter.version
        if self._open_version != version and (render_open or not self._open_valid):
            source = self._splitter.open_source()
            if source.strip():
                self._open = renderer.render(source, width)
                self.open_renders += 1
            else:
                self._open = []
            self._open_version = version
            self._open_valid = True
        elif laid_out == self._laid_out:
            return None
        return first_new

    # -- the result ----------------------------------------------------------------------
    @property
    def lines(self) -> Sequence[Strip]:
        """The finished blocks' lines with their gaps (read only)."""
        return self._lines

    @property
    def open_lines(self) -> Sequence[Strip]:
        """The open block's lines, as last rendered (read only)."""
        return self._open

    @property
    def gap(self) -> Strip:
        """The blank line between two blocks."""
        return self._gap

    @property
    def height(self) -> int:
        """Lines of the finished blocks, the gap before the open block, and the open block."""
        finished, open_ = len(self._lines), len(self._open)
        return finished + open_ + 1 if finished and open_ else finished + open_

    def line(self, y: int) -> Strip | None:
        """Line ``y`` of the whole layout, or None below it."""
        lines = self._lines
        if y < len(lines):
            return lines[y]
        y -= len(lines)
        if lines and self._open:
            if y == 0:
                return self._gap
            y -= 1
        return self._open[y] if 0 <= y < len(self._open) else None

    @property
    def block_render_counts(self) -> list[int]:
        """Render count of each finished block, in order."""
        return [block.renders for block in self._blocks]
