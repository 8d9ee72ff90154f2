"""The HTML export: one self-contained page, the Markdown rendered, nothing from the model runs or loads.

- Markdown is rendered by markdown-it-py (CommonMark, pipe tables, strikethrough) with raw HTML kept as
  text; links go only to http, https and mailto; an image is never loaded: its alt text and URL are shown.
- Code fences are highlighted by Pygments into spans with classes; the stylesheet is in the page (no JS).
- A Content-Security-Policy meta tag (``default-src 'none'; style-src 'unsafe-inline'; img-src data:``)
  forbids every script and every fetch, so even a sanitiser bug cannot make the page load or run anything;
  the one image source allowed is a ``data:`` URL in the page: the images attached to prompts, shown inline.
- Each message has a level-2 heading; the message's own headings are moved below it.
- Chinese typography: a CJK font stack, generous line height, ``line-break: strict`` (no line starts with
  。，、）」). A print stylesheet drops the colours and opens the folded parts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from holysheep_tui.store.models import Attachment, Conversation, Message
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
from holysheep_tui.transcripts.markdown_text import parser

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_HIGHLIGHT = "hl"


def _h(text: str) -> str:
    return html.escape(strip_control(text), quote=True)


# ---- Markdown to HTML ---------------------------------------------------------------------------


def _code(text: str, info: str) -> str:
    lang = info.split(maxsplit=1)[0] if info.strip() else ""
    try:
        lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=False) if lang else None
    except ClassNotFound:
        lexer = None
    body = escapeHtml(text) if lexer is None else highlight(text, lexer, HtmlFormatter(nowrap=True))
    cls = f' class="language-{escapeHtml(lang)}"' if lang else ""
    return f'<pre class="{_HIGHLIGHT}"><code{cls}>{body}</code></pre>\n'


def _fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return _code(tokens[idx].content, tokens[idx].info)


def _code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return _code(tokens[idx].content, "")


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Never an <img>: the alt text and the address as text, so the page loads nothing."""
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    src = str(tok.attrGet("src") or "")
    return (
        f'<span class="image">[image: {escapeHtml(alt)}] '
        f'<span class="url">{escapeHtml(src)}</span> (not loaded)</span>'
    )


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _table_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return '<div class="table">' + self.renderToken(tokens, idx, options, env)


def _table_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


@cache
def _renderer() -> MarkdownIt:
    md = parser()
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("image", _image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("table_close", _table_close)
    return md


def render_markdown(text: str, heading_level: int = 2) -> str:
    """Untrusted Markdown as safe HTML, its headings placed below a heading of ``heading_level``."""
    md = _renderer()
    env: dict[str, Any] = {}
    tokens = md.parse(strip_control(text), env)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + heading_level)}"
    return md.renderer.render(tokens, md.options, env)


# ---- the page -----------------------------------------------------------------------------------


def _message(
    m: Message,
    level: int,
    options: ExportOptions,
    place: tuple[int, int] | None,
    files: tuple[Attachment, ...] = (),
) -> str:
    tag = f"h{level}"
    facts = " · ".join(message_facts(m, options, place))
    piece = [
        f'<section class="msg {_h(m.role)}">',
        f'<{tag} class="head"><span class="role">{_h(role_name(m))}</span> '
        f'<span class="facts">{_h(facts)}</span></{tag}>',
    ]
    if m.reasoning:
        piece.append(
            '<details class="reasoning"><summary>Reasoning</summary>'
            f"{render_markdown(m.reasoning, level)}</details>"
        )
    piece.append(f'<div class="text">{render_markdown(m.content, level)}</div>')
    if files:
        piece.append(attached.html_block(files, _code))
    if m.error_text:
        piece.append(f'<p class="error">Error: {_h(m.error_text)}</p>')
    piece.append("</section>")
    return "\n".join(piece)


def _turns(
    line: tuple[Turn, ...], depth: int, options: ExportOptions, files: Mapping[int, tuple[Attachment, ...]]
) -> list[str]:
    level = min(6, 2 + depth)
    out: list[str] = []
    for t in line:
        out.append(_message(t.message, level, options, t.place, files.get(t.message.id or -1, ())))
        for alt in t.alternatives:
            label = branch_label(alt.index, alt.count, alt.messages, options)
            out.append(
                f'<div class="alternative">\n<p class="alt-label">{_h(label)}</p>\n'
                + "\n".join(_turns(alt.turns, depth + 1, options, files))
                + "\n</div>"
            )
    return out


