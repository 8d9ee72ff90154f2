"""Choose an export format and a file; the screen returns the choice, the app writes the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from holysheep_tui.chat.resume import export_path
from holysheep_tui.i18n import _
from holysheep_tui.textsafety import one_line
from holysheep_tui.transcripts.export import EXPORTERS, FORMATS, exporter


@dataclass(frozen=True)
class ExportChoice:
    fmt: str
    """A name from the exporter table."""
    path: Path
    all_branches: bool = False
    """Include every other branch (md and html): "Include alternatives" was ticked."""


class ExportScreen(ModalScreen[ExportChoice | None]):
    """↑/↓ choose the format (the file name follows it until edited), Enter writes, Esc cancels.

    The formats are the exporter table's entries, in its order."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("up", "move(-1)", "Previous format", show=False),
        Binding("down", "move(1)", "Next format", show=False),
    ]

    def __init__(self, title: str, directory: Path, fmt: str = FORMATS[0]) -> None:
        super().__init__(classes="modal")
        self.conv_title = title
        self.directory = directory
        self.fmt = fmt
        self._suggested = str(export_path(directory, title, fmt))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Static(
                _("Export “{title}”").format(title=one_line(self.conv_title)),
                classes="dialog-title",
                markup=False,
            )
            yield OptionList(
                *[Option(f"{e.name:<7} {_(e.description)}", id=e.name) for e in EXPORTERS],
                id="export-formats",
            )
            yield Input(self._suggested, id="export-path")
            yield Checkbox(_("Include alternatives (md, html)"), id="export-branches", compact=True)
            yield Static(
                _(
                    "↑/↓ format · Tab, Space: alternatives · Enter write · Esc cancel · files are written 0600"
                ),
                classes="dialog-help",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = FORMATS.index(self.fmt)
        path = self.query_one(Input)
        path.focus()
        path.cursor_position = len(path.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        current = options.highlighted or 0
        options.highlighted = max(0, min(len(FORMATS) - 1, current + step))

    @on(OptionList.OptionHighlighted, "#export-formats")
    def _format(self, event: OptionList.OptionHighlighted) -> None:
        self.fmt = FORMATS[event.option_index]
        self.query_one(Checkbox).disabled = exporter(self.fmt).branches != "optional"
        path = self.query_one(Input)
        if path.value == self._suggested:  # follow the format until the user types a path
            self._suggested = str(export_path(self.directory, self.conv_title, self.fmt))
            path.value = self._suggested

    @on(OptionList.OptionSelected, "#export-formats")
    @on(Input.Submitted, "#export-path")
    def _submit(self) -> None:
        text = self.query_one(Input).value.strip()
        if not text:
            self.notify(_("Give a file name."), severity="warning")
            return
        path = Path(text).expanduser()
        if path.is_dir():
            path = export_path(path, self.conv_title, self.fmt)
        branches = self.query_one(Checkbox)
        self.dismiss(ExportChoice(self.fmt, path, branches.value and not branches.disabled))
