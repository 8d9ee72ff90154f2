"""Render one Markdown block to Strips with Rich, safely and in the app's theme colours.

Differences from ``rich.markdown.Markdown``: one shared parser with raw HTML off (shown as text),
code blocks with a language label and theme-derived highlighting, and no clickable link whose
target differs from its visible text (hyperlink spoofing).
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.markdown import (
    CodeBlock,
    Heading,
    HorizontalRule,
    ImageItem,
    ListItem,
    Markdown,
    MarkdownContext,
    MarkdownElement,
    Paragraph,
    TableDataElement,
)
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.syntax import ANSISyntaxTheme, Syntax
from rich.text import Text
from rich.theme import Theme
from textual.strip import Strip

from holysheep_tui.tui.breaking_text import BreakingText

__all__ = ["BlockRenderer", "RenderTheme"]

_PARSER = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


@dataclass(frozen=True)
class RenderTheme:
    """Resolved Rich styles for one widget in one Textual theme."""

    base: Style
    """Text and background of the widget."""
    markdown: Mapping[str, Style]
    """Rich theme entries (``markdown.h1``, ``markdown.code``, ``markdown.code_label`` ...)."""
    code: Style
    """Text and background of code blocks."""
    syntax: Mapping[tuple[str, ...], Style] = field(default_factory=dict)
    """Pygments token type to style, already blended over ``code``."""


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    """Pygments' own lookup scans plugin entry points on every call; look each name up once."""
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=True)


COMMON_LANGUAGES = (
    "python", "bash", "sh", "shell", "console", "json", "javascript", "js", "typescript", "ts", "sql", "go",
    "rust", "yaml", "toml", "java", "c", "cpp", "html", "css", "diff", "text",
)  # fmt: skip


def warm_lexers(names: Iterable[str] = COMMON_LANGUAGES) -> None:
    """Load the lexers answers use most. Pygments compiles a lexer's rules when it is first made (up to
    40 ms for Python), which would otherwise stall the stream at an answer's first code block."""
    for name in names:
        _lexer(name)


class _Paragraph(Paragraph):
    def on_enter(self, context: MarkdownContext) -> None:
        super().on_enter(context)
        self.text = BreakingText(justify="left")


class _Heading(Heading):
    def on_enter(self, context: MarkdownContext) -> None:
        super().on_enter(context)
        self.text = BreakingText()


class _TableData(TableDataElement):
    def __init__(self, justify: JustifyMethod) -> None:
        super().__init__(justify)
        self.content = BreakingText("", justify=justify)


class _CodeTheme(ANSISyntaxTheme):
    """Token styles from the Textual theme, on the code block background."""

    def __init__(self, style_map: Mapping[tuple[str, ...], Style], background: Style) -> None:
        super().__init__(dict(style_map))
        self._background_style = background


class _CodeBlock(CodeBlock):
    """A fenced or indented code block: a language label line, then highlighted code."""

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> _CodeBlock:
        lexer = (token.info or "").strip().partition(" ")[0]
        block = cls(lexer or "text", "")
        block.label = lexer
        block.syntax_theme = cast(_SafeMarkdown, markdown).syntax_theme
        return block

    label: str = ""
    syntax_theme: _CodeTheme | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip("\n")
        if self.label:
            yield Text(f" {self.label} ", style="markdown.code_label", no_wrap=True, overflow="crop")
        theme = self.syntax_theme or "ansi_dark"
        yield Syntax(code, _lexer(self.lexer_name), theme=theme, word_wrap=True, padding=(0, 1))


class _ListItem(ListItem):
    """A list item whose number carries a dot, as written ("1." rather than "1")."""

    def render_number(
        self, console: Console, options: ConsoleOptions, number: int, last_number: int
    ) -> RenderResult:
        width = len(str(last_number)) + 3
        lines = console.render_lines(
            self.elements, options.update(width=options.max_width - width), style=self.style
        )
        number_style = console.get_style("markdown.item.number", default="none")
        numeral = Segment(f"{number}.".rjust(width - 1) + " ", number_style)
        padding = Segment(" " * width, number_style)
        new_line = Segment("\n")
        for index, line in enumerate(lines):
            yield numeral if index == 0 else padding
            yield from line
            yield new_line


