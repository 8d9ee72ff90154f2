"""Conversation transcripts: Markdown, JSON (lossless, re-importable), HTML, plain text, OpenAI messages.

``EXPORTERS`` is the one table of formats: the CLI's choices, the app's export dialog and file names
derive from it, so a new format is one entry. The store holds no API key, so no export can contain one.
Text formats strip terminal control sequences.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from holysheep_tui.errors import StorageError, UsageError
from holysheep_tui.store.models import MESSAGE_SCHEMA, Conversation, Message
from holysheep_tui.store.schema import json_writer, to_iso
from holysheep_tui.textsafety import strip_control

SCHEMA = "holysheep-tui/conversation"
SCHEMA_VERSION = 2


class OutputExistsError(UsageError):
    title = "File exists"


# ---- shared pieces ------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cost(value: float, estimated: bool) -> str:
    return f"{'~' if estimated else ''}${value:.6f}".rstrip("0").rstrip(".")


def _message_facts(m: Message) -> list[str]:
    """Model, time, tokens, cost and status of one message, for its heading."""
    facts = [m.model] if m.model else []
    facts.append(_when(m.created))
    if m.prompt_tokens is not None or m.completion_tokens is not None:
        tokens = f"{m.prompt_tokens or 0} in / {m.completion_tokens or 0} out"
        if m.cached_tokens:
            tokens += f" ({m.cached_tokens} cached)"
        facts.append(tokens + " tokens")
    if m.cost_usd is not None:
        facts.append(_cost(m.cost_usd, m.cost_estimated))
    if m.status != "complete":
        facts.append(m.status)
    return [strip_control(f) for f in facts]


def _role_name(m: Message) -> str:
    return {"user": "User", "assistant": "Assistant", "system": "System"}.get(m.role, m.role)


def _totals(conv: Conversation) -> str:
    return (
        f"{conv.prompt_tokens} in / {conv.completion_tokens} out tokens, "
        f"{_cost(conv.cost_usd, conv.cost_estimated)}"
    )


# ---- Markdown -----------------------------------------------------------------------------------


def _yaml_str(value: str) -> str:
    return json.dumps(
        strip_control(value), ensure_ascii=False
    )  # a JSON string is a YAML double-quoted scalar


def to_markdown(conv: Conversation) -> str:
    front = [
        "---",
        f"title: {_yaml_str(conv.display_title)}",
        f"id: {_yaml_str(conv.id)}",
        f"created: {to_iso(conv.created)}",
        f"updated: {to_iso(conv.updated)}",
        f"profile: {_yaml_str(conv.profile)}",
        f"models: [{', '.join(_yaml_str(m) for m in conv.models)}]",
        f"messages: {len(conv.messages)}",
        f"prompt_tokens: {conv.prompt_tokens}",
        f"completion_tokens: {conv.completion_tokens}",
        f"cached_tokens: {conv.cached_tokens}",
        f"cost_usd: {round(conv.cost_usd, 8)}",
        f"cost_estimated: {'true' if conv.cost_estimated else 'false'}",
        "---",
        "",
        f"# {strip_control(conv.display_title)}",
        "",
    ]
    parts = ["\n".join(front)]
    if conv.system_prompt:
        parts.append(f"## System prompt\n\n{strip_control(conv.system_prompt)}\n")
    for m in conv.messages:
        block = [f"## {_role_name(m)} · {' · '.join(_message_facts(m))}", ""]
        if m.reasoning:
            reasoning = strip_control(m.reasoning).replace("</details>", "&lt;/details&gt;")
            block += ["<details><summary>Reasoning</summary>", "", reasoning, "", "</details>", ""]
        block.append(strip_control(m.content))
        if m.error_text:
            block += ["", f"> **Error:** {strip_control(m.error_text)}"]
        parts.append("\n".join(block) + "\n")
    return "\n".join(parts)


# ---- plain text ---------------------------------------------------------------------------------


def to_text(conv: Conversation) -> str:
    lines = [
        strip_control(conv.display_title),
        f"Created {_when(conv.created)} · updated {_when(conv.updated)} · "
        f"models: {strip_control(', '.join(conv.models)) or '-'} · {_totals(conv)}",
        "=" * 60,
        "",
    ]
    if conv.system_prompt:
        lines += ["[System prompt]", strip_control(conv.system_prompt), ""]
    for m in conv.messages:
        lines.append(f"[{_role_name(m)} · {' · '.join(_message_facts(m))}]")
        if m.reasoning:
            lines += ["(reasoning)", strip_control(m.reasoning), "(answer)"]
        lines.append(strip_control(m.content))
        if m.error_text:
            lines.append(f"Error: {strip_control(m.error_text)}")
        lines.append("")
    return "\n".join(lines)


# ---- HTML ---------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fdfdfd; --muted: #6b6b70; --user: #eef3ff;
  --assistant: #f5f5f5; --border: #d8d8dc; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8ea; --bg: #161618; --muted: #9a9aa0;
  --user: #1f2a3d; --assistant: #222226; --border: #3a3a40; } }
body { font: 15px/1.55 system-ui, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
  color: var(--fg); background: var(--bg); max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
.meta, .facts { color: var(--muted); font-size: .85rem; }
.msg { border: 1px solid var(--border); border-radius: 8px; padding: .6rem .9rem; margin: 1rem 0; }
.user { background: var(--user); } .assistant, .system { background: var(--assistant); }
.role { font-weight: 600; margin-right: .5rem; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin-top: .4rem; }
details { margin-top: .4rem; color: var(--muted); } .error { color: #c0392b; margin-top: .4rem; }
"""


