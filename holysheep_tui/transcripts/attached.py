"""Attachments in exports and imports.

JSON carries each file whole (``data`` in base64, with name, mime, kind, size and sha256) so an import
gives back the same bytes; Markdown shows a line per file and a text file's content as a fenced block;
plain text (and ``history show``) the files' chips; HTML shows an image inline (a ``data:`` URL, the one kind of source its CSP allows) and a
text file as a code block.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from holysheep_tui.store.models import Attachment
from holysheep_tui.textsafety import one_line, strip_control

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
"""The image types an attachment may have (sniffed from its bytes when attached)."""
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".rs": "rust", ".go": "go", ".c": "c",
    ".h": "c", ".cpp": "cpp", ".java": "java", ".sh": "bash", ".md": "markdown", ".json": "json",
    ".csv": "csv", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".html": "html", ".sql": "sql",
}  # fmt: skip


def human_size(size: int) -> str:
    """``240 KB`` / ``10.5 MB`` (as the chips say)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def label(a: Attachment) -> str:
    """``Image: cat.png, image/png, 240 KB`` / ``File: main.py, text/plain, 3 KB``."""
    what = "Image" if a.kind == "image" else "File"
    return f"{what}: {one_line(a.name)}, {one_line(a.mime)}, {human_size(a.size)}"


def text_of(a: Attachment) -> str:
    """A text attachment's content, cleaned of terminal controls (a file is data wherever it is shown)."""
    return strip_control(a.data.decode("utf-8", "replace").removeprefix("\ufeff"))


def language(a: Attachment) -> str:
    return _LANGUAGES.get(Path(a.name).suffix.lower(), "")


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    return "`" * (longest + 1)


# ---- JSON ----------------------------------------------------------------------------------------


def to_dict(a: Attachment) -> dict[str, Any]:
    return {
        "name": a.name,
        "mime": a.mime,
        "kind": a.kind,
        "size": a.size,
        "sha256": a.sha256,
        "data": base64.b64encode(a.data).decode("ascii"),
    }


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if data.startswith(magic)), None)


def from_dict(doc: Any, where: str) -> Attachment:
    """One exported attachment back, checked: its bytes decode, match its size and sha256, and are what
    its kind says (an image of its type, or UTF-8 text). Raises ValueError naming ``where``."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where} is not an object")
    name, mime, kind, size, digest, data = (
        doc.get(k) for k in ("name", "mime", "kind", "size", "sha256", "data")
    )
    if not (isinstance(name, str) and name and isinstance(mime, str) and isinstance(digest, str)):
        raise ValueError(f"{where} needs a name, a mime type and a sha256")
    if kind not in ("image", "text") or not isinstance(data, str):
        raise ValueError(f"{where}.kind must be image or text, with the bytes in data (base64)")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}.data is not base64") from None
    if size != len(raw) or hashlib.sha256(raw).hexdigest() != digest.lower():
        raise ValueError(f"{where}: the bytes do not match its size and sha256")
    if kind == "image" and (mime not in IMAGE_TYPES or _sniff(raw[:16]) != mime):
        raise ValueError(f"{where} is not an image of type {one_line(mime)}")
    if kind == "text":
        if mime in IMAGE_TYPES or b"\x00" in raw:
            raise ValueError(f"{where} is not a text file")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{where} is not UTF-8 text") from None
    return Attachment(name, mime, kind, raw, digest.lower())


# ---- Markdown and plain text ---------------------------------------------------------------------


def markdown(files: Sequence[Attachment], escape: Any) -> str:
    """A line per file (``escape``: the Markdown exporter's escaping of literal text), a text file's
    content below its line as a fenced block."""
    out: list[str] = []
    for a in files:
        out.append(f"\\[{escape(label(a))}\\]")
        if a.kind == "text":
            text = text_of(a).rstrip("\n")
            fence = _fence(text)
            out.append(f"\n{fence}{language(a)}\n{text}\n{fence}")
        out.append("")
    return "\n".join(out).rstrip("\n")


def chip(a: Attachment, number: int) -> str:
    """``[Image #1 cat.png 240 KB]`` / ``[File #2 main.py 3 KB]``: the app's chip for the file."""
    what = "Image" if a.kind == "image" else "File"
    return f"[{what} #{number} {one_line(a.name)} {human_size(a.size)}]"


def plain(files: Sequence[Attachment]) -> list[str]:
    """The plain-text export's (and ``history show``'s) line for the files: their chips."""
    return [" ".join(chip(a, n) for n, a in enumerate(files, 1))] if files else []


# ---- HTML ----------------------------------------------------------------------------------------


def html_block(files: Sequence[Attachment], code: Any) -> str:
    """The HTML export's block for the files: an image inline as a ``data:`` URL, a text file as a code
    block (``code(text, language)``: the exporter's highlighter); every name escaped."""
    out = ['<div class="attachments">']
    for a in files:
        caption = html.escape(label(a), quote=True)
        if a.kind == "image" and a.mime in IMAGE_TYPES:
            src = f"data:{a.mime};base64,{base64.b64encode(a.data).decode('ascii')}"
            out.append(
                f'<figure class="attachment image"><img src="{src}" alt="{html.escape(one_line(a.name), quote=True)}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        else:
            body = code(text_of(a), language(a)) if a.kind == "text" else ""
            out.append(f'<figure class="attachment file"><figcaption>{caption}</figcaption>{body}</figure>')
    out.append("</div>")
    return "\n".join(out)


# ---- the OpenAI messages array -------------------------------------------------------------------


def openai_content(prompt: str, files: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A user message's ``content`` as it was sent: the text files fenced after the prompt; with images,
    a text part and an ``image_url`` part per image."""
    blocks = []
    for a in files:
        if a.kind == "text":
            text = a.data.decode("utf-8", "replace").removeprefix("\ufeff").rstrip("\n")
            fence = _fence(text)
            blocks.append(f"{one_line(a.name)}:\n{fence}{language(a)}\n{text}\n{fence}")
    text = "\n\n".join([prompt, *blocks]) if blocks else prompt
    images = [a for a in files if a.kind == "image"]
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for a in images:
        url = f"data:{a.mime};base64,{base64.b64encode(a.data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts
