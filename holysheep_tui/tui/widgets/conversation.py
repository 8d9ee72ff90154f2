"""The conversation pane: prompts, answers and markers, following the stream unless scrolled up."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.i18n import N_, _
from holysheep_tui.textsafety import show_control
from holysheep_tui.tui.breaking_text import BreakingVisual
from holysheep_tui.tui.messages import BranchAction, BranchRequest
from holysheep_tui.tui.widgets.chips import chip_line
from holysheep_tui.tui.widgets.paging import PagedScroll, release

if TYPE_CHECKING:  # the answer widgets and their Markdown renderer load with the first answer
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.resume import StoredTurn, TurnPager
    from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer
    from holysheep_tui.tui.widgets.compare import CompareView


WELCOME_KEYS = (
    ("Enter", N_("send")),
    ("Ctrl+J", N_("new line")),
    ("Ctrl+O", N_("choose the model")),
    ("Ctrl+B", N_("history")),
    ("F1", N_("every key")),
    ("Ctrl+Q", N_("quit")),
)
"""The keys an empty conversation shows (what they do translated when shown)."""


def welcome(*, demo: bool) -> Content:
    """What an empty conversation shows: what to type, the keys that matter, and what the demo is."""
    keys = "\n".join(f"  {key:<7} {_(what)}" for key, what in WELCOME_KEYS)
    ask = _("Type a question in the box below and press Enter (中文、English, any language).")
    parts: list[str | tuple[str, str]] = [(_("Start a conversation"), "bold"), f"\n\n{ask}\n\n", keys]
    if demo:
        demo_text = _("Demo: answers come from a built-in simulator; nothing is sent or billed.")
        parts.append((f"\n\n{demo_text}", "italic"))
    return Content.assemble(*parts)


def place_label(place: tuple[int, int]) -> str:
    """Where a message stands among its alternatives: ``‹2/3›``."""
    return f"‹{place[0]}/{place[1]}›"


class UserMessage(Static):
    """One prompt as sent; with alternatives (edits), its place among them (``‹2/3›``) after the text."""

    def __init__(
        self,
        text: str,
        *,
        id: str | None = None,
        message_id: int | None = None,
        place: tuple[int, int] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        shown = Text(show_control(text))
        if place is not None:
            shown.append(f"  {place_label(place)}", style="dim")
        if attachments:  # the files sent with it, as chips: [Image #1 cat.png 240 KB]
            shown.append("\n" + chip_line(attachments), style="bold")
        # Breaking: the prompt wraps by the Unicode line-breaking rules (CJK), not only at spaces.
        super().__init__(BreakingVisual(self, shown), markup=False, classes="user-message", id=id)
        self.text = text
        self.message_id = message_id
        self.place = place
        self.attachments = tuple(attachments)


class Marker(Static):
    """A line in the conversation that is not a message: model switch, system prompt, warnings."""

    def __init__(self, text: str, *, warning: bool = False) -> None:
        super().__init__(show_control(text), markup=False, classes="marker -warning" if warning else "marker")


class ConversationView(PagedScroll, can_focus=True):
    """Holds the turns; anchored to the bottom so it follows the stream until the user scrolls up.

    A stored conversation shows pages of turns (``pager``), each a few screens high: the next one
    is mounted as the user scrolls near the top (older) or, after a jump, near the bottom (newer),
    and pages far off screen are unmounted, so a conversation of any length holds a bounded number
    of widgets. A stored turn is two widgets: its prompt and a ``StoredAnswer``. Turns sent in this
    session (the live tail) stay below the stored pages. Home and End jump to the first and last
    page.
    """

    BINDINGS = [
        Binding("up", "select_message(-1)", "Previous message", show=False),
        Binding("down", "select_message(1)", "Next message", show=False),
        Binding("left", "branch('alternative', -1)", "Previous alternative", show=False),
        Binding("right", "branch('alternative', 1)", "Next alternative", show=False),
        Binding("e", "branch('edit')", "Edit this prompt (sent as an alternative)", show=False),
        Binding("r", "branch('regenerate')", "Ask this again (a new alternative)", show=False),
        Binding("m", "branch('reask')", "Ask this again with another model", show=False),
        Binding("f", "branch('fork')", "Fork a new conversation from here", show=False),
        Binding("escape,enter", "leave", "Back to the prompt", show=False),
    ]
    MESSAGE_KEYS = frozenset({"up", "down", "left", "right", "e", "r", "m", "f", "escape", "enter"})

    _money = CurrencyView()
    show_reasoning = False
    """Every answer's reasoning unfolded (F9), for the answers shown now and those to come."""

    selected: Widget | None = None
    """The message the message keys act on (prompt or answer), highlighted; None: none."""

    def on_mount(self) -> None:
        self.anchor()

    def retranslate(self) -> None:
        """The language changed: the welcome is drawn again (the messages keep their words)."""
        if not self.children:
            self.refresh()

    def render(self) -> RenderResult:
        """With nothing to show yet: a short welcome (what to type, the keys that matter)."""
        if self.children:
            return super().render()
        chat = getattr(self.app, "chat", None)
        return welcome(demo=bool(getattr(chat, "demo", False)))

    # ---- the selected message ------------------------------------------------------------------
    def messages(self) -> list[Widget]:
        """Prompts and answers mounted, in order."""
        return [w for w in self.children if isinstance(w, UserMessage) or w.has_class("answer")]

    def select(self, widget: Widget | None) -> None:
        if self.selected is not None and self.selected.is_attached:
            self.selected.remove_class("-selected")
        self.selected = widget
        if widget is not None:
            widget.add_class("-selected")
            self.anchor(False)
            self.scroll_to_widget(widget, animate=False, immediate=True)

    def select_id(self, message_id: int) -> bool:
        found = next((w for w in self.messages() if getattr(w, "message_id", None) == message_id), None)
        self.select(found)
        return found is not None

    def action_select_message(self, delta: int) -> None:
        """Select the previous or next message (the last one when none is); stops at either end."""
        items = self.messages()
        if not items:
            return
        current = self.selected
        if current is None or current not in items:
            self.select(items[-1])
            return
        index = max(0, min(len(items) - 1, items.index(current) + delta))
        self.select(items[index])

    def action_branch(self, action: BranchAction, delta: int = 0) -> None:
        if self.selected is None:
            self.action_select_message(-1)
        target = self.selected
        if target is not None:
            role = "user" if isinstance(target, UserMessage) else "assistant"
            self.post_message(BranchRequest(action, getattr(target, "message_id", None), role, delta))

    def action_leave(self) -> None:
        self.select(None)
        self.post_message(BranchRequest("leave", None, ""))

    def on_blur(self) -> None:
        if self.selected is not None and not self.app.screen.is_modal:
            self.select(None)

    def on_key(self, event: events.Key) -> None:
        """A character typed while reading the conversation goes to the prompt (nothing typed is lost)."""
        if event.is_printable and event.character and event.key not in self.MESSAGE_KEYS:
            event.stop()
            event.prevent_default()
            self.select(None)
            self.post_message(BranchRequest("leave", None, "", text=event.character))

    async def add_turn(
        self,
        prompt: str,
        model: str,
        *,
        prompt_place: tuple[int, int] | None = None,
        place: tuple[int, int] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> AnswerView:
        """Show a prompt being sent and its (empty) answer; ``place``s: among alternatives, when a branch."""
        from holysheep_tui.tui.widgets.answer import AnswerView

        self.select(None)
        if self.pager is not None and self.pager.has_newer:  # showing an old page: back to the end first
            await self._show(self.pager.latest(*self._budget()))
        answer = AnswerView(model, show_reasoning=self.show_reasoning, place=place)
        answer.prompt_widget = UserMessage(prompt, place=prompt_place, attachments=attachments)
        await self.mount_all([answer.prompt_widget, answer])
        self.anchor()
        return answer

    async def add_comparison(
        self, prompt: str, models: Sequence[str], estimate: str, *, attachments: Sequence[Attachment] = ()
    ) -> CompareView:
        """Show a prompt sent to several models and their (empty) answers side by side."""
        from holysheep_tui.tui.widgets.compare import CompareView

        self.select(None)
        if self.pager is not None and self.pager.has_newer:
            await self._show(self.pager.latest(*self._budget()))
        compare = CompareView(models, estimate, show_reasoning=self.show_reasoning)
        compare.prompt_widget = UserMessage(prompt, attachments=attachments)
        await self.mount_all([compare.prompt_widget, compare])
        self.anchor()
        return compare

    async def add_marker(self, text: str, *, warning: bool = False) -> None:
        await self.mount(Marker(text, warning=warning))
        self.anchor()

    def toggle_reasoning(self) -> bool:
        """Show or hide the reasoning of every answer; returns whether it is shown now."""
        self.show_reasoning = not self.show_reasoning
        for answer in self.answers():
            answer.set_reasoning(self.show_reasoning)
        return self.show_reasoning

    def answers(self) -> list[AnswerView | StoredAnswer]:
        """Every answer mounted, in order: stored ones and those of this session."""
        from holysheep_tui.tui.widgets.answer import AnswerView, StoredAnswer

        return [w for w in self.children if isinstance(w, AnswerView | StoredAnswer)]

    async def drop_last_turn(self) -> None:
        """Remove the last prompt and its answer (for regenerate and edit)."""
        if self.pager is not None and self.pager.has_newer:
            await self._show(self.pager.latest(*self._budget()))
        children = list(self.children)
        for index in range(len(children) - 1, -1, -1):
            if isinstance(children[index], UserMessage):
                doomed = [
                    w
                    for w in children[index : index + 2]
                    if isinstance(w, UserMessage) or w.has_class("answer")
                ]
                last = self._pages[-1] if self._pages else None
                if last is not None and doomed[0] in last.widgets and self.pager is not None:
                    self.pager.drop_last()  # a stored turn: it must not come back with the next page
                    last.widgets = [w for w in last.widgets if w not in doomed]
                    last.turns -= 1
                    if not last.widgets:
                        self._pages.pop()
                release(doomed)
                await self.remove_children(doomed)
                return

    async def clear(self) -> None:
        async with self._paging:  # not while a page is being mounted
            self.pager = None
            self._pages, self._debt = [], 0
            release(self.children)
            await self.remove_children()
            self.anchor()

    # ---- stored conversations ------------------------------------------------------------------
    async def show_stored(
        self, pager: TurnPager, money: CurrencyView, *, message_id: int | None = None, select: bool = False
    ) -> None:
        """Show the latest page of a stored conversation, or the page holding ``message_id`` (marked as
        found, or ``select``ed for the message keys)."""
        await self.clear()
        self.pager, self._money = pager, money
        if message_id is None:
            await self._show(pager.latest(*self._budget()))
            self.call_after_refresh(self._prepare_alternatives)
            return
        at_end = select and pager.turns and message_id in pager.turns[-1].ids
        await self._show(
            pager.around(message_id),
            at_end=bool(at_end),
            then=partial(self._scroll_to_found, message_id, select),
        )
        self.call_after_refresh(self._prepare_alternatives)

    def _prepare_alternatives(self) -> None:
        """Lay out the alternatives of the last answer shown that has any, in the background, nearest
        first: F6/F7 then paint the other answer at once instead of rendering it on the key."""
        from holysheep_tui.tui.widgets.answer import StoredAnswer, prepare_body

        pager = self.pager
        shown = [w for w in self.children if isinstance(w, StoredAnswer) and w.place is not None]
        layout = shown[-1].body_layout if shown else None
        if pager is None or layout is None:
            return
        message = shown[-1].message
        alternatives = pager.conversation.alternatives(message)
        here = next((i for i, m in enumerate(alternatives) if m.id == message.id), 0)
        nearest = sorted(range(len(alternatives)), key=lambda i: abs(i - here))
        texts = [alternatives[i].content for i in nearest if i != here]

        async def prepare() -> None:
            for text in texts:
                await prepare_body(text, *layout)

        self.run_worker(prepare(), group="prepare-bodies", exclusive=True, exit_on_error=False)

    def _scroll_to_found(self, message_id: int, select: bool = False) -> None:
        found = self.query(f"#msg-{message_id}")
        if found:
            target = found.first()
            if select:
                self.select(target)
            else:
                target.add_class("-found")
                self.scroll_to_widget(target, animate=False, top=True, immediate=True)
        self._loaded()

    def _widgets(self, turns: Sequence[StoredTurn]) -> list[Widget]:
        from holysheep_tui.tui.widgets.answer import StoredAnswer

        out: list[Widget] = []
        for turn in turns:
            if turn.note is not None:
                out.append(Marker(f"{turn.note.role}: {turn.note.content}"))
            places = self.pager.places if self.pager is not None else {}
            files = self.pager.conversation.attachments if self.pager is not None else {}
            if turn.prompt is not None:
                prompt = turn.prompt
                out.append(
                    UserMessage(
                        prompt.content,
                        id=f"msg-{prompt.id}",
                        message_id=prompt.id,
                        place=places.get(prompt.id),
                        attachments=files.get(prompt.id, ()),
                    )
                )
            if turn.answer is not None:
                out.append(
                    StoredAnswer(
                        turn.answer,
                        self._money,
                        show_reasoning=self.show_reasoning,
                        place=places.get(turn.answer.id),
                    )
                )
            elif turn.prompt is not None:
                out.append(Marker(_("No answer was recorded for this prompt."), warning=True))
        return out
