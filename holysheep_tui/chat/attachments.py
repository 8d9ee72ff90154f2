"""Attachments: files sent with a prompt, loaded, checked and turned into what goes on the wire.

An image (PNG, JPEG, WebP or GIF, known by its first bytes, never by its extension) travels as an
``image_url`` part holding a ``data:`` URL; a text file (valid UTF-8 without NULs: code, Markdown, CSV,
JSON, logs) travels inside the prompt's text as a fenced block headed by its name. Everything here is
pure but ``load_attachment`` (one read of the file); the CLI and the app both use it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import unquote, urlsplit

from holysheep_tui.errors import EXIT_BAD_REQUEST, UsageError
from holysheep_tui.i18n import N_, _
from holysheep_tui.relay.wire import ContentPart, ImagePart, TextPart
from holysheep_tui.store.models import Attachment, AttachmentKind
from holysheep_tui.textsafety import one_line

if TYPE_CHECKING:
    from holysheep_tui.economics.prices import PriceBook

__all__ = [
    "IMAGE_TOKENS",
    "MAX_IMAGE_BYTES",
    "MAX_TEXT_BYTES",
    "Attachment",
    "AttachmentError",
    "AttachmentKind",
    "NoVisionError",
    "attachment_tokens",
    "check_vision",
    "chip_label",
    "content_parts",
    "fenced",
    "human_size",
    "load_attachment",
    "looks_like_pasted_paths",
    "make_attachment",
    "pasted_paths",
    "prompt_with_files",
    "sniff_image",
]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""The largest image sent: the limit OpenAI and Anthropic put on one image (20 MB)."""
MAX_TEXT_BYTES = 2 * 1024 * 1024
"""The largest text file sent (2 MB, some 500,000 tokens: more than any relay model's window)."""
IMAGE_TOKENS = 1_600
"""The estimate for one image, whatever its size: providers scale images down before counting, and the
largest image Anthropic keeps unscaled (~1.15 megapixels at 750 pixels per token) counts ~1,600 tokens;
OpenAI's high-detail count for a 2048 x 2048 image is 1,105. An over-estimate keeps the meter honest."""

_READ_CHUNK = 1024 * 1024
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".html": "text/html",
    ".xml": "application/xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}
_FENCE_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".rs": "rust",
    ".go": "go",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".java": "java",
    ".sh": "bash",
    ".md": "markdown",
    ".json": "json",
    ".csv": "csv",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".html": "html",
    ".sql": "sql",
}


class AttachmentError(UsageError):
    """A file that cannot be attached: missing, unreadable, too large, or neither text nor an image."""

    title: ClassVar[str] = N_("Cannot attach the file")
    kind: ClassVar[str] = "attachment"


class NoVisionError(UsageError):
    """An image would go to a model that does not read images: refused before any request."""

    title: ClassVar[str] = N_("The model does not read images")
    kind: ClassVar[str] = "no_vision"
    exit_code: ClassVar[int] = EXIT_BAD_REQUEST


def human_size(size: int) -> str:
    """``240 KB`` / ``10.5 MB`` (1 KB = 1,024 bytes; never below 1 KB)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def sniff_image(head: bytes) -> str | None:
    """The image type the first bytes say (``image/png``, ...), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if head.startswith(magic)), None)


def _text_type(name: str) -> str:
    return _TEXT_TYPES.get(Path(name).suffix.lower(), "text/plain")


def make_attachment(name: str, data: bytes, *, digest: str | None = None) -> Attachment:
    """An Attachment of ``data`` (already in memory: a paste, an import). Raises AttachmentError when it
    is neither an image nor UTF-8 text, or over its limit."""
    shown = one_line(name)
    mime = sniff_image(data[:16])
    if mime is not None:
        _check_size(shown, len(data), MAX_IMAGE_BYTES)
        kind: AttachmentKind = "image"
    else:
        _check_size(shown, len(data), MAX_TEXT_BYTES)
        if b"\x00" in data:
            raise _not_text(shown)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_text(shown) from None
        mime, kind = _text_type(name), "text"
    return Attachment(name, mime, kind, data, digest or hashlib.sha256(data).hexdigest())


def _not_text(shown: str) -> AttachmentError:
    return AttachmentError(
        _("{name} is neither a text file (UTF-8) nor an image (PNG, JPEG, WebP, GIF).").format(name=shown),
        hint=_("Attach source code, Markdown, CSV, JSON, logs or an image."),
    )


def _check_size(shown: str, size: int, limit: int) -> None:
    if size > limit:
        if limit == MAX_IMAGE_BYTES:
            text = _("{name} is too large ({size}): the limit for an image is {limit}.")
        else:
            text = _("{name} is too large ({size}): the limit for a text file is {limit}.")
        raise AttachmentError(text.format(name=shown, size=human_size(size), limit=human_size(limit)))


