"""Small modal screens: help, system prompt, confirmation, and a pick-one list."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from holysheep_tui.textsafety import show_control


class HelpScreen(ModalScreen[None]):
    """Every key of the app, from the same table the bindings come from."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in self.keys)
        lines = "\n".join(f"{key:>{width}}  {what}" for key, what in self.keys)
        with Vertical(classes="dialog", id="help"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(lines, markup=False, id="help-keys")
            yield Static(
                "Every action is also in the command palette (Ctrl+P). Esc closes.", classes="dialog-help"
            )


class SystemPromptScreen(ModalScreen[str | None]):
    """Edit this conversation's system prompt; Ctrl+S saves, Esc cancels. An empty text removes it."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, text: str) -> None:
        super().__init__(classes="modal")
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="system-prompt"):
            yield Static("System prompt for this conversation", classes="dialog-title")
            yield TextArea(self.text, id="system-text", soft_wrap=True)
            yield Static("Ctrl+S save · Esc cancel · empty = none", classes="dialog-help")

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; Y/Enter confirms, N/Esc declines. The question is shown as it is (no markup)."""

    BINDINGS = [Binding("escape,n", "dismiss(False)", "No"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str) -> None:
        super().__init__(classes="modal")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(show_control(self.question), markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes", variant="primary", id="yes")
                yield Button("No", id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ChoiceScreen(ModalScreen[int | None]):
    """Pick one of several labelled items; dismisses with its index. Labels are shown as they are."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, labels: list[str]) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.labels = labels

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice"):
            yield Static(show_control(self.title_text), classes="dialog-title", markup=False)
            yield OptionList(
                *[Option(Content(show_control(label)), id=str(i)) for i, label in enumerate(self.labels)]
            )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))
