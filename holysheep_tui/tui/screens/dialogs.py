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

from holysheep_tui.i18n import _
from holysheep_tui.textsafety import show_control


class HelpScreen(ModalScreen[None]):
    """Every key of the app, from the same table the bindings come from, in two columns of sections (one
    screen at 160x48; a smaller terminal scrolls)."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__(classes="modal")
        self.sections = sections

    def _column(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> Content:
        width = max((len(k) for _title, rows in sections for k, _what in rows), default=0)
        parts: list[Content] = []
        for title, rows in sections:
            if parts:
                parts.append(Content("\n\n"))
            parts.append(Content.styled(title, "bold"))
            parts.extend(Content(f"\n{key:>{width}}  {what}") for key, what in rows)
        return Content("").join(parts)

    def compose(self) -> ComposeResult:
        left, right = self.sections[:1], self.sections[1:]  # the app's keys; the prompt's and the rest
        with Vertical(classes="dialog", id="help"):
            yield Static(_("Keys"), classes="dialog-title")
            with VerticalScroll(), Horizontal(id="help-keys"):
                yield Static(self._column(left), classes="help-column")
                yield Static(self._column(right), classes="help-column")
            yield Static(
                _("Every action is also in the command palette (Ctrl+P). Esc closes."), classes="dialog-help"
            )

    def on_resize(self) -> None:
        """Two columns where they fit without wrapping; one under the other on a narrow terminal."""
        columns = self.query_one("#help-keys")
        columns.styles.layout = "horizontal" if self.size.width >= 140 else "vertical"
        for column in self.query(".help-column"):
            column.styles.width = "1fr" if self.size.width >= 140 else "100%"


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
            yield Static(_("System prompt for this conversation"), classes="dialog-title")
            yield TextArea(self.text, id="system-text", soft_wrap=True)
            yield Static(_("Ctrl+S save · Esc cancel · empty = none"), classes="dialog-help")

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
                yield Button(_("Yes"), variant="primary", id="yes")
                yield Button(_("No"), id="no")

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
