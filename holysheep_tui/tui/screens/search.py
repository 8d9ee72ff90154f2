"""Full-text search over every stored message, as you type; Enter returns the chosen hit."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _
from holysheep_tui.store import HistoryStore, SearchHit
from holysheep_tui.store.titles import shorten
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.widgets.sidebar import when

HIT_STYLE = "bold $text-accent on $accent-muted"
LIMIT = 100
HELP = N_("Type to search (中文 too) · ↑/↓ choose · Enter open · Esc close")
"""Shown translated (``_(HELP)``)."""
ROLES = {"user": N_("user"), "assistant": N_("assistant"), "system": N_("system")}
"""Who wrote a hit's message, as the hit shows it (another role is shown as stored)."""


def hit_label(hit: SearchHit, width: int = 96) -> Content:
    """The conversation, role and date, then the snippet with every match highlighted."""
    title = shorten(one_line(hit.conversation_title or "") or _("Untitled"), max(10, width - 24))
    role = _(ROLES[hit.role]) if hit.role in ROLES else one_line(hit.role)
    head = Content.assemble((title, "bold"), (f"  {role} · {when(hit.created)}", "$text-muted"))
    snippet = Content(hit.snippet.replace("\n", " ").replace("\r", " ").replace("\t", " "))
    for start, end in hit.spans:
        snippet = snippet.stylize(HIT_STYLE, start, end)
    return Content.assemble(head, "\n", snippet)


class SearchScreen(ModalScreen[SearchHit | None]):
    """Searches in a worker thread on each keystroke; stale results are dropped."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("down", "move(1)", "Next hit", show=False),
        Binding("up", "move(-1)", "Previous hit", show=False),
    ]

    def __init__(self, store: HistoryStore, query: str = "") -> None:
        super().__init__(classes="modal")
        self.store = store
        self.initial = query
        self.hits: list[SearchHit] = []
        self.shown_query: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Static(_("Search history"), classes="dialog-title")
            yield Input(self.initial, placeholder=_("Search every message…"), id="search-input")
            yield OptionList(id="search-hits")
            yield Static(_(HELP), classes="dialog-help", id="search-status", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.initial:
            self._search(self.initial)

    @property
    def query_text(self) -> str:
        return self.query_one(Input).value

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, query: str) -> None:
        try:
            hits = self.store.search(query, limit=LIMIT) if query.strip() else []
            error = None
        except HolySheepError as exc:
            hits, error = [], exc.user_text()
        self.app.call_from_thread(self._show, query, hits, error)

    def _show(self, query: str, hits: list[SearchHit], error: str | None) -> None:
        if query != self.query_text or not self.is_attached:
            return  # an older keystroke's answer
        self.hits, self.shown_query = hits, query
        options = self.query_one(OptionList)
        options.clear_options()
        width = max(20, options.scrollable_content_region.width - 2)
        options.add_options([Option(hit_label(h, width), id=str(i)) for i, h in enumerate(hits)])
        if hits:
            options.highlighted = 0
        status = self.query_one("#search-status", Static)
        if error:
            status.update(error)
        elif not query.strip():
            status.update(_(HELP))
        else:
            more = "+" if len(hits) >= LIMIT else ""
            # TRANSLATORS: {count} is a number, with "+" after it when there may be more.
            found = _("{count} message(s)").format(count=f"{len(hits)}{more}")
            status.update(found + " · " + _("↑/↓ choose · Enter open · Esc close"))

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -1
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and index < len(self.hits) and self.shown_query == self.query_text:
            self.dismiss(self.hits[index])

    @on(OptionList.OptionSelected, "#search-hits")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.hits[int(event.option.id or 0)])
