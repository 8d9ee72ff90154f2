"""A widget that shows one streamed assistant answer as Markdown at a flat cost per token.

The source is cut into top-level blocks as it arrives (``BlockSplitter``). A finished block is
rendered once to a cached list of Strips at the current width and never again until the width or
the theme changes; only the open (last) block is re-rendered, at most ``MAX_FPS`` times a second
and less often when it is slow to render. The widget is a Line API widget: ``render_line`` hands
out cached strips, so painting costs what is on screen, not what was streamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic
from typing import ClassVar

from rich.style import Style
from textual.geometry import Region, Size
from textual.highlight import ANSIDarkHighlightTheme, ANSILightHighlightTheme, HighlightTheme
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.timer import Timer
from textual.widget import Widget

from holysheep_tui.tui.markdown_blocks import BlockSplitter
from holysheep_tui.tui.markdown_render import BlockRenderer, RenderTheme

__all__ = ["StreamingMarkdown"]

# Component class -> the Rich markdown theme entries it styles.
_COMPONENTS: dict[str, tuple[str, ...]] = {
    "streaming-markdown--h1": ("markdown.h1",),
    "streaming-markdown--h2": ("markdown.h2",),
    "streaming-markdown--h3": ("markdown.h3",),
    "streaming-markdown--h4": ("markdown.h4",),
    "streaming-markdown--h5": ("markdown.h5",),
    "streaming-markdown--h6": ("markdown.h6",),
    "streaming-markdown--code-inline": ("markdown.code",),
    "streaming-markdown--code-label": ("markdown.code_label",),
    "streaming-markdown--link": ("markdown.link", "markdown.link_url"),
    "streaming-markdown--block-quote": ("markdown.block_quote",),
    "streaming-markdown--bullet": ("markdown.item.bullet", "markdown.item.number"),
    "streaming-markdown--table-border": ("markdown.table.border",),
    "streaming-markdown--table-header": ("markdown.table.header",),
    "streaming-markdown--rule": ("markdown.hr",),
}
_CODE_BLOCK = "streaming-markdown--code-block"


@dataclass
class _Block:
    source: str
    strips: list[Strip] | None = None
    renders: int = 0


class StreamingMarkdown(Widget):
    """One assistant answer: ``append`` deltas, then ``finish``; or ``set_markdown`` a stored one."""

    DEFAULT_CSS = """
    StreamingMarkdown {
        width: 1fr;
        height: auto;
        & > .streaming-markdown--h1 { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--h2 { color: $text-primary; text-style: bold underline; }
        & > .streaming-markdown--h3 { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--h4 { text-style: bold; }
        & > .streaming-markdown--h5 { text-style: bold; color: $text-muted; }
        & > .streaming-markdown--h6 { text-style: italic; color: $text-muted; }
        & > .streaming-markdown--code-inline { color: $text-accent; background: $boost; }
        & > .streaming-markdown--code-block { color: $text; background: $surface-darken-1; }
        & > .streaming-markdown--code-label { color: $text-muted; background: $panel; text-style: bold; }
        & > .streaming-markdown--link { color: $text-primary; text-style: underline; }
        & > .streaming-markdown--block-quote { color: $text-secondary; }
        & > .streaming-markdown--bullet { color: $text-accent; text-style: bold; }
        & > .streaming-markdown--table-border { color: $text-muted; }
        & > .streaming-markdown--table-header { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--rule { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {*_COMPONENTS, _CODE_BLOCK}

    MAX_FPS: ClassVar[float] = 10.0
    """Upper bound on re-renders of the open block per second."""
    MAX_LAYOUT_FPS: ClassVar[float] = 8.0
    """Upper bound on redraws per second that change the height (and so scroll the view)."""
    GROW_STEP: ClassVar[int] = 4
    """While streaming, the height grows at least this many lines at a time (blank below the text)..."""
    GROW_SHARE: ClassVar[int] = 6
    """... and at least 1/GROW_SHARE of the terminal's height: a taller screen costs more to repaint."""
    COST_FACTOR: ClassVar[float] = 4.0
    """The open block waits at least this many times its last render time before the next one."""

    def __init__(
        self,
        markdown: str | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._splitter = BlockSplitter()
        self._raw: list[str] = []
        self._text: str | None = ""
        self._blocks: list[_Block] = []
        self._renderer: BlockRenderer | None = None
        self._style_check = True
        self._width = 0
        self._lines: list[Strip] = []  # strips of the first _laid_out finished blocks, with gaps
        self._laid_out = 0
        self._open: list[Strip] = []
        self._open_version = -1
        self._open_valid = False
        self._timer: Timer | None = None
        self._pending = False
        self._streaming = False
        self._laid_out_height = 0
        self._screen_height = 0
        self._gap = Strip([])
        self._next_flush = 0.0
        # First line changed by a layout or paint since the last flush: Textual may have cached it.
        self._unflushed: int | None = None
        self.blocks_rendered = 0
        """How many times a finished block was rendered (once each, plus once per resize or theme)."""
        self.open_renders = 0
        """How many times the open block was rendered."""
        if markdown:
            self.set_markdown(markdown)

    # -- public API ----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The full Markdown source received so far, as given."""
        if self._text is None:
            self._text = "".join(self._raw)
            self._raw = [self._text]
        return self._text

    @property
    def block_render_counts(self) -> list[int]:
        """Render count of each finished block, in order."""
        return [block.renders for block in self._blocks]

    def append(self, fragment: str) -> None:
        """Add a content delta. Cost: proportional to the fragment; drawing is coalesced."""
        if not fragment:
            return
        self._raw.append(fragment)
        self._text = None
        self._streaming = True
        self._blocks.extend(_Block(source) for source in self._splitter.feed(fragment))
        self._schedule()

    def finish(self) -> None:
        """The answer is complete: finalise the open block and draw it now."""
        self._blocks.extend(_Block(source) for source in self._splitter.finish())
        self._cancel()
        self._streaming = False
        if self.is_mounted:
            self._flush()

    def flush(self) -> None:
        """Draw pending changes now instead of at the next frame."""
        self._cancel()
        if self.is_mounted:
            self._flush()

    def set_markdown(self, text: str) -> None:
        """Show a complete answer at once (history); blocks render when first laid out."""
        self._cancel()
        self._streaming = False
        self._splitter = BlockSplitter()
        self._raw = [text]
        self._text = text
        self._blocks = [_Block(source) for source in self._splitter.feed(text) + self._splitter.finish()]
        self._reset_layout()
        if self.is_mounted:
            self.refresh(layout=True)

    # -- scheduling ----------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._pending or not self.is_mounted:
            return
        self._pending = True
        delay = self._next_flush - monotonic()
        if delay > 0.001:
            self._timer = self.set_timer(delay, self._flush, name="streaming-markdown")
        else:  # Textual timers cannot take a zero delay
            self.call_later(self._flush)

    def _cancel(self) -> None:
        self._pending = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _flush(self) -> None:
        self._pending = False
        self._timer = None
        width = self.size.width
        if not width:  # not laid out yet, or hidden: the next layout renders what is needed
            return
        old_height = self._laid_out_height
        start = len(self._lines)
        old_tail = self._tail(start)
        reset = self._renderer is None or width != self._width or self._style_check
        started = monotonic()
        self._sync(width, render_open=True)
        cost = monotonic() - started
        height = self._height()
        # A change of height re-lays out and repaints the whole screen: allow fewer of those.
        fps = self.MAX_FPS if height == old_height else self.MAX_LAYOUT_FPS
        self._next_flush = monotonic() + max(1.0 / fps, cost * self.COST_FACTOR)
        if reset or start > len(self._lines):
            first, last = 0, max(height, old_height)
        else:  # repaint only the lines that changed: usually the last one or two
            new_tail = self._tail(start)
            first, last = start + len(new_tail), start
            for index in range(max(len(old_tail), len(new_tail))):
                old = old_tail[index] if index < len(old_tail) else None
                new = new_tail[index] if index < len(new_tail) else None
                if old is not new and old != new:
                    first, last = min(first, start + index), start + index + 1
        if self._unflushed is not None:  # painted since the last flush without a refresh: redo all
            first, last = min(first, self._unflushed), max(last, height, old_height)
        self._unflushed = None
        if last > first or height != old_height:
            self.refresh(Region(0, first, width, max(0, last - first)), layout=height != old_height)

    def _tail(self, start: int) -> list[Strip]:
        """The strips from line ``start`` on: newly laid out blocks, the gap and the open block."""
        tail = self._lines[start:]
        if self._lines and self._open:
            tail.append(self._gap)
        tail.extend(self._open)
        return tail

    def on_mount(self) -> None:
        if self._splitter.version:
            self._schedule()

    # -- rendering -----------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_check = True

    def _reset_layout(self) -> None:
        self._lines = []
        self._laid_out = 0
        self._open = []
        self._open_valid = False
        self._open_version = -1
        for block in self._blocks:
            block.strips = None

    def _resolve_theme(self) -> RenderTheme:
        markdown: dict[str, Style] = {}
        for component, names in _COMPONENTS.items():
            style = self.get_visual_style(component).rich_style
            for name in names:
                markdown[name] = style
        code_visual = self.get_visual_style(_CODE_BLOCK)
        code = code_visual.rich_style
        markdown["markdown.code_block"] = code
        app = self.app
        theme: type[HighlightTheme] = HighlightTheme
        if app.native_ansi_color:
            theme = ANSIDarkHighlightTheme if app.current_theme.dark else ANSILightHighlightTheme
        syntax = {}
        for token, definition in theme.STYLES.items():
            try:
                syntax[token] = (code_visual + VisualStyle.parse(definition)).rich_style
            except Exception:  # an unparsable theme entry falls back to plain code text
                syntax[token] = code
        return RenderTheme(base=self.visual_style.rich_style, markdown=markdown, code=code, syntax=syntax)

    def _render_block(self, source: str, width: int) -> list[Strip]:
        assert self._renderer is not None
        return self._renderer.render(source, width)

    def _sync(self, width: int, *, render_open: bool) -> None:
        """Bring the cached strips up to date for ``width``; finished blocks render only if new."""
        if width <= 0:
            return
        if self._style_check:
            self._style_check = False
            theme = self._resolve_theme()
            if self._renderer is None or theme != self._renderer.theme:
                self._renderer = BlockRenderer(theme)
                self._reset_layout()
        if width != self._width:
            self._width = width
            self._reset_layout()
        if self._renderer is None:
            return
        gap = self._gap = Strip.blank(width, self._renderer.theme.base)
        first_new = len(self._lines)
        laid_out = self._laid_out
        for block in self._blocks[self._laid_out :]:
            if block.strips is None:
                block.strips = self._render_block(block.source, width)
                block.renders += 1
                self.blocks_rendered += 1
            if block.strips:
                if self._lines:
                    self._lines.append(gap)
                self._lines.extend(block.strips)
            self._laid_out += 1
        version = self._splitter.version
        if self._open_version != version and (render_open or not self._open_valid):
            source = self._splitter.open_source()
            self._open = self._render_block(source, width) if source.strip() else []
            self._open_version = version
            self._open_valid = True
            if source.strip():
                self.open_renders += 1
        elif laid_out == self._laid_out:
            return
        if not render_open:  # a layout or paint changed lines that no refresh has marked dirty
            self._unflushed = first_new if self._unflushed is None else min(self._unflushed, first_new)

    def _height(self) -> int:
        gap = 1 if self._lines and self._open else 0
        height = len(self._lines) + gap + len(self._open)
        if self._streaming:
            # Whole steps while streaming: each change of height re-lays out and repaints the screen.
            # From the text alone, so what is shown never depends on when frames happened to fall.
            step = max(self.GROW_STEP, self._screen_height // self.GROW_SHARE)
            return -(-height // step) * step
        return height

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._screen_height = self.screen.size.height
        self._sync(width, render_open=False)
        self._laid_out_height = self._height()
        return self._laid_out_height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._sync(width, render_open=False)
        lines = self._lines
        if y < len(lines):
            return lines[y]
        y -= len(lines)
        if lines and self._open:
            y -= 1
        if 0 <= y < len(self._open):
            return self._open[y]
        return Strip.blank(width, self.visual_style.rich_style)
