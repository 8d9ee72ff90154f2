"""``ask -a FILE``: the files given, loaded and checked before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from holysheep_tui.chat.attachments import (
    Attachment,
    NoVisionError,
    check_vision,
    chip_label,
    load_attachment,
)
from holysheep_tui.i18n import _
from holysheep_tui.textsafety import one_line

if TYPE_CHECKING:
    from holysheep_tui.economics.prices import PriceBook


def load_files(paths: Sequence[str] | None) -> tuple[Attachment, ...]:
    """Each ``-a`` file read once, in the order given. Raises AttachmentError (exit 2) for the first
    file that is missing, unreadable, too large, or neither text nor an image."""
    return tuple(load_attachment(path) for path in paths or ())


def check_models(models: Sequence[str], attachments: Sequence[Attachment], prices: PriceBook | None) -> None:
    """Refuse (NoVisionError, exit 10) before any request when an image would go to a model known not to
    read images; the hint names the ones that do, and the other way out."""
    if prices is None or not any(a.kind == "image" for a in attachments):
        return
    for model in models:
        try:
            check_vision(model, attachments, prices)
        except NoVisionError as exc:
            from holysheep_tui.economics.prices import VISION_MODELS

            images = ", ".join(one_line(a.name) for a in attachments if a.kind == "image")
            hint = _(
                "Choose a model that reads images with -m ({models}), or drop the image ({images}) from -a."
            )
            raise NoVisionError(
                exc.message, hint=hint.format(models=", ".join(VISION_MODELS), images=images)
            ) from None


def attachments_json(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """The ``attachments`` list of ``ask --json``: what was sent, never the bytes."""
    return [
        {"name": a.name, "mime": a.mime, "kind": a.kind, "size": a.size, "sha256": a.sha256}
        for a in attachments
    ]


def attached_line(attachments: Sequence[Attachment]) -> str:
    """``holysheep: attached [Image #1 cat.png 240 KB] [File #2 main.py 3 KB]`` (stderr)."""
    chips = " ".join(chip_label(a, n) for n, a in enumerate(attachments, 1))
    return "holysheep: " + _("attached {chips}").format(chips=chips)
