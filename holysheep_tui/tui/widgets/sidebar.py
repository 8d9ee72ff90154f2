"""The history sidebar: conversations newest first; open, rename, delete, archive, export, new."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from rich.segment import Segment
from textual import on
from textual._widget_navigation import find_next_enabled_no_wrap
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from holysheep_tui.economics.money import CurrencyView
from holysheep_tui.errors import HolySheepError
from holysheep_tui.i18n import N_, _, ngettext
from holysheep_tui.textsafety import one_line
from holysheep_tui.tui.messages import ConversationDeleted, ExportConversation, OpenConversation
from holysheep_tui.tui.screens.dialogs import ConfirmScreen

if TYPE_CHECKING:  # the store (sqlite3) loads when the history opens, after the first frame
    from holysheep_tui.store import ConversationSummary, HistoryStore

# TRANSLATORS: keep the shape "key what · key what" (the help screen splits it), keys as they are.
SIDEBAR_KEYS = N_("Enter open · r rename · d delete · a archive · e export · n new · u refresh · v archived")
"""The key line under the list (translated where shown: ``_(SIDEBAR_KEYS)``)."""


def when(moment: datetime, now: datetime | None = None) -> str:
    """Short local date: the time today, month-day this year, else the full date."""
    local = moment.astimezone()
    now = (now or datetime.now().astimezone()).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d")


def row_label(row: ConversationSummary, money: CurrencyView, width: int, *, current: bool = False) -> Content:
    """Three lines: the title, date · cost, and the models; each cut to ``width`` terminal cells."""
    from holysheep_tui.store.titles import shorten

    mark = "▸ " if current else ""
    title = shorten(mark + one_line(row.display_title), width)
    facts = [when(row.updated)]
    if row.archived:
        facts.append(_("archived"))
    if row.cost_usd or row.cost_estimated:
        facts.append(money.format(row.cost_usd, estimated=row.cost_estimated))
    meta = shorten(" · ".join(facts), width)
    count = ngettext("{count} message", "{count} messages", row.message_count)
    models = shorten(", ".join(map(one_line, row.models)) or count.format(count=row.message_count), width)
    return Content.assemble((title, "bold" if current else ""), "\n", (meta, "dim"), "\n", (models, "dim"))


class RenameScreen(ModalScreen[str | None]):
    """Ask for a new title; Enter saves, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__(classes="modal")
        self.old_title = one_line(title)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="rename"):
            yield Static(_("Rename conversation"), classes="dialog-title", markup=False)
            yield Input(self.old_title, id="rename-input", select_on_focus=True)
            yield Static(_("Enter save · Esc cancel"), classes="dialog-help", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(text or None)


CURSOR_MARK = "▌"
"""Drawn at the left of every line of the row under the cursor (the open conversation has ``▸``)."""


class HistoryList(OptionList):
    """The sidebar's list: the cursor row carries its own mark, not only a colour, and stops at both ends
    (no wrapping from the top to the bottom, where a key would act on a row out of sight)."""

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)

    def _step(self, direction: Literal[-1, 1]) -> None:
        step = find_next_enabled_no_wrap(self.options, anchor=self.highlighted, direction=direction)
        if step is not None:
            self.highlighted = step

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            index, line = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return strip
        divider = self.options[index]._divider and line == self._heights[index] - 1
        if index != self.highlighted or divider or strip.cell_length < 2:
            return strip
        first = next(iter(strip), None)
        style = first.style if first is not None else None
        return Strip.join([Strip([Segment(CURSOR_MARK, style)], 1), strip.crop(1, strip.cell_length)])