def load_attachment(path: str | os.PathLike[str]) -> Attachment:
    """Read the file at ``path`` once (in 1 MB chunks, hashed as it is read) into an Attachment.

    The size is checked before reading, so a huge file costs one ``stat``. Raises AttachmentError.
    Blocking: the app calls it in a worker thread."""
    p = Path(path).expanduser()
    shown = one_line(str(path))
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a folder, a FIFO, a device: never opened
            raise AttachmentError(_("{name} is not a regular file.").format(name=shown))
        with p.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(16)
            limit = MAX_IMAGE_BYTES if sniff_image(head) else MAX_TEXT_BYTES
            _check_size(shown, size, limit)
            digest = hashlib.sha256(head)
            chunks = [head]
            total = len(head)
            while chunk := f.read(_READ_CHUNK):
                total += len(chunk)
                _check_size(shown, total, limit)  # the file grew while it was read
                digest.update(chunk)
                chunks.append(chunk)
    except FileNotFoundError:
        raise AttachmentError(
            _("No such file: {name}.").format(name=shown), hint=_("Check the path.")
        ) from None
    except PermissionError:
        raise AttachmentError(_("{name} cannot be read: permission denied.").format(name=shown)) from None
    except OSError as exc:
        reason = one_line(exc.strerror or str(exc))
        raise AttachmentError(
            _("{name} cannot be read: {reason}.").format(name=shown, reason=reason)
        ) from None
    return make_attachment(p.name, b"".join(chunks), digest=digest.hexdigest())


# ---- what goes on the wire -----------------------------------------------------------------------


def fenced(attachment: Attachment) -> str:
    """A text attachment as a Markdown fenced block headed by its name; the fence is longer than any
    run of backticks inside, so the file cannot close it."""
    text = attachment.data.decode("utf-8").removeprefix("\ufeff")
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    language = _FENCE_LANGUAGES.get(Path(attachment.name).suffix.lower(), "")
    return f"{one_line(attachment.name)}:\n{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


def prompt_with_files(prompt: str, attachments: Iterable[Attachment]) -> str:
    """The prompt's text followed by each text attachment's fenced block (images left out)."""
    blocks = [fenced(a) for a in attachments if a.kind == "text"]
    return "\n\n".join([prompt, *blocks]) if blocks else prompt


def content_parts(prompt: str, attachments: Sequence[Attachment]) -> str | tuple[ContentPart, ...]:
    """A user message's content: plain text when no image goes with it, else a text part then one
    ``image_url`` part (a base64 ``data:`` URL) per image, in the order attached."""
    text = prompt_with_files(prompt, attachments)
    images = [a for a in attachments if a.kind == "image"]
    if not images:
        return text
    urls = (f"data:{a.mime};base64,{base64.b64encode(a.data).decode('ascii')}" for a in images)
    return (TextPart(text), *(ImagePart(url) for url in urls))


def attachment_tokens(attachment: Attachment) -> int:
    """The estimated prompt tokens of one attachment: ``IMAGE_TOKENS`` for an image; for a text file the
    estimate of its fenced block's characters (CJK ~1 token each, other text ~4 characters a token)."""
    if attachment.kind == "image":
        return IMAGE_TOKENS
    from holysheep_tui.economics.prices import estimate_tokens

    return estimate_tokens(fenced(attachment))


def check_vision(model: str, attachments: Iterable[Attachment], prices: PriceBook | None) -> None:
    """Refuse (NoVisionError) to send an image to a model known not to read images. A model whose
    capability is unknown is let through: the relay decides."""
    if prices is None or not any(a.kind == "image" for a in attachments):
        return
    if prices.reads_images(model) is not False:
        return
    from holysheep_tui.economics.prices import VISION_MODELS

    raise NoVisionError(
        _("{model} does not read images.").format(model=one_line(model)),
        hint=_("Pick a model that reads images ({models}), or remove the image.").format(
            models=", ".join(VISION_MODELS)
        ),
    )


def chip_label(attachment: Attachment, number: int) -> str:
    """``[Image #1 cat.png 240 KB]`` / ``[File #2 main.py 3 KB]``: how an attachment is shown."""
    what = "Image" if attachment.kind == "image" else "File"
    return f"[{what} #{number} {one_line(attachment.name)} {human_size(attachment.size)}]"


# ---- pasted paths --------------------------------------------------------------------------------


def _as_path(token: str) -> Path | None:
    if token.startswith("file://"):
        parts = urlsplit(token)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parts.path))
    if token.startswith(("/", "~/")):
        return Path(token).expanduser()
    return None


def pasted_paths(text: str) -> tuple[Path, ...]:
    """The paths in ``text`` when all of it is what a terminal pastes on drag-and-drop: one or more
    absolute (or ``~/``) paths, each maybe quoted ('...' or "..."), with backslash-escaped spaces, or a
    ``file://`` URL, separated by spaces or newlines. Anything else (a prompt that mentions a path) gives
    ``()``. Syntax only: whether the files exist is for the caller to check."""
    stripped = text.strip()
    if not stripped or len(stripped) > 16_384:
        return ()
    try:
        tokens = shlex.split(stripped, posix=True)
    except ValueError:  # an unclosed quote
        return ()
    paths = [_as_path(token) for token in tokens]
    if not paths or any(p is None for p in paths):
        return ()
    return tuple(p for p in paths if p is not None)


def looks_like_pasted_paths(text: str) -> bool:
    """Whether ``text`` is a drag-and-drop paste of file paths (see ``pasted_paths``)."""
    return bool(pasted_paths(text))
