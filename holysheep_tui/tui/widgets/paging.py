"""A scroll view of a stored conversation's turns shown a few pages at a time (``PagedScroll``).

The conversation view builds the widgets of a turn; this module decides which turns are mounted: the
pages near the view, the next one mounted before the view reaches an edge (its answers laid out ahead
in the background), far pages unmounted. PageUp and PageDown move a screen per key, at once; keys that
come faster than pages load are kept (``_debt``) and, when they run far past what is mounted, the view
jumps over the turns in between by their estimated height instead of laying out every one of them.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.timer import Timer
from textual.widget import Widget

if TYPE_CHECKING:  # the pager's module loads with the first stored conversation
    from holysheep_tui.chat.resume import StoredTurn, TurnPager


def release(widgets: Sequence[Widget]) -> None:
    """Drop the rendered lines of widgets about to be removed.

    Textual 8.2 keeps up to 1,024 ``StylesCache`` objects alive (an ``lru_cache`` on one of its
    methods), each with its widget's rendered lines: without this, unmounted pages stay in memory.
    """
    for widget in widgets:
        for node in widget.walk_children(Widget, with_self=True):
            node._styles_cache.clear()


class CollectionsHeld:
    """No garbage collection while keys page the view (as Textual's ``PAUSE_GC_ON_SCROLL`` does for
    animated scrolls): a full collection takes 50-100 ms with a long conversation read, one key's
    paint. Collections come back once the keys pause (``QUIET`` s), and run at least every ``EVERY`` s
    of paging so memory stays bounded."""

    QUIET = 0.5
    EVERY = 5.0

    def __init__(self) -> None:
        self.since: float | None = None
        self._timer: Timer | None = None

    def hold(self, widget: Widget) -> None:
        now = time.monotonic()
        if self.since is None:
            if not gc.isenabled():
                return  # someone else holds them (start-up): theirs to give back
            gc.disable()
            self.since = now
        elif now - self.since > self.EVERY:
            gc.collect()
            self.since = now
        if self._timer is not None:
            self._timer.stop()
        self._timer = widget.set_timer(self.QUIET, self.release)

    def release(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.since is not None:
            self.since = None
            gc.enable()


@dataclass(eq=False)
class _Page:
    """The widgets of turns mounted together, and how many turns they show."""

    widgets: list[Widget]
    turns: int


class PagedScroll(VerticalScroll):
    """Pages of a stored conversation's turns (``pager``) above the turns of this session (the live tail).

    Subclasses build a turn's widgets (``_widgets``). Home and End jump to the first and last page.
    """

    MAX_PAGES = 3
    """Pages kept mounted; more are unmounted once they are off screen."""
    SCREENS_PER_PAGE = 2
    """Height of a page, in screens (estimated before it is drawn)."""
    AHEAD_SCREENS = 2
    """The next page is mounted once the view is this many screens from the mounted edge."""
    JUMP_SCREENS = 4
    """Keys this many screens past the mounted edge jump over the turns between (not laid out)."""

    pager: TurnPager | None = None
    _loading = False
    _debt = 0
    """Lines PageUp (< 0) or PageDown (> 0) asked for beyond what was mounted, still to scroll."""
    _prepared_at: int | None = None
    """The pager's start when the answers above it were last laid out ahead."""
    _keep: tuple[Widget, int] | None = None
    """While a page is mounted above: a widget on screen and its place before, to keep it in view."""
    _arranged: DockArrangeResult | None = None

    def __init__(self, *children: Widget, **kwargs: Any) -> None:
        super().__init__(*children, **kwargs)
        self._pages: list[_Page] = []
        self._collections = CollectionsHeld()
        self._paging = asyncio.Lock()
        """Held while pages are mounted or unmounted: one change of the pages at a time, each seeing
        the pager as the last one left it."""

    def on_unmount(self) -> None:
        self._collections.release()

    def _widgets(self, turns: Sequence[StoredTurn]) -> list[Widget]:
        raise NotImplementedError

    def _budget(self) -> tuple[int, int]:
        """(lines, width) of a page for the pager."""
        region = self.scrollable_content_region
        return max(40, region.height * self.SCREENS_PER_PAGE), max(20, region.width - 4)

    def _tail(self) -> Widget | None:
        """The first widget below the stored pages (a turn of this session), if any."""
        if not self._pages:
            return None
        children = self.children
        index = children.index(self._pages[-1].widgets[-1]) + 1
        return children[index] if index < len(children) else None

    async def _mount_page(self, turns: Sequence[StoredTurn], *, above: bool) -> None:
        widgets = self._widgets(turns)
        if not widgets:
            return
        page = _Page(widgets, len(turns))
        if above and self._pages:
            await self.mount_all(widgets, before=self._pages[0].widgets[0])
            self._pages.insert(0, page)
            return
        tail = self._tail() if self._pages else (self.children[0] if self.children else None)
        await self.mount_all(widgets, before=tail)
        self._pages.append(page)

    async def _show(
        self, turns: Sequence[StoredTurn], *, at_end: bool = True, then: Callable[[], None] | None = None
    ) -> None:
        """Replace the stored pages with ``turns`` (the live tail stays); ``then`` runs once laid out."""
        async with self._paging:
            await self._replace(turns, at_end=at_end, then=then)

    async def _replace(
        self, turns: Sequence[StoredTurn], *, at_end: bool = True, then: Callable[[], None] | None = None
    ) -> None:
        self._loading = True
        doomed = [w for page in self._pages for w in page.widgets]
        if doomed:
            release(doomed)
            await self.remove_children(doomed)
        self._pages = []
        await self._mount_page(turns, above=False)
        if at_end:
            self._debt = 0
            self.anchor()
        else:
            self.anchor(False)
        self.call_after_refresh(then or self._loaded)

    # ---- paging as the view scrolls ------------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_edges()

    def _check_edges(self) -> None:
        pager = self.pager
        if pager is None or self._loading or not self.is_mounted or not self._pages:
            return
        height = self.scrollable_content_region.height
        if (self._debt < 0 and not pager.has_older) or (self._debt > 0 and not pager.has_newer):
            self._debt = 0  # nothing further that way: the keys end at the edge
        bottom = self._pages[-1].widgets[-1].virtual_region_with_margin.bottom
        if pager.has_older and (self._debt < 0 or self.scroll_y <= self.AHEAD_SCREENS * height):
            self._collections.hold(self)  # paging through, by keys or wheel
            self._loading = True
            self.call_after_refresh(self._load_older)
        elif pager.has_newer and (
            self._debt > 0 or self.scroll_y + (self.AHEAD_SCREENS + 1) * height >= bottom
        ):
            self._loading = True
            self.call_after_refresh(self._load_newer)
        elif not pager.has_newer and not self.is_anchored and self.scroll_y >= self.max_scroll_y:
            self.anchor()  # back at the end: follow new answers again
        else:
            self._prepare_ahead()

    async def _load_older(self) -> None:
        """Mount the previous page above, keeping what is on screen where it is (then the keys' debt)."""
        async with self._paging:
            await self._older()

    async def _older(self) -> None:
        pager = self.pager
        if pager is None or not pager.has_older or not self._pages:
            self._loaded()
            return
        if -self._debt > self.JUMP_SCREENS * self.scrollable_content_region.height:
            await self._jump(self._debt)
            return
        await self._trim(newest=True)
        keep = self._pages[0].widgets[0]
        before = self._placed(keep)
        self._keep = (keep, before) if before is not None else None
        await self._mount_page(pager.older(*self._budget()), above=True)
        self.call_after_refresh(self._restore)

    def _placed(self, widget: Widget) -> int | None:
        """Where ``widget`` is in the last arrangement of the view (None: not in it)."""
        arranged = self._arranged
        if arranged is None:
            return None
        return next((p.region.y for p in arranged.placements if p.widget is widget), None)

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """The children's places; after a page is mounted above, the view moves down by the page's
        height in the same layout, as Textual's anchor does, so no frame shows the view off its place."""
        arranged = self._arranged = super().arrange(size, optimal)
        if (
            self._keep is not None
            and arranged.placements
            and arranged.placements[0].widget is not self._keep[0]
        ):
            keep, before = self._keep  # the page above is in this arrangement
            after = self._placed(keep)
            if after is not None:
                self._keep = None
                bottom = arranged.spatial_map.total_region.bottom - (
                    self.container_size.height - self.scrollbar_size_horizontal
                )
                y = self._owed(self.scroll_y + after - before, max(0, bottom))
                self.set_reactive(Widget.scroll_y, y)
                self.set_reactive(Widget.scroll_target_y, y)
                self.vertical_scrollbar.position = y
        return arranged

    def _restore(self) -> None:
        """After a page mounted above and laid out (``arrange`` kept the view in place)."""
        self._keep = None
        self._loaded()

    def _owed(self, y: float, bottom: float) -> float:
        """``y`` moved by the keys' debt, within 0..``bottom``; what goes past an edge with more turns
        beyond stays owed (the next page pays it)."""
        pager = self.pager
        y += self._debt
        if y < 0 and pager is not None and pager.has_older:
            self._debt = round(y)
        elif y > bottom and pager is not None and pager.has_newer:
            self._debt = round(y - bottom)
        else:
            self._debt = 0
        return min(max(y, 0), bottom)

    def _settle(self, y: float) -> None:
        """Scroll to ``y`` moved by the keys' debt."""
        self.scroll_to(y=self._owed(y, self.max_scroll_y), animate=False, immediate=True)

    async def _load_newer(self) -> None:
        async with self._paging:
            await self._newer()

    async def _newer(self) -> None:
        pager = self.pager
        if pager is None or not pager.has_newer or not self._pages:
            self.call_after_refresh(self._loaded)
            return
        if self._debt > self.JUMP_SCREENS * self.scrollable_content_region.height:
            await self._jump(self._debt)
            return
        await self._trim(newest=False)
        await self._mount_page(pager.newer(*self._budget()), above=False)
        self.call_after_refresh(self._pay_down)

    def _pay_down(self) -> None:
        """After a page mounted below: scroll on by what the keys asked for meanwhile."""
        if self._debt:
            self._settle(self.scroll_y)
        self._loaded()

    async def _jump(self, lines: int) -> None:
        """Show the turns ``lines`` (estimated) beyond the mounted edge, skipping those between unmounted
        and not laid out; the view lands at the start of the turn reached."""
        from holysheep_tui.chat.resume import estimate_lines

        pager = self.pager
        assert pager is not None
        self._debt = 0
        budget, width = self._budget()
        step, index = (-1, pager.start - 1) if lines < 0 else (1, pager.end)
        left = abs(lines)
        while 0 <= index < len(pager.turns):
            left -= estimate_lines(pager.turns[index], width)
            if left <= 0:
                break
            index += step
        if index < 0:
            await self._replace(pager.first(budget, width), at_end=False, then=self._at_home)
            return
        if index >= len(pager.turns):
            await self._replace(pager.latest(budget, width))
            return
        pager.start = pager.end = index + 1  # an empty window just after the turn reached
        turns = pager.older(budget, width)
        target = next((m.id for m in (turns[-1].prompt, turns[-1].answer) if m is not None), None)
        await self._replace(turns, at_end=False, then=lambda: self._land(target))

    def _land(self, message_id: int | None) -> None:
        """After a jump: the view at the start of the message reached, then the keys pressed since."""
        found = self.query(f"#msg-{message_id}") if message_id is not None else None
        self._settle(found.first().virtual_region.y if found else self.max_scroll_y)
        self._loaded()

    async def _trim(self, *, newest: bool) -> None:
        """Before a page is mounted at one end, unmount pages far off screen at the other.

        Keeps MAX_PAGES - 1 at least; a page goes only when it starts more than two screens below
        (or two above) the view, so the next scroll does not bring it straight back.
        """
        pager, doomed = self.pager, []
        height = self.scrollable_content_region.height
        top = self.scroll_y
        while pager is not None and len(self._pages) >= self.MAX_PAGES:
            if newest:
                page = self._pages[-1]
                if page.widgets[0].virtual_region_with_margin.y <= top + 2 * height:
                    break
                pager.forget_newer(page.turns)
                self._pages.pop()
            else:
                page = self._pages[0]
                if page.widgets[-1].virtual_region_with_margin.bottom >= top - 2 * height:
                    break
                pager.forget_older(page.turns)
                self._pages.pop(0)
            doomed.extend(page.widgets)
        if not doomed:
            return
        release(doomed)
        if newest:
            self.anchor(False)  # the end is not mounted: nothing to follow
            await self.remove_children(doomed)
            return
        shift = (
            self._pages[0].widgets[0].virtual_region_with_margin.y - doomed[0].virtual_region_with_margin.y
        )
        await self.remove_children(doomed)
        self.scroll_to(y=max(0, self.scroll_y - shift), animate=False, immediate=True)

    def _loaded(self) -> None:
        """A page is in place: load another if the screen is still not full at that edge."""
        self._loading = False
        self._check_edges()

    def _prepare_ahead(self) -> None:
        """Lay out the answers of the page above in the background, so mounting it renders nothing."""
        from holysheep_tui.chat.resume import estimate_lines
        from holysheep_tui.tui.widgets.answer import StoredAnswer, prepare_body

        pager = self.pager
        if pager is None or not pager.has_older or pager.start == self._prepared_at:
            return
        shown = next((w for w in self.children if isinstance(w, StoredAnswer) and w.body_layout), None)
        layout = shown.body_layout if shown is not None else None
        if layout is None:
            return
        self._prepared_at = pager.start
        budget, width = self._budget()
        texts: list[str] = []
        index = pager.start - 1
        while index >= 0 and budget > 0:
            turn = pager.turns[index]
            budget -= estimate_lines(turn, width)
            if turn.answer is not None:
                texts.append(turn.answer.content)
            index -= 1

        async def prepare() -> None:
            for text in texts:
                await prepare_body(text, *layout)

        self.run_worker(prepare(), group="prepare-ahead", exclusive=True, exit_on_error=False)

    # ---- PageUp and PageDown: a screen per key, at once ------------------------------------------
    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def _page(self, direction: int) -> None:
        """Move a screen now, however fast the keys come. Past the mounted edge, with more turns that
        way, the rest of the move is owed (``_debt``) and made once the next page is in."""
        pager = self.pager
        if pager is not None:
            self._collections.hold(self)
        y = self.scroll_y + direction * self.scrollable_content_region.height
        edge = 0 if direction < 0 else self.max_scroll_y
        more = pager is not None and (pager.has_older if direction < 0 else pager.has_newer)
        if more and (y < edge if direction < 0 else y > edge):
            self._debt += round(y - edge)
            y = edge
        self.scroll_to(y=y, animate=False, immediate=True)
        self._check_edges()

    # ---- Home and End: the first and the last page --------------------------------------------
    def action_scroll_home(self) -> None:
        self._debt = 0
        if self.pager is None or not self.pager.has_older:
            super().action_scroll_home()
            return
        self._loading = True
        self.call_later(self._jump_home)

    async def _jump_home(self) -> None:
        if self.pager is None:
            self._loaded()
        else:
            await self._show(self.pager.first(*self._budget()), at_end=False, then=self._at_home)

    def _at_home(self) -> None:
        self.scroll_to(y=0, animate=False, immediate=True)
        self._loaded()

    def action_scroll_end(self) -> None:
        self._debt = 0
        if self.pager is None or not self.pager.has_newer:
            super().action_scroll_end()
            return
        self._loading = True
        self.call_later(self._jump_end)

    async def _jump_end(self) -> None:
        if self.pager is None:
            self._loaded()
        else:
            await self._show(self.pager.latest(*self._budget()))