class HistorySidebar(Vertical):
    """Lists the store's conversations; its keys act on the highlighted one."""

    BINDINGS = [
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("a", "archive", "Archive / unarchive"),
        Binding("e", "export", "Export"),
        Binding("n", "app.new_conversation", "New conversation"),
        Binding("u", "reload", "Refresh"),
        Binding("v", "toggle_archived", "Show archived"),
    ]
    LIMIT = 500

    money: reactive[CurrencyView] = reactive(CurrencyView, init=False)
    """How costs are shown (the app's session's, by ``data_bind``)."""

    def __init__(self, money: CurrencyView | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        if money is not None:
            self.set_reactive(HistorySidebar.money, money)
        self.store: HistoryStore | None = None
        self.current_id: str | None = None
        self.show_archived = False
        self.rows: list[ConversationSummary] = []
        self._loaded = False
        """Whether ``reload`` ran (the title then says the count, or that the history is off)."""

    def watch_money(self) -> None:
        if self.rows:
            self._draw()

    def compose(self) -> ComposeResult:
        yield Static(_("History"), classes="sidebar-title", markup=False)
        yield HistoryList(id="history-list")
        yield Static(_(SIDEBAR_KEYS), classes="sidebar-help", markup=False)

    def retranslate(self) -> None:
        """The language changed: the title, the key line and the rows' words again."""
        self.query_one(".sidebar-help", Static).update(_(SIDEBAR_KEYS))
        self._title()
        if self.rows:
            self._draw()

    def _title(self) -> None:
        title = self.query_one(".sidebar-title", Static)
        if not self._loaded:
            title.update(_("History"))
        elif self.store is None:
            title.update(_("History (off)"))
        elif self.show_archived:
            title.update(_("History · {count} incl. archived").format(count=len(self.rows)))
        else:
            title.update(_("History · {count}").format(count=len(self.rows)))

    @property
    def options(self) -> OptionList:
        return self.query_one("#history-list", OptionList)

    def focus_list(self) -> None:
        self.options.focus()

    def _width(self) -> int:
        return max(10, (self.options.scrollable_content_region.width or self.size.width or 30) - 2)

    def reload(self) -> None:
        """Read the list again (another window's new conversations appear too)."""
        if self.store is None:
            self.rows = []
            self._draw()
            self._loaded = True
            self._title()
            return
        try:
            self.rows = self.store.list_conversations(limit=self.LIMIT, include_archived=self.show_archived)
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=_("History"), severity="error")
            return
        self._loaded = True
        self._title()
        self._draw()

    def _draw(self) -> None:
        options = self.options
        highlighted = self.highlighted_id()
        width = self._width()
        options.clear_options()
        items: list[Option | None] = []
        for r in self.rows:
            if items:
                items.append(None)  # a separator line
            items.append(Option(row_label(r, self.money, width, current=r.id == self.current_id), id=r.id))
        options.add_options(items)
        ids = [r.id for r in self.rows]
        index = next((ids.index(w) for w in (highlighted, self.current_id) if w in ids), 0)
        options.highlighted = index if ids else None

    def on_resize(self, event: Resize) -> None:
        if self.rows:
            self._draw()

    def mark_current(self, conv_id: str | None) -> None:
        self.current_id = conv_id
        self._draw()

    def highlighted_id(self) -> str | None:
        options = self.options
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    def _row(self) -> ConversationSummary | None:
        conv_id = self.highlighted_id()
        return next((r for r in self.rows if r.id == conv_id), None)

    @on(OptionList.OptionSelected, "#history-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(OpenConversation(event.option.id))

    def _act(self, failed: str, fn: object) -> bool:
        """Run ``fn``; a store error is notified under the title ``failed``."""
        try:
            fn()  # type: ignore[operator]
        except HolySheepError as exc:
            self.notify(exc.user_text(), title=failed, severity="error")
            return False
        return True

    def action_reload(self) -> None:
        self.reload()

    def action_toggle_archived(self) -> None:
        self.show_archived = not self.show_archived
        self.reload()

    def action_rename(self) -> None:
        row, store = self._row(), self.store
        if row is None or store is None:
            return

        def done(title: str | None) -> None:
            if title and self._act(_("Could not rename"), lambda: store.rename(row.id, title)):
                self.reload()

        self.app.push_screen(RenameScreen(row.display_title), done)

    def action_delete(self) -> None:
        row, store = self._row(), self.store
        if row is None or store is None:
            return

        def done(yes: bool | None) -> None:
            if yes and self._act(_("Could not delete"), lambda: store.delete_conversation(row.id)):
                self.post_message(ConversationDeleted(row.id))
                self.notify(_("Deleted “{title}”.").format(title=row.display_title))
                self.reload()

        question = ngettext(
            "Delete “{title}” and its {count} message? This cannot be undone.",
            "Delete “{title}” and its {count} messages? This cannot be undone.",
            row.message_count,
        ).format(title=row.display_title, count=row.message_count)
        self.app.push_screen(ConfirmScreen(question), done)

    def action_archive(self) -> None:
        row, store = self._row(), self.store
        if row is None or store is None:
            return
        if self._act(_("Could not archive"), lambda: store.set_archived(row.id, not row.archived)):
            done = (
                _("Unarchived “{title}”.")
                if row.archived
                else _("Archived “{title}” (v shows archived conversations).")
            )
            self.notify(done.format(title=row.display_title))
            self.reload()

    def action_export(self) -> None:
        conv_id = self.highlighted_id()
        if conv_id is not None:
            self.post_message(ExportConversation(conv_id))