def render_page(conv: Conversation, options: ExportOptions) -> str:
    body = [
        f"<h1>{_h(conv.display_title)}</h1>",
        f'<p class="meta">Created {_h(when(conv.created))} · updated {_h(when(conv.updated))} · '
        f"models: {_h(', '.join(conv.models)) or '-'} · {_h(totals(conv, options))}</p>",
    ]
    if conv.system_prompt:
        body.append(
            f'<section class="msg system"><h2 class="head"><span class="role">{_h(SYSTEM_PROMPT_LABEL)}'
            f'</span></h2><p class="note">{_h(SYSTEM_PROMPT_NOTE)}</p>'
            f'<div class="text">{render_markdown(conv.system_prompt)}</div></section>'
        )
    body += _turns(turns(conv, all_branches=options.all_branches), 0, options, conv.attachments)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(conv.display_title)}</title>\n<style>{_stylesheet()}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


_CSS = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fdfdfd; --muted: #6b6b70; --user: #eef3ff;
  --assistant: #f7f7f8; --border: #d8d8dc; --code: #f6f8fa; --link: #0b57d0; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8ea; --bg: #161618; --muted: #9a9aa0;
  --user: #1f2a3d; --assistant: #202024; --border: #3a3a40; --code: #111114; --link: #8ab4f8; } }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC",
  "Source Han Sans SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; font-size: 16px;
  line-height: 1.75; color: var(--fg); background: var(--bg); max-width: 52rem; margin: 2rem auto;
  padding: 0 1rem; word-break: normal; line-break: strict; overflow-wrap: anywhere;
  text-spacing-trim: space-first; hanging-punctuation: allow-end; }
h1 { font-size: 1.6rem; line-height: 1.4; margin-bottom: .25rem; }
h2, h3, h4, h5, h6 { line-height: 1.4; }
.msg > .head { font-size: 1rem; margin: 0 0 .4rem; }
.msg .text h3 { font-size: 1.15rem; } .msg .text h4 { font-size: 1.05rem; }
.msg .text h5, .msg .text h6 { font-size: 1rem; }
.meta, .facts, .note { color: var(--muted); font-size: .85rem; font-weight: normal; }
.role { font-weight: 600; margin-right: .5rem; }
.msg { border: 1px solid var(--border); border-radius: 8px; padding: .6rem 1rem; margin: 1rem 0; }
.user { background: var(--user); } .assistant, .system { background: var(--assistant); }
.text > :first-child { margin-top: 0; } .text > :last-child { margin-bottom: 0; }
.alternative { border-left: 4px solid var(--border); margin: .5rem 0 1rem 1rem; padding-left: 1rem; }
.alt-label { font-weight: 600; color: var(--muted); margin: .5rem 0; }
details { margin: .4rem 0; color: var(--muted); } .error { color: #c0392b; }
a { color: var(--link); }
code, pre { font-family: ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas,
  "Noto Sans Mono CJK SC", monospace; font-size: .9em; }
:not(pre) > code { background: var(--code); padding: .1em .3em; border-radius: 4px; }
pre { background: var(--code); border: 1px solid var(--border); border-radius: 6px; padding: .75rem;
  overflow-x: auto; line-height: 1.5; white-space: pre; word-break: normal; line-break: auto; }
.table { overflow-x: auto; margin: .75rem 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--border); padding: .3rem .6rem; vertical-align: top; }
th { background: var(--code); }
blockquote { margin: .5rem 0; padding-left: 1rem; border-left: 3px solid var(--border); color: var(--muted); }
.image { color: var(--muted); } .image .url { font-family: ui-monospace, monospace; word-break: break-all; }
.attachment { margin: .6rem 0 0; } .attachment figcaption { color: var(--muted); font-size: .85rem; }
.attachment img { display: block; max-width: 100%; height: auto; border: 1px solid var(--border);
  border-radius: 6px; margin-bottom: .25rem; }
@media print {
  :root { --fg: #000; --bg: #fff; --muted: #444; --user: #fff; --assistant: #fff; --border: #999;
    --code: #f4f4f4; --link: #000; }
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; }
  .msg { break-inside: avoid-page; border-radius: 0; }
  h1, .head { break-after: avoid-page; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  details::details-content { content-visibility: visible; display: block; }
  a[href]::after { content: " (" attr(href) ")"; font-size: .85em; }
}
"""


@cache
def _stylesheet() -> str:
    light = HtmlFormatter(style="default").get_style_defs(f".{_HIGHLIGHT}")
    dark = HtmlFormatter(style="monokai").get_style_defs(f".{_HIGHLIGHT}")

    def scoped(defs: str) -> str:  # only the token rules: the page styles the <pre> itself
        return "\n".join(
            line
            for line in defs.splitlines()
            if line.startswith(f".{_HIGHLIGHT} .") and "linenos" not in line
        )

    return (
        _CSS + scoped(light) + "\n@media screen and (prefers-color-scheme: dark) {\n" + scoped(dark) + "\n}\n"
    )
