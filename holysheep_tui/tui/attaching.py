"""The app's attachments: the attach key and its dialog, pasted paths, the chips above the prompt, and the
checks before sending (a model that does not read images is refused before any request).

The files waiting for the next prompt are the app's ``attachments`` (the chip row follows them by
``data_bind``); sending takes them (``outgoing_attachments``) and clears them (``attachments_sent``); a
refused send keeps them. ``HolySheepApp`` derives from ``AttachingApp``; this class only uses the
attributes declared below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.message import Message
from textual.reactive import var

from holysheep_tui.chat.chat_session import ChatSession
from holysheep_tui.i18n import N_, _, ngettext
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.keys import Keymap, key_label
from holysheep_tui.tui.widgets.chips import AttachmentChips, FilesPasted
from holysheep_tui.tui.widgets.prompt import PromptInput

if TYPE_CHECKING:  # attachments load with the first one, not before the first frame
    from holysheep_tui.chat.attachments import Attachment
    from holysheep_tui.chat.conversation import Branch
    from holysheep_tui.tui.screens.attach import Loaded

REMOVE_KEYS = N_("Shift+Tab, then Delete")
"""How a chip is removed from the keyboard (the chip row is just above the prompt in the focus order)."""


@dataclass
class AttachmentsLoaded(Message, bubble=False):
    """Files read in a thread (a paste's paths): what was read and why the others were not."""

    loaded: tuple[Loaded, ...]
    errors: tuple[str, ...]


class AttachingApp(App[None]):
    # Provided by the subclass.
    chat: ChatSession
    keymap: Keymap
    relay_models: list[str]
    model_windows: dict[str, int]

    attachments: var[tuple[Attachment, ...]] = var((), init=False)
    """What goes with the next prompt, in the order attached."""

    @property
    def images_attached(self) -> int:
        """How many images wait for the next prompt (the model picker says who can take them)."""
        return sum(1 for a in self.attachments if a.kind == "image")

    def image_readers(self) -> list[str]:
        """The models known to read images: the relay's, else the price table's."""
        from holysheep_tui.economics.prices import VISION_MODELS

        prices = self.chat.prices
        return [m for m in self.relay_models if prices.reads_images(m)] or list(VISION_MODELS)

    # ---- attaching ---------------------------------------------------------------------------
    def action_attach(self) -> None:
        """The attach dialog: a path with completion; the file is read in a thread."""
        from holysheep_tui.tui.screens.attach import AttachScreen

        screen = AttachScreen(attached=len(self.attachments))

        def done(attachment: Attachment | None) -> None:
            if attachment is not None and screen.loaded is not None:
                self.add_attachments([screen.loaded])

        self.push_screen(screen, done)

    @on(FilesPasted)
    def _files_pasted(self, message: FilesPasted) -> None:
        count = len(message.paths)
        names = ", ".join(one_line(p.name) for p in message.paths[:3]) + (" …" if count > 3 else "")
        pasted = ngettext(
            "Pasted {count} file path ({names}): attaching, not typing.",
            "Pasted {count} file paths ({names}): attaching, not typing.",
            count,
        )
        self.notify(pasted.format(count=count, names=names))
        self._read_pasted(message.paths)

    @work(thread=True, group="attach", exit_on_error=False)
    def _read_pasted(self, paths: tuple[Path, ...]) -> None:
        from holysheep_tui.tui.screens.attach import Loaded, read_file

        results = [read_file(path) for path in paths]
        loaded = tuple(r for r in results if isinstance(r, Loaded))
        errors = tuple(r.user_text() for r in results if not isinstance(r, Loaded))
        self.post_message(AttachmentsLoaded(loaded, errors))

    @on(AttachmentsLoaded)
    def _attachments_loaded(self, message: AttachmentsLoaded) -> None:
        for error in message.errors:
            self.notify(error, title=_("Cannot attach the file"), severity="error", timeout=10)
        self.add_attachments(message.loaded)

    def add_attachments(self, loaded: Sequence[Loaded]) -> None:
        """Add files read to the next prompt (one already attached is not added twice); say so, and warn
        now about an image for a model that does not read images or files larger than its window."""
        from holysheep_tui.chat.attachments import chip_label

        pending = list(self.attachments)
        added: list[str] = []
        for item in loaded:
            a = item.attachment
            if any(p.sha256 == a.sha256 and p.name == a.name for p in pending):
                self.notify(_("{name} is attached already.").format(name=one_line(a.name)))
                continue
            pending.append(a)
            added.append(chip_label(a, len(pending)))
        if not added:
            return
        self.attachments = tuple(pending)
        self.notify(_("Attached {chips}").format(chips="  ".join(added)), timeout=4)
        model = self.chat.model
        if any(a.kind == "image" for a in pending) and self.chat.prices.reads_images(model) is False:
            self.notify(
                _(
                    "{model} does not read images: pick one that does before sending ({key}: {models})."
                ).format(
                    model=one_line(model),
                    key=key_label(self.keymap.keys_of("pick_model")),
                    models=", ".join(self.image_readers()),
                ),
                severity="warning",
                timeout=8,
            )
        price = self.chat.prices.lookup(model)
        window = self.model_windows.get(model) or (price.context_window if price else None)
        tokens = sum(item.tokens for item in loaded)
        if window is not None and tokens > window:
            self.notify(
                _(
                    "The files attached (~{tokens} tokens) are more than {model}'s context window "
                    "({window}): remove one ({keys}) or pick a model with a larger window."
                ).format(
                    tokens=f"{tokens:,}", model=one_line(model), window=f"{window:,}", keys=_(REMOVE_KEYS)
                ),
                severity="warning",
                timeout=10,
            )

    @on(AttachmentChips.Remove)
    def _remove_attachment(self, message: AttachmentChips.Remove) -> None:
        pending = list(self.attachments)
        if not 0 <= message.index < len(pending):
            return
        gone = pending.pop(message.index)
        self.attachments = tuple(pending)
        from holysheep_tui.chat.attachments import chip_label

        self.notify(_("Removed {chip}").format(chip=chip_label(gone, message.index + 1)), timeout=3)
        if not pending:
            self.query_one(PromptInput).focus()

    # ---- sending -----------------------------------------------------------------------------
    def outgoing_attachments(self, branch: Branch | None) -> tuple[Attachment, ...]:
        """What goes with a prompt: the files attached; asking again sends the original prompt's files,
        an edit keeps them and adds those attached since."""
        if branch is None:
            return self.attachments
        kind, old = branch
        return old.attachments if kind == "answer" else (*old.attachments, *self.attachments)

    def attachments_sent(self, branch: Branch | None) -> None:
        """The prompt went: the chips it took are cleared (asking again took none)."""
        if branch is None or branch[0] != "answer":
            self.attachments = ()

    def refuse_attachments(self, models: Sequence[str], files: Sequence[Attachment]) -> bool:
        """Refuse (True, with the way out said; nothing is sent) when an image (this prompt's, or an
        earlier prompt's of the conversation) would reach a model known not to read images; a comparison
        is refused when any of its models does not."""
        from holysheep_tui.chat.attachments import NoVisionError, check_vision

        chat = self.chat
        earlier = [a for turn in chat.conversation.turns for a in turn.attachments]
        blocked: list[str] = []
        for model in models:
            try:
                check_vision(model, [*files, *earlier], chat.prices)
            except NoVisionError:
                blocked.append(one_line(model))
        if not blocked:
            return False
        pick = key_label(self.keymap.keys_of("pick_model"))
        if any(a.kind == "image" for a in files):
            way_out = _("or remove the image ({keys})").format(keys=_(REMOVE_KEYS))
        else:
            new = key_label(self.keymap.keys_of("new_conversation"))
            way_out = _(
                "or start a new conversation ({key}): an earlier prompt here carries an image"
            ).format(key=new)
        refused = ngettext(
            "{models} does not read images, so nothing was sent. Pick a model that reads images "
            "({key}: {readers}), {way_out}.",
            "{models} do not read images, so nothing was sent. Pick a model that reads images "
            "({key}: {readers}), {way_out}.",
            len(blocked),
        )
        self.notify(
            refused.format(
                models=", ".join(blocked), key=pick, readers=", ".join(self.image_readers()), way_out=way_out
            ),
            title=_("Not sent: the model does not read images"),
            severity="error",
            timeout=15,
        )
        return True