def _h(text: str) -> str:
    return html.escape(strip_control(text), quote=True)


def to_html(conv: Conversation) -> str:
    body = [
        f"<h1>{_h(conv.display_title)}</h1>",
        f'<p class="meta">Created {_h(_when(conv.created))} · updated {_h(_when(conv.updated))} · '
        f"models: {_h(', '.join(conv.models)) or '-'} · {_h(_totals(conv))}</p>",
    ]
    if conv.system_prompt:
        body.append(
            '<section class="msg system"><span class="role">System prompt</span>'
            f'<div class="text">{_h(conv.system_prompt)}</div></section>'
        )
    for m in conv.messages:
        piece = [
            f'<section class="msg {_h(m.role)}"><span class="role">{_h(_role_name(m))}</span>'
            f'<span class="facts">{_h(" · ".join(_message_facts(m)))}</span>'
        ]
        if m.reasoning:
            piece.append(
                f'<details><summary>Reasoning</summary><div class="text">{_h(m.reasoning)}</div></details>'
            )
        piece.append(f'<div class="text">{_h(m.content)}</div>')
        if m.error_text:
            piece.append(f'<div class="error">Error: {_h(m.error_text)}</div>')
        piece.append("</section>")
        body.append("".join(piece))
    return (
        '<!DOCTYPE html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(conv.display_title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# ---- JSON ---------------------------------------------------------------------------------------


# The exported fields of the message schema, in field order except that version 1 writes "created" last.
_MESSAGE_KEYS = sorted(
    ((c.name, json_writer(c)) for c in MESSAGE_SCHEMA if c.json.exported),
    key=lambda key: key[0] == "created",
)


def message_to_dict(m: Message) -> dict[str, Any]:
    return {
        name: getattr(m, name) if write is None else write(getattr(m, name)) for name, write in _MESSAGE_KEYS
    }


def conversation_to_dict(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "title_is_user_set": conv.title_is_user_set,
        "created": to_iso(conv.created),
        "updated": to_iso(conv.updated),
        "profile": conv.profile,
        "system_prompt": conv.system_prompt,
        "archived": conv.archived,
        "messages": [message_to_dict(m) for m in conv.tree],
        "active_leaf": conv.active_leaf,
    }


def dump_json(conversations: list[Conversation]) -> str:
    doc = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "exported": to_iso(datetime.now(UTC)),
        "conversations": [conversation_to_dict(c) for c in conversations],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_openai(conv: Conversation) -> str:
    """The ``messages`` array of a chat completion request: system prompt, prompts and answers."""
    messages = [{"role": "system", "content": conv.system_prompt}] if conv.system_prompt else []
    messages += [{"role": m.role, "content": m.content} for m in conv.messages if m.content]
    return json.dumps(messages, ensure_ascii=False, indent=2) + "\n"


# ---- the exporter table --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exporter:
    """One export format."""

    name: str
    """What ``holysheep export --format`` takes."""
    extension: str
    """How its file names end, dot included."""
    description: str
    """One line for the export dialog and ``--help``."""
    render: Callable[[Conversation], str]


EXPORTERS: tuple[Exporter, ...] = (
    Exporter("md", ".md", "Markdown — front matter, headed messages, reasoning folded", to_markdown),
    Exporter(
        "json", ".json", "JSON — everything, re-importable with `holysheep import`", lambda c: dump_json([c])
    ),
    Exporter("html", ".html", "HTML — one self-contained page, readable offline", to_html),
    Exporter("txt", ".txt", "Plain text", to_text),
    Exporter("openai", ".openai.json", "OpenAI messages array — for reuse in scripts", to_openai),
)
FORMATS: tuple[str, ...] = tuple(e.name for e in EXPORTERS)
_BY_NAME = {e.name: e for e in EXPORTERS}


def exporter(name: str) -> Exporter:
    """The format called ``name``; a UsageError naming the choices when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(
            f"Unknown export format {name!r}.", hint=f"Choose one of: {', '.join(FORMATS)}."
        ) from None


def export_conversation(conv: Conversation, fmt: str) -> str:
    return exporter(fmt).render(conv)


# ---- writing files ------------------------------------------------------------------------------


def write_export(path: Path, text: str, *, force: bool = False) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600; an existing file needs ``force``.

    Only regular files are written: a directory, named pipe, socket or device is refused, even with ``force``."""
    _refuse_special(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists.", hint="Use --force to overwrite it.")
    directory = path.parent if str(path.parent) else Path(".")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:  # mkstemp files are 0600
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
        tmp = None
    except FileExistsError:
        raise OutputExistsError(f"{path} already exists.", hint="Use --force to overwrite it.") from None
    except OSError as exc:
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


_SPECIAL = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _refuse_special(path: Path) -> None:
    """A UsageError when ``path`` (or what a symlink there points to) exists and is not a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # absent (or unreadable: the write reports it)
    for test, what in _SPECIAL:
        if test(mode):
            raise UsageError(
                f"{path} is {what}, not a regular file; export writes only regular files.",
                hint="Give another file name with -o, or leave -o out to write to standard output.",
            )


def _place_new(tmp: str, path: Path) -> None:
    """Move ``tmp`` to ``path`` unless ``path`` exists, even if it appeared a moment ago."""
    try:
        os.link(tmp, path)  # atomic "create if absent"
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)