class _Rule(HorizontalRule):
    """A rule without Rich's trailing empty line (block spacing is the caller's)."""

    new_line = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Rule(style=console.get_style("markdown.hr", default="none"), characters="─")


class _Image(ImageItem):
    """An image placeholder: its alt text (or file name), never a clickable target."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        name = posixpath.basename(self.destination.strip("/")) or "image"
        title = self.text or Text(name)
        yield Text.assemble("🖼 ", title, " ", end="")


def _defuse_links(tokens: Iterable[Token]) -> None:
    """Drop link targets that differ from the visible text, so no text can hide where it points."""
    for token in tokens:
        children = token.children
        if not children:
            continue
        opened: list[tuple[Token, list[str]]] = []
        for child in children:
            if child.type == "link_open":
                opened.append((child, []))
            elif child.type == "link_close" and opened:
                link, texts = opened.pop()
                href = str(link.attrs.get("href", ""))
                visible = "".join(texts).strip()
                if href.removeprefix("mailto:") != visible.removeprefix("mailto:"):
                    link.attrs["href"] = ""
            elif opened and child.type in ("text", "code_inline"):
                for _, texts in opened:
                    texts.append(child.content)


class _SafeMarkdown(Markdown):
    """``rich.markdown.Markdown`` on a shared parser, with our code blocks, rules and images."""

    elements: dict[str, type[MarkdownElement]] = {  # type: ignore[misc]
        **Markdown.elements,
        "fence": _CodeBlock,
        "code_block": _CodeBlock,
        "hr": _Rule,
        "image": _Image,
        "list_item_open": _ListItem,
        "paragraph_open": _Paragraph,
        "heading_open": _Heading,
        "td_open": _TableData,
        "th_open": _TableData,
    }

    def __init__(self, markup: str, syntax_theme: _CodeTheme) -> None:
        # Not calling super().__init__: it builds a new parser per instance.
        self.markup = markup
        self.parsed = _PARSER.parse(markup)
        _defuse_links(self.parsed)
        self.code_theme = "ansi_dark"
        self.syntax_theme = syntax_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = True
        self.inline_code_lexer = None
        self.inline_code_theme = "ansi_dark"


class BlockRenderer:
    """Renders block sources to padded Strips of one width, for one resolved theme."""

    def __init__(self, theme: RenderTheme) -> None:
        self.theme = theme
        self._console = Console(
            file=io.StringIO(),
            width=80,
            color_system="truecolor",
            force_terminal=True,
            legacy_windows=False,
            markup=False,
            emoji=False,
            highlight=False,
            theme=Theme(dict(theme.markdown)),
            _environ={},
        )
        self._syntax_theme = _CodeTheme(theme.syntax, theme.code)

    def render(self, source: str, width: int) -> list[Strip]:
        """The block's lines at ``width`` cells, each padded to the full width."""
        if width <= 0 or not source:
            return []
        console = self._console
        options = console.options.update(width=width, height=None, highlight=False)
        base = self.theme.base
        try:
            lines = console.render_lines(
                _SafeMarkdown(source, self._syntax_theme), options, style=base, pad=True
            )
        except Exception:  # a Rich element that cannot cope with some input: show the source as text
            lines = console.render_lines(BreakingText(source), options, style=base, pad=True)
        strips = [Strip(line, width) for line in lines]
        # Rich opens containers with an empty line and tables have blank edges; the caller spaces blocks.
        start, end = 0, len(strips)
        while start < end and _is_blank(strips[start], base):
            start += 1
        while end > start and _is_blank(strips[end - 1], base):
            end -= 1
        return strips[start:end]


def _is_blank(strip: Strip, base: Style) -> bool:
    background = base.bgcolor
    return not strip.text.strip() and all(
        segment.style is None or segment.style.bgcolor in (None, background) for segment in strip
    )
