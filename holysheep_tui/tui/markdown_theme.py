"""The component classes that style Markdown in a widget, their default CSS, and the resolved theme."""

from __future__ import annotations

from rich.style import Style
from textual.highlight import ANSIDarkHighlightTheme, ANSILightHighlightTheme, HighlightTheme
from textual.style import Style as VisualStyle
from textual.widget import Widget

from holysheep_tui.tui.markdown_render import RenderTheme

__all__ = ["MARKDOWN_COMPONENT_CLASSES", "markdown_css", "resolve_theme"]

# Component class -> the Rich markdown theme entries it styles.
_COMPONENTS: dict[str, tuple[str, ...]] = {
    "streaming-markdown--h1": ("markdown.h1",),
    "streaming-markdown--h2": ("markdown.h2",),
    "streaming-markdown--h3": ("markdown.h3",),
    "streaming-markdown--h4": ("markdown.h4",),
    "streaming-markdown--h5": ("markdown.h5",),
    "streaming-markdown--h6": ("markdown.h6",),
    "streaming-markdown--code-inline": ("markdown.code",),
    "streaming-markdown--code-label": ("markdown.code_label",),
    "streaming-markdown--link": ("markdown.link", "markdown.link_url"),
    "streaming-markdown--block-quote": ("markdown.block_quote",),
    "streaming-markdown--bullet": ("markdown.item.bullet", "markdown.item.number"),
    "streaming-markdown--table-border": ("markdown.table.border",),
    "streaming-markdown--table-header": ("markdown.table.header",),
    "streaming-markdown--rule": ("markdown.hr",),
}
_CODE_BLOCK = "streaming-markdown--code-block"

MARKDOWN_COMPONENT_CLASSES = frozenset({*_COMPONENTS, _CODE_BLOCK})
"""Add these to the ``COMPONENT_CLASSES`` of a widget that draws Markdown with ``resolve_theme``."""

_RULES = """
        width: 1fr;
        height: auto;
        & > .streaming-markdown--h1 { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--h2 { color: $text-primary; text-style: bold underline; }
        & > .streaming-markdown--h3 { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--h4 { text-style: bold; }
        & > .streaming-markdown--h5 { text-style: bold; color: $text-muted; }
        & > .streaming-markdown--h6 { text-style: italic; color: $text-muted; }
        & > .streaming-markdown--code-inline { color: $text-accent; background: $boost; }
        & > .streaming-markdown--code-block { color: $text; background: $surface-darken-1; }
        & > .streaming-markdown--code-label { color: $text-muted; background: $panel; text-style: bold; }
        & > .streaming-markdown--link { color: $text-primary; text-style: underline; }
        & > .streaming-markdown--block-quote { color: $text-secondary; }
        & > .streaming-markdown--bullet { color: $text-accent; text-style: bold; }
        & > .streaming-markdown--table-border { color: $text-muted; }
        & > .streaming-markdown--table-header { color: $text-primary; text-style: bold; }
        & > .streaming-markdown--rule { color: $text-muted; }
"""


def markdown_css(type_name: str) -> str:
    """Default CSS for a widget type that draws Markdown: full width, auto height, the component styles."""
    return f"\n    {type_name} {{{_RULES}    }}\n"


def resolve_theme(widget: Widget) -> RenderTheme:
    """The Rich styles for Markdown in ``widget``, from its component classes and the app's theme."""
    markdown: dict[str, Style] = {}
    for component, names in _COMPONENTS.items():
        style = widget.get_visual_style(component).rich_style
        for name in names:
            markdown[name] = style
    code_visual = widget.get_visual_style(_CODE_BLOCK)
    code = code_visual.rich_style
    markdown["markdown.code_block"] = code
    app = widget.app
    theme: type[HighlightTheme] = HighlightTheme
    if app.native_ansi_color:
        theme = ANSIDarkHighlightTheme if app.current_theme.dark else ANSILightHighlightTheme
    syntax = {}
    for token, definition in theme.STYLES.items():
        try:
            syntax[token] = (code_visual + VisualStyle.parse(definition)).rich_style
        except Exception:  # an unparsable theme entry falls back to plain code text
            syntax[token] = code
    return RenderTheme(base=widget.visual_style.rich_style, markdown=markdown, code=code, syntax=syntax)
