"""The conversation pane: prompts, answers and markers, following the stream unless scrolled up."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from holysheep_tui.tui.widgets.answer import AnswerView


class UserMessage(Static):
    """One prompt as sent."""

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False, classes="user-message")
        self.text = text


class Marker(Static):
    """A line in the conversation that is not a message: model switch, system prompt, warnings."""

    def __init__(self, text: str, *, warning: bool = False) -> None:
        super().__init__(text, markup=False, classes="marker -warning" if warning else "marker")


class ConversationView(VerticalScroll, can_focus=True):
    """Holds the turns; anchored to the bottom so it follows the stream until the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()

    async def add_turn(self, prompt: str, model: str) -> AnswerView:
        answer = AnswerView(model)
        await self.mount_all([UserMessage(prompt), answer])
        self.anchor()
        return answer

    async def add_marker(self, text: str, *, warning: bool = False) -> None:
        await self.mount(Marker(text, warning=warning))
        self.anchor()

    def answers(self) -> list[AnswerView]:
        return list(self.query_children(AnswerView))

    async def drop_last_turn(self) -> None:
        """Remove the last prompt and its answer (for regenerate and edit)."""
        children = list(self.children)
        for index in range(len(children) - 1, -1, -1):
            if isinstance(children[index], UserMessage):
                doomed = [w for w in children[index : index + 2] if isinstance(w, UserMessage | AnswerView)]
                await self.remove_children(doomed)
                return

    async def clear(self) -> None:
        await self.remove_children()
        self.anchor()
