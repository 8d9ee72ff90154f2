"""Conversation transcripts: Markdown, JSON (lossless, re-importable), HTML, plain text, OpenAI messages.

``EXPORTERS`` is the one table of formats: the CLI's choices, the app's export dialog and file names
derive from it, so a new format is one entry. The store holds no API key, so no export can contain one.
Text formats strip terminal control sequences.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from holysheep_tui.errors import StorageError, UsageError
from holysheep_tui.i18n import N_
from holysheep_tui.store.models import MESSAGE_SCHEMA, Attachment, Conversation, Message
from holysheep_tui.store.schema import json_writer, to_iso
from holysheep_tui.textsafety import strip_control
from holysheep_tui.transcripts import attached
from holysheep_tui.transcripts.branches import Turn, turns
from holysheep_tui.transcripts.facts import (
    SYSTEM_PROMPT_LABEL,
    SYSTEM_PROMPT_NOTE,
    ExportOptions,
    branch_label,
    message_facts,
    role_name,
    totals,
    when,
)

SCHEMA = "holysheep-tui/conversation"
SCHEMA_VERSION = 2
DEFAULT = ExportOptions()


class OutputExistsError(UsageError):
    title = "File exists"


# ---- Markdown -----------------------------------------------------------------------------------


def _yaml_str(value: str) -> str:
    return json.dumps(
        strip_control(value), ensure_ascii=False
    )  # a JSON string is a YAML double-quoted scalar


def to_markdown(conv: Conversation, options: ExportOptions = DEFAULT) -> str:
    """Front matter, then each message under a level-2 heading; its own headings nest below that.
    With ``options.all_branches`` every other branch is quoted where it splits off."""
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
        f"cost_cny: {round(conv.cost_usd * options.cny_per_usd, 8)}",
        f"cost_estimated: {'true' if conv.cost_estimated else 'false'}",
        "---",
        "",
        f"# {strip_control(conv.display_title)}",
        "",
    ]
    parts = ["\n".join(front)]
    if conv.system_prompt:
        parts.append(
            f"## {SYSTEM_PROMPT_LABEL}\n\n*{SYSTEM_PROMPT_NOTE}*\n\n{strip_control(conv.system_prompt)}\n"
        )
    parts += _markdown_turns(turns(conv, all_branches=options.all_branches), 0, options, conv.attachments)
    return "\n".join(parts)


def _markdown_turns(
    line: tuple[Turn, ...], depth: int, options: ExportOptions, files: Mapping[int, tuple[Attachment, ...]]
) -> list[str]:
    level = min(6, 2 + depth)
    out: list[str] = []
    for t in line:
        out.append(_markdown_message(t.message, level, options, t.place, files.get(t.message.id or -1, ())))
        for alt in t.alternatives:
            label = branch_label(alt.index, alt.count, alt.messages, options)
            inner = [f"**{_md_escape(label)}**\n", *_markdown_turns(alt.turns, depth + 1, options, files)]
            out.append(_quoted("\n".join(inner)) + "\n")
    return out


def _markdown_message(
    m: Message,
    level: int,
    options: ExportOptions,
    place: tuple[int, int] | None,
    files: tuple[Attachment, ...] = (),
) -> str:
    from holysheep_tui.transcripts.markdown_text import nested  # markdown-it only when exporting Markdown

    facts = " · ".join(_md_escape(f) for f in message_facts(m, options, place))
    block = [f"{'#' * level} {_md_escape(role_name(m))} · {facts}", ""]
    if m.reasoning:
        reasoning = nested(strip_control(m.reasoning), level).replace("</details>", "&lt;/details&gt;")
        block += ["<details><summary>Reasoning</summary>", "", reasoning, "", "</details>", ""]
    block.append(nested(strip_control(m.content), level))
    if files:
        block += ["", attached.markdown(files, _md_escape)]
    if m.error_text:
        block += ["", f"> **Error:** {strip_control(m.error_text)}"]
    return "\n".join(block) + "\n"


def _md_escape(text: str) -> str:
    """A heading's or label's facts as literal text: no emphasis, links or HTML from a model name."""
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in text.replace("\n", " "))


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.rstrip("\n").split("\n"))


# ---- plain text ---------------------------------------------------------------------------------


def to_text(conv: Conversation, options: ExportOptions = DEFAULT) -> str:
    """The active path, as it reads (every branch is in the JSON export)."""
    lines = [
        strip_control(conv.display_title),
        f"Created {when(conv.created)} · updated {when(conv.updated)} · "
        f"models: {strip_control(', '.join(conv.models)) or '-'} · {totals(conv, options)}",
        "=" * 60,
        "",
    ]
    if conv.system_prompt:
        lines += [f"[{SYSTEM_PROMPT_LABEL}]", SYSTEM_PROMPT_NOTE, strip_control(conv.system_prompt), ""]
    for t in turns(conv):
        m = t.message
        lines.append(f"[{role_name(m)} · {' · '.join(message_facts(m, options, t.place))}]")
        if m.reasoning:
            lines += ["(reasoning)", strip_control(m.reasoning), "(answer)"]
        lines.append(strip_control(m.content))
        lines += attached.plain(conv.attachments.get(m.id or -1, ()))
        if m.error_text:
            lines.append(f"Error: {strip_control(m.error_text)}")
        lines.append("")
    return "\n".join(lines)


# ---- HTML ---------------------------------------------------------------------------------------


def to_html(conv: Conversation, options: ExportOptions = DEFAULT) -> str:
    """One self-contained page: the Markdown rendered and sanitised, code highlighted, nothing loaded."""
    from holysheep_tui.transcripts.html import render_page  # markdown-it and Pygments only when used

    return render_page(conv, options)


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
        "messages": [
            _with_files(message_to_dict(m), conv.attachments.get(m.id or -1, ())) for m in conv.tree
        ],
        "active_leaf": conv.active_leaf,
    }


def _with_files(message: dict[str, Any], files: tuple[Attachment, ...]) -> dict[str, Any]:
    """A message's ``attachments`` (only on a message that has some): each file whole, in base64."""
    if files:
        message["attachments"] = [attached.to_dict(a) for a in files]
    return message


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
    messages: list[dict[str, Any]] = (
        [{"role": "system", "content": conv.system_prompt}] if conv.system_prompt else []
    )
    for m in conv.messages:
        files = conv.attachments.get(m.id or -1, ())
        if m.content or files:
            messages.append({"role": m.role, "content": attached.openai_content(m.content, files)})
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
    """One line for the export dialog and ``--help`` (a catalog message: shown through ``_()``)."""
    render: Callable[[Conversation, ExportOptions], str]
    branches: Literal["always", "optional", "never"] = "never"
    """Whether it holds the branches off the active path: always, with ``all_branches``, or never."""


