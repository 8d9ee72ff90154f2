"""A widget that shows one streamed assistant answer as Markdown at a flat cost per token.

The layout (``MarkdownLayout``) cuts the source into top-level blocks as it arrives and renders a
finished block once to cached Strips at the current width, never again until the width or the theme
changes. The widget re-renders only the open (last) block, at most ``MAX_FPS`` times a second and
less often when it is slow to render. It is a Line API widget: ``render_line`` hands out cached
strips, so painting costs what is on screen, not what was streamed.
"""

from __future__ import annotations

import math
from time import monotonic
from typing import ClassVar
from weakref import WeakSet

from textual.geometry import Region, Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from holysheep_tui.tui.markdown_layout import MarkdownLayout
from holysheep_tui.tui.markdown_theme import MARKDOWN_COMPONENT_CLASSES, markdown_css, resolve_theme

__all__ = ["StreamingMarkdown"]

_STREAMING: WeakSet[StreamingMarkdown] = WeakSet()
"""The widgets streaming now, app-wide (a comparison has one per leg)."""


class StreamingMarkdown(Widget):
    """One assistant answer: ``append`` deltas, then ``finish``; or ``set_markdown`` a stored one."""

    DEFAULT_CSS = markdown_css("StreamingMarkdown")

    COMPONENT_CLASSES: ClassVar[set[str]] = set(MARKDOWN_COMPONENT_CLASSES)

    MAX_FPS: ClassVar[float] = 10.0
    """Upper bound on re-renders of the open block per second."""
    MAX_LAYOUT_FPS: ClassVar[float] = 8.0
    """Upper bound on redraws per second that change the height (and so scroll the view)."""
    GROW_STEP: ClassVar[int] = 3
    """While streaming, the height grows this many lines at a time (measured: a third fewer full-screen
    layouts and about a quarter less CPU at reading speed than growing line by line)."""
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
        self._layout = MarkdownLayout(markdown)
        self._style_check = True
        self._timer: Timer | None = None
        self._pending = False
        self._streaming = False
        self._laid_out_height = 0
        self._next_flush = 0.0
        # First line changed by a layout or paint since the last flush: Textual may have cached it.
        self._unflushed: int | None = None
        self.tail: int | None = None
        """Show only the last ``tail`` lines, in a box of that height (a comparison's legs, until the
        comparison ends: ``set_tail``): the box never changes height, so the screen is not laid out again
        as the answer streams (with seven legs, one layout per tick was most of a comparison's cost and
        delayed the keys typed meanwhile). None: every line, growing as it streams."""

    # -- public API ----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The full Markdown source received so far, as given."""
        return self._layout.text

    @property
    def block_render_counts(self) -> list[int]:
        """Render count of each finished block, in order."""
        return self._layout.block_render_counts

    @property
    def blocks_rendered(self) -> int:
        """How many times a finished block was rendered (once each, plus once per resize or theme)."""
        return self._layout.blocks_rendered

    @property
    def open_renders(self) -> int:
        """How many times the open block was rendered."""
        return self._layout.open_renders

    @property
    def drawn(self) -> bool:
        """Everything appended so far is laid out for the screen (no redraw is waiting)."""
        return not self._pending

    def append(self, fragment: str) -> None:
        """Add a content delta. Cost: proportional to the fragment; drawing is coalesced."""
        if not fragment:
            return
        self._layout.append(fragment)
        self._streaming = True
        _STREAMING.add(self)
        self._schedule()

    def finish(self) -> None:
        """The answer is complete: finalise the open block and draw it now."""
        self._layout.finish()
        self._cancel()
        self._streaming = False
        _STREAMING.discard(self)
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
        _STREAMING.discard(self)
        self._layout.set_text(text)
        if self.is_mounted:
            self.refresh(layout=True)

    # -- scheduling ----------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._pending or not self.is_mounted:
            return
        self._pending = True
        now = monotonic()
        due = max(now, self._next_flush)
        if len(_STREAMING) > 1:
            # Several answers stream at once (a comparison): all draw on one shared clock of MAX_FPS
            # ticks, so their changes of height cost one layout of the screen per tick, not one each.
            tick = 1.0 / self.MAX_FPS
            due = math.ceil(due / tick) * tick
        delay = due - now
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
        layout = self._layout
        old_height = self._laid_out_height
        start = len(layout.lines)
        old_tail = self._tail(start)
        reset = self._style_check or layout.theme is None or width != layout.width
        started = monotonic()
        self._sync(width, render_open=True)
        cost = monotonic() - started
        height = self._height()
        # A change of height re-lays out and repaints the whole screen: allow fewer of those.
        fps = self.MAX_FPS if height == old_height else self.MAX_LAYOUT_FPS
        self._next_flush = monotonic() + max(1.0 / fps, cost * self.COST_FACTOR)
        if reset or start > len(layout.lines):
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
        if self._tailing:  # the lines shown moved up by what arrived: repaint the box, never re-lay out
            first, last = 0, height
        self._unflushed = None
        if last > first or height != old_height:
            self.refresh(Region(0, first, width, max(0, last - first)), layout=height != old_height)

    @property
    def _tailing(self) -> bool:
        return bool(self.tail)

    def set_tail(self, lines: int | None) -> None:
        """Show only the last ``lines`` (None: every line) from now on."""
        if lines == self.tail:
            return
        self.tail = lines
        if self.is_mounted:
            self.refresh(layout=True)

    def _tail(self, start: int) -> list[Strip]:
        """The strips from line ``start`` on: newly laid out blocks, the gap and the open block."""
        layout = self._layout
        tail = list(layout.lines[start:])
        if layout.lines and layout.open_lines:
            tail.append(layout.gap)
        tail.extend(layout.open_lines)
        return tail

    def on_mount(self) -> None:
        if self._layout.version:
            self._schedule()

    def on_unmount(self) -> None:
        _STREAMING.discard(self)

    # -- rendering -----------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_check = True

    def _sync(self, width: int, *, render_open: bool) -> None:
        """Bring the layout up to date for ``width``; finished blocks render only if new."""
        if width <= 0:
            return
        if self._style_check:
            self._style_check = False
            self._layout.set_theme(resolve_theme(self))
        first_new = self._layout.lay_out(width, render_open=render_open)
        if first_new is not None and not render_open:
            # a layout or paint changed lines that no refresh has marked dirty
            self._unflushed = first_new if self._unflushed is None else min(self._unflushed, first_new)

    def _height(self) -> int:
        # A change of height re-lays out and repaints the whole screen (the view scrolls by it): while
        # streaming, the height grows GROW_STEP lines at a time, so at most GROW_STEP - 1 blank lines sit
        # under the text and the screen is laid out a third as often. Finished: exactly the text's lines.
        height = self._layout.height
        if self._tailing and self.tail:
            return self.tail
        if self._streaming and height:
            step = self.GROW_STEP
            return -(-height // step) * step
        return height

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._sync(width, render_open=False)
        self._laid_out_height = self._height()
        return self._laid_out_height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._sync(width, render_open=False)
        if self._tailing and self.tail:
            y += max(0, self._layout.height - self.tail)
        line = self._layout.line(y)
        return Strip.blank(width, self.visual_style.rich_style) if line is None else line
