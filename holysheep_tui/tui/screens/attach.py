"""The attach dialog: a path with completion (Tab completes, the matches listed below, ``~`` understood,
any file name, 中文 too); Enter reads the file in a thread and attaches it, Esc cancels.

Reading happens in a worker thread (a 10 MB image never freezes the screen); a file that cannot be
attached (missing, unreadable, too large, neither text nor an image) is said in the dialog, which stays
open with the path as typed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from holysheep_tui.chat.attachments import (
    Attachment,
    AttachmentError,
    attachment_tokens,
    human_size,
    load_attachment,
    pasted_paths,
)
from holysheep_tui.i18n import N_, _
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.screens.room import leave_room

MAX_LISTED = 200
"""Matches listed under the path (a folder's first entries; typing narrows them)."""
MAX_SCANNED = 5_000
"""Entries of one folder read for completion: a huge folder costs no more than this."""
HELP = N_("Tab completes · ↑/↓ pick a match · Enter attaches · Esc cancels")
"""Shown translated (``_(HELP)``)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """A file read for attaching, with its estimated prompt tokens (counted in the same thread)."""

    attachment: Attachment
    tokens: int


def read_file(path: str | os.PathLike[str]) -> Loaded | AttachmentError:
    """Read ``path`` into an attachment, or the reason it cannot be one. Blocking: run it in a thread."""
    try:
        attachment = load_attachment(path)
    except AttachmentError as exc:
        return exc
    return Loaded(attachment, attachment_tokens(attachment))


@dataclass(frozen=True, slots=True)
class Completion:
    """What Tab makes of a typed path: the text to put back and the entries that match."""

    text: str
    matches: tuple[str, ...]
    """Names in the folder that start with what was typed; a folder's name ends with ``/``."""


def _split(typed: str) -> tuple[str, str]:
    """``("~/图片/", "ca")`` from ``"~/图片/ca"``: the folder part as typed and the name started."""
    head, sep, tail = typed.rpartition("/")
    return (head + sep, tail)


def _resolve(head: str, cwd: Path) -> Path:
    folder = Path(os.path.expanduser(head)) if head else cwd
    return folder if folder.is_absolute() else cwd / folder


def list_matches(typed: str, cwd: Path) -> tuple[str, ...]:
    """The entries of the typed path's folder whose names start with the typed name, sorted; hidden ones
    only when the name typed starts with a dot. Never raises (an unreadable folder lists nothing)."""
    head, name = _split(typed)
    folder = _resolve(head, cwd)
    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in islice(entries, MAX_SCANNED):
                hidden = entry.name.startswith(".") and not name.startswith(".")
                if hidden or not entry.name.startswith(name):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                found.append(entry.name + ("/" if is_dir else ""))
    except OSError:
        return ()
    return tuple(sorted(found, key=lambda n: (n.casefold(), n)))


def complete(typed: str, cwd: Path) -> Completion:
    """Complete ``typed`` to the longest prefix its matches share; one folder gets its ``/``."""
    if typed == "~":
        typed = "~/"
    head = _split(typed)[0]
    matches = list_matches(typed, cwd)
    if not matches:
        return Completion(typed, ())
    common = os.path.commonprefix(list(matches))
    return Completion(head + common if len(common) >= len(typed) - len(head) else typed, matches)


class PathInput(Input):
    """The path: Tab completes it instead of moving the focus."""

    async def _on_key(self, event: events.Key) -> None:
        screen = self.screen
        if event.key == "tab" and isinstance(screen, AttachScreen):
            event.stop()
            event.prevent_default()
            screen.action_complete()
            return
        await super()._on_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        """A file dropped on the terminal pastes its path quoted or escaped: the path itself goes in."""
        paths = pasted_paths(event.text)
        if len(paths) == 1:
            event.stop()
            event.prevent_default()
            self.value = str(paths[0])
            self.cursor_position = len(self.value)


class AttachScreen(ModalScreen[Attachment | None]):
    """Dismisses with the attachment read, or None (Esc)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "cursor(1)", show=False),
        Binding("up", "cursor(-1)", show=False),
    ]

    def __init__(self, cwd: Path | None = None, *, attached: int = 0) -> None:
        super().__init__(classes="modal")
        self.cwd = cwd or Path.cwd()
        self.attached = attached
        self.loaded: Loaded | None = None
        """The file read, with its token estimate (kept for the app after the dialog closes)."""
        self._reading: Worker[Loaded | AttachmentError] | None = None
        self._picked = False
        """The user moved through the matches: Enter takes the highlighted one."""

    def compose(self) -> ComposeResult:
        title = _("Attach a file or an image to the next prompt")
        if self.attached:
            title += " " + _("({count} attached so far)").format(count=self.attached)
        with Vertical(classes="dialog", id="attach"):
            yield Static(title, classes="dialog-title", markup=False)
            yield PathInput(
                placeholder=_("Path: ~/图片/cat.png, ./main.py, /tmp/log.txt …"), id="attach-path"
            )
            yield OptionList(id="attach-matches")
            yield Static(
                _(
                    "Images (PNG, JPEG, WebP, GIF, up to 20 MB) go to models that read images; text files "
                    "(UTF-8, up to 2 MB) go in the prompt as a fenced block."
                ),
                classes="dialog-help",
                markup=False,
            )
            yield Static(_(HELP), classes="dialog-help", id="attach-status", markup=False)

    def on_mount(self) -> None:
        self.query_one(PathInput).focus()
        self._show_matches("")
        self.call_after_refresh(self._leave_room)

    def on_resize(self) -> None:
        self.call_after_refresh(self._leave_room)

    def _leave_room(self) -> None:
        """The title and the hints stay in view on a small terminal: the matches scroll."""
        if self.is_attached:
            leave_room(self.query_one("#attach"), self.query_one(OptionList))

    @property
    def typed(self) -> str:
        return self.query_one(PathInput).value

    def _set_typed(self, text: str) -> None:
        path = self.query_one(PathInput)
        path.value = text
        path.cursor_position = len(text)

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#attach-status", Static)
        status.update(Content(text))
        status.set_class(error, "-error")
        self.call_after_refresh(self._leave_room)  # an error may take more lines than the help

    def _show_matches(self, typed: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matches = list_matches(typed, self.cwd)
        for name in matches[:MAX_LISTED]:
            options.add_option(Option(Content(one_line(name) or "?"), id=name))
        self._picked = False
        options.highlighted = 0 if matches else None

    @on(Input.Changed, "#attach-path")
    def _typed(self, event: Input.Changed) -> None:
        self._show_matches(event.value)
        if self._reading is None:
            self._status(_(HELP))

    def action_complete(self) -> None:
        done = complete(self.typed, self.cwd)
        if done.text != self.typed:
            self._set_typed(done.text)
        elif not done.matches:
            self._status(
                _("Nothing here starts with “{name}”.").format(name=one_line(_split(self.typed)[1])),
                error=True,
            )

    def action_cursor(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.action_cursor_down() if step > 0 else options.action_cursor_up()
            self._picked = True

    def _take(self, name: str) -> None:
        """A match chosen: a folder is entered, a file attached."""
        self._set_typed(_split(self.typed)[0] + name)
        if not name.endswith("/"):
            self._attach_path(self.typed)

    @on(OptionList.OptionSelected, "#attach-matches")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self._take(event.option.id)

    @on(Input.Submitted, "#attach-path")
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if self._picked and options.highlighted is not None:
            chosen = options.get_option_at_index(options.highlighted).id
            if chosen is not None:
                self._take(chosen)
                return
        self._attach_path(self.typed)

    def _attach_path(self, typed: str) -> None:
        if self._reading is not None or not self.is_active:
            return  # one file at a time: Enter again while it is read (or after it closed) does nothing
        text = typed.strip()
        if not text:
            self._status(_("Type the path of a file to attach (Tab completes)."), error=True)
            return
        path = _resolve(text, self.cwd)
        if path.is_dir():
            self._set_typed(text.rstrip("/") + "/")
            return
        self._status(_("Reading {name}…").format(name=one_line(path.name)))
        self._reading = self.run_worker(
            lambda: read_file(path), thread=True, group="attach", exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self._reading or not worker.is_finished or not self.is_active:
            return
        self._reading = None
        result = worker.result if event.state == WorkerState.SUCCESS else None
        if isinstance(result, Loaded):
            self.loaded = result
            self.dismiss(result.attachment)
        elif isinstance(result, AttachmentError):
            self._status(result.user_text(), error=True)
        else:
            self._status(_("The file could not be read: {error}").format(error=worker.error), error=True)


def describe(loaded: Loaded) -> str:
    """``cat.png, image/png, 240 KB`` for a notice."""
    a = loaded.attachment
    return f"{one_line(a.name)}, {a.mime}, {human_size(a.size)}"