EXPORTERS: tuple[Exporter, ...] = (
    Exporter(
        "md",
        ".md",
        N_("Markdown — front matter, headed messages, reasoning folded"),
        to_markdown,
        branches="optional",
    ),
    Exporter(
        "json",
        ".json",
        N_("JSON — everything, every branch, re-importable with `holysheep import`"),
        lambda c, _options: dump_json([c]),
        branches="always",
    ),
    Exporter(
        "html",
        ".html",
        N_("HTML — one self-contained page, rendered, readable offline"),
        to_html,
        branches="optional",
    ),
    Exporter("txt", ".txt", N_("Plain text"), to_text),
    Exporter(
        "openai",
        ".openai.json",
        N_("OpenAI messages array — for reuse in scripts"),
        lambda c, _o: to_openai(c),
    ),
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


def export_conversation(conv: Conversation, fmt: str, options: ExportOptions = DEFAULT) -> str:
    """``conv`` in format ``fmt``; a UsageError when ``options`` ask for branches the format cannot hold."""
    chosen = exporter(fmt)
    if options.all_branches and chosen.branches == "never":
        with_branches = ", ".join(e.name for e in EXPORTERS if e.branches == "optional")
        raise UsageError(
            f"The {fmt} export follows the active path only; it cannot include the other branches.",
            hint=f"Use --format {with_branches.replace(', ', ' or ')} for every branch "
            "(the json export always holds the whole tree).",
        )
    return chosen.render(conv, options)


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
