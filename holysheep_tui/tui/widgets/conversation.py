"""The conversation pane: prompts, answers and markers, following the stream unless scrolled up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from holysheep_tui.money import CurrencyView
from holysheep_tui.textsafety import show_control

if TYPE_CHECKING:  # the answer widgets and their Markdown renderer load with the first answer
    from holysheep_tui.history_loader import StoredTurn, TurnPager
    from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer


class UserMessage(Static):
    """One prompt as sent."""

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(show_control(text), markup=False, classes="user-message", id=id)
        self.text = text


class Marker(Static):
    """A line in the conversation that is not a message: model switch, system prompt, warnings."""

    def __init__(self, text: str, *, warning: bool = False) -> None:
        super().__init__(show_control(text), markup=False, classes="marker -warning" if warning else "marker")


class ConversationView(VerticalScroll, can_focus=True):
    """Holds the turns; anchored to the bottom so it follows the stream until the user scrolls up.

    A stored conversation shows a page of turns (``pager``); more are mounted as the user scrolls
    near the top (older) or, after a jump to an old message, near the bottom (newer).
    """

    LOAD_MARGIN = 8
    """Lines from the top (or bottom) edge at which the next page is mounted."""

    pager: TurnPager | None = None
    _money = CurrencyView()
    _loading = False

    def on_mount(self) -> None:
        self.anchor()

    async def add_turn(self, prompt: str, model: str) -> AnswerView:
        from holysheep_tui.tui.widgets.answer import AnswerView

        if self.pager is not None and self.pager.has_newer:  # showing an old page: back to the end first
            await self._show(self.pager.latest())
        answer = AnswerView(model)
        await self.mount_all([UserMessage(prompt), answer])
        self.anchor()
        return answer

    async def add_marker(self, text: str, *, warning: bool = False) -> None:
        await self.mount(Marker(text, warning=warning))
        self.anchor()

    def answers(self) -> list[AnswerView | StoredAnswer]:
        """Every answer mounted, in order: stored ones and those of this session."""
        from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer

        return [w for w in self.children if isinstance(w, AnswerView | StoredAnswer)]

    async def drop_last_turn(self) -> None:
        """Remove the last prompt and its answer (for regenerate and edit)."""
        from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer

        children = list(self.children)
        for index in range(len(children) - 1, -1, -1):
            if isinstance(children[index], UserMessage):
                doomed = [
                    w
                    for w in children[index : index + 2]
                    if isinstance(w, UserMessage | AnswerView | StoredAnswer)
                ]
                await self.remove_children(doomed)
                return

    async def clear(self) -> None:
        self.pager = None
        await self.remove_children()
        self.anchor()

    # ---- stored conversations ------------------------------------------------------------------
    async def show_stored(
        self, pager: TurnPager, money: CurrencyView, *, message_id: int | None = None
    ) -> None:
        """Show the latest page of a stored conversation, or the page holding ``message_id``."""
        await self.clear()
        self.pager, self._money = pager, money
        await self._show(pager.latest() if message_id is None else pager.around(message_id))
        if message_id is None:
            return
        found = self.query(f"#msg-{message_id}")
        if found:
            target = found.first()
            target.add_class("-found")
            self.anchor(False)
            self._loading = True
            self.call_after_refresh(self._scroll_to_found, target)

    def _scroll_to_found(self, target: Widget) -> None:
        self.scroll_to_widget(target, animate=False, top=True, immediate=True)
        self._loading = False

    async def _show(self, turns: Sequence[StoredTurn]) -> None:
        await self.remove_children()
        self._loading = True
        await self.mount_all(self._widgets(turns))
        self.anchor()
        self.call_after_refresh(self._loaded)

    def _widgets(self, turns: Sequence[StoredTurn]) -> list[Widget]:
        from holysheep_tui.tui.widgets.answer import StoredAnswer

        out: list[Widget] = []
        for turn in turns:
            if turn.note is not None:
                out.append(Marker(f"{turn.note.role}: {turn.note.content}"))
            if turn.prompt is not None:
                out.append(UserMessage(turn.prompt.content, id=f"msg-{turn.prompt.id}"))
            if turn.answer is not None:
                out.append(StoredAnswer(turn.answer, self._money))
            elif turn.prompt is not None:
                out.append(Marker("No answer was recorded for this prompt.", warning=True))
        return out

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_edges()

    def _check_edges(self) -> None:
        pager = self.pager
        if pager is None or self._loading or not self.is_mounted:
            return
        if pager.has_older and self.scroll_y <= self.LOAD_MARGIN:
            self._loading = True
            self.call_later(self._load_older)
        elif pager.has_newer and self.scroll_y >= self.max_scroll_y - self.LOAD_MARGIN:
            self._loading = True
            self.call_later(self._load_newer)

    async def _load_older(self) -> None:
        """Mount the previous page above, keeping what is on screen where it is."""
        pager = self.pager
        if pager is None or not pager.has_older:
            self._loaded()
            return
        keep = self.children[0] if self.children else None
        offset = keep.virtual_region.y - self.scroll_y if keep is not None else 0
        widgets = self._widgets(pager.older())
        if keep is None:
            await self.mount_all(widgets)
        else:
            await self.mount_all(widgets, before=keep)
        self.call_after_refresh(self._restore, keep, offset)

    def _restore(self, keep: Widget | None, offset: float) -> None:
        if keep is not None and keep.is_attached:
            self.scroll_to(y=keep.virtual_region.y - offset, animate=False, immediate=True)
        self._loaded()

    async def _load_newer(self) -> None:
        pager = self.pager
        if pager is not None and pager.has_newer:
            await self.mount_all(self._widgets(pager.newer()))
        self.call_after_refresh(self._loaded)

    def _loaded(self) -> None:
        """A page is in place: load another if the screen is still not full at that edge."""
        self._loading = False
        self._check_edges()
